package meter

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReadLimit checks the cgroup limit files: "max", absent, and the
// huge values cgroup v1 writes for no limit all mean no limit.
func TestReadLimit(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]uint64{
		"max\n":                 0,
		"536870912\n":           512 << 20,
		"9223372036854771712\n": 0,
		"garbage":               0,
	} {
		p := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readLimit(p); got != want {
			t.Errorf("%q: %d, want %d", content, got, want)
		}
	}
	if got := readLimit(filepath.Join(dir, "absent")); got != 0 {
		t.Errorf("absent file: %d", got)
	}
}

// TestMemoryBudgetRlimit checks that RLIMIT_DATA, when set below
// everything else, is the budget.
func TestMemoryBudgetRlimit(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_DATA, &old); err != nil {
		t.Skip(err)
	}
	const lim = 8 << 30
	if old.Cur != ^uint64(0) && old.Cur < lim {
		t.Skip("RLIMIT_DATA already lower than the test's")
	}
	if avail := memAvailable(); avail > 0 && avail < lim {
		t.Skip("less memory available than the test's limit")
	}
	if cg := cgroupLimit(); cg > 0 && cg < lim {
		t.Skip("cgroup limit lower than the test's")
	}
	set := old
	set.Cur = lim
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &set); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_DATA, &old)
	if got, source := MemoryBudget(); got != lim || source != "RLIMIT_DATA" {
		t.Errorf("budget %d from %s, want %d from RLIMIT_DATA", got, source, uint64(lim))
	}
}
