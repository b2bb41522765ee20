package sysvis

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func itoa(i int) string { return strconv.Itoa(i) }

// genTree writes a proc tree with nproc processes and nsock TCP sockets
// (spread round-robin over the processes) into dir.
func genTree(b testing.TB, dir string, nproc, nsock int) {
	b.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "net"), 0o755); err != nil {
		b.Fatal(err)
	}
	var tcp strings.Builder
	tcp.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	fds := make([][]string, nproc)
	for i := 0; i < nsock; i++ {
		ino := 100000 + i
		// local 10.0.x.y:port -> remote 192.0.2.z:443
		fmt.Fprintf(&tcp, "%4d: %02X%02X000A:%04X 0D0200C0:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 %d 1 0000000000000000 100 0 0 10 0\n",
			i, i&0xff, (i>>8)&0xff, 10000+i%50000, ino)
		p := i % nproc
		fds[p] = append(fds[p], fmt.Sprintf("socket:[%d]", ino))
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "tcp"), []byte(tcp.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	hdr := "  sl  local_address rem_address   st\n"
	for _, f := range []string{"tcp6", "udp", "udp6"} {
		if err := os.WriteFile(filepath.Join(dir, "net", f), []byte(hdr), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for p := 0; p < nproc; p++ {
		mkProc(b, dir, 1000+p, "proc"+itoa(p), append([]string{"/dev/null", "pipe:[1]"}, fds[p]...)...)
	}
}

var added int // sockets added by one-new-socket across its runs

func BenchmarkPoll(b *testing.B) {
	root := filepath.Join(b.TempDir(), "proc")
	genTree(b, root, 1000, 10000)

	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			tb := mustNew(b, Options{Root: root})
			if err := tb.Poll(); err != nil {
				b.Fatal(err)
			}
			if s := tb.Stats(); s.Sockets != 10000 || s.Procs != 1000 || s.Unowned != 0 {
				b.Fatalf("%+v", s)
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("steady", func(b *testing.B) {
		tb := mustNew(b, Options{Root: root})
		if err := tb.Poll(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if err := tb.Poll(); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
		if s := tb.Stats(); s.LastFDScans != 0 {
			b.Fatalf("steady poll scanned: %+v", s)
		}
	})
	// One new socket in the last process (the worst case of the PID order):
	// the changed fd dir (size on Linux >= 6.2 procfs, mtime here) points
	// at the process, so it is rescanned first.
	b.Run("one-new-socket", func(b *testing.B) {
		tb := mustNew(b, Options{Root: root})
		if err := tb.Poll(); err != nil {
			b.Fatal(err)
		}
		last := filepath.Join(root, itoa(1000+999), "fd")
		scans := 0
		var cpu time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			added++
			ino := 900000 + added
			appendLine(b, filepath.Join(root, "net", "tcp"), fmt.Sprintf(
				"%4d: 0F02000A:%04X 0D0200C0:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 %d 1 0000000000000000 100 0 0 10 0\n",
				20000+added, 1+added%60000, ino))
			if err := os.Symlink(fmt.Sprintf("socket:[%d]", ino), filepath.Join(last, itoa(100+added))); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := cpuTime()
			if err := tb.Poll(); err != nil {
				b.Fatal(err)
			}
			cpu += cpuTime() - start
			scans += tb.Stats().LastFDScans
		}
		b.ReportMetric(float64(scans)/float64(b.N), "fdscans/op")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	})
}

// cpuTime is the process's CPU time (user and system): a poll's cost on a
// machine whose other load stretches the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per iteration since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
