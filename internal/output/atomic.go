package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// tempSeq numbers the temporary files of this process.
var tempSeq atomic.Uint64

// AtomicFile is a file written under a hidden temporary name in the
// directory of its final name and renamed to the final name only by Commit,
// after its contents reached the disk. A reader that lists the directory
// therefore sees either no file or the complete one under the final name,
// never a partial file; a run killed before Commit leaves only the hidden
// temporary file (".<name>.tmp-<pid>-<n>").
type AtomicFile struct {
	f     *os.File
	path  string // final name
	tmp   string
	err   error // first write error
	done  bool
	bytes int64
}

// CreateAtomic creates the temporary file for path. Errors name path.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("create %q: not a file name", path)
	}
	tmp := filepath.Join(dir, "."+base+".tmp-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tempSeq.Add(1), 10))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", path, bareError(err))
	}
	return &AtomicFile{f: f, path: path, tmp: tmp}, nil
}

// Name returns the final name.
func (a *AtomicFile) Name() string { return a.path }

// TempName returns the temporary name the data is written under.
func (a *AtomicFile) TempName() string { return a.tmp }

// Size returns the number of bytes written so far.
func (a *AtomicFile) Size() int64 { return a.bytes }

// Write writes to the temporary file. Errors carry the bare cause (for
// example syscall.ENOSPC), not the temporary name: callers name the final
// file.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	n, err := a.f.Write(p)
	a.bytes += int64(n)
	if err != nil {
		a.err = bareError(err)
	}
	return n, a.err
}

// Commit flushes the file to the disk, closes it and renames it to its
// final name (then syncs the directory, so the rename survives a crash).
// On any error the temporary file is removed. Commit after a write error
// does not rename: it removes the temporary file and returns that error.
func (a *AtomicFile) Commit() error {
	if a.done {
		return errors.New("output: AtomicFile committed twice")
	}
	if a.err != nil {
		a.Abort()
		return fmt.Errorf("write %q: %w", a.path, a.err)
	}
	a.done = true
	if err := a.f.Sync(); err != nil {
		a.f.Close()
		os.Remove(a.tmp)
		return fmt.Errorf("sync %q: %w", a.path, bareError(err))
	}
	if err := a.f.Close(); err != nil {
		os.Remove(a.tmp)
		return fmt.Errorf("close %q: %w", a.path, bareError(err))
	}
	if err := os.Rename(a.tmp, a.path); err != nil {
		os.Remove(a.tmp)
		return fmt.Errorf("rename to %q: %w", a.path, bareError(err))
	}
	syncDir(filepath.Dir(a.path))
	return nil
}

// Abort closes and removes the temporary file; the final name is left
// untouched. It is safe to call after Commit (it then does nothing).
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.tmp)
}

// syncDir makes a rename in dir durable. Some file systems refuse to sync
// a directory; the rename has happened anyway, so that is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// bareError drops the *os.PathError or *os.LinkError wrapper, whose text
// repeats a path the caller quotes itself (or the temporary name, which
// means nothing to the user).
func bareError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
