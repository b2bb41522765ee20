package meter

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
)

func memoryBudget() (uint64, string) {
	best, source := uint64(0), ""
	take := func(v uint64, name string) {
		if v > 0 && (best == 0 || v < best) {
			best, source = v, name
		}
	}
	take(memAvailable(), "MemAvailable")
	take(cgroupLimit(), "cgroup memory limit")
	for _, r := range []struct {
		res  int
		name string
	}{{syscall.RLIMIT_AS, "RLIMIT_AS"}, {syscall.RLIMIT_DATA, "RLIMIT_DATA"}} {
		var lim syscall.Rlimit
		if syscall.Getrlimit(r.res, &lim) == nil && lim.Cur != ^uint64(0) {
			take(lim.Cur, r.name)
		}
	}
	return best, source
}

// memAvailable reads MemAvailable from /proc/meminfo (0 when unknown).
func memAvailable() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:"))
		if !ok {
			continue
		}
		fields := strings.Fields(string(rest))
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// cgroupLimit is the smallest memory limit set on this process's cgroup or
// its ancestors (0 when none): memory.max with cgroup v2,
// memory.limit_in_bytes with v1.
func cgroupLimit() uint64 {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	best := uint64(0)
	for _, line := range strings.Split(string(data), "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var roots []string
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			roots, file = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}, "memory.max"
		case strings.Contains(","+parts[1]+",", ",memory,"):
			roots, file = []string{"/sys/fs/cgroup/memory"}, "memory.limit_in_bytes"
		default:
			continue
		}
		for _, root := range roots {
			for dir := path.Clean(parts[2]); ; dir = path.Dir(dir) {
				if v := readLimit(path.Join(root, dir, file)); v > 0 && (best == 0 || v < best) {
					best = v
				}
				if dir == "/" || dir == "." {
					break
				}
			}
		}
	}
	return best
}

// readLimit reads a cgroup memory limit file: 0 when absent, "max", or so
// large that it means no limit.
func readLimit(name string) uint64 {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || v >= 1<<62 {
		return 0
	}
	return v
}
