//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSIGHUPWithoutRotation: SIGHUP does not end a run that does not
// rotate its output: it says so once and the run goes on to the end of
// its input, with every flow written and no temporary file left.
func TestSIGHUPWithoutRotation(t *testing.T) {
	dir := t.TempDir()
	s := startStream(t, "--idle-timeout", "1", "-o", filepath.Join(dir, "flows.csv"))
	waitFor(t, "the file being written", func() bool { _, h := finalFiles(t, dir); return len(h) == 1 })
	time.Sleep(100 * time.Millisecond)
	for k := 0; k < 2; k++ {
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stopFeeding()
	s.stdin.Close()
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("%v after SIGHUP: %s", err, s.stderr.String())
	}
	final, hidden := finalFiles(t, dir)
	if !slices.Equal(final, []string{"flows.csv"}) || len(hidden) != 0 {
		t.Fatalf("files %v, hidden %v", final, hidden)
	}
	checkIDs(t, [][]uint64{csvIDs(t, filepath.Join(dir, "flows.csv"))}, s.fed)
	if n := strings.Count(s.stderr.String(), hangupNote); n != 1 {
		t.Errorf("stderr %q: the SIGHUP note %d times, want once", s.stderr.String(), n)
	}
}

// TestSIGHUPAtStart: a SIGHUP sent right after the process starts does
// not kill it either; with -q it says nothing.
func TestSIGHUPAtStart(t *testing.T) {
	const flows = 100
	capture := flowsCapture(t, flows, time.Unix(1700000000, 0), time.Millisecond)
	for k := 0; k < 6; k++ {
		quiet := k%2 == 1
		out := filepath.Join(t.TempDir(), "flows.csv")
		args := []string{"-r", "-", "-o", out}
		if quiet {
			args = append(args, "-q")
		}
		cmd := exec.Command(nfstreamBin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// At once, then while it starts up.
		for _, wait := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
			time.Sleep(wait)
			cmd.Process.Signal(syscall.SIGHUP)
		}
		stdin.Write(capture)
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v after SIGHUP at start; stderr %q", k, err, stderr.String())
		}
		checkIDs(t, [][]uint64{csvIDs(t, out)}, flows)
		if quiet && stderr.Len() > 0 {
			t.Errorf("-q: stderr %q", stderr.String())
		}
		// A SIGHUP before main took it over is ignored without a word.
		if !quiet && strings.Count(stderr.String(), hangupNote) > 1 {
			t.Errorf("stderr %q: want the SIGHUP note once at most", stderr.String())
		}
	}
}

// waitDrained waits until the reader of the pipe (or FIFO) whose write end
// is w has taken every byte written.
func waitDrained(t *testing.T, w *os.File) {
	t.Helper()
	waitFor(t, "the pipe to be drained", func() bool {
		n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ)
		return err == nil && n == 0
	})
	// Let the reader meter what it read and wait for more.
	time.Sleep(300 * time.Millisecond)
}

// terminateWaiting sends SIGTERM to a run waiting for input and checks it
// ends with status 130 within 2 s.
func terminateWaiting(t *testing.T, cmd *exec.Cmd, stderr *strings.Builder) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if st := exitStatus(err); st != 130 {
			t.Fatalf("status %d after SIGTERM, want 130; stderr %q", st, stderr.String())
		}
		t.Logf("ended %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running 2 s after SIGTERM; stderr %q", stderr.String())
	}
}

