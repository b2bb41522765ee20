//go:build !linux

package capture

import "fmt"

// Live is a ring of a live capture. Outside Linux there is none: OpenLive
// always fails, and the methods exist so that callers compile.
type Live struct{}

// OpenLive returns an error wrapping ErrLiveUnsupported: live capture is
// built on Linux's AF_PACKET sockets.
func OpenLive(cfg LiveConfig) ([]*Live, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("capture on %q: %w", cfg.Interface, ErrLiveUnsupported)
}

// LinkType returns 0.
func (l *Live) LinkType() LinkType { return 0 }

// Next returns ErrLiveUnsupported.
func (l *Live) Next(p *Packet) error { return ErrLiveUnsupported }

// Stats returns ErrLiveUnsupported.
func (l *Live) Stats() (received, dropped uint64, err error) { return 0, 0, ErrLiveUnsupported }

// Stop does nothing.
func (l *Live) Stop() error { return nil }

// Close does nothing.
func (l *Live) Close() error { return nil }
