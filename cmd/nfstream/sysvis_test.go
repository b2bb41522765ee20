package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// System visibility end to end (docs/system-visibility.md): processes
// with their own names make connections in the capturing namespace, and
// every flow nfstream writes names the process that made it. The truth is
// what each process says it did (its local and remote address per
// connection) and its PID, which ip netns exec keeps when it runs it.

// sockpeers builds internal/testing/sockpeer and copies it under each
// name, so each copy runs as a process of that name (/proc/PID/comm).
func sockpeers(t *testing.T, names ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sockpeer")
	build := exec.Command("go", "build", "-o", bin, "../../internal/testing/sockpeer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building sockpeer: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		paths[n] = p
	}
	return paths
}

// peerServer runs sockpeer serve in a namespace until the test ends.
func peerServer(t *testing.T, v *vethNet, ns, bin, addr string) int {
	t.Helper()
	cmd := v.Command(ns, bin, "serve", addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("sockpeer serve %s: %q %v", addr, line, err)
	}
	return cmd.Process.Pid
}

// conn is one connection a sockpeer client made.
type conn struct {
	proto         string
	local, remote string
	open          time.Duration
	pid           int
	name          string
}

// runClient runs a sockpeer client in namespace ns and returns its
// connections.
func runClient(t *testing.T, v *vethNet, ns, name, bin string, args ...string) ([]conn, error) {
	cmd := v.Command(ns, append([]string{bin}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	var conns []conn
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("%s: bad line %q", name, line)
		}
		us, _ := strconv.Atoi(f[3])
		conns = append(conns, conn{proto: f[0], local: f[1], remote: f[2], open: time.Duration(us) * time.Microsecond, pid: pid, name: name})
	}
	return conns, nil
}

// sysRows reads a CSV output into rows keyed by "proto src dst" with the
// addresses as ip:port.
func sysRows(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	_, all := readCSVRows(t, path)
	rows := map[string]map[string]string{}
	for _, row := range all {
		proto := map[string]string{"6": "tcp", "17": "udp"}[row["protocol"]]
		rows[proto+" "+row["src_ip"]+":"+row["src_port"]+" "+row["dst_ip"]+":"+row["dst_port"]] = row
	}
	return rows
}

