package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nfstream-go/nfstream/internal/testing/corpus"
)

// comparePluginCorpus runs every corpus capture that has a file in
// plugins/<folder> with the plugin arguments and compares our CSV with
// NFStream's row for row, every column as text (NFStream escapes inner
// quotes with a backslash, we double them: that alone is normalised).
func comparePluginCorpus(t *testing.T, folder string, plugin ...string) {
	comparePluginCorpusArgs(t, folder, nil, plugin...)
}

// pluginCorpus calls check for every capture of the corpus that NFStream's
// plugins/<folder> has an output for, with the capture's path and that
// output; it skips the test when the folder is absent.
func pluginCorpus(t *testing.T, folder string, check func(name, pcap, expected string)) {
	dir := corpus.Dir(t)
	want := filepath.Join(dir, "plugins", folder)
	entries, err := os.ReadDir(want)
	if err != nil {
		t.Skipf("no %s: %v", want, err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".csv") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".csv")
		pcap := filepath.Join(dir, "pcaps", name)
		if _, err := os.Stat(pcap); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(want, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		check(name, pcap, string(b))
	}
}

// comparePluginCorpusArgs is comparePluginCorpus with more arguments.
func comparePluginCorpusArgs(t *testing.T, folder string, extra []string, plugin ...string) {
	captures, flows := 0, 0
	pluginCorpus(t, folder, func(name, pcap, expected string) {
		exp := lines(strings.ReplaceAll(expected, `\"`, `""`))
		args := append([]string{"-r", pcap, "--n-dissections", "0", "-q", "-o", "-"}, extra...)
		for _, p := range plugin {
			args = append(args, "--plugin", p)
		}
		res := runNFStream(t, nil, args...)
		if res.code != 0 {
			t.Errorf("%s: exit %d: %s", name, res.code, res.stderr)
			return
		}
		got := lines(res.stdout)
		ok := len(got) == len(exp)
		for i := 0; ok && i < len(got); i++ {
			if got[i] != exp[i] {
				t.Errorf("%s line %d:\n got %s\nwant %s", name, i+1, got[i], exp[i])
				ok = false
			}
		}
		if len(got) != len(exp) {
			t.Errorf("%s: %d lines, want %d", name, len(got), len(exp))
		}
		if ok {
			captures++
			flows += len(got) - 1
		}
	})
	t.Logf("%s: %d captures, %d flows identical to NFStream's", folder, captures, flows)
}

func TestPluginExampleCorpus(t *testing.T) {
	comparePluginCorpus(t, "example", filepath.Join(corpus.RepoRoot(t), "testdata", "plugins", "example.star"))
}

