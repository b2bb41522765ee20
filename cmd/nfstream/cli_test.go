package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// runEnv runs the binary with extra environment variables (and, with
// prefix, under another command such as taskset).
func runEnv(t *testing.T, env, prefix []string, args ...string) result {
	t.Helper()
	argv := append(append(prefix[:len(prefix):len(prefix)], nfstreamBin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return result{out.String(), errb.String(), exitStatus(err)}
}

// TestDefaultMetersSameOnAnyMachine runs the same file conversion with
// --meters left at its default on machines reporting 1, 2 and 8 CPUs
// (GOMAXPROCS, which the runtime also derives from CPU affinity and cgroup
// limits, and a CPU affinity of one core): the bytes are identical. The
// corpus captures are ones whose L7 values depend on how flows are spread
// over meters (nDPI's per-meter caches).
func TestDefaultMetersSameOnAnyMachine(t *testing.T) {
	inputs := []string{filepath.Join(corpus.RepoRoot(t), "testdata", "eth_ipv4.pcap")}
	if dir := filepath.Join(corpus.RepoRoot(t), "..", "shared", "corpus", "nfstream"); exists(filepath.Join(dir, "pcaps")) {
		for _, name := range []string{"whatsapp_login_call.pcap", "skype.pcap", "google_ssl.pcap"} {
			inputs = append(inputs, filepath.Join(dir, "pcaps", name))
		}
	} else {
		t.Log("NFStream corpus absent (../shared/corpus): testdata captures only")
	}
	type machine struct {
		name   string
		env    []string
		prefix []string
	}
	machines := []machine{{"GOMAXPROCS=1", []string{"GOMAXPROCS=1"}, nil}, {"GOMAXPROCS=2", []string{"GOMAXPROCS=2"}, nil}, {"GOMAXPROCS=8", []string{"GOMAXPROCS=8"}, nil}}
	if ts, err := exec.LookPath("taskset"); err == nil {
		machines = append(machines, machine{"taskset -c 0", nil, []string{ts, "-c", "0"}})
	}
	for _, in := range inputs {
		var first result
		for i, m := range machines {
			r := runEnv(t, m.env, m.prefix, "-r", in, "--stats", "--splt", "10")
			if r.code != 0 {
				t.Fatalf("%s on %s: exit %d: %s", filepath.Base(in), m.name, r.code, r.stderr)
			}
			if i == 0 {
				first = r
				continue
			}
			if r.stdout != first.stdout {
				t.Errorf("%s: output on %s differs from %s", filepath.Base(in), m.name, machines[0].name)
			}
		}
		if n := len(lines(first.stdout)) - 1; n < 1 {
			t.Errorf("%s: no flows", filepath.Base(in))
		}
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestMetersLimits: --meters beyond what can help is refused up front with
// the reason, before any output exists.
func TestMetersLimits(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	out := filepath.Join(t.TempDir(), "flows.csv")
	for _, c := range []struct {
		env    string
		meters string
		reason string
	}{
		{"GOMAXPROCS=2", "300", "fanout group holds at most 256"},
		{"GOMAXPROCS=2", "9", "at most 8 on this machine (2 cores)"},
		{"GOMAXPROCS=1", "-1", "must be 0 (automatic) or more"},
	} {
		r := runEnv(t, []string{c.env}, nil, "-r", p, "-o", out, "--meters", c.meters)
		if r.code != 2 || !strings.Contains(r.stderr, c.reason) {
			t.Errorf("--meters %s with %s: exit %d, stderr %q; want 2 and %q", c.meters, c.env, r.code, r.stderr, c.reason)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("--meters %s: output created", c.meters)
		}
	}
	if r := runEnv(t, []string{"GOMAXPROCS=2"}, nil, "-r", p, "-o", out, "--meters", "8"); r.code != 0 {
		t.Errorf("--meters 8 on 2 cores: exit %d: %s", r.code, r.stderr)
	}
}

// TestCLITraps covers what users type that the flag parser would take
// for something else, and the help and completion commands.
func TestCLITraps(t *testing.T) {
	p := writeFile(t, "udp.pcap", udpCapture(t, 3))
	q := writeFile(t, "more.pcap", udpCapture(t, 2))

	r := runNFStream(t, nil, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "completion") {
		t.Errorf("help: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runNFStream(t, nil, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "completion") {
		t.Errorf("--help does not mention completion: %q", r.stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r = runNFStream(t, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "nfstream") || len(r.stdout) < 500 {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, r.code, len(r.stdout), r.stderr)
		}
	}

	// A boolean flag's value as a separate word.
	r = runNFStream(t, nil, "-r", p, "--decode-tunnels", "false")
	if r.code != 2 || !strings.Contains(r.stderr, "--decode-tunnels=false") || !strings.Contains(r.stderr, "--no-decode-tunnels") || r.stdout != "" {
		t.Errorf("--decode-tunnels false: exit %d, stderr %q", r.code, r.stderr)
	}
	// --no-decode-tunnels is --decode-tunnels=false.
	a := runNFStream(t, nil, "-r", p, "--no-decode-tunnels")
	b := runNFStream(t, nil, "-r", p, "--decode-tunnels=false")
	if a.code != 0 || a.stdout != b.stdout || strings.Contains(lines(a.stdout)[0], "tunnel_id") {
		t.Errorf("--no-decode-tunnels: exit %d, %q; --decode-tunnels=false: %q", a.code, a.stdout, b.stdout)
	}

	// -r *.pcap as the shell expands it.
	r = runNFStream(t, nil, "-r", p, q)
	if r.code != 2 || !strings.Contains(r.stderr, "-r "+q) || r.stdout != "" {
		t.Errorf("-r a b: exit %d, stderr %q", r.code, r.stderr)
	}
	// A file named like a filter word does not hide the filter.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "udp"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nfstreamBin, "-r", p, "udp")
	cmd.Dir = dir
	if out, err := cmd.Output(); err != nil || len(lines(string(out))) != 4 {
		t.Errorf("-r x udp with a file named udp: %v, %q", err, out)
	}

	// Values the parser refuses: one line, no parser internals.
	for _, c := range []struct{ args, want []string }{
		{[]string{"--idle-timeout", "2m"}, []string{`--idle-timeout "2m": must be a whole number of seconds`}},
		{[]string{"--rotate", "5x", "-o", filepath.Join(dir, "f.csv")}, []string{`--rotate "5x": must be a duration such as 30s, 5m or 1h`}},
		{[]string{"--stats=maybe"}, []string{`--stats "maybe": must be true or false`}},
		{[]string{"--splt", "99999999999999999999"}, []string{`--splt "99999999999999999999": out of range`}},
	} {
		r := runNFStream(t, nil, append([]string{"-r", p}, c.args...)...)
		if r.code != 2 || strings.Contains(r.stderr, "strconv") || strings.Contains(r.stderr, "time:") {
			t.Errorf("%v: exit %d, stderr %q", c.args, r.code, r.stderr)
		}
		for _, w := range c.want {
			if !strings.HasPrefix(r.stderr, "nfstream: "+w) {
				t.Errorf("%v: stderr %q, want it to start with %q", c.args, r.stderr, "nfstream: "+w)
			}
		}
	}
}

// TestFailedRunKeepsOutput: a run whose input cannot be opened fails
// before the output is touched, so an earlier run's output survives; -o
// naming an input is a usage error.
func TestFailedRunKeepsOutput(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, "good.pcap", udpCapture(t, 3))
	out := filepath.Join(dir, "good.csv")
	if r := runNFStream(t, nil, "-r", good, "-o", out); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	before, err := os.ReadFile(out)
	if err != nil || len(lines(string(before))) != 4 {
		t.Fatalf("first run: %v, %q", err, before)
	}
	text := writeFile(t, "text.txt", []byte("this is not a capture\n"))
	folder := t.TempDir()
	for _, in := range [][]string{
		{"-r", text},
		{"-r", folder},
		{"-r", filepath.Join(dir, "missing.pcap")},
		{"-r", good, "-r", text}, // a later input that is no capture
	} {
		r := runNFStream(t, nil, append(in, "-o", out)...)
		if r.code != 1 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, in[len(in)-1]) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and one line naming the input", in, r.code, r.stderr)
		}
		if strings.Count(r.stderr, in[len(in)-1]) != 1 {
			t.Errorf("%v: the path is repeated: %q", in, r.stderr)
		}
		after, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(after, before) {
			t.Errorf("%v: earlier output changed: %v, %q", in, err, after)
		}
	}
	// Standard input that is not a capture: the output is not replaced.
	r := runNFStream(t, []byte("this is not a capture\n"), "-r", "-", "-o", out)
	if after, _ := os.ReadFile(out); r.code != 1 || !bytes.Equal(after, before) {
		t.Errorf("-r - with text: exit %d, stderr %q, output now %q", r.code, r.stderr, after)
	}
	// The output is one of the inputs.
	r = runNFStream(t, nil, "-r", good, "-o", good)
	if r.code != 2 || !strings.Contains(r.stderr, "is the input file") {
		t.Errorf("-o = -r: exit %d, stderr %q", r.code, r.stderr)
	}
	if st, err := os.Stat(good); err != nil || st.Size() < 100 {
		t.Errorf("the input was damaged: %v", err)
	}
}

// TestErrorThenSummary: a failed run prints the error first, then the
// summary of what it wrote.
func TestErrorThenSummary(t *testing.T) {
	data := udpCapture(t, 5)
	rec := (len(data) - 24) / 5
	p := writeFile(t, "cut.pcap", data[:24+4*rec+20])
	out := filepath.Join(t.TempDir(), "flows.csv")
	r := runNFStream(t, nil, "-r", p, "-o", out)
	got := lines(r.stderr)
	if r.code != 1 || len(got) != 2 || !strings.HasPrefix(got[0], "nfstream: "+`"`+p+`": offset`) ||
		!strings.HasPrefix(got[1], "nfstream: 4 flows from 4 packets") {
		t.Errorf("exit %d, stderr %q: want the error, then the summary", r.code, r.stderr)
	}
}

// TestManPage generates the manual pages from the command definition and
// renders nfstream.1 with man: every flag is documented.
func TestManPage(t *testing.T) {
	dir := t.TempDir()
	if r := runNFStream(t, nil, "man", dir); r.code != 0 {
		t.Fatalf("man: exit %d: %s", r.code, r.stderr)
	}
	page, err := os.ReadFile(filepath.Join(dir, "nfstream.1"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(page)
	if manBin, err := exec.LookPath("man"); err == nil {
		out, err := exec.Command(manBin, "-l", "-P", "cat", filepath.Join(dir, "nfstream.1")).Output()
		if err != nil {
			t.Fatalf("man -l: %v", err)
		}
		text = string(out)
	} else {
		t.Log("man not installed: checking the roff source only")
	}
	cmd := newRootCommand()
	n := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(text, f.Name) {
			t.Errorf("flag --%s missing from the man page", f.Name)
		}
	})
	if n < 20 || !strings.Contains(text, "tcp port 443") {
		t.Errorf("man page has %d flags checked, examples %v", n, strings.Contains(text, "tcp port 443"))
	}
	if _, err := os.Stat(filepath.Join(dir, "nfstream-completion.1")); err != nil {
		t.Errorf("no page for the completion command: %v", err)
	}
}
