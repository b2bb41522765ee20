package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/features"
)

// testColumns has one column of each kind, including a string with quotes
// and commas.
func testColumns(text string) []features.Column {
	return []features.Column{
		{Name: "id", Kind: features.KindUint, Uint: func(r *features.Record) uint64 { return r.ID }},
		{Name: "expiration_id", Kind: features.KindInt, Int: func(r *features.Record) int64 { return int64(r.ExpirationID) }},
		{Name: "mean", Kind: features.KindFloat, Float: func(*features.Record) float64 { return 68 }},
		{Name: "ua", Kind: features.KindString, String: func(_ *features.Record, b []byte) []byte { return append(b, text...) }},
		{Name: "splt", Kind: features.KindList, List: func(r *features.Record, i int) int64 { return int64(r.SPLTDirection[i]) },
			ListLen: func(r *features.Record) int { return len(r.SPLTDirection) }},
	}
}

func TestCSV(t *testing.T) {
	text := `Mozilla/5.0 (X11, "Linux")` + "\u00e9"
	var buf bytes.Buffer
	s := NewCSV(&buf, "buf")
	if err := s.Begin(testColumns(text)); err != nil {
		t.Fatal(err)
	}
	r := features.Record{ID: 7, ExpirationID: -1, SPLTDirection: []int8{0, 1, -1}}
	if err := s.Write(&r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := "id,expiration_id,mean,ua,splt\n" +
		`7,-1,68.0,"Mozilla/5.0 (X11, ""Linux"")` + "\u00e9" + `","[0, 1, -1]"` + "\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	// An RFC 4180 reader gets the original text back.
	recs, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[1][3] != text {
		t.Errorf("encoding/csv reads %q, want %q", recs[1][3], text)
	}
}

func TestCSVHeaderWithoutFlows(t *testing.T) {
	var buf bytes.Buffer
	s := NewCSV(&buf, "buf")
	s.Begin(testColumns(""))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "id,expiration_id,mean,ua,splt\n" {
		t.Errorf("got %q", buf.String())
	}
}

func TestJSONL(t *testing.T) {
	text := "a \"quoted\" \\ line\nwith\tcontrol \x01 and \xff bad UTF-8"
	var buf bytes.Buffer
	s := NewJSONL(&buf, "buf")
	s.Begin(testColumns(text))
	for i := 0; i < 2; i++ {
		r := features.Record{ID: uint64(i), SPLTDirection: []int8{1, -1}}
		if err := s.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	if !strings.Contains(lines[0], `"mean":68.0,`) {
		t.Errorf("float not written as 68.0: %s", lines[0])
	}
	var obj struct {
		ID   uint64  `json:"id"`
		Exp  int     `json:"expiration_id"`
		Mean float64 `json:"mean"`
		UA   string  `json:"ua"`
		SPLT []int   `json:"splt"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &obj); err != nil {
		t.Fatalf("encoding/json rejects %s: %v", lines[1], err)
	}
	wantUA := strings.ToValidUTF8(text, "\ufffd")
	if obj.ID != 1 || obj.Mean != 68 || obj.UA != wantUA || len(obj.SPLT) != 2 || obj.SPLT[1] != -1 {
		t.Errorf("decoded %+v", obj)
	}
	// Keys come in column order.
	if !strings.HasPrefix(lines[0], `{"id":0,"expiration_id":0,"mean"`) {
		t.Errorf("column order: %s", lines[0])
	}
}

// failingWriter fails every write, like a full disk.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

var errDiskFull = &diskFull{}

type diskFull struct{}

func (*diskFull) Error() string { return "no space left on device" }

func TestWriteErrorIsReported(t *testing.T) {
	s := NewCSV(failingWriter{}, "flows.csv")
	s.Begin(testColumns(""))
	r := features.Record{}
	s.Write(&r)
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), `"flows.csv"`) || !strings.Contains(err.Error(), "no space") {
		t.Errorf("Close error = %v, want the destination and the cause", err)
	}
}
