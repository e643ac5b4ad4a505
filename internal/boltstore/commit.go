package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// Bucket and key names.
var (
	bucketRecords = []byte("records")
	bucketDefs    = []byte("defs")
	bucketMeta    = []byte("meta")
	bucketJobs    = []byte("jobs")

	bucketRecs    = []byte("r")
	bucketHistory = []byte("h")
	bucketChanges = []byte("c")
	keySeq        = []byte("seq")
	keyCount      = []byte("count")
)

// States of a request, so that exactly one of the committer and a caller
// whose context ended decides its fate.
const (
	statePending int32 = iota
	stateTaken
	stateCanceled
)

// An applyFunc changes something other than records in the committer's
// transaction. A reject is the caller's answer and means nothing was
// changed; an err fails the whole transaction.
type applyFunc func(tx *bbolt.Tx) (reject, err error)

// A request is one call waiting for the committer: either record writes or
// a function that changes something else.
type request struct {
	writes []Write
	atomic bool
	apply  applyFunc // when set, replaces writes

	state   atomic.Int32
	results []Result
	err     error
	done    chan struct{}
}

func (r *request) weight() int {
	if r.apply != nil {
		return 1
	}
	return len(r.writes)
}

// Commit applies writes durably and returns one Result per write. With
// atomic set, either every write is applied or none is, and each Result
// says which writes failed; otherwise each write succeeds or fails alone.
// Writes to the same record apply in order, each seeing the one before.
//
// Commit returns only after the transaction holding the writes is synced to
// disk. Its error is non-nil when the call as a whole failed: an invalid
// write, a closed store, a storage failure, or the end of ctx before the
// writes were taken for a transaction, in which case none is applied. After
// a failed commit of the file, every later Commit fails with that error
// until the store is opened again.
func (s *Store) Commit(ctx context.Context, writes []Write, atomic bool) ([]Result, error) {
	if len(writes) == 0 {
		return nil, nil
	}
	for i := range writes {
		if err := validateWrite(&writes[i]); err != nil {
			return nil, fmt.Errorf("boltstore: write %d: %w", i, err)
		}
	}
	r := &request{writes: writes, atomic: atomic, done: make(chan struct{})}
	if err := s.submit(ctx, r); err != nil {
		return nil, err
	}
	return r.results, r.err
}

func validateWrite(w *Write) error {
	switch {
	case w.Schema == "" || len(w.Schema) > maxNameLen:
		return fmt.Errorf("schema name must have 1 to %d bytes, has %d", maxNameLen, len(w.Schema))
	case w.ID == "" || len(w.ID) > maxIDLen:
		return fmt.Errorf("id must have 1 to %d bytes, has %d", maxIDLen, len(w.ID))
	case w.IfRevision < AnyRevision:
		return fmt.Errorf("condition revision %d is invalid", w.IfRevision)
	case len(w.Body) > maxBodyLen:
		return fmt.Errorf("body of %d bytes exceeds %d", len(w.Body), maxBodyLen)
	case len(w.History.Op) > maxNameLen || len(w.History.By) > maxNameLen || len(w.History.Extra) > maxBodyLen:
		return fmt.Errorf("history op, by or extra exceeds its limit")
	}
	return nil
}

// submit queues r and waits for its answer. Once the committer has taken r
// the answer is awaited even if ctx ends, because the outcome is then
// decided and the caller must learn it.
func (s *Store) submit(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.queue <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		if r.state.CompareAndSwap(statePending, stateCanceled) {
			return ctx.Err()
		}
		<-r.done
		return nil
	}
}

