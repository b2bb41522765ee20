package output

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Partitioned output (docs/partitions.md): the flows go to Hive-style
// folders under one root, DIR/date=2024-01-01/hour=13/part-000000.parquet,
// each part file complete and atomic as any output file (AtomicFile), so
// DuckDB, Spark and polars read the tree as one dataset and prune by the
// folder names. Each partition is a Rotating sink of its own, so
// --rotate and --rotate-flows cut its parts as they cut a rotated output;
// a bound on the open part files closes the least recently used one.

// PartitionKey is one level of the folder tree.
type PartitionKey uint8

// The partition keys, in the words of --partition-by.
const (
	// PartitionDate is date=YYYY-MM-DD, the UTC day of
	// bidirectional_first_seen_ms.
	PartitionDate PartitionKey = iota
	// PartitionHour is hour=H (0-23, not zero-padded, so that engines
	// type it as an integer), the UTC hour of bidirectional_first_seen_ms.
	PartitionHour
	// PartitionProtocol is protocol=N, the IP protocol number; the
	// protocol column leaves the files (the engines read it from the
	// path).
	PartitionProtocol
	// PartitionApplication is application_name=NAME, nDPI's full name
	// (TLS.Google), Hive-escaped; the column leaves the files.
	PartitionApplication
)

var partitionWords = [...]string{"date", "hour", "protocol", "application"}

// String returns the key's word in --partition-by.
func (k PartitionKey) String() string { return partitionWords[k] }

// Name is the key in the folder names: the column the engines add.
func (k PartitionKey) Name() string {
	if k == PartitionApplication {
		return "application_name"
	}
	return k.String()
}

// Column is the record column the key's value comes from.
func (k PartitionKey) Column() string {
	switch k {
	case PartitionProtocol:
		return "protocol"
	case PartitionApplication:
		return "application_name"
	}
	return "bidirectional_first_seen_ms"
}

// Dropped reports whether the key's column is left out of the part files,
// as Hive does with partition columns: its value is in the path.
func (k PartitionKey) Dropped() bool { return k >= PartitionProtocol }

// ParsePartitionKeys reads the words of --partition-by, in order.
func ParsePartitionKeys(words []string) ([]PartitionKey, error) {
	var keys []PartitionKey
	for _, w := range words {
		i := slices.Index(partitionWords[:], strings.ToLower(strings.TrimSpace(w)))
		if i < 0 {
			return nil, fmt.Errorf("unknown partition key %q: must be date, hour, protocol or application", w)
		}
		if slices.Contains(keys, PartitionKey(i)) {
			return nil, fmt.Errorf("partition key %q given twice", w)
		}
		keys = append(keys, PartitionKey(i))
	}
	if len(keys) == 0 {
		return nil, errors.New("no partition key")
	}
	return keys, nil
}

// DefaultMaxOpenPartitions is PartitionConfig.MaxOpen's default.
const DefaultMaxOpenPartitions = 32

// PartitionConfig configures a Partitioned sink.
type PartitionConfig struct {
	// Dir is the root of the tree; it is created if needed.
	Dir string
	// By are the keys, outermost first.
	By []PartitionKey
	// Prefix and Ext frame a part's name around its number:
	// Prefix+"000000"+Ext ("part-" and ".parquet" when empty).
	Prefix, Ext string
	// Create opens the sink of one part file (FileConfig.Create, with
	// NoReplace so that no file is ever overwritten).
	Create func(path string) (Sink, error)
	// Interval, Flows and Now cut parts as RotateConfig's do: every open
	// part is closed when the clock (Now, else the packet time at which
	// flows expire) enters a new interval, and a part gets at most Flows
	// flows.
	Interval time.Duration
	Flows    uint64
	Now      func() time.Time
	// MaxOpen bounds the part files open at once (0:
	// DefaultMaxOpenPartitions): a flow for another partition then closes
	// the least recently written one, whose next flow starts a new part.
	MaxOpen int
}

