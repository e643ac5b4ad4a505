// Package pebblestore is Ferry's embedded store on Pebble, a log-structured
// key-value store: records, their history and change feed, schema
// definitions and jobs, kept crash-safe under a data directory. It is pure
// Go and needs nothing installed.
//
// The store keeps bytes and metadata; bodies are opaque. Its values and
// errors are those of package store, aliased here, so that its consumers
// declare their interfaces in that vocabulary, not in Pebble's.
//
// Writes are durable when Commit returns: a single committer goroutine takes
// every write request that is queued when it is free, applies them to one
// indexed batch, whose reads see the batch's own earlier writes, and
// commits it with one append to Pebble's write-ahead log and one fsync, so
// concurrent writers share fsyncs (group commit) and no lone writer waits
// for a timer. The committer assigns each schema's sequence numbers, so the
// change feed lists changes in commit order.
//
// Reads see only what is durable. Pebble makes a batch visible before its
// log sync completes; the store instead reads through a snapshot that the
// committer replaces after each synced commit, so that no reader sees a
// write that a crash or a failed sync could still take back. A writer's own
// read after Commit returns sees its write.
//
// Keys: a record is 'r', the length-prefixed schema name, then the id, so
// a schema's records sort by id; its older revisions are 'h', schema, the
// length-prefixed id and the big-endian revision; the change feed is 'c',
// schema and the big-endian sequence number; 'n' and schema hold the last
// sequence number and the count of live records. Definitions are 'd',
// schema and the big-endian version; 'm' and a schema name hold its
// metadata; 'j' and an id a job. A record value is a header of metadata and
// history metadata, then the body, which makes it a complete history entry:
// when a revision is superseded its value moves to the history, its body
// stored as the difference from the new body where that is smaller.
package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"

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

// DirName is the name of the directory in the data directory that holds
// Pebble's files.
const DirName = "pebble"

// boltFileName is the file in which earlier versions of Ferry kept their
// data, with bbolt. A data directory that holds one is refused, so that an
// upgrade cannot start an empty store beside existing data.
const boltFileName = "ferry.db"

// DefaultMaxBatch is the default cap on writes per batch.
const DefaultMaxBatch = 1024

// lockTimeout bounds the wait for the directory lock held by another store.
const lockTimeout = time.Second

// Limits on names and bodies.
const (
	maxNameLen = 1024
	maxIDLen   = 1024
	maxBodyLen = 1 << 30
)

// Memory of Pebble: the block cache is bounded, and two memtables of this
// size at most take writes before writers wait for a flush.
const (
	cacheSize    = 32 << 20
	memTableSize = 16 << 20
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// HistoryLimit is the number of revisions kept in each record's
	// history, newest first; 0 keeps every revision.
	HistoryLimit int
	// MaxBatch caps the writes applied in one batch; a single Commit with
	// more writes still goes in one batch of its own. 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// CacheBytes bounds the memory of the cache of record values that
	// serves reads of recently read and written records; 0 disables it.
	CacheBytes int
	// NoSync would acknowledge writes before they are on disk. It exists so
	// that a configuration asking for it fails loudly: Open refuses it.
	NoSync bool
}

// Stats counts the work of the store since Open.
type Stats struct {
	// Commits is the number of batches committed, each with one append to
	// the write-ahead log and one sync of it.
	Commits uint64
	// Writes is the number of record writes applied.
	Writes uint64
	// Syncs is the number of completed syncs of write-ahead log files,
	// those of commits and those Pebble makes when it switches log files.
	Syncs uint64
}

// A Store is an open data directory. Its methods are safe for concurrent
// use.
type Store struct {
	db       *pebble.DB
	fs       *storeFS
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

	// counters holds each schema's committed counters; only the committer
	// uses it after Open.
	counters map[string]counters

	// view is the snapshot reads go through, nil once closed; views counts
	// the snapshots not yet released.
	view  atomic.Pointer[view]
	views sync.WaitGroup
	// nextView is the generation of the next view installed; only the
	// committer uses it after Open.
	nextView uint64
	// cache holds recently read and written record values.
	cache *recordCache

	feeds feeds

	// failure is the error of a failed commit; once set, the committer
	// refuses every write.
	failure atomic.Pointer[error]

	commits, writes atomic.Uint64
}

// Open opens the store in dir, creating the directory and the store when
// they do not exist. Another store holding the directory gets an error
// after one second. Open refuses Options.NoSync and a directory that holds
// a bbolt store.
func Open(ctx context.Context, dir string, opt Options) (*Store, error) {
	return open(ctx, dir, opt, vfs.Default)
}

