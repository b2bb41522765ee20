//go:build unix

package capture

import (
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stdinNonblock is set while pollableStdin has standard input in
// non-blocking mode.
var stdinNonblock atomic.Bool

// pollableStdin returns, when standard input is a pipe, a socket or (on
// Linux) a terminal, a new *os.File for it that Go's poller manages, so a
// read deadline can end a read waiting for input, with the Closer that
// closes it and sets standard input back to the mode it had. The
// non-blocking mode belongs to the open file description, which the
// process that started us may share: it must not be left behind. It
// returns nil, nil for a regular file, whose reads do not wait, and when
// the poller cannot take standard input.
func pollableStdin() (*os.File, io.Closer) {
	var st unix.Stat_t
	if err := unix.Fstat(0, &st); err != nil {
		return nil, nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR:
		if runtime.GOOS != "linux" {
			return nil, nil
		}
	default:
		return nil, nil
	}
	flags, err := unix.FcntlInt(0, unix.F_GETFL, 0)
	if err != nil {
		return nil, nil
	}
	set := flags&unix.O_NONBLOCK == 0
	if set {
		if err := unix.SetNonblock(0, true); err != nil {
			return nil, nil
		}
		stdinNonblock.Store(true)
	}
	// A duplicate, so closing the file leaves descriptor 0 alone.
	syscall.ForkLock.RLock()
	fd, err := unix.Dup(0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		RestoreStdin()
		return nil, nil
	}
	f := os.NewFile(uintptr(fd), "/dev/stdin")
	// Setting a deadline fails when the poller did not take the file
	// (/dev/null, for one).
	if f.SetReadDeadline(time.Time{}) != nil {
		f.Close()
		RestoreStdin()
		return nil, nil
	}
	return f, stdinCloser{f}
}

type stdinCloser struct{ f *os.File }

func (c stdinCloser) Close() error {
	err := c.f.Close()
	RestoreStdin()
	return err
}

// RestoreStdin sets standard input back to blocking mode if Open put it
// in non-blocking mode and no Close did it since. A process that exits
// while reading standard input (on a second signal, say) calls it first,
// so the shell it shares its terminal or pipe with is not left with a
// non-blocking descriptor. It may be called from any goroutine.
func RestoreStdin() {
	if stdinNonblock.CompareAndSwap(true, false) {
		unix.SetNonblock(0, false)
	}
}
