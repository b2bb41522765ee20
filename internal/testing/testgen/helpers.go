package testgen

import (
	"bufio"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
)

// HexDump turns a tcpdump -x / -xx style dump ("0x0010:  4500 0028 ...",
// offsets optional) into bytes, for byte-literal tests that show the dump
// above the packet.
func HexDump(tb testing.TB, dump string) []byte {
	tb.Helper()
	var b strings.Builder
	for _, line := range strings.Split(dump, "\n") {
		if i := strings.Index(line, ":"); i >= 0 {
			line = line[i+1:]
		}
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
	}
	out, err := hex.DecodeString(b.String())
	if err != nil {
		tb.Fatalf("hex dump: %v", err)
	}
	return out
}

// Python runs script with the machine's python3, one input line per
// element of lines on its standard input, and returns its output lines:
// Python is the independent judge of what NFStream's Python side writes
// (float repr, inet_ntop, BLAKE2b). The test is skipped, saying why, when
// python3 is not installed.
func Python(tb testing.TB, why, script string, lines []string) []string {
	tb.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		tb.Skipf("python3 not installed: cannot %s", why)
	}
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("python3: %v", err)
	}
	var res []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		res = append(res, sc.Text())
	}
	return res
}
