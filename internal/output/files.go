package output

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Format is an output format.
type Format uint8

// The output formats.
const (
	FormatCSV Format = iota
	FormatJSONL
	FormatParquet
)

func (f Format) String() string {
	switch f {
	case FormatJSONL:
		return "jsonl"
	case FormatParquet:
		return "parquet"
	}
	return "csv"
}

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "json", "ndjson":
		return FormatJSONL, nil
	case "parquet":
		return FormatParquet, nil
	}
	return 0, fmt.Errorf("unknown format %q: must be csv, jsonl or parquet", s)
}

// TextCompression compresses a whole text output file.
type TextCompression uint8

// The text compressions, chosen by the file name's last extension.
const (
	NoCompression TextCompression = iota
	Gzip                          // .gz
	Zstd                          // .zst
)

// SplitExt splits a file name into its stem and its output extension: the
// format extension (.csv, .jsonl, .json, .ndjson, .parquet) followed by an
// optional .gz or .zst ("flows.csv.gz" gives "flows" and ".csv.gz"). A name
// without a known extension gives the whole name and "".
func SplitExt(path string) (stem, ext string) {
	base := filepath.Base(path)
	rest := base
	if e := strings.ToLower(filepath.Ext(rest)); e == ".gz" || e == ".zst" {
		rest = rest[:len(rest)-len(e)]
	}
	switch e := filepath.Ext(rest); strings.ToLower(e) {
	case ".csv", ".jsonl", ".json", ".ndjson", ".parquet":
		rest = rest[:len(rest)-len(e)]
	}
	if rest == base {
		return path, ""
	}
	n := len(path) - len(base) + len(rest)
	return path[:n], path[n:]
}

// FormatFromPath tells the format and compression from a file name:
// .csv, .jsonl (also .json, .ndjson) or .parquet, and for the text formats
// an optional .gz or .zst after it. ok is false when the name says nothing
// (no known extension); err reports a contradiction such as ".parquet.gz".
func FormatFromPath(path string) (f Format, c TextCompression, ok bool, err error) {
	_, ext := SplitExt(path)
	ext = strings.ToLower(ext)
	switch {
	case strings.HasSuffix(ext, ".gz"):
		c, ext = Gzip, strings.TrimSuffix(ext, ".gz")
	case strings.HasSuffix(ext, ".zst"):
		c, ext = Zstd, strings.TrimSuffix(ext, ".zst")
	}
	switch ext {
	case ".csv":
		f, ok = FormatCSV, true
	case ".jsonl", ".json", ".ndjson":
		f, ok = FormatJSONL, true
	case ".parquet":
		f, ok = FormatParquet, true
	}
	if f == FormatParquet && c != NoCompression {
		return f, c, ok, fmt.Errorf("%q: a Parquet file compresses its pages itself (--compression); it cannot be gzip or zstd compressed as a whole", path)
	}
	return f, c, ok, nil
}

// FileConfig says how output files are written.
type FileConfig struct {
	Format Format
	// Text compresses CSV and JSONL files as a whole.
	Text TextCompression
	// Parquet configures Parquet files.
	Parquet ParquetConfig
}

// Validate names the first bad field.
func (c *FileConfig) Validate() error {
	if c.Format > FormatParquet {
		return fmt.Errorf("output: Format %d: unknown", c.Format)
	}
	if c.Format == FormatParquet && c.Text != NoCompression {
		return fmt.Errorf("output: Text compression: not for Parquet, which compresses its pages (Parquet.Compression)")
	}
	if c.Format == FormatParquet {
		return c.Parquet.Validate()
	}
	return nil
}

// Create opens a sink writing to a new file at path through an AtomicFile:
// the file appears under path only when the sink is closed without error.
func (c *FileConfig) Create(path string) (Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	af, err := CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	fs := &fileSink{file: af, name: path}
	if c.Format == FormatParquet {
		fs.inner = NewParquet(af, path, c.Parquet)
		return fs, nil
	}
	var w io.Writer = af
	switch c.Text {
	case Gzip:
		fs.buf = bufio.NewWriterSize(af, flushSize)
		gz, err := gzip.NewWriterLevel(fs.buf, gzip.DefaultCompression)
		if err != nil {
			af.Abort()
			return nil, err
		}
		fs.comp, w = gz, gz
	case Zstd:
		fs.buf = bufio.NewWriterSize(af, flushSize)
		zw, err := zstd.NewWriter(fs.buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			af.Abort()
			return nil, err
		}
		fs.comp, w = zw, zw
	}
	// The text sink closes its writer if it can; the compressor is closed
	// here instead, in order, so hide its Close.
	w = struct{ io.Writer }{w}
	if c.Format == FormatJSONL {
		fs.inner = NewJSONL(w, path)
	} else {
		fs.inner = NewCSV(w, path)
	}
	return fs, nil
}

// fileSink writes a format into an AtomicFile, possibly through a
// compressor, and commits the file on a clean Close.
type fileSink struct {
	inner Sink
	comp  io.WriteCloser // text compressor, or nil
	buf   *bufio.Writer  // between compressor and file, or nil
	file  *AtomicFile
	name  string
}

func (s *fileSink) Begin(cols []features.Column) error { return s.inner.Begin(cols) }
func (s *fileSink) Write(r *features.Record) error     { return s.inner.Write(r) }

// Close finishes the format (footer, compressor trailer), and renames the
// file to its final name only if every step succeeded; otherwise the
// temporary file is removed and the first error returned.
func (s *fileSink) Close() error {
	err := s.inner.Close()
	if s.comp != nil {
		if cerr := s.comp.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write %q: %w", s.name, cerr)
		}
	}
	if s.buf != nil && err == nil {
		if ferr := s.buf.Flush(); ferr != nil {
			err = fmt.Errorf("write %q: %w", s.name, ferr)
		}
	}
	if err != nil {
		s.file.Abort()
		return err
	}
	return s.file.Commit()
}

// Written returns the bytes written to the file so far (compressed).
func (s *fileSink) Written() int64 { return s.file.Size() }