func open(ctx context.Context, dir string, opt Options, fs vfs.FS) (*Store, error) {
	if opt.NoSync {
		return nil, errors.New("pebblestore: fsync cannot be turned off")
	}
	if opt.HistoryLimit < 0 {
		return nil, fmt.Errorf("pebblestore: history limit %d is negative", opt.HistoryLimit)
	}
	if opt.MaxBatch < 0 {
		return nil, fmt.Errorf("pebblestore: max batch %d is negative", opt.MaxBatch)
	}
	if opt.MaxBatch == 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bolt := fs.PathJoin(dir, boltFileName)
	if _, err := fs.Stat(bolt); err == nil {
		return nil, fmt.Errorf("pebblestore: %s holds a bbolt store (%s); move its data to a new directory", dir, bolt)
	}
	path := fs.PathJoin(dir, DirName)
	if err := mkdirSynced(fs, path); err != nil {
		return nil, fmt.Errorf("pebblestore: create data directory: %w", err)
	}
	sfs := &storeFS{FS: fs, lockTimeout: lockTimeout}
	cache := pebble.NewCache(cacheSize)
	// The database holds its own reference, released by its Close.
	defer cache.Unref()
	levels := make([]pebble.LevelOptions, 7)
	for i := range levels {
		// Bloom filters spare a read of every level for the absent keys
		// that each create looks up.
		levels[i].FilterPolicy = bloom.FilterPolicy(10)
		// Table sizes double per level, as in Pebble's defaults.
		levels[i].TargetFileSize = 2 << 20 << i
	}
	// The write-ahead log keeps Pebble's defaults, which make a Sync commit
	// durable when it returns: it is enabled, and synced with no delay.
	db, err := openDB(path, &pebble.Options{
		FS:                 sfs,
		Cache:              cache,
		MemTableSize:       memTableSize,
		Levels:             levels,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             logger{},
	})
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("pebblestore: %s is in use by another process (no lock within %v): %w", path, lockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", path, err)
	}
	s := &Store{
		db:       db,
		fs:       sfs,
		limit:    int64(opt.HistoryLimit),
		maxBatch: opt.MaxBatch,
		queue:    make(chan *request, 4*opt.MaxBatch),
		stopped:  make(chan struct{}),
		counters: make(map[string]counters),
		feeds:    newFeeds(),
		cache:    newRecordCache(opt.CacheBytes),
	}
	if err := s.init(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s.cache.publish(s.nextView, nil, s.install)
	go s.run()
	return s, nil
}

// openDB opens Pebble, reporting a fatal error as an error.
func openDB(path string, opts *pebble.Options) (db *pebble.DB, err error) {
	defer recoverFatal(&err)
	return pebble.Open(path, opts)
}

// init checks or writes the format marker, trims the history to a lowered
// limit and loads each schema's counters.
func (s *Store) init() error {
	marker, err := getValue(s.db, keyFormat)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := s.initEmpty(); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("pebblestore: read format: %w", err)
	case string(marker) == string(formatMarkerV1):
		if err := s.db.Set(keyFormat, formatMarker, pebble.Sync); err != nil {
			return fmt.Errorf("pebblestore: upgrade format: %w", err)
		}
	case string(marker) != string(formatMarker):
		return fmt.Errorf("pebblestore: store has format %q, want %q", marker, formatMarker)
	}
	if err := s.applyLimit(); err != nil {
		return fmt.Errorf("pebblestore: apply history limit: %w", err)
	}
	return s.loadCounters()
}

// initEmpty writes the format marker into a new store, refusing a store
// that holds keys without one.
func (s *Store) initEmpty() error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("pebblestore: initialise: %w", err)
	}
	empty := !it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("pebblestore: initialise: %w", err)
	}
	if !empty {
		return errors.New("pebblestore: the directory holds data without Ferry's format marker")
	}
	if err := s.db.Set(keyFormat, formatMarker, pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: initialise: %w", err)
	}
	return nil
}

// loadCounters reads each schema's counters, for the committer and for
// WaitChange.
func (s *Store) loadCounters() error {
	prefix := []byte{prefixCounters}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: successor(prefix)})
	if err != nil {
		return fmt.Errorf("pebblestore: load counters: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		name, rest, err := readName(it.Key()[1:])
		if err == nil && len(rest) > 0 {
			err = errCorrupt
		}
		var c counters
		if err == nil {
			c, err = decodeCounters(it.Value())
		}
		if err != nil {
			it.Close()
			return fmt.Errorf("pebblestore: counters key %q: %w", it.Key(), err)
		}
		s.counters[string(name)] = c
		s.feeds.publish(string(name), c.seq, nil)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("pebblestore: load counters: %w", err)
	}
	return nil
}

