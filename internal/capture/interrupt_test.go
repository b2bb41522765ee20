//go:build unix

package capture

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nextAfterInterrupt starts a Next that must wait for input, interrupts
// the source and checks that Next returns at once with a deadline error.
func nextAfterInterrupt(t *testing.T, src Source) {
	t.Helper()
	i, ok := src.(Interrupter)
	if !ok {
		t.Fatalf("%T is not an Interrupter", src)
	}
	res := make(chan error, 1)
	go func() { res <- src.Next(&Packet{}) }()
	select {
	case err := <-res:
		t.Fatalf("Next returned %v before the interrupt, with no input", err)
	case <-time.After(100 * time.Millisecond):
	}
	start := time.Now()
	i.Interrupt()
	select {
	case err := <-res:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Next after Interrupt = %v; want os.ErrDeadlineExceeded", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Next returned %v after Interrupt", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still waiting 5 s after Interrupt")
	}
}

// TestInterruptFIFO: a read of a FIFO whose writer is quiet ends on
// Interrupt; the records before were delivered.
func TestInterruptFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	wc := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		wc <- w
	}()
	srcc := make(chan Source, 1)
	go func() {
		src, err := Open(path)
		if err != nil {
			t.Error(err)
		}
		srcc <- src
	}()
	w := <-wc
	if w == nil {
		t.FailNow()
	}
	defer w.Close()
	if _, err := w.Write(pcapFile(stdPcap(), rec(1, 0, []byte("a")), rec(2, 0, []byte("b")))); err != nil {
		t.Fatal(err)
	}
	src := <-srcc
	if src == nil {
		t.FailNow()
	}
	defer src.Close()
	var total, hooks uint64
	src.(ReadHook).OnRead(func(n uint64) { total, hooks = n, hooks+1 })
	var p Packet
	for k := 0; k < 2; k++ {
		if err := src.Next(&p); err != nil {
			t.Fatalf("record %d: %v", k, err)
		}
	}
	nextAfterInterrupt(t, src)
	// The read that waited (then failed) was announced with everything
	// read before it.
	if got, want := total, uint64(24+2*17); got != want || hooks == 0 {
		t.Errorf("hook saw %d bytes in %d calls; want %d", got, hooks, want)
	}
}

// TestInterruptStdin: standard input that is a pipe is read through the
// poller, a waiting read ends on Interrupt, and Close sets standard input
// back to blocking mode.
func TestInterruptStdin(t *testing.T) {
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := unix.Dup2(int(r.Fd()), 0); err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer func() {
		unix.Dup2(saved, 0)
		unix.Close(saved)
	}()
	if _, err := w.Write(pcapFile(stdPcap(), rec(1, 0, []byte("a")))); err != nil {
		t.Fatal(err)
	}
	src, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Next(&Packet{}); err != nil {
		t.Fatal(err)
	}
	nextAfterInterrupt(t, src)
	if flags, _ := unix.FcntlInt(0, unix.F_GETFL, 0); flags&unix.O_NONBLOCK == 0 {
		t.Error("standard input not in non-blocking mode while read")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(0, unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.O_NONBLOCK != 0 {
		t.Error("standard input left in non-blocking mode after Close")
	}
	// Descriptor 0 itself stays open.
	if _, err := unix.FcntlInt(0, unix.F_GETFD, 0); err != nil {
		t.Errorf("standard input closed: %v", err)
	}
}

// TestStdinRegularFile: standard input redirected from a file is read as
// before, and its mode is not touched.
func TestStdinRegularFile(t *testing.T) {
	path := writeFile(t, "in.pcap", pcapFile(stdPcap(), rec(1, 0, []byte("a")), rec(2, 0, []byte("b"))))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(int(f.Fd()), 0); err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Dup2(saved, 0)
		unix.Close(saved)
	}()
	src, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, src); n != 2 {
		t.Errorf("%d records; want 2", n)
	}
	if flags, _ := unix.FcntlInt(0, unix.F_GETFL, 0); flags&unix.O_NONBLOCK != 0 {
		t.Error("a regular file on standard input was put in non-blocking mode")
	}
	src.Close()
}

// TestReadHook: the last count the hook sees is the file's size, whatever
// the format, and Interrupt on a regular file is harmless.
func TestReadHook(t *testing.T) {
	ng := newNG(le).idb(1, 0).packet(0, 1, []byte("a")).packet(0, 2, []byte("bb")).bytes()
	classic := pcapFile(stdPcap(), rec(1, 1, []byte("c")))
	for name, data := range map[string][]byte{"ng.pcapng": ng, "classic.pcap": classic} {
		src, err := Open(writeFile(t, name, data))
		if err != nil {
			t.Fatal(err)
		}
		var total uint64
		src.(ReadHook).OnRead(func(n uint64) { total = n })
		src.(Interrupter).Interrupt()
		drain(t, src)
		if total != uint64(len(data)) {
			t.Errorf("%s: %d bytes counted; want %d", name, total, len(data))
		}
		src.Close()
	}
}