// run is the committer: it takes the first queued request, drains whatever
// else is queued at that moment up to the batch cap, commits them in one
// transaction and answers them, until Close closes the queue.
func (s *Store) run() {
	defer close(s.stopped)
	var carry *request
	for {
		first := carry
		carry = nil
		if first == nil {
			r, ok := <-s.queue
			if !ok {
				return
			}
			first = r
		}
		if !first.state.CompareAndSwap(statePending, stateTaken) {
			continue
		}
		batch := []*request{first}
		n := first.weight()
	drain:
		for n < s.maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break drain
				}
				if n+r.weight() > s.maxBatch {
					carry = r
					break drain
				}
				if !r.state.CompareAndSwap(statePending, stateTaken) {
					continue
				}
				batch = append(batch, r)
				n += r.weight()
			default:
				break drain
			}
		}
		s.commitBatch(batch)
		for _, r := range batch {
			close(r.done)
		}
		// Writers just answered are about to submit their next write. Letting
		// them run before the next drain keeps closed-loop writers from
		// splitting into two halves that alternate between batches; a lone
		// writer loses nothing, as no timer is involved.
		if len(batch) > 1 {
			runtime.Gosched()
		}
	}
}

// commitBatch applies and commits batch, setting each request's results.
// A request that fails with a storage error is answered with it and the
// transaction is tried again without it, so one bad request cannot fail
// the others.
func (s *Store) commitBatch(batch []*request) {
	if failure := s.failure.Load(); failure != nil {
		for _, r := range batch {
			r.results, r.err = nil, *failure
		}
		return
	}
	for len(batch) > 0 {
		var st *txState
		failed := -1
		err := s.db.Update(func(tx *bbolt.Tx) error {
			st = newTxState(tx, s.limit)
			for i, r := range batch {
				if err := st.applyRequest(r); err != nil {
					failed = i
					return err
				}
			}
			return st.flush()
		})
		if err == nil {
			s.commits.Add(1)
			s.writes.Add(st.writes)
			for name, seq := range st.published() {
				s.feeds.publish(name, seq)
			}
			return
		}
		err = fmt.Errorf("boltstore: commit: %w", err)
		if failed < 0 {
			// The commit itself failed, maybe in fsync, after which the
			// kernel's page cache and the disk may disagree: no later
			// write is acknowledged until the store is opened again.
			s.failure.CompareAndSwap(nil, &err)
			for _, r := range batch {
				r.results, r.err = nil, err
			}
			return
		}
		batch[failed].results, batch[failed].err = nil, err
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}

// txState is what one read-write transaction knows of the schemas it
// touches.
type txState struct {
	tx      *bbolt.Tx
	limit   int64
	schemas map[string]*schemaTx
	writes  uint64
}

// schemaTx holds one schema's buckets and counters within a transaction.
type schemaTx struct {
	recs, hist, changes *bbolt.Bucket
	root                *bbolt.Bucket
	recsFill, histFill  fill
	seq                 uint64
	count               int64
	dirty               bool
}

func newTxState(tx *bbolt.Tx, limit int64) *txState {
	return &txState{tx: tx, limit: limit, schemas: make(map[string]*schemaTx)}
}

// schema returns the buckets of name, creating them when create is set;
// without create it returns nil for a schema with no records yet.
func (st *txState) schema(name string, create bool) (*schemaTx, error) {
	if sb, ok := st.schemas[name]; ok {
		return sb, nil
	}
	parent := st.tx.Bucket(bucketRecords)
	root := parent.Bucket([]byte(name))
	if root == nil {
		if !create {
			return nil, nil
		}
		var err error
		if root, err = parent.CreateBucket([]byte(name)); err != nil {
			return nil, err
		}
		for _, sub := range [][]byte{bucketRecs, bucketHistory, bucketChanges} {
			if _, err := root.CreateBucket(sub); err != nil {
				return nil, err
			}
		}
	}
	sb := &schemaTx{
		root:    root,
		recs:    root.Bucket(bucketRecs),
		hist:    root.Bucket(bucketHistory),
		changes: root.Bucket(bucketChanges),
	}
	if sb.recs == nil || sb.hist == nil || sb.changes == nil {
		return nil, fmt.Errorf("schema %q: %w", name, errCorrupt)
	}
	// The change feed only grows at its end, so its pages can be packed.
	sb.changes.FillPercent = 1
	sb.recsFill.b, sb.histFill.b = sb.recs, sb.hist
	var err error
	if sb.seq, err = getUint64(root.Get(keySeq)); err != nil {
		return nil, fmt.Errorf("schema %q sequence: %w", name, err)
	}
	count, err := getUint64(root.Get(keyCount))
	if err != nil {
		return nil, fmt.Errorf("schema %q count: %w", name, err)
	}
	sb.count = int64(count)
	st.schemas[name] = sb
	return sb, nil
}

// flush stores the counters of every schema written to.
func (st *txState) flush() error {
	for _, sb := range st.schemas {
		if !sb.dirty {
			continue
		}
		if err := sb.root.Put(keySeq, putUint64(sb.seq)); err != nil {
			return err
		}
		if err := sb.root.Put(keyCount, putUint64(uint64(sb.count))); err != nil {
			return err
		}
	}
	return nil
}

// published returns the last sequence number of each schema written to.
func (st *txState) published() map[string]uint64 {
	m := make(map[string]uint64)
	for name, sb := range st.schemas {
		if sb.dirty {
			m[name] = sb.seq
		}
	}
	return m
}

// packedFill is how full bbolt fills the pages it splits in a bucket that
// the transaction only appended to.
const packedFill = 0.95

// A fill chooses how full a transaction leaves the pages it splits in a
// bucket. bbolt's default, half full, leaves room for inserts between
// existing keys; when every key a transaction inserts sorts after every
// key already there (time-ordered ids such as UUIDv7, bulk loads in id
// order), later keys most likely arrive at the end too, and packed pages
// keep the file near half the size.
type fill struct {
	b      *bbolt.Bucket
	last   []byte // the greatest key, once loaded
	loaded bool
	random bool
}

// insert notes that key, which is new to the bucket, is put into it.
func (f *fill) insert(key []byte) {
	if f.random {
		return
	}
	if !f.loaded {
		k, _ := f.b.Cursor().Last()
		f.last, f.loaded = bytes.Clone(k), true
	}
	if bytes.Compare(key, f.last) <= 0 {
		f.random = true
		f.b.FillPercent = bbolt.DefaultFillPercent
		return
	}
	f.last = key
	f.b.FillPercent = packedFill
}

// current is what a write's condition is checked against.
type current struct {
	exists bool
	meta   recordMeta
	value  []byte // the stored record value
}

func (c current) live() bool { return c.exists && !c.meta.deleted }

func (st *txState) current(schema, id string) (current, error) {
	sb, err := st.schema(schema, false)
	if err != nil || sb == nil {
		return current{}, err
	}
	v := sb.recs.Get([]byte(id))
	if v == nil {
		return current{}, nil
	}
	m, _, err := decodeRecord(v)
	if err != nil {
		return current{}, fmt.Errorf("record %s/%s: %w", schema, id, err)
	}
	return current{exists: true, meta: m, value: v}, nil
}

// check returns the reason w cannot be applied to a record in state cur.
func check(w *Write, cur current) error {
	switch w.IfRevision {
	case AnyRevision:
	case 0:
		if cur.live() {
			return conflict(w, cur)
		}
	default:
		if !cur.live() || cur.meta.revision != w.IfRevision {
			return conflict(w, cur)
		}
	}
	if w.Delete && !cur.live() {
		return ErrNotFound
	}
	return nil
}

func conflict(w *Write, cur current) error {
	e := &ConflictError{Want: w.IfRevision}
	e.Current.Schema, e.Current.ID = w.Schema, w.ID
	if cur.exists {
		e.Current.Revision = cur.meta.revision
		e.Current.Deleted = cur.meta.deleted
		e.Current.Seq = cur.meta.seq
		e.Current.UpdatedAt = cur.meta.at
	}
	return e
}

func (st *txState) applyRequest(r *request) error {
	if r.apply != nil {
		reject, err := r.apply(st.tx)
		if err != nil {
			return err
		}
		r.results, r.err = nil, reject
		return nil
	}
	r.results, r.err = make([]Result, len(r.writes)), nil
	if r.atomic {
		ok, err := st.checkAll(r)
		if err != nil || !ok {
			return err
		}
	}
	for i := range r.writes {
		res, err := st.applyWrite(&r.writes[i])
		if err != nil {
			return err
		}
		if r.atomic && res.Err != nil {
			return fmt.Errorf("atomic write %d failed after its check: %w", i, res.Err)
		}
		r.results[i] = res
	}
	return nil
}

// checkAll checks every write of an atomic request against the state the
// writes before it would leave, without changing anything. When one fails
// it sets every result and reports false.
func (st *txState) checkAll(r *request) (bool, error) {
	type key struct{ schema, id string }
	overlay := make(map[key]current)
	failed := false
	for i := range r.writes {
		w := &r.writes[i]
		k := key{w.Schema, w.ID}
		cur, ok := overlay[k]
		if !ok {
			var err error
			if cur, err = st.current(w.Schema, w.ID); err != nil {
				return false, err
			}
		}
		if err := check(w, cur); err != nil {
			r.results[i].Err = err
			failed = true
			continue
		}
		cur.exists = true
		cur.meta.deleted = w.Delete
		cur.meta.revision++
		overlay[k] = cur
	}
	if !failed {
		return true, nil
	}
	for i := range r.results {
		if r.results[i].Err == nil {
			r.results[i].Err = ErrAborted
		}
	}
	return false, nil
}

// applyWrite checks w and applies it: the record, its history with
// retention, the change feed and the live count.
func (st *txState) applyWrite(w *Write) (Result, error) {
	cur, err := st.current(w.Schema, w.ID)
	if err != nil {
		return Result{}, err
	}
	if err := check(w, cur); err != nil {
		return Result{Err: err}, nil
	}
	sb, err := st.schema(w.Schema, true)
	if err != nil {
		return Result{}, err
	}
	id := []byte(w.ID)
	rev := cur.meta.revision + 1
	sb.seq++
	sb.dirty = true
	seq := sb.seq
	at := w.At
	if at.IsZero() {
		at = time.Now()
	}
	at = at.UTC()
	op := w.History.Op
	switch {
	case op != "":
	case w.Delete:
		op = "delete"
	case !cur.live():
		op = "create"
	default:
		op = "replace"
	}

	// The record's value is the newest history entry; the history bucket
	// keeps the revisions before it, within the limit.
	cutoff := int64(0)
	if st.limit > 0 {
		cutoff = rev - st.limit
	}
	if cur.exists && cur.meta.revision > cutoff {
		hk := historyKey(w.ID, cur.meta.revision)
		sb.histFill.insert(hk)
		if err := sb.hist.Put(hk, bytes.Clone(cur.value)); err != nil {
			return Result{}, err
		}
	}
	if cutoff > 0 {
		if err := sb.trimHistory(w.ID, cutoff); err != nil {
			return Result{}, err
		}
	}
	var body []byte
	if !w.Delete {
		body = w.Body
	}
	rv := encodeRecord(recordMeta{
		deleted:  w.Delete,
		revision: rev,
		seq:      seq,
		at:       at,
		version:  w.History.Version,
		op:       []byte(op),
		by:       []byte(w.History.By),
		extra:    w.History.Extra,
	}, body)
	if !cur.exists {
		sb.recsFill.insert(id)
	}
	if err := sb.recs.Put(id, rv); err != nil {
		return Result{}, err
	}
	if cur.exists {
		if err := sb.changes.Delete(seqKey(cur.meta.seq)); err != nil {
			return Result{}, err
		}
	}
	cv := encodeChange(changeValue{revision: rev, at: at, op: op, id: w.ID})
	if err := sb.changes.Put(seqKey(seq), cv); err != nil {
		return Result{}, err
	}
	switch {
	case cur.live() && w.Delete:
		sb.count--
	case !cur.live() && !w.Delete:
		sb.count++
	}
	st.writes++
	return Result{Revision: rev, Seq: seq, Created: !cur.live()}, nil
}

// trimHistory deletes the history entries of id with revisions up to
// cutoff.
func (sb *schemaTx) trimHistory(id string, cutoff int64) error {
	prefix := historyPrefix(id)
	last := historyKey(id, cutoff)
	var stale [][]byte
	c := sb.hist.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, last) <= 0; k, _ = c.Next() {
		stale = append(stale, bytes.Clone(k))
	}
	for _, k := range stale {
		if err := sb.hist.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
