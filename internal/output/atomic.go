package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// tempSeq numbers the temporary files of this process.
var tempSeq atomic.Uint64

// pending holds the temporary files of this process not yet committed or
// aborted, for AbortPending.
var pending struct {
	sync.Mutex
	files map[*AtomicFile]struct{}
}

// AbortPending removes every temporary file of this process that is not
// committed yet, so that a process about to exit on a second signal leaves
// no hidden files behind. Files being written are not closed (their
// writers may still run; writes then go to an unlinked file); a later
// Commit of such a file fails. Final names are never touched. It may be
// called from any goroutine.
func AbortPending() {
	pending.Lock()
	defer pending.Unlock()
	for a := range pending.files {
		os.Remove(a.tmp)
		delete(pending.files, a)
	}
}

func register(a *AtomicFile) {
	pending.Lock()
	defer pending.Unlock()
	if pending.files == nil {
		pending.files = map[*AtomicFile]struct{}{}
	}
	pending.files[a] = struct{}{}
}

// unregister forgets a and reports whether it was still registered (false
// once AbortPending removed its temporary file).
func unregister(a *AtomicFile) bool {
	pending.Lock()
	defer pending.Unlock()
	_, ok := pending.files[a]
	delete(pending.files, a)
	return ok
}

// tempPrefix and tempInfix frame a temporary name:
// ".<base>.tmp-<pid>-<n>" (see RemoveStaleTemps).
const (
	tempPrefix = "."
	tempInfix  = ".tmp-"
)

func tempName(dir, base string) string {
	return filepath.Join(dir, tempPrefix+base+tempInfix+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tempSeq.Add(1), 10))
}

// AtomicFile is a file written under a hidden temporary name in the
// directory of its final name and renamed to the final name only by Commit,
// after its contents reached the disk. A reader that lists the directory
// therefore sees either no file or the complete one under the final name,
// never a partial file; a run killed before Commit leaves only the hidden
// temporary file (".<name>.tmp-<pid>-<n>").
type AtomicFile struct {
	f    *os.File
	path string // final name
	tmp  string
	err  error // first write error
	done bool
	// NoReplace makes Commit fail, rather than replace it, when a file
	// exists under the final name (partitioned output never overwrites
	// a part another run wrote: docs/partitions.md).
	NoReplace bool
}

// CreateAtomic creates the temporary file for path. Errors name path.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("create %q: not a file name", path)
	}
	tmp := tempName(dir, base)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", path, bareError(err))
	}
	a := &AtomicFile{f: f, path: path, tmp: tmp}
	register(a)
	return a, nil
}

// Write writes to the temporary file. Errors carry the bare cause (for
// example syscall.ENOSPC), not the temporary name: callers name the final
// file.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	n, err := a.f.Write(p)
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
		a.remove()
		return fmt.Errorf("sync %q: %w", a.path, bareError(err))
	}
	if err := a.f.Close(); err != nil {
		a.remove()
		return fmt.Errorf("close %q: %w", a.path, bareError(err))
	}
	// The rename happens under the registry's lock, so AbortPending
	// either removes the temporary file before (the rename then fails) or
	// finds it committed.
	pending.Lock()
	_, ok := pending.files[a]
	delete(pending.files, a)
	var err error
	if !ok {
		err = errors.New("aborted")
	} else {
		if a.NoReplace {
			err = renameNoReplace(a.tmp, a.path)
		} else {
			err = os.Rename(a.tmp, a.path)
		}
		if err != nil {
			os.Remove(a.tmp)
		}
	}
	pending.Unlock()
	if err != nil {
		return fmt.Errorf("rename to %q: %w", a.path, bareError(err))
	}
	syncDir(filepath.Dir(a.path))
	return nil
}

// remove removes the temporary file and forgets it.
func (a *AtomicFile) remove() {
	if unregister(a) {
		os.Remove(a.tmp)
	}
}

// Abort closes and removes the temporary file; the final name is left
// untouched. It is safe to call after Commit (it then does nothing).
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	a.remove()
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
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
