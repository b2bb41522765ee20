package output

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/nfstream-go/nfstream/internal/features"
)

// Sink consumes flow records. Begin is called once before any record,
// Write once per record (the record is only valid during the call), and
// Close once at the end; Close flushes and reports the first write error.
type Sink interface {
	Begin(cols []features.Column) error
	Write(r *features.Record) error
	Close() error
}

// RowFormat appends a record's row, as a sink writes it (with its line
// end), to dst. It may run on any goroutine, several at once.
type RowFormat func(dst []byte, r *features.Record) []byte

// RowSink is a Sink whose rows can be formatted apart from their writing,
// so that formatting runs on several cores (docs/design.md, "Output"):
// records are formatted with Rows, on any goroutines, and the rows handed
// to WriteRows in the records' order, which writes what as many calls of
// Write would have. Rows returns nil when the sink cannot do this (before
// Begin, or a format without rows, such as Parquet); Write is then used.
type RowSink interface {
	Sink
	Rows() RowFormat
	WriteRows(rows []byte) error
}

// flushSize is the buffered size at which a text sink writes to its
// destination.
const flushSize = 64 << 10

// textSink holds what CSV and JSONL share: the format's row of the
// columns, a reused row buffer and the destination.
type textSink struct {
	w     io.Writer
	name  string // destination, for error messages
	rowOf func(cols []features.Column) RowFormat
	row   RowFormat // rowOf the columns, from Begin
	buf   []byte
	err   error
}

func newTextSink(w io.Writer, name string, rowOf func([]features.Column) RowFormat) textSink {
	return textSink{w: w, name: name, rowOf: rowOf, buf: make([]byte, 0, flushSize+4096)}
}

func (t *textSink) flush() error {
	if t.err != nil || len(t.buf) == 0 {
		return t.err
	}
	if _, err := t.w.Write(t.buf); err != nil {
		t.err = fmt.Errorf("write %q: %w", t.name, err)
	}
	t.buf = t.buf[:0]
	return t.err
}

// Write appends one row (of no columns before Begin).
func (t *textSink) Write(r *features.Record) error {
	if t.row == nil {
		t.row = t.rowOf(nil)
	}
	t.buf = t.row(t.buf, r)
	return t.rowDone()
}

// rowDone writes the buffer once it holds enough.
func (t *textSink) rowDone() error {
	if len(t.buf) >= flushSize {
		return t.flush()
	}
	return t.err
}

// Rows returns the format's row of the columns (RowSink); nil before Begin.
func (t *textSink) Rows() RowFormat { return t.row }

// WriteRows writes rows formatted by the sink's Rows (RowSink).
func (t *textSink) WriteRows(rows []byte) error {
	if t.err != nil {
		return t.err
	}
	if len(t.buf)+len(rows) < flushSize {
		t.buf = append(t.buf, rows...)
		return nil
	}
	if err := t.flush(); err != nil {
		return err
	}
	if _, err := t.w.Write(rows); err != nil {
		t.err = fmt.Errorf("write %q: %w", t.name, err)
	}
	return t.err
}

func (t *textSink) Close() error {
	err := t.flush()
	if c, ok := t.w.(io.Closer); ok {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %q: %w", t.name, cerr)
		}
	}
	return err
}

// CSV writes NFStream's CSV: a header of bare column names, then one line
// per flow; strings quoted with inner quotes doubled (RFC 4180; NFStream
// 6.5.4 escapes them with a backslash instead, a bug fixed here:
// docs/compatibility.md item 3).
type CSV struct{ textSink }

// NewCSV returns a CSV sink writing to w; name names the destination in
// errors. If w is an io.Closer, Close closes it.
func NewCSV(w io.Writer, name string) *CSV {
	return &CSV{newTextSink(w, name, csvRow)}
}

// csvRow returns the CSV row of cols.
func csvRow(cols []features.Column) RowFormat {
	return func(dst []byte, r *features.Record) []byte { return appendCSVRow(dst, cols, r) }
}

// Begin writes the header line.
func (c *CSV) Begin(cols []features.Column) error {
	c.row = c.rowOf(cols)
	for i, col := range cols {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = append(c.buf, col.Name...)
	}
	c.buf = append(c.buf, '\n')
	return c.rowDone()
}

// appendCSVRow appends r's CSV line.
func appendCSVRow(buf []byte, cols []features.Column, r *features.Record) []byte {
	for i := range cols {
		col := &cols[i]
		if i > 0 {
			buf = append(buf, ',')
		}
		switch col.Kind {
		case features.KindUint:
			buf = appendUint(buf, col.Uint(r))
		case features.KindInt:
			buf = appendInt(buf, col.Int(r))
		case features.KindFloat:
			buf = AppendPyFloat(buf, col.Float(r))
		case features.KindString:
			buf = append(buf, '"')
			start := len(buf)
			buf = col.String(r, buf)
			buf = doubleQuotes(buf, start)
			buf = append(buf, '"')
		case features.KindList:
			buf = append(buf, '"')
			buf = appendList(buf, col, r, ", ")
			buf = append(buf, '"')
		case features.KindValue:
			buf = appendCSVValue(buf, udpsValue(col, r))
		}
	}
	return append(buf, '\n')
}

