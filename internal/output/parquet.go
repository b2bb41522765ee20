package output

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	pqgzip "github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/nfstream-go/nfstream/internal/features"
)

// DefaultRowGroupRows is the default number of rows per Parquet row group,
// and MinRowGroupRows the fewest a row group may be given (a row group of
// one row is valid, if wasteful).
const (
	DefaultRowGroupRows = 65536
	MinRowGroupRows     = 1
)

// KeyValue is one entry of a Parquet file's key/value metadata.
type KeyValue struct{ Key, Value string }

// ParquetConfig configures the Parquet sink.
type ParquetConfig struct {
	// Compression is the page codec: "zstd" (the default when empty),
	// "snappy", "gzip" or "none".
	Compression string
	// RowGroupRows is the number of rows per row group, at least
	// MinRowGroupRows (0: DefaultRowGroupRows). A row group is held in memory until it is
	// written, so this bounds the sink's memory whatever the number of
	// flows.
	RowGroupRows int
	// Metadata is added to the file's key/value metadata, in order.
	Metadata []KeyValue
	// Application and Version fill the file's created_by field.
	Application, Version string
}

// Codecs are the accepted values of ParquetConfig.Compression.
var Codecs = []string{"zstd", "snappy", "gzip", "none"}

// Validate names the first bad field.
func (c *ParquetConfig) Validate() error {
	if c.Compression != "" && !slices.Contains(Codecs, c.Compression) {
		return fmt.Errorf("parquet: Compression %q: must be one of %s", c.Compression, strings.Join(Codecs, ", "))
	}
	if c.RowGroupRows != 0 && c.RowGroupRows < MinRowGroupRows {
		return fmt.Errorf("parquet: RowGroupRows %d: must be at least %d (or 0 for %d)", c.RowGroupRows, MinRowGroupRows, DefaultRowGroupRows)
	}
	return nil
}

func (c *ParquetConfig) codec() compress.Codec {
	switch c.Compression {
	case "snappy":
		return &snappy.Codec{}
	case "gzip":
		return &pqgzip.Codec{Level: pqgzip.DefaultCompression}
	case "none":
		return &uncompressed.Codec{}
	}
	return &pqzstd.Codec{Level: pqzstd.DefaultLevel}
}

// ParquetSink writes a Parquet file with one typed column per
// features.Column (see ParquetNode), in row groups of RowGroupRows rows.
// Records are copied column by column into reused value buffers and handed
// to the column writers in batches: no reflection per row.
type ParquetSink struct {
	w    io.Writer
	name string
	cfg  ParquetConfig

	cols    []features.Column
	pw      *parquet.Writer
	writers []*parquet.ColumnWriter
	vals    [][]parquet.Value // per column, the batch's values
	arena   []byte            // text of the batch's string values
	batch   int               // rows in the batch
	inGroup int               // rows in the current row group
	err     error
}

// parquetBatch is how many rows are gathered before they go to the column
// writers.
const parquetBatch = 64

// NewParquet returns a sink writing a Parquet file to w; name names the
// destination in errors. w is not closed. cfg must be valid (Validate).
func NewParquet(w io.Writer, name string, cfg ParquetConfig) *ParquetSink {
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = DefaultRowGroupRows
	}
	return &ParquetSink{w: w, name: name, cfg: cfg}
}

// ParquetNode returns the Parquet type of a column: unsigned integers of 8,
// 16 or 32 bits as UINT_8/16/32 (ports uint16, protocol uint8), wider
// unsigned integers as INT64 (counters and millisecond times, which stay
// far below 2^63), signed integers as INT of their width, floats as DOUBLE,
// text as dictionary-encoded UTF-8 strings, lists as LIST of INT of the
// element width.
func ParquetNode(c *features.Column) parquet.Node {
	switch c.Kind {
	case features.KindUint:
		switch c.Bits {
		case 8, 16, 32:
			return parquet.Uint(int(c.Bits))
		}
		return parquet.Int(64)
	case features.KindInt:
		return parquet.Int(intBits(c.Bits))
	case features.KindFloat:
		return parquet.Leaf(parquet.DoubleType)
	case features.KindString:
		return parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
	case features.KindList:
		return parquet.List(parquet.Int(intBits(c.Bits)))
	case features.KindValue:
		if c.ValueType == features.ValueList {
			return parquet.Optional(parquet.List(valueNode(c.Elem)))
		}
		return parquet.Optional(valueNode(scalarType(c.ValueType)))
	}
	panic(fmt.Sprintf("output: column %q has unknown kind %d", c.Name, c.Kind))
}

func intBits(b uint8) int {
	switch b {
	case 8, 16, 32:
		return int(b)
	}
	return 64
}

// ParquetSchema builds the file schema of cols, in their order.
func ParquetSchema(cols []features.Column) *parquet.Schema {
	g := parquet.Group{}
	rank := make(map[string]int, len(cols))
	for i := range cols {
		g[cols[i].Name] = ParquetNode(&cols[i])
		rank[cols[i].Name] = i
	}
	return parquet.NewSchema("flow", orderedGroup{Group: g, rank: rank})
}

// orderedGroup is a parquet.Group whose fields come in the columns' order
// rather than parquet.Group's alphabetical one.
type orderedGroup struct {
	parquet.Group
	rank map[string]int
}

func (g orderedGroup) Fields() []parquet.Field {
	f := g.Group.Fields()
	slices.SortFunc(f, func(a, b parquet.Field) int { return cmp.Compare(g.rank[a.Name()], g.rank[b.Name()]) })
	return f
}

