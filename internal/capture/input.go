package capture

import (
	"fmt"
	"io"
	"os"
	"time"
)

// readBufferSize is the size of the read buffer under every file source.
// Large reads amortise the system calls; records are decoded in place in
// this buffer (input.take).
const readBufferSize = 256 << 10

// minGrow is the smallest packet buffer allocated when one must grow.
const minGrow = 4 << 10

// maxEmptyReads is how many reads in a row may return nothing, and no
// error, before the input fails with io.ErrNoProgress (as bufio does).
const maxEmptyReads = 100

// input is the byte stream under a source: a read buffer, the offset of
// the next unread byte (for error messages), and the packet buffer that
// Packet.Data points into. The read buffer is the input's own rather than
// a bufio.Reader so that taking a record that is already buffered, nearly
// every record, is a slice and two additions (take).
type input struct {
	name string
	c    io.Closer // nil when the caller owns the reader
	off  int64
	// blk is the read buffer; blk[r:w] are the bytes read and not yet
	// taken. rerr is the error the last read returned (io.EOF at the
	// end), reported once the buffered bytes run out.
	blk  []byte
	r, w int
	rerr error
	buf  []byte
	raw  counting // what the read buffer is filled from
	// dl, when set, is the file under a source whose reads may block (a
	// pipe, FIFO, socket or terminal), for Interrupt.
	dl deadliner
}

// deadliner is an *os.File managed by Go's poller.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// counting counts the bytes read from r in n, and calls hook, once set,
// before every read and when r ends or fails (see ReadHook).
type counting struct {
	r    io.Reader
	n    uint64
	hook func(bytesRead uint64)
}

func (c *counting) Read(p []byte) (int, error) {
	if c.hook != nil {
		c.hook(c.n)
	}
	n, err := c.r.Read(p)
	c.n += uint64(n)
	if err != nil && c.hook != nil {
		c.hook(c.n)
	}
	return n, err
}

func newInput(r io.Reader, c io.Closer, name string) *input {
	in := &input{name: name, c: c, blk: make([]byte, readBufferSize)}
	in.raw.r = r
	return in
}

// Interrupter is implemented by the sources of Open whose reads may wait
// for input (standard input or a FIFO that is a pipe, a socket or a
// terminal). Interrupt, callable from any goroutine, makes the read under
// way and every later one fail at once with an error wrapping
// os.ErrDeadlineExceeded; the source is then done. On a regular file it
// does nothing (its reads do not wait).
type Interrupter interface {
	Interrupt()
}

// ReadHook is implemented by the sources of Open and NewReader. OnRead
// makes the source call fn, on the goroutine that calls Next, before
// every read from its input (a read buffer at a time, not per record) and
// once more when the input ends, with the bytes read from the input so
// far. A caller that counts its own work publishes it there: the counts
// are then current whenever a read may wait (a quiet pipe), at the cost
// of one call per buffer.
type ReadHook interface {
	OnRead(fn func(bytesRead uint64))
}

func (in *input) interrupt() {
	if in.dl != nil {
		in.dl.SetReadDeadline(time.Now())
	}
}

// readErr returns the pending read error, once, and clears it.
func (in *input) readErr() error {
	err := in.rerr
	in.rerr = nil
	return err
}

// fillBlock reads once into the free end of the read buffer, first moving
// the unread bytes to its start when the free end is not larger than
// they are. It records the read's error in rerr.
func (in *input) fillBlock() {
	if in.r > 0 && len(in.blk)-in.w <= in.w-in.r {
		in.w = copy(in.blk, in.blk[in.r:in.w])
		in.r = 0
	}
	for range maxEmptyReads {
		k, err := in.raw.Read(in.blk[in.w:])
		in.w += k
		if err != nil {
			in.rerr = err
			return
		}
		if k > 0 {
			return
		}
	}
	in.rerr = io.ErrNoProgress
}

// buffer reads until n <= readBufferSize bytes are buffered, the input
// ends or a read fails (fillBlock makes room).
func (in *input) buffer(n int) {
	for in.w-in.r < n && in.rerr == nil {
		in.fillBlock()
	}
}

