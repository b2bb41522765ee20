package plugin

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

// TestResolveFeature: model inputs name numeric columns of the run or
// SPLT elements; anything else is refused with the reason and, when a
// flag would make it a column, the flag.
func TestResolveFeature(t *testing.T) {
	base := RunColumns{Schema: features.Schema{Tunnel: true, L7: true}}
	full := RunColumns{Schema: features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true}, SPLT: 10}
	system := RunColumns{Schema: features.Schema{System: features.SystemFull}}
	for _, c := range []struct {
		name  string
		run   RunColumns
		early bool
		err   string // "" for accepted
		elem  int
	}{
		{"bidirectional_packets", base, false, "", 0},
		{"src_port", base, true, "", 0},
		{"expiration_id", base, false, "", 0},
		{"src2dst_mean_ps", base, false, "needs --stats", 0},
		{"src2dst_mean_ps", full, false, "", 0},
		{"dst2src_fin_packets", base, false, "needs --stats", 0},
		{"splt_ps_3", full, false, "", 3},
		{"splt_piat_ms_0", full, true, "", 0},
		{"splt_direction_9", full, false, "", 9},
		{"splt_ps_12", full, false, "needs --splt 13 or more (--splt is 10)", 0},
		{"splt_ps_0", base, false, "needs --splt 1 or more (SPLT is off)", 0},
		{"splt_ps", full, false, "is a list: name one element, splt_ps_0 to splt_ps_9", 0},
		{"splt_ps_03", full, false, "not a column", 0},
		{"splt_ps_-1", full, false, "not a column", 0},
		{"src_ip", base, false, "text column", 0},
		{"application_name", full, false, "text column", 0},
		{"application_confidence", full, false, "", 0},
		{"application_confidence", full, true, "cannot be used with --model-at", 0},
		{"application_is_guessed", RunColumns{}, false, "needs dissection", 0},
		{"tunnel_id", RunColumns{}, false, "needs --decode-tunnels", 0},
		{"id", full, false, "not a feature", 0},
		{"system_process_pid", full, false, "after the plugins", 0},
		{"system_process_pid", system, false, "after the plugins", 0},
		{"system_peer_uid", system, true, "after the plugins", 0},
		{"system_bogus", system, false, "not a column", 0},
		{"Bidirectional_packets", full, false, "not a column", 0},
		{"udps.x", full, false, "not a column", 0},
	} {
		f, err := resolveFeature(c.name, c.run, c.early)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && err == nil:
			t.Errorf("%s: accepted, want error %q", c.name, c.err)
		case c.err != "" && (!strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.name)):
			t.Errorf("%s: error %q, want it to name the feature and say %q", c.name, err, c.err)
		case c.err == "" && f.elem != c.elem:
			t.Errorf("%s: element %d, want %d", c.name, f.elem, c.elem)
		}
	}
}

// BenchmarkModelFeatures measures, in the same run, reading every numeric
// column and SPLT element of --stats --splt 10 as model inputs from an
// exported flow by name through
// Flow.Attr (what a Starlark script does) and through the column
// accessors a model resolves once (what the model plugin does), best
// rounds of 100 flows, and reports the ratio (docs/models.md section 6).
func BenchmarkModelFeatures(b *testing.B) {
	schema := features.Schema{Tunnel: true, Stats: true, SPLT: true}
	cols := schema.Columns()
	run := RunColumns{Schema: schema, SPLT: 10}
	var names []string
	for _, c := range cols {
		if (c.Kind == features.KindUint || c.Kind == features.KindFloat) && c.Name != "id" {
			names = append(names, c.Name)
		}
	}
	for _, l := range spltLists {
		for i := 0; i < 10; i++ {
			names = append(names, l+"_"+strconv.Itoa(i))
		}
	}
	var feats []feature
	for _, n := range names {
		f, err := resolveFeature(n, run, false)
		if err != nil {
			b.Fatal(err)
		}
		feats = append(feats, f)
	}
	r := &features.Record{SPLTDirection: make([]int8, 10), SPLTPS: make([]int32, 10), SPLTPIAT: make([]int64, 10)}
	r.Bidirectional.Packets, r.Bidirectional.Bytes, r.Bidirectional.PS.Mean = 12, 3400, 283.3
	view := NewView(features.Config{Stats: true, SPLT: 10}, cols)
	f := view.Expired(r, &features.UDPS{})
	x := make([]float64, len(names))
	byName := func() {
		for j, n := range names[:len(names)-30] {
			switch v, _ := f.Attr(n); v := v.(type) {
			case int64:
				x[j] = float64(v)
			case float64:
				x[j] = v
			}
		}
		for j, l := range spltLists {
			v, _ := f.Attr(l)
			for k, e := range v.([]any) {
				x[len(names)-30+10*j+k] = float64(e.(int64))
			}
		}
	}
	byColumn := func() {
		for j := range feats {
			x[j] = feats[j].value(r)
		}
	}
	// The best round of each: on a shared machine a round is only ever
	// slowed down.
	attr, direct := time.Duration(1<<62), time.Duration(1<<62)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for k := 0; k < 100; k++ {
			byName()
		}
		attr = min(attr, time.Since(start))
		start = time.Now()
		for k := 0; k < 100; k++ {
			byColumn()
		}
		direct = min(direct, time.Since(start))
	}
	if testing.AllocsPerRun(10, byColumn) != 0 {
		b.Error("reading the features by column allocates")
	}
	b.ReportMetric(float64(attr.Nanoseconds())/100, "attr-ns/flow")
	b.ReportMetric(float64(direct.Nanoseconds())/100, "columns-ns/flow")
	b.ReportMetric(attr.Seconds()/direct.Seconds(), "speedup")
	b.ReportMetric(float64(len(names)), "features")
	b.ReportMetric(0, "ns/op")
}

// FuzzFeatureName: any name is either refused with an error that quotes
// it, or resolves to the column of that name (or the SPLT list it names an
// element of) whose value can be read from a record.
func FuzzFeatureName(f *testing.F) {
	for _, s := range []string{"bidirectional_packets", "splt_ps_3", "splt_ps_12", "splt_piat_ms_0", "splt_ps_", "splt_ps_-1",
		"splt_ps_99999999999999999999", "src_ip", "application_confidence", "id", "udps.x", ""} {
		f.Add(s)
	}
	run := RunColumns{Schema: features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true}, SPLT: 10}
	r := &features.Record{SPLTDirection: make([]int8, 10), SPLTPS: make([]int32, 10), SPLTPIAT: make([]int64, 10)}
	f.Fuzz(func(t *testing.T, name string) {
		for _, early := range []bool{false, true} {
			feat, err := resolveFeature(name, run, early)
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("%q: error %q does not name it", name, err)
				}
				continue
			}
			if feat.col.Kind == features.KindList {
				if want := feat.col.Name + "_" + strconv.Itoa(feat.elem); want != name || feat.elem >= 10 {
					t.Fatalf("%q resolved to element %d of %s", name, feat.elem, feat.col.Name)
				}
			} else if feat.col.Name != name {
				t.Fatalf("%q resolved to column %s", name, feat.col.Name)
			}
			feat.value(r)
		}
	})
}
