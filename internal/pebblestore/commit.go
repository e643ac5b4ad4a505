package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
)

// States of a request, so that exactly one of the committer and a caller
// whose context ended decides its fate.
const (
	statePending int32 = iota
	stateTaken
	stateCanceled
)

// Bounds on the bytes of one batch. The committer stops draining requests
// into a batch once their bodies reach softBatchBytes, and fails a request
// that would grow the batch past hardBatchBytes, far below the 4 GiB that
// Pebble's batch format can hold even with the history copies of replaced
// values.
const (
	softBatchBytes = 16 << 20
	hardBatchBytes = 1 << 30
)

// An applyFunc changes something other than records in the committer's
// batch. A reject is the caller's answer and means nothing was changed; an
// err fails the request.
type applyFunc func(b *pebble.Batch) (reject, err error)

// A request is one call waiting for the committer: either record writes or
// a function that changes something else.
type request struct {
	writes []Write
	// bodies are the writes' bodies as record values hold them, packed
	// by the caller rather than in the committer, which every write
	// waits on.
	bodies []packedBody
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

func (r *request) size() int {
	n := 0
	for i := range r.writes {
		n += len(r.writes[i].Body)
	}
	return n
}

// Commit applies writes durably and returns one Result per write. With
// atomic set, either every write is applied or none is, and each Result
// says which writes failed; otherwise each write succeeds or fails alone.
// Writes to the same record apply in order, each seeing the one before.
//
// Commit returns only after the batch holding the writes is synced to the
// write-ahead log. Its error is non-nil when the call as a whole failed: an
// invalid write, a closed store, a storage failure, or the end of ctx
// before the writes were taken for a batch, in which case none is applied.
// After a failed commit, every later Commit fails with that error until the
// store is opened again.
func (s *Store) Commit(ctx context.Context, writes []Write, atomic bool) ([]Result, error) {
	if len(writes) == 0 {
		return nil, nil
	}
	for i := range writes {
		if err := validateWrite(&writes[i]); err != nil {
			return nil, fmt.Errorf("pebblestore: write %d: %w", i, err)
		}
	}
	bodies := make([]packedBody, len(writes))
	for i := range writes {
		if !writes[i].Delete {
			bodies[i] = packBody(writes[i].Body)
		}
	}
	r := &request{writes: writes, bodies: bodies, atomic: atomic, done: make(chan struct{})}
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
// else is queued at that moment up to the batch caps, commits them in one
// batch and answers them, until Close closes the queue.
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
		n, size := first.weight(), first.size()
	drain:
		for n < s.maxBatch && size < softBatchBytes {
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
				size += r.size()
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
// batch is built again without it, so one bad request cannot fail the
// others.
func (s *Store) commitBatch(batch []*request) {
	if err := s.failed(); err != nil {
		for _, r := range batch {
			r.results, r.err = nil, err
		}
		return
	}
	for len(batch) > 0 {
		st := s.newTxState()
		failed := -1
		var err error
		for i, r := range batch {
			if err = st.applyRequest(r); err != nil {
				failed = i
				break
			}
		}
		if err == nil {
			err = st.flush()
		}
		if failed >= 0 {
			st.b.Close()
			batch[failed].results, batch[failed].err = nil, fmt.Errorf("pebblestore: commit: %w", err)
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		empty := st.b.Empty()
		if err == nil && !empty {
			err = commitSynced(st.b)
		}
		st.b.Close()
		if err != nil {
			// The log may hold the batch or not, and Pebble refuses to go on
			// after a failed sync: no later write is acknowledged until the
			// store is opened again.
			err = fmt.Errorf("pebblestore: commit: %w", err)
			s.failure.CompareAndSwap(nil, &err)
			for _, r := range batch {
				r.results, r.err = nil, err
			}
			return
		}
		if empty {
			return
		}
		for name, c := range st.schemas {
			if c.dirty {
				s.counters[name] = c.counters
			}
		}
		s.commits.Add(1)
		s.writes.Add(st.writes)
		s.cache.publish(s.nextView, st.cacheWrites, s.install)
		for name, c := range st.schemas {
			if c.dirty {
				s.feeds.publish(name, c.seq, c.changes)
			}
		}
		return
	}
}

// commitSynced commits b with a sync of the log, turning the fatal error
// that Pebble reports through its logger into an error.
func commitSynced(b *pebble.Batch) (err error) {
	defer recoverFatal(&err)
	return b.Commit(pebble.Sync)
}

// txState is what one batch knows of the schemas it touches.
type txState struct {
	b       *pebble.Batch
	limit   int64
	base    map[string]counters
	schemas map[string]*schemaTx
	writes  uint64
	// cacheWrites are the record values written, for the record cache;
	// written holds their keys, which the batch must be read for.
	cacheWrites []cacheWrite
	written     map[string]struct{}
	cache       *recordCache
}

// schemaTx holds one schema's counters within a batch.
type schemaTx struct {
	counters
	dirty bool
	// changes are the changes of the batch, for the feed's memory.
	changes []Change
}

func (s *Store) newTxState() *txState {
	return &txState{
		b:       s.db.NewIndexedBatch(),
		limit:   s.limit,
		base:    s.counters,
		schemas: make(map[string]*schemaTx),
		written: make(map[string]struct{}),
		cache:   s.cache,
	}
}

func (st *txState) schema(name string) *schemaTx {
	sc, ok := st.schemas[name]
	if !ok {
		sc = &schemaTx{counters: st.base[name]}
		st.schemas[name] = sc
	}
	return sc
}

// flush stores the counters of every schema written to.
func (st *txState) flush() error {
	for name, sc := range st.schemas {
		if !sc.dirty {
			continue
		}
		if err := st.b.Set(countersKey(name), encodeCounters(sc.counters), nil); err != nil {
			return err
		}
	}
	return nil
}

// current is what a write's condition is checked against.
type current struct {
	exists bool
	meta   recordMeta
	value  []byte    // the stored record value, valid until closer is closed
	stored []byte    // the body as value holds it, when body is nil
	body   []byte    // the body, when the record cache had it expanded
	closer io.Closer // nil when the record does not exist
}

func (c current) live() bool { return c.exists && !c.meta.deleted }

func (c current) close() {
	if c.closer != nil {
		_ = c.closer.Close()
	}
}

// current reads a record as the batch would leave it. The caller closes
// the result.
func (st *txState) current(schema, id string) (current, error) {
	key := recordKey(schema, id)
	if _, written := st.written[string(key)]; !written {
		// The committer is the only writer, so between its commits the
		// cache holds what the database holds.
		if e, ok := st.cache.get(key); ok {
			return current{exists: true, meta: e.meta, value: e.value, body: e.body}, nil
		}
	}
	v, closer, err := st.b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return current{}, nil
	}
	if err != nil {
		return current{}, err
	}
	m, stored, err := decodeRecord(v)
	if err != nil {
		_ = closer.Close()
		return current{}, fmt.Errorf("record %s/%s: %w", schema, id, err)
	}
	return current{exists: true, meta: m, value: v, stored: stored, closer: closer}, nil
}

// historyValue returns the history entry of the revision cur, which w
// supersedes: its value stored as a difference from w's body when that is
// smaller, else as it is. A body that does not expand is kept as it is
// too, so that a damaged record can still be replaced.
func historyValue(cur *current, w *Write) []byte {
	if cur.meta.deleted || w.Delete {
		return cur.value
	}
	old := cur.body
	if old == nil {
		var err error
		if old, _, err = expand(cur.meta, cur.stored); err != nil {
			return cur.value
		}
	}
	m := cur.meta
	m.compressed, m.delta = false, true
	// The header leaves room for a small difference to follow it.
	v := appendDelta(encodeRecord(m, packedBody{}), old, w.Body)
	if len(v) >= len(cur.value) {
		return cur.value
	}
	return v
}

// check returns the reason w cannot be applied to a record in state cur.
func check(w *Write, cur *current) error {
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

func conflict(w *Write, cur *current) error {
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
		reject, err := r.apply(st.b)
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
		if st.b.Len() > hardBatchBytes {
			return fmt.Errorf("writes of more than %d bytes in one commit", hardBatchBytes)
		}
		res, err := st.applyWrite(&r.writes[i], r.bodies[i])
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
			// Only the header's scalars are used from here on.
			cur.close()
			cur.value, cur.closer = nil, nil
			cur.meta.op, cur.meta.by, cur.meta.extra = nil, nil, nil
		}
		if err := check(w, &cur); err != nil {
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
func (st *txState) applyWrite(w *Write, body packedBody) (Result, error) {
	cur, err := st.current(w.Schema, w.ID)
	if err != nil {
		return Result{}, err
	}
	defer cur.close()
	if err := check(w, &cur); err != nil {
		return Result{Err: err}, nil
	}
	sc := st.schema(w.Schema)
	rev := cur.meta.revision + 1
	sc.seq++
	sc.dirty = true
	seq := sc.seq
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

	// The record's value is the newest history entry; the history keyspace
	// keeps the revisions before it, within the limit. Each write pushes
	// out at most the one revision at the cutoff, so a point delete keeps
	// the history trimmed; Open trims what a lowered limit leaves over.
	b := st.b
	cutoff := int64(0)
	if st.limit > 0 {
		cutoff = rev - st.limit
	}
	if cur.exists && cur.meta.revision > cutoff {
		if err := b.Set(historyKey(w.Schema, w.ID, cur.meta.revision), historyValue(&cur, w), nil); err != nil {
			return Result{}, err
		}
	}
	if cur.exists && cutoff > 0 && cutoff < cur.meta.revision {
		if err := b.Delete(historyKey(w.Schema, w.ID, cutoff), nil); err != nil {
			return Result{}, err
		}
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
	key := recordKey(w.Schema, w.ID)
	if err := b.Set(key, rv, nil); err != nil {
		return Result{}, err
	}
	plain := w.Body
	if w.Delete {
		plain = nil
	}
	entry, err := cachedWrite(rv, plain)
	if err != nil {
		return Result{}, fmt.Errorf("record %s/%s as encoded: %w", w.Schema, w.ID, err)
	}
	st.cacheWrites = append(st.cacheWrites, cacheWrite{key: key, entry: entry})
	st.written[string(key)] = struct{}{}
	if cur.exists {
		if err := b.Delete(changeKey(w.Schema, cur.meta.seq), nil); err != nil {
			return Result{}, err
		}
	}
	sc.changes = append(sc.changes, Change{Seq: seq, ID: w.ID, Revision: rev, Op: op, At: at})
	cv := encodeChange(changeValue{revision: rev, at: at, op: op, id: w.ID})
	if err := b.Set(changeKey(w.Schema, seq), cv, nil); err != nil {
		return Result{}, err
	}
	switch {
	case cur.live() && w.Delete:
		sc.count--
	case !cur.live() && !w.Delete:
		sc.count++
	}
	st.writes++
	return Result{Revision: rev, Seq: seq, Created: !cur.live()}, nil
}
