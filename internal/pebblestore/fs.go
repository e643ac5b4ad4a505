package pebblestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/vfs"
)

// storeFS is the filesystem the store gives Pebble: the given one, with
// the syncs of write-ahead log files counted and the directory lock awaited
// for a while instead of failing at once, so that a restart can follow a
// process that is still exiting.
type storeFS struct {
	vfs.FS
	walSyncs    atomic.Uint64
	lockTimeout time.Duration
}

// errLocked reports a data directory locked by another store.
var errLocked = errors.New("locked")

// walSuffix ends the name of every write-ahead log file of Pebble.
const walSuffix = ".log"

func (fs *storeFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *storeFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

func (fs *storeFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, walSuffix) {
		return f, err
	}
	return &walFile{File: f, syncs: &fs.walSyncs}, nil
}

// Lock retries while another holder keeps the lock, until lockTimeout has
// passed.
func (fs *storeFS) Lock(name string) (io.Closer, error) {
	deadline := time.Now().Add(fs.lockTimeout)
	for {
		c, err := fs.FS.Lock(name)
		switch {
		case err == nil:
			return c, nil
		case !isLockConflict(err):
			return nil, err
		case time.Now().After(deadline):
			return nil, fmt.Errorf("%w: %w", errLocked, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// isLockConflict tells a lock held elsewhere, which fcntl reports with
// EAGAIN or EACCES and Pebble with its own error for one held by this
// process, from a failure to create the lock file.
func isLockConflict(err error) bool {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

// walFile counts the completed syncs of a write-ahead log file.
type walFile struct {
	vfs.File
	syncs *atomic.Uint64
}

func (f *walFile) Sync() error {
	err := f.File.Sync()
	if err == nil {
		f.syncs.Add(1)
	}
	return err
}

func (f *walFile) SyncData() error {
	err := f.File.SyncData()
	if err == nil {
		f.syncs.Add(1)
	}
	return err
}

// syncDir makes the entries of a directory durable.
func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirSynced creates dir and the parents it lacks, then syncs the parent
// of each directory it created, so that a crash cannot lose the directory
// with the files Pebble makes durable in it.
func mkdirSynced(fs vfs.FS, dir string) error {
	var created []string
	for d := dir; ; {
		_, err := fs.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		created = append(created, d)
		parent := fs.PathDir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(created) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for _, d := range created {
		if parent := fs.PathDir(d); parent != d {
			if err := syncDir(fs, parent); err != nil {
				return err
			}
		}
	}
	return nil
}

// logger keeps Pebble's informational messages out of Ferry's log. Pebble
// calls Fatalf on a failure it cannot continue from, such as a failed sync
// of its log, and requires that Fatalf not return: it panics with a
// fatalError, which the committer recovers from a failed commit to refuse
// later writes, and which ends the process anywhere else.
type logger struct{}

// fatalError is the panic value of logger.Fatalf.
type fatalError struct{ msg string }

func (e fatalError) Error() string { return e.msg }

// recoverFatal, deferred, turns a panic of logger.Fatalf into *err.
func recoverFatal(err *error) {
	if r := recover(); r != nil {
		fe, ok := r.(fatalError)
		if !ok {
			panic(r)
		}
		*err = fe
	}
}

func (logger) Infof(string, ...any) {}

func (logger) Fatalf(format string, args ...any) {
	panic(fatalError{msg: fmt.Sprintf(format, args...)})
}
