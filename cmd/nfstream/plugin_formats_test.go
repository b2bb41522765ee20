package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// TestPluginFormatsAgree runs plugins whose udps values are ints, floats,
// strings, None and lists (the example Starlark plugin, splt, dhcp) once
// to CSV, once to JSONL and once to Parquet, and checks that every cell of
// every column says the same in the three: the Parquet file is read by
// Apache Arrow, an independent reader.
func TestPluginFormatsAgree(t *testing.T) {
	root := corpus.RepoRoot(t)
	inputs := []string{"-r", filepath.Join(root, "testdata", "eth_ipv4.pcap"), "-r", filepath.Join(root, "testdata", "eth_ipv6.pcap")}
	if dir := filepath.Join(root, "..", "shared", "corpus", "nfstream", "pcaps"); exists(dir) {
		inputs = append(inputs, "-r", filepath.Join(dir, "dhcp.pcap")) // DHCP values, strings and lists
	} else {
		t.Log("NFStream corpus absent: testdata captures only")
	}
	flags := append(inputs, "--n-dissections", "0", "-q",
		"--plugin", filepath.Join(root, "testdata", "plugins", "example.star"),
		"--plugin", "splt:sequence_length=4", "--plugin", "dhcp")
	dir := t.TempDir()
	out := map[string]string{}
	for _, ext := range []string{"csv", "jsonl", "parquet"} {
		out[ext] = filepath.Join(dir, "flows."+ext)
		if r := runNFStream(t, nil, append(flags, "-o", out[ext])...); r.code != 0 {
			t.Fatalf("%s: exit %d: %s", ext, r.code, r.stderr)
		}
	}

	// CSV: Python's str() of each value.
	f, err := os.Open(out["csv"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := recs[0], recs[1:]

	// JSONL: one object per flow, keys in column order.
	jf, err := os.Open(out["jsonl"])
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	var objs []map[string]any
	sc := bufio.NewScanner(jf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o map[string]any
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}

	tbl := readParquet(t, out["parquet"])
	if len(objs) != len(rows) || int(tbl.NumRows()) != len(rows) || int(tbl.NumCols()) != len(header) {
		t.Fatalf("CSV %d rows x %d, JSONL %d rows, Parquet %d x %d", len(rows), len(header), len(objs), tbl.NumRows(), tbl.NumCols())
	}
	udps, cells := 0, 0
	for c, field := range tbl.Schema().Fields() {
		name := header[c]
		if field.Name != name {
			t.Fatalf("column %d: %s in Parquet, %s in CSV", c, field.Name, name)
		}
		if strings.HasPrefix(name, "udps.") {
			udps++
		}
		row := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				pq := canonical(chunk.GetOneForMarshal(i))
				cv := canonical(fromPythonStr(rows[row][c]))
				jv := canonical(objs[row][name])
				if pq != cv || pq != jv {
					t.Errorf("row %d %s: Parquet %s, CSV %s (%q), JSONL %s", row, name, pq, cv, rows[row][c], jv)
				}
				row++
				cells++
			}
		}
	}
	if udps < 10 {
		t.Errorf("only %d udps columns: %v", udps, header)
	}
	t.Logf("%d flows, %d columns (%d udps), %d cells agree in CSV, JSONL and Parquet", len(rows), len(header), udps, cells)
}

// fromPythonStr reads a CSV cell written as Python's str() of a value
// (None empty, True/False, lists with quoted strings) back into a value.
func fromPythonStr(s string) any {
	switch {
	case s == "":
		return nil
	case s == "True" || s == "False":
		return s == "True"
	case strings.HasPrefix(s, "["):
		r := strings.NewReplacer("'", `"`, "True", "true", "False", "false", "None", "null")
		var v any
		if err := json.Unmarshal([]byte(r.Replace(s)), &v); err == nil {
			return v
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

// canonical writes a value as JSON with every number as a float64, so
// that the three formats' numbers, lists and nulls compare as text.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "unmarshalable"
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		return string(b)
	}
	if back == nil {
		return "null"
	}
	b, _ = json.Marshal(back)
	return string(b)
}
