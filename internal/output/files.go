package output

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
	// LiveFlush, when positive, is for live capture: a CSV or JSONL file
	// is written in place under its final name (created or truncated at
	// once) rather than through a temporary file, and flushed (its
	// compressor too) at least this often, so that tail -f follows it
	// and a crash loses at most that much; a write error leaves the
	// flows written so far. A device or pipe is flushed as often.
	// Parquet files, whose footer comes last, are still written
	// atomically: sensors should rotate them.
	LiveFlush time.Duration
	// NoReplace makes a file fail at its commit rather than replace a
	// file that appeared under its name meanwhile (AtomicFile.NoReplace).
	NoReplace bool
}

// Validate names the first bad field.
func (c *FileConfig) Validate() error {
	if c.Format > FormatParquet {
		return fmt.Errorf("output: Format %d: unknown", c.Format)
	}
	if c.Format == FormatParquet && c.Text != NoCompression {
		return fmt.Errorf("output: Text compression: not for Parquet, which compresses its pages (Parquet.Compression)")
	}
	if c.LiveFlush < 0 {
		return fmt.Errorf("output: LiveFlush %v: must not be negative", c.LiveFlush)
	}
	if c.Format == FormatParquet {
		return c.Parquet.Validate()
	}
	return nil
}

// Aborter is implemented by the sinks that write files (FileConfig.Create,
// Rotating): Abort discards the output instead of closing it. The file
// being written is removed (a file written in place by LiveFlush too) and
// its final name left as it was; files already completed stay; a device
// or pipe is just closed. Abort after Close does nothing, and Close after
// Abort returns ErrAborted. It may be called from any goroutine.
type Aborter interface {
	Abort()
}

// ErrAborted is returned by the sinks' Write and Close after Abort.
var ErrAborted = errors.New("output aborted")

// destWriter is where a fileSink's bytes go: an AtomicFile, a file written
// in place (liveFile) or a device or pipe (streamFile). Commit makes the
// output final, Abort discards it.
type destWriter interface {
	io.Writer
	Commit() error
	Abort()
}

// Create opens a sink writing to path, as Classify tells: a regular file
// (or a new name, or the target of a symbolic link) through an AtomicFile,
// so the file appears under its final name only when the sink is closed
// without error; a character device, FIFO or socket directly. A folder is
// refused.
func (c *FileConfig) Create(path string) (Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := Classify(path)
	if err := d.Err(); err != nil {
		return nil, err
	}
	var dest destWriter
	live := c.LiveFlush > 0 && c.Format != FormatParquet
	switch {
	case d.Kind == DestStream:
		f, err := openStream(d)
		if err != nil {
			return nil, err
		}
		dest = &streamFile{f: f, name: path}
	case live:
		f, err := os.OpenFile(d.Target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			return nil, fmt.Errorf("create %q: %w", path, bareError(err))
		}
		dest = &liveFile{streamFile{f: f, name: path}}
	default:
		af, err := CreateAtomic(d.Target)
		if err != nil {
			return nil, err
		}
		af.NoReplace = c.NoReplace
		dest = af
	}
	return c.sinkTo(dest, path)
}

// NewWriter returns a sink writing the format to w (standard output),
// flushed at least every LiveFlush when that is positive, so that a
// reader of a live capture's output gets the flows as they come. w is not
// closed. Parquet needs a file: it is refused.
func (c *FileConfig) NewWriter(w io.Writer, name string) (Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Format == FormatParquet {
		return nil, fmt.Errorf("%s: Parquet is written to files only", name)
	}
	return c.sinkTo(&writerDest{w: w}, name)
}

// sinkTo returns the sink writing the format to dest.
func (c *FileConfig) sinkTo(dest destWriter, path string) (Sink, error) {
	fs := &fileSink{dest: dest, name: path}
	if c.Format == FormatParquet {
		fs.inner = NewParquet(dest, path, c.Parquet)
		return fs, nil
	}
	var w io.Writer = dest
	switch c.Text {
	case Gzip:
		fs.buf = bufio.NewWriterSize(dest, flushSize)
		gz, err := gzip.NewWriterLevel(fs.buf, gzip.DefaultCompression)
		if err != nil {
			dest.Abort()
			return nil, err
		}
		fs.comp, w = gz, gz
	case Zstd:
		fs.buf = bufio.NewWriterSize(dest, flushSize)
		zw, err := zstd.NewWriter(fs.buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			dest.Abort()
			return nil, err
		}
		fs.comp, w = zw, zw
	}
	// The text sink closes its writer if it can; the compressor is closed
	// here instead, in order, so hide its Close.
	w = struct{ io.Writer }{w}
	if c.Format == FormatJSONL {
		j := NewJSONL(w, path)
		fs.inner, fs.text = j, &j.textSink
	} else {
		cs := NewCSV(w, path)
		fs.inner, fs.text = cs, &cs.textSink
	}
	if c.LiveFlush > 0 {
		fs.stop, fs.stopped = make(chan struct{}), make(chan struct{})
		go fs.flushEvery(c.LiveFlush)
	}
	return fs, nil
}

