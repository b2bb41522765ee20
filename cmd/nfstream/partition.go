package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/nfstream-go/nfstream/internal/features"
	"github.com/nfstream-go/nfstream/internal/output"
	"github.com/nfstream-go/nfstream/internal/pipeline"
)

// Partitioned output and shards (docs/partitions.md).

// partitionOptions are the flags of a partitioned output (-o DIR/).
type partitionOptions struct {
	by      []string
	maxOpen int
	keys    []output.PartitionKey // parsed from by
}

func (p *partitionOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&p.by, "partition-by", nil, "write Parquet files in Hive-style folders under -o DIR/ by these `KEYS` (comma-separated, outermost first): date, hour (UTC, of bidirectional_first_seen_ms), protocol, application (application_name); see docs/partitions.md")
	fs.IntVar(&p.maxOpen, "max-open-partitions", output.DefaultMaxOpenPartitions, "with --partition-by, keep at most `N` part files open; another partition's flow closes the least recently written one (each open file holds up to a row group in memory)")
}

func (p *partitionOptions) on() bool { return len(p.by) > 0 }

// validatePartitioned checks the output flags of a partitioned output
// (outputOptions.validate hands over to it).
func (o *outputOptions) validatePartitioned(cols []features.Column) error {
	p := &o.part
	if !p.on() {
		return usagef("--max-open-partitions applies to --partition-by only")
	}
	keys, err := output.ParsePartitionKeys(p.by)
	if err != nil {
		return usagef("--partition-by %q: %v", strings.Join(p.by, ","), err)
	}
	p.keys = keys
	for _, k := range keys {
		if !hasColumn(cols, k.Column()) {
			return usagef("--partition-by %s: this output has no %s column (it comes with nDPI: --n-dissections above 0)", k, k.Column())
		}
	}
	if p.maxOpen < 1 {
		return usagef("--max-open-partitions %d: must be at least 1", p.maxOpen)
	}
	if o.toStdout() {
		return usagef("--partition-by writes a folder of files: give it with -o DIR/")
	}
	if st, err := os.Stat(o.path); err == nil && !st.IsDir() {
		return usagef("-o %q with --partition-by: not a folder; give a folder, DIR/", o.path)
	} else if err != nil && !strings.HasSuffix(o.path, "/") {
		return usagef("-o %q with --partition-by: give a folder, with a trailing slash when it does not exist yet (%s/)", o.path, o.path)
	}
	if err := output.CheckPartitionLayout(o.path, keys); err != nil {
		return usagef("-o %q with --partition-by %s: %v", o.path, strings.Join(p.by, ","), err)
	}
	if o.format != "" && !strings.EqualFold(o.format, "parquet") {
		return usagef("--format %q with --partition-by: partitioned output is Parquet only (the format query engines prune by folder)", o.format)
	}
	fc := output.FileConfig{Format: output.FormatParquet, NoReplace: true}
	if err := o.validateParquet(&fc); err != nil {
		return err
	}
	if err := o.validateRotation(); err != nil {
		return err
	}
	return o.validateFile(fc, cols)
}

func hasColumn(cols []features.Column, name string) bool {
	for i := range cols {
		if cols[i].Name == name {
			return true
		}
	}
	return false
}

// openPartitioned makes s the partitioned output of the run: it removes
// the temporary part files of killed runs, and routes SIGHUP and, live,
// the rotation ticker to it.
func (o *options) openPartitioned(s *opened, fc output.FileConfig) error {
	out := &o.out
	prefix := o.shard.partPrefix()
	removed, err := output.RemoveStalePartTemps(out.path, prefix, "")
	for _, p := range removed {
		out.warnf("removed %q, the temporary file of an earlier run that did not finish", p)
	}
	if err != nil {
		out.warnf("looking for temporary files of earlier runs: %v", err)
	}
	pc := output.PartitionConfig{
		Dir:      out.path,
		By:       out.part.keys,
		Prefix:   prefix,
		Create:   fc.Create,
		Interval: out.rotate,
		Flows:    uint64(out.rotateFlows),
		MaxOpen:  out.part.maxOpen,
	}
	if out.wallClock {
		pc.Now = time.Now
	}
	if err := pc.Validate(); err != nil {
		return err
	}
	part := output.NewPartitioned(pc)
	s.part, s.sink = part, part
	s.followRotation(out, part)
	return nil
}

// describePartitioned tells where the flows of a partitioned output went.
func describePartitioned(path string, p *output.Partitioned) string {
	files := p.Files()
	if len(files) == 0 {
		return "no file (no flows)"
	}
	return fmt.Sprintf("%d files in %d partitions under %s", len(files), p.Partitions(), path)
}

// shardOption is --shard i/N.
type shardOption struct {
	spec string
	cfg  pipeline.Shard
}

func (s *shardOption) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.spec, "shard", "", "keep only the flows of shard `i/N` (0 <= i < N) by a direction-symmetric hash of the flow key, so N machines converting the same capture write disjoint outputs; ids become local*N+i (see docs/partitions.md)")
}

// validate parses the flag; live capture refuses it.
func (s *shardOption) validate(live bool) error {
	if s.spec == "" {
		return nil
	}
	if live {
		return usagef("--shard applies to files read with -r only (live capture spreads flows over meters by the kernel's fanout)")
	}
	is, ns, ok := strings.Cut(s.spec, "/")
	i, ierr := strconv.Atoi(is)
	n, nerr := strconv.Atoi(ns)
	if !ok || ierr != nil || nerr != nil || n < 1 || n > pipeline.MaxShards || i < 0 || i >= n {
		return usagef("--shard %q: must be i/N with 0 <= i < N <= %d (for example 0/4)", s.spec, pipeline.MaxShards)
	}
	s.cfg = pipeline.Shard{Index: i, Count: n}
	return nil
}

// partPrefix names the part files of a shard apart from the other
// shards', so that shards writing into one tree never collide.
func (s *shardOption) partPrefix() string {
	if s.cfg.Count > 1 {
		return fmt.Sprintf("part-%dof%d-", s.cfg.Index, s.cfg.Count)
	}
	return "part-"
}

// note tells, for the summary, how many packets were other shards'.
func (s *shardOption) note(skipped uint64) string {
	if s.cfg.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("; shard %d/%d: %d packets of other shards skipped", s.cfg.Index, s.cfg.Count, skipped)
}

// metadata is what a Parquet file says of the partitions and the shard.
func (o *options) partitionMetadata() []output.KeyValue {
	var kv []output.KeyValue
	if o.out.part.on() {
		kv = append(kv, output.KeyValue{Key: "nfstream.partition_by", Value: strings.Join(o.out.part.by, ",")})
	}
	if o.shard.cfg.Count > 1 {
		kv = append(kv, output.KeyValue{Key: "nfstream.shard", Value: fmt.Sprintf("%d/%d", o.shard.cfg.Index, o.shard.cfg.Count)})
	}
	return kv
}