// Begin creates the writer for cols.
func (p *ParquetSink) Begin(cols []features.Column) error {
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c.Name] {
			return fmt.Errorf("parquet %q: column %q appears twice", p.name, c.Name)
		}
		seen[c.Name] = true
	}
	p.cols = cols
	opts := []parquet.WriterOption{
		ParquetSchema(cols),
		parquet.Compression(p.cfg.codec()),
		parquet.MaxRowsPerRowGroup(int64(p.cfg.RowGroupRows)),
		// Version 1 data pages: every reader (Spark's vectorized one
		// included) reads them.
		parquet.DataPageVersion(1),
		// Above this a column chunk's dictionary falls back to plain
		// encoding (anonymized columns are all distinct).
		parquet.DictionaryMaxBytes(1 << 20),
		parquet.WriteBufferSize(flushSize),
	}
	if p.cfg.Application != "" {
		opts = append(opts, parquet.CreatedBy(p.cfg.Application, p.cfg.Version, ""))
	}
	for _, kv := range p.cfg.Metadata {
		opts = append(opts, parquet.KeyValueMetadata(kv.Key, kv.Value))
	}
	cfg, err := parquet.NewWriterConfig(opts...)
	if err != nil {
		return fmt.Errorf("parquet %q: %w", p.name, err)
	}
	p.pw = parquet.NewWriter(p.w, cfg)
	p.writers = p.pw.ColumnWriters()
	if len(p.writers) != len(cols) {
		return fmt.Errorf("parquet %q: %d leaf columns for %d columns", p.name, len(p.writers), len(cols))
	}
	p.vals = make([][]parquet.Value, len(cols))
	for i := range p.vals {
		p.vals[i] = make([]parquet.Value, 0, parquetBatch)
	}
	return nil
}

// Write copies one record into the batch.
func (p *ParquetSink) Write(r *features.Record) error {
	if p.err != nil {
		return p.err
	}
	if r.UDPS != nil {
		if err := p.checkValues(r); err != nil {
			return err
		}
	}
	for i := range p.cols {
		c := &p.cols[i]
		v := p.vals[i]
		n := len(v)
		switch c.Kind {
		case features.KindUint:
			x := c.Uint(r)
			switch c.Bits {
			case 8, 16, 32:
				v = append(v, parquet.Int32Value(int32(uint32(x))))
			default:
				v = append(v, parquet.Int64Value(int64(x)))
			}
		case features.KindInt:
			x := c.Int(r)
			if intBits(c.Bits) == 64 {
				v = append(v, parquet.Int64Value(x))
			} else {
				v = append(v, parquet.Int32Value(int32(x)))
			}
		case features.KindFloat:
			v = append(v, parquet.DoubleValue(c.Float(r)))
		case features.KindString:
			// Earlier values of the batch keep pointing into the old
			// array if append moves the arena; they stay valid.
			start := len(p.arena)
			p.arena = c.String(r, p.arena)
			v = append(v, parquet.ByteArrayValue(p.arena[start:len(p.arena):len(p.arena)]))
		case features.KindList:
			// One value per element, at definition level 1; the first
			// of a row at repetition level 0, the others at 1. An empty
			// list is a single null at definition level 0.
			k, wide := c.ListLen(r), intBits(c.Bits) == 64
			if k == 0 {
				v = append(v, parquet.Value{})
			}
			for e := 0; e < k; e++ {
				x := c.List(r, e)
				if wide {
					v = append(v, parquet.Int64Value(x))
				} else {
					v = append(v, parquet.Int32Value(int32(x)))
				}
				v[len(v)-1].SetDefinitionLevel(1)
				if e > 0 {
					v[len(v)-1].SetRepetitionLevel(1)
				}
			}
		case features.KindValue:
			v = p.appendValue(v, c, udpsValue(c, r))
		}
		for j := n; j < len(v); j++ {
			v[j].SetColumnIndex(i)
		}
		p.vals[i] = v
	}
	p.batch++
	if p.batch == parquetBatch || p.inGroup+p.batch >= p.cfg.RowGroupRows {
		return p.flushBatch()
	}
	return nil
}

// flushBatch hands the batch to the column writers, and ends the row group
// when it is full.
func (p *ParquetSink) flushBatch() error {
	if p.err != nil || p.batch == 0 {
		return p.err
	}
	for i, w := range p.writers {
		if _, err := w.WriteRowValues(p.vals[i]); err != nil {
			return p.fail(err)
		}
		clear(p.vals[i]) // drop the pointers into the arena
		p.vals[i] = p.vals[i][:0]
	}
	p.arena = p.arena[:0]
	p.inGroup += p.batch
	p.batch = 0
	if p.inGroup >= p.cfg.RowGroupRows {
		p.inGroup = 0
		if err := p.pw.Flush(); err != nil {
			return p.fail(err)
		}
	}
	return nil
}

// fail records a write error. A system error (a full disk) is reported
// as it is, without parquet-go's account of where it was in the file.
func (p *ParquetSink) fail(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno
	}
	p.err = fmt.Errorf("write %q: %w", p.name, bareError(err))
	return p.err
}

// Close writes the last row group and the footer. It does not close the
// destination.
func (p *ParquetSink) Close() error {
	if p.pw == nil {
		return p.err
	}
	if err := p.flushBatch(); err != nil {
		return err
	}
	if err := p.pw.Close(); err != nil {
		return p.fail(err)
	}
	return nil
}