// Validate names the first bad field.
func (c *PartitionConfig) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("partition: Dir is empty")
	case len(c.By) == 0:
		return errors.New("partition: By: no key")
	case c.Create == nil:
		return errors.New("partition: Create is nil")
	case c.MaxOpen < 0:
		return fmt.Errorf("partition: MaxOpen %d: must not be negative", c.MaxOpen)
	case c.Interval < 0 || c.Interval > 0 && c.Interval < MinRotateInterval:
		return fmt.Errorf("partition: Interval %v: must be at least %v (or 0 for none)", c.Interval, MinRotateInterval)
	case strings.ContainsAny(c.Prefix+c.Ext, "/%"):
		return fmt.Errorf("partition: Prefix %q and Ext %q: no / or %%", c.Prefix, c.Ext)
	}
	seen := map[PartitionKey]bool{}
	for _, k := range c.By {
		if k > PartitionApplication || seen[k] {
			return fmt.Errorf("partition: By: key %d unknown or repeated", k)
		}
		seen[k] = true
	}
	return nil
}

// Partitioned is a Sink writing each flow into the part file of its
// partition. Rotate and CloseElapsed may be called from another
// goroutine.
type Partitioned struct {
	cfg        PartitionConfig
	intervalMS uint64

	mu       sync.Mutex
	cols     []features.Column // the columns in the files
	keyCols  []features.Column // the column of each key
	parts    map[string]*partition
	open     []*partition // with an open file, least recently written first
	curStart uint64       // interval of the open files, ms
	clock    expiryClock
	files    []string
	buf      []byte
	err      error
}

type partition struct {
	rot  *Rotating
	open bool
}

// NewPartitioned returns a Partitioned sink; cfg must be valid.
func NewPartitioned(cfg PartitionConfig) *Partitioned {
	if cfg.Prefix == "" {
		cfg.Prefix = "part-"
	}
	if cfg.Ext == "" {
		cfg.Ext = ".parquet"
	}
	if cfg.MaxOpen == 0 {
		cfg.MaxOpen = DefaultMaxOpenPartitions
	}
	return &Partitioned{cfg: cfg, intervalMS: uint64(cfg.Interval / time.Millisecond), parts: map[string]*partition{}, clock: expiryClock{now: cfg.Now}}
}

// CheckPartitionLayout reports a folder whose existing partition folders
// (key=value) are not those of keys, level by level, along the first
// folder of each level: one tree holds one layout, or engines cannot read
// it as one dataset. A dir that does not exist is fine.
func CheckPartitionLayout(dir string, keys []PartitionKey) error {
	for _, k := range keys {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list folder %q: %w", dir, bareError(err))
		}
		next := ""
		for _, e := range entries {
			name, _, ok := strings.Cut(e.Name(), "=")
			if !ok || !e.IsDir() {
				continue
			}
			if name != k.Name() {
				return fmt.Errorf("folder %q holds partitions by %s, not %s: one tree holds one layout", dir, name, k.Name())
			}
			if next == "" {
				next = filepath.Join(dir, e.Name())
			}
		}
		if next == "" {
			return nil
		}
		dir = next
	}
	return nil
}

// Begin finds the key columns and records the columns of the files: all
// but the ones the keys drop.
func (s *Partitioned) Begin(cols []features.Column) error {
	s.keyCols = s.keyCols[:0]
	for _, k := range s.cfg.By {
		i := slices.IndexFunc(cols, func(c features.Column) bool { return c.Name == k.Column() })
		if i < 0 {
			return fmt.Errorf("partition by %s: this output has no %s column", k, k.Column())
		}
		if c := cols[i].Kind; c != features.KindUint && c != features.KindInt && c != features.KindString {
			return fmt.Errorf("partition by %s: column %s is not a number or a string", k, k.Column())
		}
		s.keyCols = append(s.keyCols, cols[i])
	}
	s.cols = s.cols[:0]
	for _, c := range cols {
		if !slices.ContainsFunc(s.cfg.By, func(k PartitionKey) bool { return k.Dropped() && k.Column() == c.Name }) {
			s.cols = append(s.cols, c)
		}
	}
	return nil
}