// TestTerminateQuietPipe: SIGTERM ends a run whose input pipe (standard
// input, or a FIFO given to -r) stays open without data at once, and
// every flow fed is written.
func TestTerminateQuietPipe(t *testing.T) {
	const flows = 3000
	capture := flowsCapture(t, flows, time.Unix(1700000000, 0), 10*time.Millisecond)
	for _, via := range []string{"stdin", "fifo"} {
		t.Run(via, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "flows.csv")
			var stderr strings.Builder
			var w *os.File
			var cmd *exec.Cmd
			if via == "stdin" {
				r, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd = exec.Command(nfstreamBin, "-r", "-", "-o", out)
				cmd.Stdin, cmd.Stderr = r, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				r.Close()
				w = pw
			} else {
				fifo := filepath.Join(t.TempDir(), "in.pcap")
				if err := unix.Mkfifo(fifo, 0o600); err != nil {
					t.Skip("mkfifo:", err)
				}
				cmd = exec.Command(nfstreamBin, "-r", fifo, "-o", out)
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// Opening blocks until nfstream opens its end.
				opened := make(chan *os.File, 1)
				go func() {
					f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
					if err != nil {
						t.Error(err)
					}
					opened <- f
				}()
				select {
				case w = <-opened:
				case <-time.After(30 * time.Second):
					cmd.Process.Kill()
					t.Fatalf("nfstream did not open the FIFO; stderr %q", stderr.String())
				}
				if w == nil {
					t.FailNow()
				}
			}
			t.Cleanup(func() { cmd.Process.Kill(); w.Close() })
			if _, err := w.Write(capture); err != nil {
				t.Fatal(err)
			}
			waitDrained(t, w)
			terminateWaiting(t, cmd, &stderr)
			final, hidden := finalFiles(t, dir)
			if !slices.Equal(final, []string{"flows.csv"}) || len(hidden) != 0 {
				t.Fatalf("files %v, hidden %v", final, hidden)
			}
			checkIDs(t, [][]uint64{csvIDs(t, out)}, flows)
		})
	}
}

// TestTerminateFIFONoWriter: SIGTERM ends a run still waiting for a writer
// to open its FIFO; no input was read, so there is no output (or, if
// there is, a valid file with no flows), and no temporary file.
func TestTerminateFIFONoWriter(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(t.TempDir(), "in.pcap")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	out := filepath.Join(dir, "flows.csv")
	var stderr strings.Builder
	cmd := exec.Command(nfstreamBin, "-r", fifo, "-o", out)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	time.Sleep(300 * time.Millisecond)
	terminateWaiting(t, cmd, &stderr)
	final, hidden := finalFiles(t, dir)
	if len(hidden) != 0 {
		t.Errorf("hidden files left: %v", hidden)
	}
	if len(final) > 0 {
		checkIDs(t, [][]uint64{csvIDs(t, out)}, 0)
	}
}

// TestSecondSignal: a second SIGTERM during the final write of many flows
// ends the process at once with status 130; a file under its final name
// is complete, and no temporary file is left.
func TestSecondSignal(t *testing.T) {
	const flows = 200000
	capture := flowsCapture(t, flows, time.Unix(1700000000, 0), time.Millisecond)
	dir := t.TempDir()
	out := filepath.Join(dir, "flows.parquet")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command(nfstreamBin, "-r", "-", "-o", out, "--stats", "--row-group-rows", "1000")
	cmd.Stdin, cmd.Stderr = r, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { cmd.Process.Kill(); w.Close() })
	if _, err := w.Write(capture); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, w)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Every flow is in memory (2 minutes idle timeout): the first signal
	// starts writing 200k of them; the second comes meanwhile.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	second := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if st := exitStatus(err); st != 130 {
			t.Fatalf("status %d after two SIGTERMs, want 130; stderr %q", st, stderr.String())
		}
		if d := time.Since(second); d > time.Second {
			t.Errorf("ended %v after the second SIGTERM", d)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("still running 60 s after two SIGTERMs")
	}
	final, hidden := finalFiles(t, dir)
	if len(hidden) != 0 {
		t.Errorf("temporary files left: %v", hidden)
	}
	switch {
	case len(final) == 0:
		if !strings.Contains(stderr.String(), "interrupted again") {
			t.Errorf("no file and stderr %q", stderr.String())
		}
		t.Logf("aborted during the final write; stderr %q", stderr.String())
	case slices.Equal(final, []string{"flows.parquet"}):
		// The write ended before the second signal: it is complete.
		checkIDs(t, [][]uint64{parquetIDs(t, out)}, flows)
		t.Logf("the final write ended before the second signal")
	default:
		t.Fatalf("files %v", final)
	}
}
