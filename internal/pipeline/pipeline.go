package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/output"
)

// Config configures a run over capture files.
type Config struct {
	// Sources are capture files read in order as one capture; "-" is
	// standard input.
	Sources []string
	Decode  decode.Options
	Meter   meter.Config
	// MaxFlows stops the run after that many flows (0: no limit).
	MaxFlows uint64
	// MaxPackets stops reading after that many records (0: no limit).
	MaxPackets uint64
	// Open opens a source; nil means capture.Open.
	Open func(name string) (capture.Source, error)
}

// Stats counts what a run did.
type Stats struct {
	Packets   uint64 // records read
	Ignored   uint64 // records the decoder ignored
	Processed uint64 // packets metered
	Flows     uint64 // flows written
}

// ErrInterrupted is returned when the context was cancelled; the flows read
// so far were written.
var ErrInterrupted = errors.New("interrupted")

// errStop ends metering once MaxFlows flows are out.
var errStop = errors.New("flow limit reached")

// checkEvery is how many records pass between checks of the context.
const checkEvery = 4096

// Run reads every source through the decoder and the meter into sink, and
// closes the sink.
func Run(ctx context.Context, cfg Config, sink output.Sink, cols []features.Column) (st Stats, err error) {
	if err := sink.Begin(cols); err != nil {
		return st, err
	}
	defer func() {
		if cerr := sink.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	export := func(r *features.Record) error {
		r.ID = st.Flows
		if err := sink.Write(r); err != nil {
			return err
		}
		st.Flows++
		if cfg.MaxFlows > 0 && st.Flows >= cfg.MaxFlows {
			return errStop
		}
		return nil
	}
	m := meter.New(cfg.Meter, export)
	open := cfg.Open
	if open == nil {
		open = capture.Open
	}
	dec := decode.Decoder{Options: cfg.Decode}
	readErr := func() error {
		var pkt capture.Packet
		var p decode.Packet
		for _, name := range cfg.Sources {
			src, err := open(name)
			if err != nil {
				return err
			}
			checked := capture.LinkType(1<<32 - 1)
			for {
				if cfg.MaxPackets > 0 && st.Packets >= cfg.MaxPackets {
					src.Close()
					return nil
				}
				if st.Packets%checkEvery == 0 && ctx.Err() != nil {
					src.Close()
					return ErrInterrupted
				}
				err := src.Next(&pkt)
				if err == io.EOF {
					break
				}
				if err != nil {
					src.Close()
					return err
				}
				st.Packets++
				if pkt.LinkType != checked {
					if !decode.Supported(pkt.LinkType) {
						src.Close()
						return fmt.Errorf("%q: link type %d is not supported", name, pkt.LinkType)
					}
					checked = pkt.LinkType
				}
				if !dec.Decode(pkt.LinkType, pkt.Data, pkt.Len, &p) {
					st.Ignored++
					continue
				}
				if err := m.Process(&p, TimeMS(pkt.Sec, pkt.Usec)); err != nil {
					src.Close()
					return err
				}
			}
			if err := src.Close(); err != nil {
				return fmt.Errorf("close %q: %w", name, err)
			}
		}
		return nil
	}()
	st.Processed = m.Processed()
	if readErr == errStop {
		return st, nil
	}
	// Whatever ended the reading, the flows in memory are written.
	if err := m.Flush(); err != nil && err != errStop {
		return st, err
	}
	return st, readErr
}

// TimeMS converts libpcap's timeval to NFStream's packet time in ms:
// tv_sec*1000 + tv_usec/1000 computed in C's uint64 arithmetic, so negative
// values wrap as they do in NFStream.
func TimeMS(sec, usec int64) uint64 {
	return uint64(sec)*1000 + uint64(usec/1000)
}