// Write sends r to the part file of its partition.
func (s *Partitioned) Write(r *features.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.intervalMS > 0 {
		s.enterInterval(s.clock.at(r))
	}
	s.buf = s.appendPath(s.buf[:0], r)
	p := s.parts[string(s.buf)]
	if p == nil {
		var err error
		if p, err = s.newPartition(string(s.buf)); err != nil {
			s.err = err
			return err
		}
	}
	if err := p.rot.Write(r); err != nil {
		s.err = err
		return err
	}
	switch {
	case !p.open:
		p.open = true
		s.open = append(s.open, p)
		if len(s.open) > s.cfg.MaxOpen {
			s.closeOpen(1)
		}
	case s.open[len(s.open)-1] != p:
		i := slices.Index(s.open, p)
		copy(s.open[i:], s.open[i+1:])
		s.open[len(s.open)-1] = p
	}
	return s.err
}

// appendPath appends the relative folder of r's partition.
func (s *Partitioned) appendPath(b []byte, r *features.Record) []byte {
	for i, k := range s.cfg.By {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, k.Name()...)
		b = append(b, '=')
		c := &s.keyCols[i]
		switch k {
		case PartitionDate, PartitionHour:
			var ms int64
			if c.Kind == features.KindUint {
				ms = int64(min(c.Uint(r), 1<<62))
			} else {
				ms = c.Int(r)
			}
			t := time.UnixMilli(ms).UTC()
			if k == PartitionDate {
				b = appendPad(b, t.Year(), 4)
				b = append(b, '-')
				b = appendPad(b, int(t.Month()), 2)
				b = append(b, '-')
				b = appendPad(b, t.Day(), 2)
			} else {
				b = strconv.AppendInt(b, int64(t.Hour()), 10)
			}
		default:
			b = appendHiveValue(b, c, r)
		}
	}
	return b
}

// appendHiveValue appends the value of column c, escaped as Hive escapes
// partition values: every byte outside A-Z a-z 0-9 . _ - as %XX, an empty
// value as __HIVE_DEFAULT_PARTITION__.
func appendHiveValue(b []byte, c *features.Column, r *features.Record) []byte {
	var tmp [64]byte
	var v []byte
	switch c.Kind {
	case features.KindUint:
		v = strconv.AppendUint(tmp[:0], c.Uint(r), 10)
	case features.KindInt:
		v = strconv.AppendInt(tmp[:0], c.Int(r), 10)
	default:
		v = c.String(r, tmp[:0])
	}
	if len(v) == 0 {
		return append(b, "__HIVE_DEFAULT_PARTITION__"...)
	}
	dots := strings.Trim(string(v), ".") == "" // "." and ".." are no folder names
	const hex = "0123456789ABCDEF"
	for _, x := range v {
		switch {
		case x >= 'a' && x <= 'z', x >= 'A' && x <= 'Z', x >= '0' && x <= '9', x == '_', x == '-', x == '.' && !dots:
			b = append(b, x)
		default:
			b = append(b, '%', hex[x>>4], hex[x&15])
		}
	}
	return b
}

// newPartition creates the folder of a partition and its Rotating sink,
// numbered after the part files already there.
func (s *Partitioned) newPartition(rel string) (*partition, error) {
	dir := filepath.Join(s.cfg.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("create folder %q: %w", dir, bareError(err))
	}
	first, err := nextPart(dir, s.cfg.Prefix, s.cfg.Ext)
	if err != nil {
		return nil, err
	}
	// The partition's Rotating cuts by Flows only: Write, Rotate and
	// CloseElapsed cut every open part at once when the interval ends,
	// on one reading of the clock for all partitions.
	rc := RotateConfig{
		Template: strings.ReplaceAll(dir, "%", "%%") + string(filepath.Separator) + s.cfg.Prefix + "%i" + s.cfg.Ext,
		Flows:    s.cfg.Flows,
		FirstSeq: first,
		Create: func(path string) (Sink, error) {
			sink, err := s.cfg.Create(path)
			if err == nil {
				s.files = append(s.files, path)
			}
			return sink, err
		},
	}
	if err := rc.Validate(); err != nil {
		return nil, err
	}
	p := &partition{rot: NewRotating(rc)}
	if err := p.rot.Begin(s.cols); err != nil {
		return nil, err
	}
	s.parts[rel] = p
	return p, nil
}

