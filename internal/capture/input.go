package capture

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"
)

// readBufferSize is the size of the bufio.Reader under every file source.
// Large reads amortise the system calls; records are decoded in place in
// this buffer (input.take).
const readBufferSize = 256 << 10

// minGrow is the smallest packet buffer allocated when one must grow.
const minGrow = 4 << 10

// input is the byte stream under a source: a buffered reader, the offset of
// the next unread byte (for error messages), and the packet buffer that
// Packet.Data points into.
type input struct {
	name string
	r    *bufio.Reader
	c    io.Closer // nil when the caller owns the reader
	off  int64
	buf  []byte
	raw  counting // what the bufio.Reader reads from
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
	in := &input{name: name, c: c}
	in.raw.r = r
	in.r = bufio.NewReaderSize(&in.raw, readBufferSize)
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

// read reads len(p) bytes and returns how many it got. A short count means
// the input ended; err is set only when the underlying reader failed for
// another reason.
func (in *input) read(p []byte) (int, error) {
	n, err := io.ReadFull(in.r, p)
	in.off += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("read %q: %w", in.name, err)
	}
	return n, err
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
	if n > readBufferSize {
		got, err := in.fill(n)
		return in.buf[:got:got], err
	}
	b, err := in.r.Peek(n)
	k, _ := in.r.Discard(len(b)) // the bytes are buffered: it cannot fail
	in.off += int64(k)
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("read %q: %w", in.name, err)
	}
	return b[:k:k], err
}

// discard skips n bytes and returns how many it skipped.
func (in *input) discard(n int) (int, error) {
	k, err := in.r.Discard(n)
	in.off += int64(k)
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("read %q: %w", in.name, err)
	}
	return k, err
}

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