func TestPluginErrors(t *testing.T) {
	dir := t.TempDir()
	pcap := writeFile(t, "udp.pcap", udpCapture(t, 5))
	script := func(name, src string) string { return writeFile(t, name, []byte(src)) }

	t.Run("load", func(t *testing.T) {
		out := filepath.Join(dir, "load.csv")
		p := script("bad.star", "def on_init(packet, flow):\n    flow.udps.x = (\n")
		res := runNFStream(t, nil, "-r", pcap, "--plugin", p, "-o", out)
		if res.code != 2 || !strings.Contains(res.stderr, "bad.star:") || exists(out) {
			t.Fatalf("exit %d, output exists %v, stderr %q", res.code, exists(out), res.stderr)
		}
		p = script("top.star", "x = 1\ny = x // 0\n")
		res = runNFStream(t, nil, "-r", pcap, "--plugin", p, "-o", out)
		if res.code != 2 || !strings.Contains(res.stderr, "top.star:2:") || exists(out) {
			t.Fatalf("exit %d, output exists %v, stderr %q", res.code, exists(out), res.stderr)
		}
	})
	t.Run("flow", func(t *testing.T) {
		out := filepath.Join(dir, "flow.csv")
		// Fails on the 26th flow's first packet: the flows that idled
		// out before (the idle scans run every 10 ms of packet time) are
		// written and the file is valid.
		pcap := writeFile(t, "udp30.pcap", udpCapture(t, 30))
		p := script("fail.star", "def on_init(packet, flow):\n    flow.udps.port = packet.src_port\n    if packet.src_port == 1025:\n        fail('boom')\n")
		res := runNFStream(t, nil, "-r", pcap, "--plugin", p, "-o", out, "--idle-timeout", "0", "--n-dissections", "0")
		if res.code != 1 || !strings.Contains(res.stderr, "fail.star:4:") || !strings.Contains(res.stderr, "on_init") || !strings.Contains(res.stderr, ":1025 ->") {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		l := lines(string(b))
		if len(l) < 3 || !strings.HasSuffix(l[0], ",udps.port") || !strings.HasSuffix(string(b), "\n") {
			t.Fatalf("output:\n%s", b)
		}
		for i, row := range l[1:] {
			if want := "," + strconv.Itoa(1000+i); !strings.HasSuffix(row, want) {
				t.Fatalf("row %d %s, want suffix %s", i, row, want)
			}
		}
		t.Logf("%d flows written before the failure", len(l)-1)
	})
	t.Run("meters", func(t *testing.T) {
		// With several meters the failing meter stops, the others' flows
		// are written, and the run ends (it must not wait for the
		// failed meter).
		out := filepath.Join(dir, "meters.csv")
		pcap := writeFile(t, "udp40.pcap", udpCapture(t, 40))
		p := script("fail2.star", "def on_init(packet, flow):\n    if packet.src_port == 1005:\n        fail('boom')\n")
		res := runNFStream(t, nil, "-r", pcap, "--plugin", p, "-o", out, "--meters", "2", "--n-dissections", "0")
		if res.code != 1 || !strings.Contains(res.stderr, "fail2.star:3:") || !strings.Contains(res.stderr, ":1005 ->") {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d flows written", len(lines(string(b)))-1)
	})
	t.Run("steps", func(t *testing.T) {
		p := script("loop.star", "def on_init(packet, flow):\n    while True:\n        pass\n")
		res := runNFStream(t, nil, "-r", pcap, "--plugin", p, "-o", "-")
		if res.code != 1 || !strings.Contains(res.stderr, "steps") || !strings.Contains(res.stderr, "loop.star:") {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
	})
	t.Run("new column", func(t *testing.T) {
		p := script("late.star", "def on_init(packet, flow):\n    if packet.src_port == 1002:\n        flow.udps.late = 1\n")
		res := runNFStream(t, nil, "-r", pcap, "--plugin", p, "-o", "-")
		if res.code != 1 || !strings.Contains(res.stderr, "udps.late") || !strings.Contains(res.stderr, "late.star") || !strings.Contains(res.stderr, ":1002 ->") {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
	})
	t.Run("values", func(t *testing.T) {
		p := script("vals.star", `
def on_init(packet, flow):
    flow.udps.i = 7
    flow.udps.f = 1 / 4
    flow.udps.b = packet.src_port == 1000
    flow.udps.s = 'a"b' if packet.src_port == 1000 else None
    flow.udps.l = [1, 2.5, "x", None, True]
    flow.udps.ip = packet.ip_packet[9]
    flow.udps.ips = len(packet.ip_packet[0:4])
    flow.udps.arg = self.limit * 2
    flow.udps.name = self.name
    flow.udps.gone = 1

def on_update(packet, flow):
    pass

def on_expire(flow):
    flow.udps.l.append(flow.bidirectional_packets)
    flow.udps.pop("gone")
`)
		res := runNFStream(t, nil, "-r", pcap, "--plugin", p+":limit=4,name=x", "-o", "-", "-q")
		if res.code != 0 {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
		l := lines(res.stdout)
		if !strings.HasSuffix(l[0], ",udps.i,udps.f,udps.b,udps.s,udps.l,udps.ip,udps.ips,udps.arg,udps.name") {
			t.Fatalf("header %s", l[0])
		}
		if want := `,7,0.25,True,"a""b","[1, 2.5, 'x', None, True, 1]",17,4,8,"x"`; !strings.HasSuffix(l[1], want) {
			t.Errorf("row 1 %s, want suffix %s", l[1], want)
		}
		if want := `,7,0.25,False,,"[1, 2.5, 'x', None, True, 1]",17,4,8,"x"`; !strings.HasSuffix(l[2], want) {
			t.Errorf("row 2 %s, want suffix %s", l[2], want)
		}
		res = runNFStream(t, nil, "-r", pcap, "--plugin", p+":limit=4,name=x", "-o", "-", "-q", "--format", "jsonl")
		if want := `"udps.i":7,"udps.f":0.25,"udps.b":true,"udps.s":"a\"b","udps.l":[1,2.5,"x",null,true,1],"udps.ip":17,"udps.ips":4,"udps.arg":8,"udps.name":"x"}`; !strings.HasSuffix(lines(res.stdout)[0], want) {
			t.Errorf("jsonl %s, want suffix %s", lines(res.stdout)[0], want)
		}
	})
}

// TestPluginExampleCorpusMeters: the same output with three meters, each
// with its own instance of the plugin.
func TestPluginExampleCorpusMeters(t *testing.T) {
	comparePluginCorpusArgs(t, "example", []string{"--meters", "3"}, filepath.Join(corpus.RepoRoot(t), "testdata", "plugins", "example.star"))
}

func TestPluginSPLTCorpus(t *testing.T) {
	comparePluginCorpus(t, "splt", "splt:sequence_length=10")
}

func TestPluginSlicer4Corpus(t *testing.T) {
	comparePluginCorpus(t, "slicer4", "flow_slicer:limit=4")
}

func TestPluginSlicer1Corpus(t *testing.T) {
	comparePluginCorpus(t, "slicer1", "flow_slicer:limit=1")
}

// TestSplitPlugin: a --plugin value is a script when it ends in .star or
// has .star before its arguments, a built-in otherwise; --plugin and
// --model use this one rule.
func TestSplitPlugin(t *testing.T) {
	for _, c := range []struct {
		spec, file, args string
		script           bool
	}{
		{"a.star", "a.star", "", true},
		{"dir/a.star:x=1,y=2", "dir/a.star", "x=1,y=2", true},
		{"a.star:f=b.star", "a.star", "f=b.star", true},
		{"splt", "splt", "", false},
		{"flow_slicer:limit=5", "flow_slicer", "limit=5", false},
		{"a.starx", "a.starx", "", false},
	} {
		file, args, script := splitPlugin(c.spec)
		if file != c.file || args != c.args || script != c.script {
			t.Errorf("splitPlugin(%q) = %q, %q, %v; want %q, %q, %v", c.spec, file, args, script, c.file, c.args, c.script)
		}
	}
}
