package capture

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func count(t *testing.T, src Source) int {
	t.Helper()
	var p Packet
	n := 0
	for {
		err := src.Next(&p)
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("after %d records: %v", n, err)
		}
		n++
	}
}

// TestOpenByContent checks that the format comes from the bytes: a pcapng
// named .pcap and a pcap named .pcapng both open.
func TestOpenByContent(t *testing.T) {
	ng := newNG(le).idb(1, 0).packet(0, 1, []byte("a")).packet(0, 2, []byte("b")).bytes()
	classic := pcapFile(stdPcap(), rec(1, 1, []byte("c")))
	for name, data := range map[string][]byte{"ng.pcap": ng, "classic.pcapng": classic, "noext": ng} {
		src, err := Open(writeFile(t, name, data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := 2
		if name == "classic.pcapng" {
			want = 1
		}
		if n := count(t, src); n != want {
			t.Errorf("%s: %d records; want %d", name, n, want)
		}
		if err := src.Close(); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
		if err := src.Next(&Packet{}); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s: Next after Close = %v; want os.ErrClosed", name, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	_, err := Open(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `"`+missing+`"`) {
		t.Errorf("missing file: %v; want fs.ErrNotExist naming the quoted file", err)
	}

	empty := writeFile(t, "empty.pcap", nil)
	_, err = Open(empty)
	var fe *FormatError
	if !errors.Is(err, ErrEmpty) || !errors.As(err, &fe) || fe.Name != empty {
		t.Errorf("empty file: %v; want a FormatError wrapping ErrEmpty naming the file", err)
	}
	if err != nil && err.Error() != `"`+empty+`": offset 0: empty file` {
		t.Errorf("empty file message %q", err)
	}

	for name, data := range map[string][]byte{
		"text.pcap":  []byte("hello, this is not a capture\n"),
		"short.pcap": {0xd4, 0xc3},
		// pcapng's block type is \n\r\r\n: a text file may start so.
		"crlf.pcapng":  []byte("\n\r\r\nabcdefgh"),
		"crlf2.pcapng": []byte("\n\r\r\nab"),
		"navtel.pcap":  pcapFile(pcapHeader{bo: le, magic: 0xa12b3c4d, major: 2, minor: 4}),
	} {
		path := writeFile(t, name, data)
		_, err := Open(path)
		if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v; want ErrNotCapture naming the file", name, err)
		}
	}

	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: %v; want an error naming it", err)
	}
}

// TestOpenStdin reads "-" from standard input.
func TestOpenStdin(t *testing.T) {
	f, err := os.Open(writeFile(t, "in.pcap", litPcap))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()

	src, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, src); n != 2 {
		t.Errorf("%d records; want 2", n)
	}
	src.Close()
	// Closing the source leaves standard input open.
	if _, err := f.Stat(); err != nil {
		t.Errorf("standard input was closed: %v", err)
	}
}

// TestReadInSmallPieces checks that nothing depends on how the reader
// splits its reads.
func TestReadInSmallPieces(t *testing.T) {
	ng := newNG(be).idb(1, 0, newNG(be).tsresol(9)).packet(0, 1e9+5000, make([]byte, 3000)).spb(70, make([]byte, 70)).bytes()
	for _, data := range [][]byte{litPcap, ng} {
		src, err := NewReader(&oneByteReader{data: data}, "slow")
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, src); n != 2 {
			t.Errorf("%d records; want 2", n)
		}
	}
}

type oneByteReader struct{ data []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}

// TestReadError checks that a failing reader gives its error, naming the
// input, and not a FormatError.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	src, err := NewReader(io.MultiReader(strings.NewReader(string(litPcap[:50])), &failReader{boom}), "flaky")
	if err != nil {
		t.Fatal(err)
	}
	err = src.Next(&Packet{})
	var fe *FormatError
	if !errors.Is(err, boom) || errors.As(err, &fe) || !strings.Contains(err.Error(), `"flaky"`) {
		t.Fatalf("got %v; want the reader's error naming the input", err)
	}
}

type failReader struct{ err error }

func (r *failReader) Read([]byte) (int, error) { return 0, r.err }

// TestTimeMS checks NFStream's packet time, including how its C engine's
// arithmetic wraps negative timevals: tv_usec/1000 truncates toward zero
// in signed arithmetic, then both terms are uint64.
func TestTimeMS(t *testing.T) {
	for _, c := range []struct {
		sec, usec int64
		want      uint64
	}{
		{1434443394, 683999, 1434443394683},
		{0, 999, 0},
		{0, 1_500_000, 1500}, // libpcap passes usec >= 10^6 through
		{-1, 0, 1<<64 - 1000},
		{0, -1500, 1<<64 - 1},
		{-1, -999, 1<<64 - 1000},
	} {
		p := Packet{Sec: c.sec, Usec: c.usec}
		if got := p.TimeMS(); got != c.want {
			t.Errorf("TimeMS(%d s, %d us) = %d, want %d", c.sec, c.usec, got, c.want)
		}
	}
}
