package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/features"
)

// abortSink records whether it was closed or aborted.
type abortSink struct {
	countSink
	closed, aborted bool
}

func (s *abortSink) Close() error { s.closed = true; return nil }
func (s *abortSink) Abort()       { s.aborted = true }

// TestRunAbortsWithoutInput: a run that could open no source aborts an
// output.Aborter sink instead of closing it (an earlier file under the
// output's name stays); once a source was opened, a failure later still
// closes the sink with the flows read so far.
func TestRunAbortsWithoutInput(t *testing.T) {
	cols := features.Schema{}.Columns()
	notCapture := errors.New("not a capture")
	cfg := nfstreamDefaults([]string{"a", "b"}, features.AccountLink, false, 0)
	cfg.Open = func(string) (capture.Source, error) { return nil, notCapture }
	sink := &abortSink{}
	st, err := Run(context.Background(), cfg, sink, cols)
	if !errors.Is(err, notCapture) || st.Sources != 0 || !sink.aborted || sink.closed {
		t.Errorf("first source fails: err %v, %d sources, aborted %v, closed %v", err, st.Sources, sink.aborted, sink.closed)
	}

	// The first source opens (an empty capture), the second fails.
	// A classic pcap file header (little-endian, Ethernet) and no record.
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	empty := filepath.Join(t.TempDir(), "empty.pcap")
	if err := os.WriteFile(empty, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Open = func(name string) (capture.Source, error) {
		if name == "a" {
			return capture.Open(empty)
		}
		return nil, notCapture
	}
	sink = &abortSink{}
	st, err = Run(context.Background(), cfg, sink, cols)
	if !errors.Is(err, notCapture) || st.Sources != 1 || sink.aborted || !sink.closed {
		t.Errorf("second source fails: err %v, %d sources, aborted %v, closed %v", err, st.Sources, sink.aborted, sink.closed)
	}
}
