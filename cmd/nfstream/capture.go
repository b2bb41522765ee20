package main

import (
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/filter"
)

// captureOptions are the flags that say where packets come from: files or
// an interface, the BPF filter, live capture settings and the number of
// meters.
type captureOptions struct {
	iface     string
	filter    string
	snaplen   int
	noPromisc bool
	bufferKiB int
	meters    int
	report    int
	metrics   string

	expr string // the filter: -f, or the trailing arguments
	// blockTimeout is the rings' block timeout (0: capture's default).
	blockTimeout time.Duration
}

func (o *captureOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.iface, "interface", "i", "", "capture live on `IFACE` (AF_PACKET TPACKET_V3 rings, one per meter, in one fanout group)")
	fs.StringVarP(&o.filter, "filter", "f", "", "BPF filter `EXPR` (as tcpdump; also accepted as trailing arguments), for files and live capture")
	fs.IntVarP(&o.snaplen, "snaplen", "s", 1536, "live capture: bytes kept of each packet")
	fs.BoolVar(&o.noPromisc, "no-promisc", false, "live capture: do not put the interface in promiscuous mode")
	fs.IntVarP(&o.bufferKiB, "buffer-size", "B", 2048, "live capture: ring size per meter, in `KiB`")
	fs.IntVar(&o.report, "report-interval", 0, "print a JSON performance report on standard error every `SEC` seconds (0: never), for files and live capture")
	fs.StringVar(&o.metrics, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9108) while the run lasts, for files and live capture")
	fs.IntVar(&o.meters, "meters", 0, "number of meters packets are sharded to (0: files 1, live one per core less one); file output is the same for any number but for L7 values nDPI decided from its per-meter caches")
}

// validate checks the capture flags; reading files and a live interface
// exclude each other.
func (o *captureOptions) validate(files []string, args []string) error {
	if o.filter != "" && len(args) > 0 {
		return usagef("give the BPF filter either with -f or as trailing arguments, not both")
	}
	o.expr = o.filter
	if len(args) > 0 {
		o.expr = strings.Join(args, " ")
	}
	switch {
	case o.iface != "" && len(files) > 0:
		return usagef("-i and -r exclude each other: capture live or read files")
	case o.iface == "" && len(files) == 0:
		return usagef("no input: give a capture file with -r FILE or an interface with -i IFACE")
	}
	if o.report < 0 {
		return usagef("--report-interval %d: must be 0 or more seconds", o.report)
	}
	if err := checkMeters(o.meters); err != nil {
		return err
	}
	if o.iface != "" {
		if err := o.liveConfig().Validate(); err != nil {
			return usagef("%v", err)
		}
	} else if o.expr != "" {
		// Compile once for Ethernet to reject a bad expression before any
		// work; each file compiles it again for its own link type.
		if _, err := filter.Compile(o.expr, uint32(capture.LinkEthernet), 262144); err != nil {
			return usagef("%v", err)
		}
	}
	return nil
}

// maxMeters bounds --meters: a fanout group holds at most 256 sockets (live
// capture fails beyond, after long set-up), and more meters than
// metersPerCore per core only add sharding and merging work, each with
// ~6 MB of nDPI state and ~25 ms of start-up.
const (
	maxMeters     = 256
	metersPerCore = 4
)

// checkMeters refuses a --meters value beyond what can help, with the reason.
func checkMeters(n int) error {
	cores := runtime.GOMAXPROCS(0)
	switch {
	case n < 0:
		return usagef("--meters %d: must be 0 (automatic) or more", n)
	case n > maxMeters:
		return usagef("--meters %d: at most %d (a live fanout group holds at most %d sockets)", n, maxMeters, maxMeters)
	case n > metersPerCore*cores:
		return usagef("--meters %d: at most %d on this machine (%d cores): more meters than %d per core only add sharding work, and each keeps ~6 MB of nDPI state",
			n, metersPerCore*cores, cores, metersPerCore)
	}
	return nil
}

// meterCount resolves --meters 0. Files get one meter, so the default
// output never depends on the machine (several meters can change the L7
// values nDPI decides from its per-meter caches; docs/cli.md). Live, one
// per core less one, at least one: the kernel needs a core for the rings.
// Cores are what the Go runtime may use (GOMAXPROCS: CPU affinity and
// cgroup CPU limits).
func (o *captureOptions) meterCount() int {
	switch {
	case o.meters > 0:
		return o.meters
	case o.iface == "":
		return 1
	}
	return max(runtime.GOMAXPROCS(0)-1, 1)
}

// liveConfig is the live capture the flags ask for, without the filter's
// program: openLive compiles it.
func (o *captureOptions) liveConfig() capture.LiveConfig {
	return capture.LiveConfig{
		Interface: o.iface, Snaplen: o.snaplen, Promisc: !o.noPromisc, BufferKiB: o.bufferKiB,
		Rings: o.meterCount(), Timeout: o.blockTimeout,
	}
}

// openLive opens the rings of the live capture, with the filter, if any,
// compiled as libpcap compiles it for the interface.
func (o *captureOptions) openLive() ([]*capture.Live, error) {
	cfg := o.liveConfig()
	if o.expr != "" {
		if err := capture.CheckInterface(cfg.Interface); err != nil {
			return nil, err
		}
		snaplen := cfg.Snaplen
		if snaplen == 0 {
			snaplen = capture.DefaultSnaplen
		}
		prog, err := filter.CompileLive(o.expr, cfg.Interface, snaplen)
		if err != nil {
			return nil, err
		}
		cfg.Filter, cfg.Program = o.expr, prog
	}
	return capture.OpenLive(cfg)
}

// openFile opens a capture file with the filter, if any, applied.
func (o *captureOptions) openFile(name string) (capture.Source, error) {
	src, err := capture.Open(name)
	if err != nil || o.expr == "" {
		return src, err
	}
	f, err := filter.Source(src, name, o.expr) // its errors name the file
	if err != nil {
		src.Close()
		return nil, err
	}
	return f, nil
}