// applyLimit deletes the history entries that a history limit lower than
// the one the store last ran with no longer keeps, and records the limit.
// Each write trims only the one entry its own revision pushes out, so
// entries beyond a lowered limit would stay otherwise.
func (s *Store) applyLimit() error {
	old := int64(0)
	v, err := getValue(s.db, keyLimit)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	case len(v) != 8:
		return errCorrupt
	default:
		u := binary.BigEndian.Uint64(v)
		if u > math.MaxInt64 {
			return errCorrupt
		}
		old = int64(u)
	}
	if err == nil && old == s.limit {
		return nil
	}
	if s.limit > 0 && (old == 0 || s.limit < old) {
		if err := s.trimAllHistory(); err != nil {
			return err
		}
	}
	return s.db.Set(keyLimit, binary.BigEndian.AppendUint64(nil, uint64(s.limit)), pebble.Sync)
}

// trimAllHistory deletes every history entry that is not among the limit
// newest revisions of its record.
func (s *Store) trimAllHistory() error {
	prefix := []byte{prefixHistory}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: successor(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	var lastSchema, lastID []byte
	current := int64(0)
	for ok := it.First(); ok; ok = it.Next() {
		schema, id, rev, err := parseHistoryKey(it.Key())
		if err != nil {
			return fmt.Errorf("history key %q: %w", it.Key(), err)
		}
		if string(schema) != string(lastSchema) || string(id) != string(lastID) {
			lastSchema, lastID = append(lastSchema[:0], schema...), append(lastID[:0], id...)
			v, err := getValue(s.db, recordKey(string(schema), string(id)))
			if err != nil {
				return fmt.Errorf("record %s/%s of a history entry: %w", schema, id, err)
			}
			m, _, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("record %s/%s: %w", schema, id, err)
			}
			current = m.revision
		}
		if rev > current-s.limit {
			continue
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return err
		}
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.Sync); err != nil {
				return err
			}
			b.Close()
			b = s.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// getValue returns a copy of the value of key, or ErrNotFound.
func getValue(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(v))
	copy(out, v)
	return out, closer.Close()
}

// Close waits for the writes already submitted to commit, stops the
// committer, wakes every WaitChange with ErrClosed, waits for the reads in
// progress and closes the database. After a failed commit it leaves the
// database open and returns that failure: Pebble may still hold its own
// locks after the fatal error, and closing it could wait forever. Later
// calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		<-s.stopped
		s.feeds.close()
		if v := s.view.Swap(nil); v != nil {
			s.release(v)
		}
		s.views.Wait()
		if err := s.failed(); err != nil {
			s.closeErr = err
			return
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("pebblestore: close: %w", err)
		}
	})
	return s.closeErr
}

// failed returns the error of a failed commit, after which the store takes
// no writes until it is opened again, or nil.
func (s *Store) failed() error {
	if failure := s.failure.Load(); failure != nil {
		return *failure
	}
	return nil
}

// Ping reports whether the store is open, readable and taking writes:
// after a failed commit it reports that failure, as every write will
// until the store is opened again.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.failed(); err != nil {
		return err
	}
	return s.read(func(r pebble.Reader) error {
		v, err := getValue(r, keyFormat)
		if err != nil {
			return fmt.Errorf("pebblestore: read format: %w", err)
		}
		if string(v) != string(formatMarker) {
			return fmt.Errorf("pebblestore: format marker %q changed", v)
		}
		return nil
	})
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Writes: s.writes.Load(), Syncs: s.fs.walSyncs.Load()}
}

// A view is a snapshot of the store after a synced commit, shared by the
// reads that started while it was the newest. It is closed when the
// committer has replaced it and its last read is done.
type view struct {
	snap *pebble.Snapshot
	refs atomic.Int64 // 0 once closed
	gen  uint64       // counts the views installed before this one
}

// install makes a snapshot of the database the view of later reads. Only
// the committer calls it, between commits, so the snapshot holds exactly
// the synced commits; and Open, before there is a committer.
func (s *Store) install() {
	v := &view{snap: s.db.NewSnapshot(), gen: s.nextView}
	s.nextView++
	v.refs.Store(1) // the store's reference, until the next install
	s.views.Add(1)
	if old := s.view.Swap(v); old != nil {
		s.release(old)
	}
}

// acquire returns the newest view with a reference for the caller.
func (s *Store) acquire() (*view, error) {
	for {
		v := s.view.Load()
		if v == nil {
			return nil, ErrClosed
		}
		// A view whose count reached 0 was replaced before this load
		// could take a reference; the next load finds its successor.
		if n := v.refs.Load(); n > 0 && v.refs.CompareAndSwap(n, n+1) {
			return v, nil
		}
	}
}

func (s *Store) release(v *view) {
	if v.refs.Add(-1) == 0 {
		// Closing a snapshot only unlinks it.
		_ = v.snap.Close()
		s.views.Done()
	}
}

// read runs fn on the newest view.
func (s *Store) read(fn func(r pebble.Reader) error) error {
	v, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release(v)
	return fn(v.snap)
}
