package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// TestBuildWithoutCgo builds nfstream with CGO_ENABLED=0: it still runs
// without dissection, and asking it to dissect gives a clear error.
func TestBuildWithoutCgo(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "nfstream-nocgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build without cgo: %v\n%s", err, out)
	}
	capFile := filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv4.pcap")
	out, err := exec.Command(bin, "-r", capFile, "--n-dissections", "0").Output()
	if err != nil || len(lines(string(out))) < 2 {
		t.Errorf("without dissection: %v, output %q", err, out)
	}
	cmd := exec.Command(bin, "-r", capFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
		t.Errorf("dissection without cgo: %v, want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "without cgo") || !strings.Contains(stderr.String(), "nDPI") {
		t.Errorf("dissection without cgo: stderr %q, want it to say nDPI needs cgo", stderr.String())
	}
}

// TestBuildOtherArchitectures cross-builds nfstream without cgo for a
// 32-bit and a non-x86 architecture: the packet path's layout and its
// amd64 prefetch have portable counterparts, and constants fit their int.
func TestBuildOtherArchitectures(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds take a while the first time")
	}
	for _, arch := range []string{"386", "arm64"} {
		build := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "nfstream-"+arch), ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if out, err := build.CombinedOutput(); err != nil {
			t.Errorf("GOARCH=%s: %v\n%s", arch, err, out)
		}
	}
}
