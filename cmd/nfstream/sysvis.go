package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/sysvis"
)

// sysvisOptions are the system visibility flags (docs/system-visibility.md):
// which local process owns each flow's sockets, live capture only.
type sysvisOptions struct {
	mode     string
	pollMS   int
	procRoot string

	columns features.SystemColumns // parsed from mode
}

// sysvisRingTimeout is the rings' block timeout with system visibility:
// a packet of a quiet link reaches the meter within it, so the socket of
// a short connection is looked up while it still exists.
const sysvisRingTimeout = 2 * time.Millisecond

func (o *sysvisOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.mode, "system-visibility", "", "live capture: add the process owning each flow's socket on this host, `MODE` basic (system_process_pid and _name, as NFStream) or full (also uid, executable, command line, and the owner of the other end when both ends are local); the flag alone means basic")
	fs.Lookup("system-visibility").NoOptDefVal = "basic"
	fs.IntVar(&o.pollMS, "poll-ms", 100, "live capture with --system-visibility: milliseconds between socket polls (0: poll continuously); a new flow whose socket is unknown is also looked up at once")
	fs.StringVar(&o.procRoot, "proc-root", "/proc", "live capture with --system-visibility: the proc file system to read sockets and processes from (`DIR`)")
}

// validate parses the mode; the flags' live-only rule is in
// options.validate (liveOnly).
func (o *sysvisOptions) validate() error {
	switch strings.ToLower(o.mode) {
	case "":
		o.columns = features.SystemOff
	case "basic", "1":
		o.columns = features.SystemBasic
	case "full":
		o.columns = features.SystemFull
	default:
		return usagef("--system-visibility %q: must be basic or full", o.mode)
	}
	if o.pollMS < 0 {
		return usagef("--poll-ms %d: must be 0 or more milliseconds", o.pollMS)
	}
	return nil
}

// on reports whether system visibility was asked for.
func (o *sysvisOptions) on() bool { return o.columns != features.SystemOff }

// start reads the proc file system once and returns the attributor the
// live run polls with, or nil when system visibility is off. Owners are
// kept idle-timeout plus 5 s after their sockets close (as NFStream's
// collector does), so a flow exported after its socket closed still
// finds them.
func (o *sysvisOptions) start(idleTimeout time.Duration) (*sysvis.Attributor, error) {
	if !o.on() {
		return nil, nil
	}
	full := o.columns == features.SystemFull
	t, err := sysvis.New(sysvis.Options{
		Root:        o.procRoot,
		WithUID:     full,
		WithExe:     full,
		WithCmdline: full,
		LocalAddrs:  localAddrs(),
		Retain:      idleTimeout + 5*time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("--proc-root %s: %w", o.procRoot, err)
	}
	a, err := sysvis.NewAttributor(t, time.Duration(o.pollMS)*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("--proc-root %s: reading the processes: %w", o.procRoot, err)
	}
	return a, nil
}

// localAddrs are the addresses of this network namespace's interfaces.
func localAddrs() []netip.Addr {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var addrs []netip.Addr
	for _, a := range ifAddrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			addrs = append(addrs, p.Addr())
		}
	}
	return addrs
}

// sysvisSummary is the system visibility part of a live run's summary.
func sysvisSummary(a *sysvis.Attributor) string {
	if a == nil {
		return ""
	}
	ts, as := a.Stats()
	return fmt.Sprintf("; system visibility: %d of %d flows attributed (%d polls, %d lookups at new flows, %d processes skipped)",
		as.Attributed, as.Attributed+as.Unattributed, ts.Polls, as.ImmediateLookups, ts.ProcErrors)
}
