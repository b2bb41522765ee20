package output

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DestKind says how an output path is written.
type DestKind uint8

// The kinds of destination.
const (
	// DestFile is a regular file or a name not taken yet: written under
	// a hidden temporary name in the folder of Destination.Target and
	// renamed to it when complete.
	DestFile DestKind = iota
	// DestStream is a character device (/dev/null, a terminal), a FIFO,
	// a socket, or an open descriptor of this process (/dev/stdout,
	// /dev/fd/N): opened and written directly, as tcpdump -w does; no
	// temporary file, no rename, no fsync.
	DestStream
	// DestDir is a folder: refused.
	DestDir
	// DestOther is any other kind of file (a block device): refused.
	DestOther
)

// Destination is what an output path names, decided by Classify.
type Destination struct {
	Kind DestKind
	// Path is the path as given.
	Path string
	// Target is, for DestFile, the path after following symbolic links
	// (also a dangling link's target, which is then created): the file
	// written, in whose folder the temporary file is made. It is Path
	// for the other kinds.
	Target string
	// Mode is the type of the existing file (0 when there is none).
	Mode fs.FileMode
}

// Err returns the error refusing a DestDir or DestOther destination, or
// nil.
func (d Destination) Err() error {
	switch d.Kind {
	case DestDir:
		return fmt.Errorf("%q is a folder: give a file name", d.Path)
	case DestOther:
		return fmt.Errorf("%q is a %s, not a regular file, character device, FIFO or socket: refusing to write over it", d.Path, typeName(d.Mode))
	}
	return nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return "block device"
	case m&fs.ModeIrregular != 0:
		return "file of unknown type"
	}
	return "special file (" + m.Type().String() + ")"
}

// Classify tells how path is written: a character device, FIFO or socket
// (also behind symbolic links) is written directly; so is an open
// descriptor reached through /dev/stdout, /dev/fd/N or /proc/.../fd/N. A
// symbolic link to a regular file, or to a name not taken yet, gives the
// target, which is written atomically in its own folder (the link stays a
// link). Classify only looks: an error reaching the path (a missing
// folder, no permission) gives DestFile, and creating the file reports it.
func Classify(path string) Destination {
	d := Destination{Kind: DestFile, Path: path, Target: path}
	if st, err := os.Stat(path); err == nil {
		d.Mode = st.Mode().Type()
		switch {
		case st.Mode().IsDir():
			d.Kind = DestDir
			return d
		case st.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			d.Kind = DestStream
			return d
		case !st.Mode().IsRegular():
			d.Kind = DestOther
			return d
		}
	}
	target, viaFD := resolveLinks(path)
	if viaFD {
		// An open descriptor of this process (a shell's redirection to a
		// regular file): written where the descriptor points, as given.
		d.Kind = DestStream
		return d
	}
	d.Target = target
	return d
}

// resolveLinks follows the symbolic links of path's last element, also a
// dangling one. viaFD reports a path reaching a process's descriptor table
// (/dev/fd, /proc/<pid>/fd), whose links are not names that can be
// replaced. A loop or an unreadable link stops at the last name reached.
func resolveLinks(path string) (target string, viaFD bool) {
	target = path
	for range 40 {
		if isFDPath(target) {
			return target, true
		}
		st, err := os.Lstat(target)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			return target, false
		}
		link, err := os.Readlink(target)
		if err != nil {
			return target, false
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(target), link)
		}
		target = link
	}
	return target, false
}

// isFDPath reports whether p names a process's descriptor: /dev/fd/N,
// /dev/stdout and its siblings, or /proc/<pid>/fd/N.
func isFDPath(p string) bool {
	p = filepath.Clean(p)
	switch p {
	case "/dev/stdin", "/dev/stdout", "/dev/stderr":
		return true
	}
	if strings.HasPrefix(p, "/dev/fd/") {
		return true
	}
	if rest, ok := strings.CutPrefix(p, "/proc/"); ok {
		parts := strings.Split(rest, "/")
		return len(parts) == 3 && parts[1] == "fd"
	}
	return false
}

// openStream opens a DestStream destination for writing: a socket is
// connected to (a stream socket, else a datagram one), anything else
// opened write-only; a regular file behind a descriptor is appended to, so
// that "nfstream -o /dev/stdout >> flows.csv" appends too.
func openStream(d Destination) (*os.File, error) {
	if d.Mode&fs.ModeSocket != 0 {
		return dialSocket(d.Path)
	}
	flags := os.O_WRONLY
	if d.Mode == 0 { // a regular file behind a descriptor
		flags |= os.O_APPEND
	}
	f, err := os.OpenFile(d.Path, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", d.Path, bareError(err))
	}
	return f, nil
}

func dialSocket(path string) (*os.File, error) {
	var last error
	for _, network := range []string{"unix", "unixgram"} {
		c, err := net.Dial(network, path)
		if err != nil {
			last = err
			continue
		}
		// The descriptor, blocking, as a plain file; the connection's
		// own descriptor is closed.
		f, err := c.(interface{ File() (*os.File, error) }).File()
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("connect to %q: %w", path, err)
		}
		return f, nil
	}
	if oe, ok := errors.AsType[*net.OpError](last); ok {
		last = oe.Err
	}
	return nil, fmt.Errorf("connect to %q: %w", path, bareError(last))
}

// streamFile is a DestStream destination: Commit and Abort close it.
type streamFile struct {
	f    *os.File
	name string
	err  error
}

func (s *streamFile) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.f.Write(p)
	if err != nil {
		s.err = bareError(err)
		if s.err == syscall.EPIPE {
			s.err = fmt.Errorf("the reader closed it (%w)", syscall.EPIPE)
		}
	}
	return n, s.err
}

func (s *streamFile) Commit() error {
	err := s.f.Close()
	if s.err != nil {
		return fmt.Errorf("write %q: %w", s.name, s.err)
	}
	if err != nil {
		return fmt.Errorf("close %q: %w", s.name, bareError(err))
	}
	return nil
}

func (s *streamFile) Abort() { s.f.Close() }
