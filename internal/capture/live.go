package capture

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/bpf"
)

// Live capture: the platform-neutral half. OpenLive and the Live type are
// in live_linux.go (AF_PACKET) and live_other.go (an error elsewhere).

// Defaults of LiveConfig, as tcpdump and NFStream have them.
const (
	// DefaultSnaplen is NFStream's snapshot_length.
	DefaultSnaplen = 1536
	// DefaultBufferKiB is libpcap's default buffer (2 MiB) per ring.
	DefaultBufferKiB = 2048
	// DefaultLiveTimeout is how long Next waits for a packet before it
	// returns ErrTimeout, and how long a partly filled ring block waits
	// before the kernel hands it over.
	DefaultLiveTimeout = 100 * time.Millisecond
)

// Limits on LiveConfig values.
const (
	maxRings     = 1024    // far above any core count; the kernel allows more
	maxBufferKiB = 1 << 22 // 4 GiB per ring
)

// LiveConfig configures OpenLive. The zero value of every field but
// Interface means its default.
type LiveConfig struct {
	// Interface is the network interface to capture on, such as "eth0".
	Interface string
	// Snaplen is the most bytes kept of each packet (-s/--snaplen);
	// 0 means DefaultSnaplen. At most 262144.
	Snaplen int
	// Promisc puts the interface in promiscuous mode while capturing
	// (NFStream's default; --no-promisc turns it off).
	Promisc bool
	// BufferKiB is the size of each ring in KiB (-B/--buffer-size, as
	// tcpdump's); 0 means DefaultBufferKiB. A ring has at least two
	// blocks, so a very small value is rounded up.
	BufferKiB int
	// Program is a classic BPF program the kernel applies before packets
	// reach the rings, compiled for this interface and snapshot length
	// (internal/filter.CompileLive compiles one as libpcap does for a live
	// handle); its accepting paths return the snapshot length. Nil
	// captures everything.
	Program []bpf.RawInstruction
	// Filter is the expression Program was compiled from; it names the
	// filter in errors, and needs a Program.
	Filter string
	// Rings is the number of sockets, each with its own ring, in one
	// fanout group: one per meter. 0 means 1.
	Rings int
	// Timeout is how long Next waits before it returns ErrTimeout;
	// 0 means DefaultLiveTimeout. It is also the kernel's block retire
	// timeout, so a packet on a quiet link is delivered within about
	// twice this time.
	Timeout time.Duration
}

// withDefaults returns the configuration with zero fields set to their
// defaults.
func (c LiveConfig) withDefaults() LiveConfig {
	if c.Snaplen == 0 {
		c.Snaplen = DefaultSnaplen
	}
	if c.BufferKiB == 0 {
		c.BufferKiB = DefaultBufferKiB
	}
	if c.Rings == 0 {
		c.Rings = 1
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultLiveTimeout
	}
	return c
}

// Validate reports the first field with a value OpenLive cannot use,
// naming the field. Zero values are valid: they mean the defaults.
func (c LiveConfig) Validate() error {
	switch {
	case c.Interface == "":
		return errors.New("live capture: no interface given")
	case len(c.Interface) >= 16:
		// IFNAMSIZ is 16 with the terminating NUL.
		return fmt.Errorf("interface %q does not exist: names have at most 15 bytes", c.Interface)
	case c.Snaplen < 0 || c.Snaplen > maximumSnaplen:
		return fmt.Errorf("live capture: snaplen %d out of range 1..%d", c.Snaplen, maximumSnaplen)
	case c.BufferKiB < 0 || c.BufferKiB > maxBufferKiB:
		return fmt.Errorf("live capture: buffer size %d KiB out of range 1..%d", c.BufferKiB, maxBufferKiB)
	case c.Rings < 0 || c.Rings > maxRings:
		return fmt.Errorf("live capture: %d rings out of range 1..%d", c.Rings, maxRings)
	case c.Timeout < 0:
		return fmt.Errorf("live capture: negative timeout %v", c.Timeout)
	case c.Filter != "" && len(c.Program) == 0:
		return fmt.Errorf("live capture: filter %q given without its compiled program", c.Filter)
	}
	return nil
}

// ErrTimeout is returned by Live.Next when no packet arrived within the
// configured timeout. It is not a failure: the caller can run its timers
// (expire flows on the wall clock) and call Next again.
var ErrTimeout = errors.New("live capture: no packet within the timeout")

// ErrNoInterface is wrapped by OpenLive's error when the interface does
// not exist.
var ErrNoInterface = errors.New("no such interface")

// ErrPrivileges is wrapped by OpenLive's error when the process may not
// open packet sockets (it needs root or CAP_NET_RAW).
var ErrPrivileges = errors.New("missing privileges for live capture")

// ErrLiveUnsupported is wrapped by OpenLive's error on systems other than
// Linux.
var ErrLiveUnsupported = errors.New("live capture needs Linux")

// liveError is an OpenLive failure with a fixed message that wraps a
// sentinel (for errors.Is) and the system's error, if any.
type liveError struct {
	msg  string
	errs []error
}

func (e *liveError) Error() string   { return e.msg }
func (e *liveError) Unwrap() []error { return e.errs }

// CheckInterface returns the error OpenLive returns for an interface that
// does not exist (it wraps ErrNoInterface), or nil. A caller compiling a
// filter for the interface before OpenLive checks it first, so that the
// missing interface is what the user hears about.
func CheckInterface(iface string) error {
	if _, err := net.InterfaceByName(iface); err != nil {
		return noInterface(iface, err)
	}
	return nil
}

// noInterface is the error for an interface that does not exist.
func noInterface(iface string, cause error) error {
	return &liveError{msg: fmt.Sprintf("interface %q does not exist", iface), errs: []error{ErrNoInterface, cause}}
}

// noPrivileges is the error for a process that may not capture.
func noPrivileges(iface string, cause error) error {
	return &liveError{msg: fmt.Sprintf("capturing on %q needs root or CAP_NET_RAW", iface), errs: []error{ErrPrivileges, cause}}
}