// nextPart returns the number after the highest part file
// (prefix+digits+ext) in dir, 0 when there is none: a run adds parts to an
// existing tree and never reuses a name.
func nextPart(dir, prefix, ext string) (uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("list folder %q: %w", dir, bareError(err))
	}
	var next uint64
	for _, e := range entries {
		if n, ok := partNumber(e.Name(), prefix, ext); ok && n >= next {
			next = n + 1
		}
	}
	return next, nil
}

// partNumber returns the number of a part file named prefix+digits+ext;
// false for any other name (another shard's parts among them).
func partNumber(name, prefix, ext string) (uint64, bool) {
	num, ok := strings.CutPrefix(name, prefix)
	if ok {
		num, ok = strings.CutSuffix(num, ext)
	}
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

// closeOpen closes the first n open part files (the least recently
// written); errors stay in s.err.
func (s *Partitioned) closeOpen(n int) {
	for _, p := range s.open[:n] {
		p.open = false
		if err := p.rot.Rotate(); err != nil && s.err == nil {
			s.err = err
		}
	}
	s.open = append(s.open[:0], s.open[n:]...)
}

// Rotate closes every open part file (SIGHUP); the next flow of each
// partition starts a new part.
func (s *Partitioned) Rotate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeOpen(len(s.open))
	return s.err
}

// CloseElapsed closes the open part files once the clock (Now) has left
// their interval; live capture calls it from a ticker.
func (s *Partitioned) CloseElapsed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Now == nil || s.intervalMS == 0 {
		return nil
	}
	s.enterInterval(uint64(s.cfg.Now().UnixMilli()))
	return s.err
}

// enterInterval closes every open part file when now (ms) is in another
// interval than theirs.
func (s *Partitioned) enterInterval(now uint64) {
	if start := now - now%s.intervalMS; start != s.curStart {
		s.closeOpen(len(s.open))
		s.curStart = start
	}
}

// Abort discards the part files being written; completed ones stay.
func (s *Partitioned) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.parts {
		p.rot.Abort()
	}
	s.open = s.open[:0]
	if s.err == nil {
		s.err = ErrAborted
	}
}

// Close completes every open part file and returns the first error.
func (s *Partitioned) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.parts {
		if err := p.rot.Close(); err != nil && s.err == nil {
			s.err = err
		}
	}
	s.open = s.open[:0]
	return s.err
}

// Files returns the part files opened so far, in order.
func (s *Partitioned) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.files)
}

// Partitions returns the number of partitions written to.
func (s *Partitioned) Partitions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.parts)
}

// RemoveStalePartTemps removes, in every folder under dir, the temporary
// part files (named as PartitionConfig's Prefix and Ext name them, the
// same defaults when empty) that killed runs left (see RemoveStaleTemps).
// Only this run's names count: an unsharded run leaves the temporary
// files of shards alone, whose process ids may be another machine's. A
// dir that does not exist has nothing to remove.
func RemoveStalePartTemps(dir, prefix, ext string) (removed []string, err error) {
	if prefix == "" {
		prefix = "part-"
	}
	if ext == "" {
		ext = ".parquet"
	}
	werr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			if errors.Is(walkErr, fs.ErrNotExist) {
				return nil
			}
			return walkErr
		}
		if !d.IsDir() {
			return nil
		}
		r, derr := removeStaleIn(path, func(base string) bool { _, ok := partNumber(base, prefix, ext); return ok })
		removed = append(removed, r...)
		if derr != nil && err == nil {
			err = derr
		}
		return nil
	})
	if werr != nil {
		return removed, fmt.Errorf("list folder %q: %w", dir, bareError(werr))
	}
	return removed, err
}
