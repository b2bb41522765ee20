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
	m, err := meter.New(cfg.Meter, export)
	if err != nil {
		return st, err
	}
	defer m.Close()
	open := cfg.Open
	if open == nil {
		open = capture.Open
	}
	readErr := meterAll(ctx, &cfg, open, m, &st)
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

// batchSize is how many decoded packets travel together from the reader to
// the meter; inFlight how many batches circulate between them.
const (
	batchSize = 64
	inFlight  = 4
)

// batch is a run of decoded packets. A packet's IPContent points into the
// capture's buffer, which the reader reuses; when the meter needs the bytes
// (for nDPI) the reader copies them into the batch's arena, and the meter
// side points IPContent there before metering.
type batch struct {
	pkts  [batchSize]decode.Packet
	times [batchSize]uint64
	ipEnd [batchSize]int // end of each packet's bytes in arena
	arena []byte
	n     int
}

// resolve points each packet's IPContent into the arena.
func (b *batch) resolve() {
	start := 0
	for i := 0; i < b.n; i++ {
		b.pkts[i].IPContent = b.arena[start:b.ipEnd[i]:b.ipEnd[i]]
		start = b.ipEnd[i]
	}
}

// meterAll reads and decodes the sources in a goroutine of their own and
// meters the batches it hands over here, in order; batches are recycled.
// It returns the first error of either side.
func meterAll(ctx context.Context, cfg *Config, open func(string) (capture.Source, error), m *meter.Meter, st *Stats) error {
	full := make(chan *batch, inFlight)
	free := make(chan *batch, inFlight)
	for i := 0; i < inFlight; i++ {
		free <- new(batch)
	}
	done := make(chan struct{})
	r := reader{cfg: cfg, dec: decode.Decoder{Options: cfg.Decode}, full: full, free: free, done: done,
		keepBytes: cfg.Meter.Dissections > 0}
	go func() {
		r.err = r.readAll(ctx, open)
		close(full)
	}()
	var meterErr error
	keep := cfg.Meter.Dissections > 0
	for b := range full {
		if keep {
			b.resolve()
		}
		if meterErr == nil {
			meterErr = m.ProcessBatch(b.pkts[:b.n], b.times[:b.n])
			if meterErr != nil {
				close(done) // tell the reader to stop; drain what it sent
			}
		}
		b.n, b.arena = 0, b.arena[:0]
		free <- b
	}
	st.Packets, st.Ignored = r.packets, r.ignored
	if meterErr != nil {
		return meterErr
	}
	return r.err
}

// reader reads the sources in order and decodes them into batches.
type reader struct {
	cfg              *Config
	dec              decode.Decoder
	full, free       chan *batch
	done             chan struct{}
	cur              *batch
	keepBytes        bool // copy packet bytes for the meter (dissection on)
	packets, ignored uint64
	err              error
}

// send hands the current batch to the meter. It reports false when the
// meter has stopped.
func (r *reader) send() bool {
	if r.cur == nil || r.cur.n == 0 {
		return true
	}
	select {
	case r.full <- r.cur:
		r.cur = nil
		return true
	case <-r.done:
		return false
	}
}

// next returns the batch to fill, waiting for a free one.
func (r *reader) next() (*batch, bool) {
	if r.cur != nil {
		return r.cur, true
	}
	select {
	case r.cur = <-r.free:
		return r.cur, true
	case <-r.done:
		return nil, false
	}
}

func (r *reader) readAll(ctx context.Context, open func(string) (capture.Source, error)) error {
	for _, name := range r.cfg.Sources {
		src, err := open(name)
		if err != nil {
			return err
		}
		err = r.readSource(ctx, name, src)
		if !r.send() && err == nil {
			err = errStop
		}
		if cerr := src.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %q: %w", name, cerr)
		}
		if err != nil {
			return err
		}
		if r.cfg.MaxPackets > 0 && r.packets >= r.cfg.MaxPackets {
			return nil
		}
	}
	return nil
}

// readSource decodes the packets of one source into batches; the caller
// sends the last, partial batch.
func (r *reader) readSource(ctx context.Context, name string, src capture.Source) error {
	var pkt capture.Packet
	checked := capture.LinkType(1<<32 - 1)
	for {
		if r.cfg.MaxPackets > 0 && r.packets >= r.cfg.MaxPackets {
			return nil
		}
		if r.packets%checkEvery == 0 && ctx.Err() != nil {
			return ErrInterrupted
		}
		b, ok := r.next()
		if !ok {
			return errStop
		}
		err := src.Next(&pkt)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		r.packets++
		if pkt.LinkType != checked {
			if !decode.Supported(pkt.LinkType) {
				return fmt.Errorf("%q: link type %d is not supported", name, pkt.LinkType)
			}
			checked = pkt.LinkType
		}
		if !r.dec.Decode(pkt.LinkType, pkt.Data, pkt.Len, &b.pkts[b.n]) {
			r.ignored++
			continue
		}
		b.times[b.n] = TimeMS(pkt.Sec, pkt.Usec)
		if r.keepBytes {
			b.arena = append(b.arena, b.pkts[b.n].IPContent...)
			b.ipEnd[b.n] = len(b.arena)
		}
		if b.n++; b.n == batchSize && !r.send() {
			return errStop
		}
	}
}

// TimeMS converts libpcap's timeval to NFStream's packet time in ms:
// tv_sec*1000 + tv_usec/1000 computed in C's uint64 arithmetic, so negative
// values wrap as they do in NFStream.
func TimeMS(sec, usec int64) uint64 {
	return uint64(sec)*1000 + uint64(usec/1000)
}
