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
	r := reader{cfg: &cfg, st: &st, m: m, dec: decode.Decoder{Options: cfg.Decode}}
	readErr := r.readAll(ctx, open)
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

// batchSize is how many decoded packets the meter takes at once.
const batchSize = 32

// reader reads the sources in order and feeds the meter in batches.
type reader struct {
	cfg   *Config
	st    *Stats
	m     *meter.Meter
	dec   decode.Decoder
	batch [batchSize]decode.Packet
	times [batchSize]uint64
	n     int
}

// flush meters the batch. The packets' IPContent points into the capture's
// buffer and is stale by now: the meter does not read it.
func (r *reader) flush() error {
	if r.n == 0 {
		return nil
	}
	err := r.m.ProcessBatch(r.batch[:r.n], r.times[:r.n])
	r.n = 0
	return err
}

func (r *reader) readAll(ctx context.Context, open func(string) (capture.Source, error)) error {
	for _, name := range r.cfg.Sources {
		src, err := open(name)
		if err != nil {
			return err
		}
		err = r.readSource(ctx, name, src)
		if ferr := r.flush(); err == nil {
			err = ferr
		}
		if cerr := src.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %q: %w", name, cerr)
		}
		if err != nil {
			return err
		}
		if r.cfg.MaxPackets > 0 && r.st.Packets >= r.cfg.MaxPackets {
			return nil
		}
	}
	return nil
}

// readSource decodes the packets of one source into batches; the caller
// meters the last, partial batch.
func (r *reader) readSource(ctx context.Context, name string, src capture.Source) error {
	var pkt capture.Packet
	checked := capture.LinkType(1<<32 - 1)
	for {
		if r.cfg.MaxPackets > 0 && r.st.Packets >= r.cfg.MaxPackets {
			return nil
		}
		if r.st.Packets%checkEvery == 0 && ctx.Err() != nil {
			return ErrInterrupted
		}
		err := src.Next(&pkt)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		r.st.Packets++
		if pkt.LinkType != checked {
			if !decode.Supported(pkt.LinkType) {
				return fmt.Errorf("%q: link type %d is not supported", name, pkt.LinkType)
			}
			checked = pkt.LinkType
		}
		if !r.dec.Decode(pkt.LinkType, pkt.Data, pkt.Len, &r.batch[r.n]) {
			r.st.Ignored++
			continue
		}
		r.times[r.n] = TimeMS(pkt.Sec, pkt.Usec)
		if r.n++; r.n == batchSize {
			if err := r.flush(); err != nil {
				return err
			}
		}
	}
}

// TimeMS converts libpcap's timeval to NFStream's packet time in ms:
// tv_sec*1000 + tv_usec/1000 computed in C's uint64 arithmetic, so negative
// values wrap as they do in NFStream.
func TimeMS(sec, usec int64) uint64 {
	return uint64(sec)*1000 + uint64(usec/1000)
}
