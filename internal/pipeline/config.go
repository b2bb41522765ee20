package pipeline

import (
	"errors"
	"fmt"

	"github.com/nfstream-go/nfstream/internal/capture"
	"github.com/nfstream-go/nfstream/internal/decode"
	"github.com/nfstream-go/nfstream/internal/meter"
	"github.com/nfstream-go/nfstream/internal/sysvis"
)

// Common is what a run over files (FileConfig) and a live run
// (LiveConfig) share: decoding, metering, the limits and the telemetry.
type Common struct {
	Decode decode.Options
	// Meter configures every meter. Its MaxActive must be 0: the run sets
	// it from MaxActiveFlows.
	Meter meter.Config
	// MaxFlows stops the run after that many flows (0: no limit).
	MaxFlows uint64
	// MaxPackets stops the run after that many packets (0: no limit):
	// records read from the files, or packets taken from the rings,
	// counted across rings (the packets the rings still hold then are
	// not metered). Every flow of those packets is written.
	MaxPackets uint64
	// MaxActiveFlows bounds the flows held in memory (0: no bound); each
	// of n meters (or rings, live) holds at most ceil(MaxActiveFlows/n).
	// When a meter is full, a new flow first makes its oldest flow leave
	// early with expiration id 2 (features.ExpiredEvicted). The output is
	// the same for any number of meters only while no meter is full.
	MaxActiveFlows uint64
	// MemoryLimit, if not 0, is the Go runtime's soft memory limit
	// (debug.SetMemoryLimit) during the run, unless GOMEMLIMIT is set.
	MemoryLimit uint64
	// Telemetry, if set, counts the run's work as it goes, the same way
	// for both kinds of run (see Telemetry).
	Telemetry *Telemetry
}

// Validate names the first bad field.
func (c *Common) Validate() error {
	if err := c.Meter.Validate(); err != nil {
		return fmt.Errorf("pipeline: Meter: %w", err)
	}
	if c.Meter.MaxActive != 0 {
		return fmt.Errorf("pipeline: Meter.MaxActive %d: must be 0 (set MaxActiveFlows, which the run shares among its meters)", c.Meter.MaxActive)
	}
	return nil
}

// FileConfig configures a run over capture files (Run).
type FileConfig struct {
	Common
	// Sources are capture files read in order as one capture; "-" is
	// standard input, at most once.
	Sources []string
	// Open opens a source; nil means capture.Open.
	Open func(name string) (capture.Source, error)
	// Meters is the number of meters packets are sharded to (0 or 1: one).
	// The output is the same whatever the number.
	Meters int
	// Shard, when its Count is above 1, keeps only the flows of one shard
	// of the capture (--shard i/N); see Shard.
	Shard Shard
}

// Shard selects the flows of shard Index of Count (--shard i/N), so that
// Count machines converting the same capture write disjoint outputs whose
// union is one machine's output (docs/partitions.md, "Shards"). A
// packet's shard is a mix of decode.Packet.Hash, the direction-symmetric
// hash of every field of the meter's flow key (protocol, VLAN, addresses,
// ports, tunnel id): both directions and every flow of one key (split by
// timeouts) are in one shard. Packets of other shards are dropped after
// decoding, before any meter, but still move the clock. Ids become
// local*Count + Index, unique across shards. Count 0 or 1: no sharding.
type Shard struct {
	Index, Count int
}

// MaxShards bounds Shard.Count.
const MaxShards = 1 << 16

// Validate names the first bad field.
func (s Shard) Validate() error {
	switch {
	case s.Count < 0 || s.Count > MaxShards:
		return fmt.Errorf("pipeline: Shard.Count %d: must be from 0 to %d", s.Count, MaxShards)
	case s.Index < 0 || s.Index >= max(s.Count, 1):
		return fmt.Errorf("pipeline: Shard.Index %d: must be from 0 to %d", s.Index, max(s.Count, 1)-1)
	}
	return nil
}

// on reports whether s drops any flow.
func (s Shard) on() bool { return s.Count > 1 }

// ShardOf returns the shard, among count, of the flow of a packet whose
// decode.Packet.Hash is h. The mix differs from the one that spreads
// flows over meters (shardOf), so a shard's flows still spread over its
// meters. It is part of the output's contract: machines running
// different versions must agree on it.
func ShardOf(h uint32, count int) int {
	x := uint64(h) + 0x9e3779b97f4a7c15 // splitmix64
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return int((x >> 32) % uint64(count))
}

// Validate names the first bad field.
func (c *FileConfig) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if len(c.Sources) == 0 {
		return errors.New("pipeline: Sources: none given")
	}
	stdin := 0
	for i, s := range c.Sources {
		switch s {
		case "":
			return fmt.Errorf("pipeline: Sources[%d]: empty name", i)
		case "-":
			if stdin++; stdin > 1 {
				return fmt.Errorf("pipeline: Sources[%d]: standard input (-) may be read only once", i)
			}
		}
	}
	if c.Meters < 0 {
		return fmt.Errorf("pipeline: Meters %d: must be 0 (one) or more", c.Meters)
	}
	return c.Shard.Validate()
}

// LiveConfig configures a live run (RunLive), one meter per ring. What a
// run over files has besides (sources, their opener, the number of
// meters, progress) has no meaning live and cannot be given.
type LiveConfig struct {
	Common
	// System, if set, attributes flows to the local processes that own
	// their sockets (system visibility): meters notice new flows to it,
	// and the writer enriches each record before the sink. RunLive runs
	// its polling for the length of the run.
	System *sysvis.Attributor
}

// Validate names the first bad field.
func (c *LiveConfig) Validate() error {
	return c.Common.Validate()
}
