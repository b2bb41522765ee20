package plugin

import (
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
)

// TestResolveFeature: model inputs name numeric columns of the run or
// SPLT elements; anything else is refused with the reason and, when a
// flag would make it a column, the flag.
func TestResolveFeature(t *testing.T) {
	base := RunColumns{Schema: features.Schema{Tunnel: true, L7: true}}
	full := RunColumns{Schema: features.Schema{Tunnel: true, Stats: true, SPLT: true, L7: true}, SPLT: 10}
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