// wrap turns the error of a read that got fewer bytes than it asked for
// into what the readers report: nil at the end of the input (they report
// the short count), the error naming the input otherwise.
func (in *input) wrap(err error) error {
	if err == nil || err == io.EOF {
		return nil
	}
	return fmt.Errorf("read %q: %w", in.name, err)
}

// read reads len(p) bytes and returns how many it got. A short count means
// the input ended; err is set only when the underlying reader failed for
// another reason.
func (in *input) read(p []byte) (int, error) { return in.pass(len(p), p) }

// pass moves n bytes through the read buffer, refilling it as needed, and
// copies them into p unless p is nil; it returns how many it passed, as
// read does.
func (in *input) pass(n int, p []byte) (int, error) {
	got := 0
	for got < n {
		if in.r == in.w {
			if in.rerr != nil {
				break
			}
			in.r, in.w = 0, 0
			in.fillBlock()
			continue
		}
		k := min(n-got, in.w-in.r)
		if p != nil {
			copy(p[got:], in.blk[in.r:in.r+k])
		}
		in.r += k
		got += k
	}
	in.off += int64(got)
	if got == n {
		return got, nil
	}
	return got, in.wrap(in.readErr())
}

// fill reads the next n bytes into in.buf and returns how many it got, with
// in.buf holding exactly those. The buffer is reused, and when it must grow
// it grows only as the bytes arrive (doubling), so a corrupt length field in
// a short file cannot make us allocate much more than the file holds.
func (in *input) fill(n int) (int, error) {
	if n <= cap(in.buf) {
		in.buf = in.buf[:n]
		got, err := in.read(in.buf)
		in.buf = in.buf[:got]
		return got, err
	}
	got := 0
	in.buf = in.buf[:cap(in.buf)]
	for {
		if got == len(in.buf) {
			size := min(max(2*len(in.buf), minGrow), n)
			bigger := make([]byte, size)
			copy(bigger, in.buf[:got])
			in.buf = bigger
		}
		k, err := in.read(in.buf[got:])
		got += k
		if err != nil || got < len(in.buf) || got == n {
			in.buf = in.buf[:got]
			return got, err
		}
	}
}

// take returns the next n bytes of the input, or fewer when it ends (err
// is set only when the reader failed for another reason). They are valid
// until the next read of the input. When n fits in the read buffer they
// are the buffer's own bytes, read in place with no copy (a record is
// copied only in the rare case that it straddles the end of the buffer,
// when the buffer's tail moves to its start to make room); larger ones
// are copied into in.buf, as fill does.
func (in *input) take(n int) ([]byte, error) {
	if n <= in.w-in.r {
		b := in.blk[in.r : in.r+n : in.r+n]
		in.r += n
		in.off += int64(n)
		return b, nil
	}
	return in.takeSlow(n)
}

// takeSlow is take when the buffer holds fewer than n bytes.
func (in *input) takeSlow(n int) ([]byte, error) {
	if n > readBufferSize {
		got, err := in.fill(n)
		return in.buf[:got:got], err
	}
	in.buffer(n)
	k := min(n, in.w-in.r)
	b := in.blk[in.r : in.r+k : in.r+k]
	in.r += k
	in.off += int64(k)
	if k == n {
		return b, nil
	}
	return b, in.wrap(in.readErr())
}

// discard skips n bytes and returns how many it skipped.
func (in *input) discard(n int) (int, error) { return in.pass(n, nil) }

func (in *input) close() error {
	if in.c == nil {
		return nil
	}
	c := in.c
	in.c = nil
	if err := c.Close(); err != nil {
		return fmt.Errorf("close %q: %w", in.name, err)
	}
	return nil
}

// formatError builds the *FormatError for a bad record starting at off.
func (in *input) formatError(off int64, format string, args ...any) error {
	return &FormatError{Name: in.name, Offset: off, Err: fmt.Errorf(format, args...)}
}

// errClosed is what Next returns after Close.
func errClosed(name string) error {
	return fmt.Errorf("read %q: %w", name, os.ErrClosed)
}