// compressor is a text compressor (gzip or zstd).
type compressor interface {
	io.WriteCloser
	Flush() error
}

// fileSink writes a format into a destWriter, possibly through a
// compressor, and commits the destination on a clean Close. Its methods
// hold a mutex, so a flushing goroutine or Abort may run beside the
// writer.
type fileSink struct {
	mu    sync.Mutex
	inner Sink
	text  *textSink     // the text format's row buffer, or nil (Parquet)
	comp  compressor    // text compressor, or nil
	buf   *bufio.Writer // between compressor and file, or nil
	dest  destWriter
	name  string
	done  bool // closed or aborted

	stop, stopped chan struct{} // the LiveFlush goroutine, or nil
	stopOnce      sync.Once
}

func (s *fileSink) Begin(cols []features.Column) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return ErrAborted
	}
	return s.inner.Begin(cols)
}

func (s *fileSink) Write(r *features.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return ErrAborted
	}
	return s.inner.Write(r)
}

// Rows returns the rows of a text format (RowSink), nil for Parquet.
func (s *fileSink) Rows() RowFormat {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs, ok := s.inner.(RowSink); ok && !s.done {
		return rs.Rows()
	}
	return nil
}

// WriteRows writes rows of its Rows (RowSink).
func (s *fileSink) WriteRows(rows []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return ErrAborted
	}
	return s.inner.(RowSink).WriteRows(rows)
}

// flushEvery flushes the sink every period until stop is closed.
func (s *fileSink) flushEvery(period time.Duration) {
	defer close(s.stopped)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			// Errors stay in the writers and are reported by Close.
			s.Flush()
		case <-s.stop:
			return
		}
	}
}

// stopFlushing ends the LiveFlush goroutine, if any.
func (s *fileSink) stopFlushing() {
	if s.stop == nil {
		return
	}
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.stopped
}

// Flush writes the rows buffered so far, through the compressor (which
// ends its current block), to the file. Parquet rows wait for their row
// group: Flush does nothing for them.
func (s *fileSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done || s.text == nil {
		return nil
	}
	if err := s.text.flush(); err != nil {
		return err
	}
	if s.comp != nil {
		if err := s.comp.Flush(); err != nil {
			return fmt.Errorf("write %q: %w", s.name, err)
		}
		if err := s.buf.Flush(); err != nil {
			return fmt.Errorf("write %q: %w", s.name, err)
		}
	}
	return nil
}

// Close finishes the format (footer, compressor trailer), and commits the
// destination only if every step succeeded; otherwise the temporary file
// is removed and the first error returned.
func (s *fileSink) Close() error {
	s.stopFlushing()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return ErrAborted
	}
	s.done = true
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
		if lf, ok := s.dest.(*liveFile); ok {
			// Written in place: the flows so far stay.
			lf.f.Close()
		} else {
			s.dest.Abort()
		}
		return err
	}
	return s.dest.Commit()
}

// Abort discards the output (see Aborter).
func (s *fileSink) Abort() {
	s.stopFlushing()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	s.dest.Abort()
	if s.comp != nil {
		s.comp.Close() // frees the compressor; its bytes go nowhere
	}
}

// writerDest is a plain io.Writer as a destination (NewWriter): Commit
// and Abort leave it open.
type writerDest struct{ w io.Writer }

func (d *writerDest) Write(p []byte) (int, error) { return d.w.Write(p) }
func (d *writerDest) Commit() error               { return nil }
func (d *writerDest) Abort()                      {}

// liveFile is a file written in place under its final name
// (FileConfig.LiveFlush). Commit syncs and closes it; Abort closes and
// removes it.
type liveFile struct{ streamFile }

func (l *liveFile) Commit() error {
	if l.err == nil {
		if err := l.f.Sync(); err != nil {
			l.err = bareError(err)
		}
	}
	return l.streamFile.Commit()
}

func (l *liveFile) Abort() {
	l.f.Close()
	os.Remove(l.f.Name())
}