// TestSystemVisibilityLive: three processes in the capturing namespace
// talk to a peer namespace: nfsv-alpha over three TCP connections held
// 400 ms, nfsv-bravo over five connected UDP sockets held 400 ms (so
// several polls see them, however loaded the machine), and
// nfsv-charlie over 50 TCP connections each open for about 7 ms, less
// than a tenth of the 100 ms poll interval (attributed by the poll a new
// flow triggers). Every flow of alpha and bravo must name its process:
// PID, name, uid, executable, command line; of charlie's, the share
// attributed is reported, and each one attributed must be right.
func TestSystemVisibilityLive(t *testing.T) {
	v := newVethNet(t)
	bins := sockpeers(t, "nfsv-server", "nfsv-alpha", "nfsv-bravo", "nfsv-charlie")
	server := v.A.Addr.String() + ":7000"
	peerServer(t, v, v.A.NS, bins["nfsv-server"], server)
	out := filepath.Join(t.TempDir(), "flows.csv")
	r := v.startLive(t, nil, 1, "--n-dissections", "0", "--system-visibility=full", "--poll-ms", "100", "-o", out)

	clients := []struct {
		name string
		args []string
	}{
		{"nfsv-alpha", []string{"tcp", server, "3", "400", "0"}},
		{"nfsv-bravo", []string{"udp", server, "5", "400", "0"}},
		{"nfsv-charlie", []string{"tcp", server, "50", "7", "20"}},
	}
	var mu sync.Mutex
	var conns []conn
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	cmdlines := map[string]string{}
	for _, c := range clients {
		cmdlines[c.name] = bins[c.name] + " " + strings.Join(c.args, " ")
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := runClient(t, v, v.B.NS, c.name, bins[c.name], c.args...)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			conns = append(conns, cs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the last packets reach the ring
	r.signal(t, syscall.SIGINT)
	if st := r.wait(t, 30*time.Second); st != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", st, r.stderr.String())
	}
	rows := sysRows(t, out)

	short, shortOK := 0, 0
	for _, c := range conns {
		row, ok := rows[c.proto+" "+c.local+" "+c.remote]
		if !ok {
			t.Errorf("%s's %s connection %s -> %s not written", c.name, c.proto, c.local, c.remote)
			continue
		}
		attributed := row["system_process_pid"] == strconv.Itoa(c.pid) && row["system_process_name"] == c.name
		if c.name == "nfsv-charlie" {
			short++
			if c.open >= 10*time.Millisecond {
				t.Logf("%s: connection %s was open %v, not under a tenth of the poll interval", c.name, c.local, c.open)
			}
			if !attributed && row["system_process_pid"] == "-1" {
				t.Logf("%s: connection %d (%s, open %v) not attributed", c.name, short, c.local, c.open)
				continue // counted below
			}
		}
		if !attributed {
			t.Errorf("%s (pid %d) %s %s -> %s: attributed to pid %s %q", c.name, c.pid, c.proto, c.local, c.remote,
				row["system_process_pid"], row["system_process_name"])
			continue
		}
		if c.name == "nfsv-charlie" {
			shortOK++
		}
		if row["system_process_uid"] != "0" || row["system_process_exe"] != bins[c.name] || row["system_process_cmdline"] != cmdlines[c.name] {
			t.Errorf("%s: uid %q exe %q cmdline %q; want 0, %q, %q", c.name, row["system_process_uid"], row["system_process_exe"],
				row["system_process_cmdline"], bins[c.name], cmdlines[c.name])
		}
		// The server is in the peer namespace: not a local process.
		if row["system_peer_pid"] != "-1" || row["system_peer_name"] != "" {
			t.Errorf("%s: peer %s %q, want -1 \"\"", c.name, row["system_peer_pid"], row["system_peer_name"])
		}
	}
	if len(conns) != 3+5+50 {
		t.Errorf("%d connections made, want 58", len(conns))
	}
	// The target is all of them. A connection open 7 ms is found only if
	// its first packet leaves the ring (2 ms block timeout) and the lookup
	// at the new flow reads its fd while it is still open: on a loaded
	// 2-core machine 11 to 49 of 50 were. Without that lookup about 7 in
	// 100 would be (7 ms of a 100 ms interval), which this bound tells
	// apart.
	t.Logf("short connections attributed: %d of %d; %s", shortOK, short, strings.TrimSpace(r.stderr.String()))
	if shortOK < short/5 {
		t.Errorf("only %d of %d short connections attributed: the poll at new flows does not work", shortOK, short)
	}
}

// TestSystemVisibilityLocalPeers: a flow between two local processes over
// loopback names both: the client (the flow's source) in system_process_*,
// the server in system_peer_*.
func TestSystemVisibilityLocalPeers(t *testing.T) {
	v := newVethNet(t)
	bins := sockpeers(t, "nfsv-local-srv", "nfsv-local-cli")
	server := "127.0.0.1:7001"
	serverPID := peerServer(t, v, v.B.NS, bins["nfsv-local-srv"], server)
	out := filepath.Join(t.TempDir(), "flows.csv")
	r := v.startLiveOn(t, "lo", "--n-dissections", "0", "--system-visibility=full", "-o", out)
	var conns []conn
	for _, proto := range []string{"tcp", "udp"} {
		cs, err := runClient(t, v, v.B.NS, "nfsv-local-cli", bins["nfsv-local-cli"], proto, server, "2", "150", "0")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cs...)
	}
	time.Sleep(200 * time.Millisecond)
	r.signal(t, syscall.SIGINT)
	if st := r.wait(t, 30*time.Second); st != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", st, r.stderr.String())
	}
	rows := sysRows(t, out)
	for _, c := range conns {
		row, ok := rows[c.proto+" "+c.local+" "+c.remote]
		if !ok {
			t.Errorf("%s connection %s -> %s not written", c.proto, c.local, c.remote)
			continue
		}
		if row["system_process_pid"] != strconv.Itoa(c.pid) || row["system_process_name"] != "nfsv-local-cli" ||
			row["system_peer_pid"] != strconv.Itoa(serverPID) || row["system_peer_name"] != "nfsv-local-srv" ||
			row["system_peer_exe"] != bins["nfsv-local-srv"] {
			t.Errorf("%s %s -> %s: process %s %q, peer %s %q %q; want %d nfsv-local-cli, %d nfsv-local-srv %s",
				c.proto, c.local, c.remote, row["system_process_pid"], row["system_process_name"],
				row["system_peer_pid"], row["system_peer_name"], row["system_peer_exe"], c.pid, serverPID, bins["nfsv-local-srv"])
		}
	}
	if len(conns) != 4 {
		t.Errorf("%d connections, want 4", len(conns))
	}
}

// TestSystemVisibilityUsage: the flags are for live capture, and the
// mode is checked.
func TestSystemVisibilityUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-r", "../../testdata/eth_ipv4.pcap", "--system-visibility"},
		{"-r", "../../testdata/eth_ipv4.pcap", "--poll-ms", "10"},
		{"-r", "../../testdata/eth_ipv4.pcap", "--proc-root", "/proc"},
		{"-i", "lo", "--system-visibility=some"},
		{"-i", "lo", "--system-visibility", "--poll-ms", "-1"},
	} {
		res := runNFStream(t, nil, args...)
		if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, "--") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want a usage error (2)", args, res.code, res.stdout, res.stderr)
		}
	}
}
