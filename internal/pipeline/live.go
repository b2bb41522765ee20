package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/output"
)

// Live capture: one meter per ring. The kernel's fanout hash already keeps
// both directions of a flow on one ring, so each ring feeds its own meter
// with no re-sharding. Output order is never reproducible live, so the
// meters use the better rules (docs/compatibility.md item 2): idle expiry from the
// least recently seen flow, and on the wall clock too, so a quiet link
// still exports. Flows are written in the order they reach the writer.

// LiveStats counts what a live run did.
type LiveStats struct {
	Stats
	// Received and Dropped are the kernel's counts for the rings.
	Received, Dropped uint64
}

// recordBatch is a run of records copied out of a meter.
type recordBatch []features.Record

// liveBatch is how many records a ring's meter collects before handing
// them to the writer (and it hands over what it has whenever the link is
// quiet).
const liveBatch = 256

// RunLive meters the packets of rings until ctx is cancelled (or the flow
// or packet limit is reached), then stops the rings, meters what they
// still hold (up to the packet limit), expires every flow in memory and
// writes it: nothing captured is lost. It closes the rings and the sink.
// cfg must be valid (Validate), and rings not empty: else the rings are
// closed and the sink is not begun.
func RunLive(ctx context.Context, cfg LiveConfig, rings []*capture.Live, sink output.Sink, cols []features.Column) (st LiveStats, err error) {
	if err := cfg.Validate(); err != nil {
		closeRings(rings)
		return st, err
	}
	if len(rings) == 0 {
		return st, errors.New("pipeline: live run without rings")
	}
	sink, err = st.start(&cfg.Common, sink, cols, nil)
	if err != nil {
		closeRings(rings)
		return st, err
	}
	cfg.Meter.LRU = true
	cfg.Meter.MaxActive = perMeter(cfg.MaxActiveFlows, len(rings))
	if cfg.System != nil {
		cfg.Meter.OnNewFlow = cfg.System.Notice
		pollCtx, stopPolling := context.WithCancel(context.Background())
		polling := make(chan struct{})
		go func() {
			defer close(polling)
			cfg.System.Run(pollCtx)
		}()
		defer func() {
			stopPolling()
			<-polling
		}()
	}
	defer setMemoryLimit(&cfg.Common)()
	meters := make([]*meter.Meter, len(rings))
	outs := make(chan recordBatch, 4*len(rings))
	copiers := make([]*liveCopier, len(rings))
	for k := range rings {
		c := &liveCopier{outs: outs}
		m, err := meter.New(cfg.Meter, c.export)
		if err != nil {
			for _, prev := range meters[:k] {
				prev.Close()
			}
			closeRings(rings)
			sink.Close()
			return st, err
		}
		meters[k], copiers[k] = m, c
	}

	tel := cfg.Telemetry
	if tel == nil {
		tel = new(Telemetry)
	}
	tel.start(len(rings), false, func() (received, dropped uint64) {
		for _, r := range rings {
			rc, dr, _ := r.Stats()
			received, dropped = received+rc, dropped+dr
		}
		return received, dropped
	})

	// The writer numbers flows in arrival order.
	stopAll := make(chan struct{})
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(stopAll) }) }
	var writeErr error
	writerDone := make(chan struct{})
	write := numberer{sink: sink, limit: cfg.MaxFlows, st: &st.Stats}.write
	go func() {
		defer close(writerDone)
		for recs := range outs {
			for i := range recs {
				if writeErr != nil {
					break
				}
				if cfg.System != nil {
					cfg.System.Enrich(&recs[i])
				}
				if writeErr = write(&recs[i]); writeErr != nil {
					stop()
				}
			}
		}
	}()

	var wg sync.WaitGroup
	ringErrs := make([]error, len(rings))
	lim := &packetLimit{max: cfg.MaxPackets, stop: stop}
	for k := range rings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ringErrs[k] = meterRing(ctx, stopAll, rings[k], meters[k], copiers[k], &cfg, tel.meter(k), lim)
		}()
	}
	wg.Wait()
	close(outs)
	<-writerDone
	for k, r := range rings {
		received, dropped, _ := r.Stats()
		st.Received += received
		st.Dropped += dropped
		r.Close()
		st.Processed += meters[k].Processed()
		meters[k].Close()
	}
	snap := tel.Snapshot()
	st.Packets, st.Ignored = snap.PacketsProcessed+snap.PacketsIgnored, snap.PacketsIgnored
	st.PacketLimitReached = lim.reached()
	if cerr := sink.Close(); writeErr == nil || writeErr == errStop {
		if cerr != nil {
			return st, cerr
		}
		writeErr = nil
	}
	if writeErr != nil {
		return st, writeErr
	}
	return st, errors.Join(ringErrs...)
}

// packetLimit counts the packets taken from all the rings against
// Common.MaxPackets (0: no limit), and stops the run at the last one.
type packetLimit struct {
	max   uint64
	taken atomic.Uint64
	stop  func()
}

// take reports whether one more packet may be metered; the last one stops
// the run (the rings then deliver what they hold, which is dropped).
func (l *packetLimit) take() bool {
	if l.max == 0 {
		return true
	}
	n := l.taken.Add(1)
	if n == l.max {
		l.stop()
	}
	return n <= l.max
}

func (l *packetLimit) reached() bool { return l.max > 0 && l.taken.Load() >= l.max }

// meterRing reads one ring into its meter until the ring is drained after
// a stop, then flushes the meter.
func meterRing(ctx context.Context, stopAll <-chan struct{}, ring *capture.Live, m *meter.Meter, c *liveCopier, cfg *LiveConfig, tel *meterCounters, lim *packetLimit) error {
	dec := decode.Decoder{Options: cfg.Decode}
	var pkt capture.Packet
	var p decode.Packet
	stopping := false
	var readErr error
	for {
		if !stopping {
			select {
			case <-ctx.Done():
				stopping = true
			case <-stopAll:
				stopping = true
			default:
			}
			if stopping {
				ring.Stop() // deliver what the ring holds, then io.EOF
			}
		}
		err := ring.Next(&pkt)
		if err == capture.ErrTimeout {
			tel.active.Store(int64(m.ActiveFlows()))
			c.handOver()
			if err := m.Advance(uint64(time.Now().UnixMilli())); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if !lim.take() {
			continue // beyond MaxPackets: drained, not metered
		}
		n := tel.packets.Load() + 1
		if !dec.Decode(pkt.LinkType, pkt.Data, pkt.Len, &p) {
			tel.read(pkt.Len, true)
			continue
		}
		tel.read(pkt.Len, false)
		if n%1024 == 0 {
			tel.active.Store(int64(m.ActiveFlows()))
		}
		if err := m.Process(&p, pkt.TimeMS()); err != nil {
			return err
		}
	}
	m.Flush()
	tel.active.Store(0)
	c.handOver()
	return readErr
}

// liveCopier copies a meter's exported records into batches for the
// writer (the meter's record is only valid during the export call).
type liveCopier struct {
	outs chan<- recordBatch
	cur  recordBatch
}

func (c *liveCopier) export(r *features.Record) error {
	cp := r.Clone()
	c.cur = append(c.cur, cp)
	if len(c.cur) == liveBatch {
		c.handOver()
	}
	return nil
}

func (c *liveCopier) handOver() {
	if len(c.cur) > 0 {
		c.outs <- c.cur
		c.cur = nil
	}
}

func closeRings(rings []*capture.Live) {
	for _, r := range rings {
		r.Close()
	}
}
