//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal 200 columns wide and returns its master
// and slave ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skip("no pseudo-terminals:", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Skip("unlocking the pseudo-terminal:", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Skip("pseudo-terminal number:", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Skip("opening the pseudo-terminal:", err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 200}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// progressInput writes a capture file that takes nfstream a good second
// to read and write.
func progressInput(t *testing.T) string {
	t.Helper()
	return writeFile(t, "in.pcap", flowsCapture(t, 200000, time.Unix(1700000000, 0), time.Millisecond))
}

// TestProgressOnTerminal: with standard error on a terminal, a run over a
// file draws a progress line in place (with a percentage), and clears it
// before the summary.
func TestProgressOnTerminal(t *testing.T) {
	in := progressInput(t)
	master, slave := openPTY(t)
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd := exec.Command(nfstreamBin, "-r", in, "-o", out, "--stats")
	cmd.Stderr = slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		io.Copy(&got, master) // ends with EIO once every slave end is closed
	}()
	err := cmd.Wait()
	slave.Close()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not close")
	}
	if err != nil {
		t.Fatalf("%v: %q", err, got.String())
	}
	text := got.String()
	line := regexp.MustCompile(`\r[0-9.]+ [kMG]?B of [0-9.]+ [kMG]?B \((\d+)%\), [0-9.]+[kM]? packets/s, \d+ flows(, ETA \d+:\d\d|, writing)?\x1b\[K`)
	draws := line.FindAllStringSubmatch(text, -1)
	if len(draws) == 0 {
		t.Fatalf("no progress line on the terminal: %q", text)
	}
	summary := strings.Index(text, "nfstream: 200000 flows from 200000 packets")
	clear := strings.LastIndex(text, "\r\x1b[K")
	lastDraw := line.FindAllStringIndex(text, -1)
	if summary < 0 || clear < 0 || clear > summary || lastDraw[len(lastDraw)-1][0] > clear {
		t.Fatalf("the progress line is not cleared before the summary: %q", text)
	}
	if strings.Contains(text[summary:], "packets/s") {
		t.Errorf("progress drawn after the summary: %q", text[summary:])
	}
	t.Logf("%d progress lines, last %q", len(draws), draws[len(draws)-1][0])
}

// TestNoProgressOffTerminal: no progress line when standard error is not
// a terminal, nor with -q on one.
func TestNoProgressOffTerminal(t *testing.T) {
	in := progressInput(t)
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd := exec.Command(nfstreamBin, "-r", in, "-o", out, "--stats")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(stderr.String(), "\r\x1b") || strings.Contains(stderr.String(), "packets/s") {
		t.Errorf("progress on a pipe: %q", stderr.String())
	}
	master, slave := openPTY(t)
	cmd = exec.Command(nfstreamBin, "-r", in, "-o", out, "--stats", "-q")
	cmd.Stderr = slave
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	got, _ := io.ReadAll(master)
	if len(got) != 0 {
		t.Errorf("-q on a terminal: %q", got)
	}
}

// TestProgressLine checks the text of the progress line.
func TestProgressLine(t *testing.T) {
	p := &progress{total: 10_000_000}
	got := p.line(time.Second, 200, 2_500_000, 50_000, 1234)
	want := "2.5 MB of 10 MB (25%), 50k packets/s, 1234 flows, ETA 0:03"
	if got != want {
		t.Errorf("line %q; want %q", got, want)
	}
	if got := p.line(2*time.Second, 20, 2_500_000, 50_000, 1234); len(got) != 19 {
		t.Errorf("cut to 20 columns: %q", got)
	}
	// Unknown total (standard input): bytes read, no ETA.
	p = &progress{}
	if got, want := p.line(time.Second, 200, 999, 0, 0), "999 B read, 0 packets/s, 0 flows"; got != want {
		t.Errorf("line %q; want %q", got, want)
	}
	for n, want := range map[uint64]string{0: "0 B", 1000: "1.0 kB", 123456789: "123 MB", 5_400_000_000: "5.4 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q; want %q", n, got, want)
		}
	}
	if got := clock(3725 * time.Second); got != "1:02:05" {
		t.Errorf("clock = %q", got)
	}
}
