// Package boltstore is Ferry's embedded store: records, their history and
// change feed, schema definitions and jobs, kept crash-safe in one bbolt file
// (ferry.db) under a data directory. It is pure Go and needs nothing
// installed.
//
// The store keeps bytes and metadata; bodies are opaque. Its values and
// errors are those of package store, aliased here, so that another backend
// can satisfy the same consumer interface.
//
// Writes are durable when Commit returns: a single committer goroutine takes
// every write request that is queued when it is free, applies them in one
// read-write transaction and commits it with fsync, so concurrent writers
// share fsyncs (group commit) and no lone writer waits for a timer. Reads
// use short read transactions, because a long one keeps the file from
// growing.
//
// Layout of the file: bucket "records" holds one bucket per schema name,
// which holds the records ("r": id → a header of metadata and history
// metadata, then the body), the revisions before the current one ("h":
// length-prefixed id and big-endian revision → the record value that
// revision had), the change feed ("c": big-endian sequence number →
// revision, time, op and id) and the counters "seq" (last sequence number)
// and "count" (live records). Bucket "defs" holds a bucket per schema name
// of big-endian version → definition; "meta" maps a schema name to its
// metadata; "jobs" maps a job id to its state.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ferry-dev/ferry/internal/store"
)

// The store's values and errors, defined in package store.
type (
	Record        = store.Record
	Write         = store.Write
	HistoryMeta   = store.HistoryMeta
	Result        = store.Result
	ConflictError = store.ConflictError
	HistoryEntry  = store.HistoryEntry
	Change        = store.Change
)

// Errors reported by the store; see package store.
var (
	ErrNotFound = store.ErrNotFound
	ErrConflict = store.ErrConflict
	ErrAborted  = store.ErrAborted
	ErrClosed   = store.ErrClosed
)

// AnyRevision as Write.IfRevision makes a write unconditional.
const AnyRevision = store.AnyRevision

// FileName is the name of the database file in the data directory.
const FileName = "ferry.db"

// DefaultMaxBatch is the default cap on writes per transaction.
const DefaultMaxBatch = 1024

// lockTimeout bounds the wait for the file lock held by another process.
const lockTimeout = time.Second

// Limits on names, so that every key stays far below bbolt's key limit.
const (
	maxNameLen = 1024
	maxIDLen   = 1024
	maxBodyLen = 1 << 30
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// HistoryLimit is the number of revisions kept in each record's
	// history, newest first; 0 keeps every revision.
	HistoryLimit int
	// MaxBatch caps the writes applied in one transaction; a single Commit
	// with more writes still goes in one transaction of its own. 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// NoSync would acknowledge writes before they are on disk. It exists so
	// that a configuration asking for it fails loudly: Open refuses it.
	NoSync bool
}

// Stats counts the work of the committer since Open.
type Stats struct {
	// Commits is the number of read-write transactions committed. Each
	// commit of bbolt syncs the file twice, pages first, then the meta page.
	Commits uint64
	// Writes is the number of record writes applied.
	Writes uint64
}

// A Store is an open data directory. Its methods are safe for concurrent
// use.
type Store struct {
	db       *bbolt.DB
	limit    int64
	maxBatch int

	// mu guards closed against sends on queue, so that Close can close the
	// queue with no sender left.
	mu     sync.RWMutex
	closed bool
	queue  chan *request
	// stopped is closed when the committer has answered every request and
	// returned.
	stopped   chan struct{}
	closeOnce sync.Once
	closeErr  error

	feeds feeds

	// failure is the error of a failed commit of the file; once set, the
	// committer refuses every write.
	failure atomic.Pointer[error]

	commits, writes atomic.Uint64
}

// Open opens the store in dir, creating the directory and the database file
// when they do not exist. Another process holding the file gets an error
// after one second. Open refuses Options.NoSync.
func Open(ctx context.Context, dir string, opt Options) (*Store, error) {
	if opt.NoSync {
		return nil, errors.New("boltstore: fsync cannot be turned off")
	}
	if opt.HistoryLimit < 0 {
		return nil, fmt.Errorf("boltstore: history limit %d is negative", opt.HistoryLimit)
	}
	if opt.MaxBatch < 0 {
		return nil, fmt.Errorf("boltstore: max batch %d is negative", opt.MaxBatch)
	}
	if opt.MaxBatch == 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("boltstore: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)

	// NoFreelistSync is crash-safe: a file whose meta page has no freelist
	// gets it rebuilt on open from the pages reachable from that meta page,
	// and pages of a transaction whose meta page never made it to disk are
	// not reachable. It saves writing the freelist in every commit, at the
	// price of a scan of the file on open.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        lockTimeout,
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: %s is in use by another process (no lock within %v): %w", path, lockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{
		db:       db,
		limit:    int64(opt.HistoryLimit),
		maxBatch: opt.MaxBatch,
		queue:    make(chan *request, 4*opt.MaxBatch),
		stopped:  make(chan struct{}),
		feeds:    newFeeds(),
	}
	if err := s.init(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if created {
		// The new file's directory entry must be durable too, or a crash
		// could lose the whole file after writes were acknowledged.
		if err := syncDir(dir); err != nil {
			return nil, errors.Join(err, db.Close())
		}
	}
	go s.run()
	return s, nil
}

// init creates the top-level buckets and loads each schema's last sequence
// number for WaitChange.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketRecords, bucketDefs, bucketMeta, bucketJobs} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketRecords).ForEachBucket(func(name []byte) error {
			seq, err := getUint64(tx.Bucket(bucketRecords).Bucket(name).Get(keySeq))
			if err != nil {
				return fmt.Errorf("sequence of schema %q: %w", name, err)
			}
			s.feeds.publish(string(name), seq)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("boltstore: initialise: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("boltstore: sync data directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("boltstore: sync data directory: %w", err)
	}
	return nil
}

// Close waits for the writes already submitted to commit, stops the
// committer, wakes every WaitChange with ErrClosed and closes the file.
// Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		<-s.stopped
		s.feeds.close()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: close: %w", err)
		}
	})
	return s.closeErr
}

// Ping reports whether the store is open and its file readable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.view(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketRecords) == nil {
			return errors.New("boltstore: records bucket missing")
		}
		return nil
	})
}

// Stats returns the committer's counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Writes: s.writes.Load()}
}

// view runs fn in a read transaction, reporting a closed database as
// ErrClosed.
func (s *Store) view(fn func(tx *bbolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