var quote = []byte{'"'}

// doubleQuotes doubles every '"' in buf[start:].
func doubleQuotes(buf []byte, start int) []byte {
	n := bytes.Count(buf[start:], quote)
	if n == 0 {
		return buf
	}
	end := len(buf)
	buf = append(buf, make([]byte, n)...)
	w := len(buf)
	for i := end - 1; i >= start; i-- {
		w--
		buf[w] = buf[i]
		if buf[i] == '"' {
			w--
			buf[w] = '"'
		}
	}
	return buf
}

func appendList(buf []byte, col *features.Column, r *features.Record, sep string) []byte {
	buf = append(buf, '[')
	for i, n := 0, col.ListLen(r); i < n; i++ {
		if i > 0 {
			buf = append(buf, sep...)
		}
		buf = appendInt(buf, col.List(r, i))
	}
	return append(buf, ']')
}

// JSONL writes one JSON object per line, with the CSV's names and order;
// numbers as numbers (floats written as in CSV, so 68.0 stays a float) and
// lists as arrays.
type JSONL struct{ textSink }

// NewJSONL returns a JSONL sink writing to w; name names the destination in
// errors. If w is an io.Closer, Close closes it.
func NewJSONL(w io.Writer, name string) *JSONL {
	return &JSONL{newTextSink(w, name, jsonlRow)}
}

// Begin prepares the rows; JSONL has no header.
func (j *JSONL) Begin(cols []features.Column) error {
	j.row = j.rowOf(cols)
	return nil
}

// jsonlRow returns the JSONL row of cols. Each column's key, quoted once
// here with the separator before it ("{" for the first, "," after), is
// copied into every row.
func jsonlRow(cols []features.Column) RowFormat {
	keys := make([]string, len(cols))
	for i := range cols {
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		keys[i] = string(append(appendJSONString([]byte{sep}, cols[i].Name), ':'))
	}
	return func(dst []byte, r *features.Record) []byte { return appendJSONLRow(dst, cols, keys, r) }
}

// appendJSONLRow appends r's JSON object and its line end; keys are
// jsonlRow's.
func appendJSONLRow(buf []byte, cols []features.Column, keys []string, r *features.Record) []byte {
	if len(cols) == 0 {
		buf = append(buf, '{')
	}
	for i := range cols {
		col := &cols[i]
		buf = append(buf, keys[i]...)
		switch col.Kind {
		case features.KindUint:
			buf = appendUint(buf, col.Uint(r))
		case features.KindInt:
			buf = appendInt(buf, col.Int(r))
		case features.KindFloat:
			f := col.Float(r)
			if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
				buf = append(buf, "null"...) // JSON has no NaN or infinities
			} else {
				buf = AppendPyFloat(buf, f)
			}
		case features.KindString:
			start := len(buf)
			buf = col.String(r, buf)
			buf = quoteJSONInPlace(buf, start)
		case features.KindList:
			buf = appendList(buf, col, r, ",")
		case features.KindValue:
			buf = appendJSONValue(buf, udpsValue(col, r))
		}
	}
	return append(buf, '}', '\n')
}

func appendJSONString(buf []byte, s string) []byte {
	start := len(buf)
	buf = append(buf, s...)
	return quoteJSONInPlace(buf, start)
}

// quoteJSONInPlace turns the raw text in buf[start:] into a JSON string
// literal. Invalid UTF-8 becomes U+FFFD.
func quoteJSONInPlace(buf []byte, start int) []byte {
	raw := buf[start:]
	clean := true
	for _, c := range raw {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		buf = append(buf, 0, 0)
		copy(buf[start+1:], raw)
		buf[start] = '"'
		buf[len(buf)-1] = '"'
		return buf
	}
	// Rare path: escape from a copy of the raw text.
	tmp := append([]byte(nil), raw...)
	buf = append(buf[:start], '"')
	for len(tmp) > 0 {
		r, size := utf8.DecodeRune(tmp)
		switch {
		case r == '"' || r == '\\':
			buf = append(buf, '\\', byte(r))
		case r == '\n':
			buf = append(buf, '\\', 'n')
		case r == '\r':
			buf = append(buf, '\\', 'r')
		case r == '\t':
			buf = append(buf, '\\', 't')
		case r < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hexDigit(byte(r)>>4), hexDigit(byte(r)&0xf))
		default:
			buf = utf8.AppendRune(buf, r)
		}
		tmp = tmp[size:]
	}
	return append(buf, '"')
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b] }
