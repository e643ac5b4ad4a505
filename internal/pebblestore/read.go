package pebblestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble"
)

// recordOf builds a Record from a stored value's parts, copying the body
// out of Pebble's memory.
func recordOf(schema string, id []byte, m recordMeta, stored []byte) (Record, error) {
	body, err := ownBody(m, stored)
	if err != nil {
		return Record{}, err
	}
	return withBody(Record{Schema: schema, ID: string(id)}, m, body), nil
}

// ownBody returns a record's body in memory of its own: expanded, or
// copied out of Pebble's.
func ownBody(m recordMeta, stored []byte) ([]byte, error) {
	body, fresh, err := expand(m, stored)
	if err != nil || fresh {
		return body, err
	}
	return bytes.Clone(body), nil
}

// withBody completes r with the metadata and, unless it is a tombstone,
// the body given, which r then shares.
func withBody(r Record, m recordMeta, body []byte) Record {
	r.Revision, r.Deleted, r.UpdatedAt, r.Seq = m.revision, m.deleted, m.at, m.seq
	if !m.deleted {
		r.Body = body[:len(body):len(body)]
		if r.Body == nil {
			r.Body = []byte{}
		}
	}
	return r
}

// Get returns a record, or a tombstone with Deleted set. It returns
// ErrNotFound for a record that never existed.
func (s *Store) Get(ctx context.Context, schema, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if s.view.Load() == nil {
		return Record{}, ErrClosed
	}
	key := recordKey(schema, id)
	e, ok := s.cache.get(key)
	if !ok {
		v, err := s.acquire()
		if err != nil {
			return Record{}, err
		}
		defer s.release(v)
		found, closer, err := v.snap.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			return Record{}, ErrNotFound
		}
		if err != nil {
			return Record{}, fmt.Errorf("pebblestore: get %s/%s: %w", schema, id, err)
		}
		value := bytes.Clone(found)
		if err := closer.Close(); err != nil {
			return Record{}, fmt.Errorf("pebblestore: get %s/%s: %w", schema, id, err)
		}
		if e, err = cachedRead(value); err != nil {
			return Record{}, fmt.Errorf("pebblestore: record %s/%s: %w", schema, id, err)
		}
		s.cache.fill(key, e, v.gen)
	}
	// The entry is the store's own, shared with the cache: no copy more.
	return withBody(Record{Schema: schema, ID: id}, e.meta, e.body), nil
}

// iterate calls fn for each key and value in [lower, upper) from the
// first key at or after start, until fn returns false. The key and value
// are valid only during the call.
func iterate(rd pebble.Reader, lower, upper, start []byte, fn func(k, v []byte) (bool, error)) error {
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for ok := it.SeekGE(start); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		more, err := fn(it.Key(), v)
		if err != nil {
			it.Close()
			return err
		}
		if !more {
			break
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// Scan returns at most limit live records of schema with ids after the
// cursor after ("" starts at the beginning), in bytewise order of id.
// Callers page through with the last id returned; each call is one short
// iteration.
func (s *Store) Scan(ctx context.Context, schema, after string, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pebblestore: scan limit %d is not positive", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := schemaPrefix(prefixRecord, schema)
	start := prefix
	if after != "" {
		// The least id after the cursor is the cursor and a zero byte.
		start = append(append(bytes.Clone(prefix), after...), 0)
	}
	var out []Record
	err := s.read(func(rd pebble.Reader) error {
		out = make([]Record, 0, min(limit, 1024))
		return iterate(rd, prefix, successor(prefix), start, func(k, v []byte) (bool, error) {
			id := k[len(prefix):]
			m, stored, err := decodeRecord(v)
			if err == nil && !m.deleted {
				var rec Record
				if rec, err = recordOf(schema, id, m, stored); err == nil {
					out = append(out, rec)
				}
			}
			if err != nil {
				return false, fmt.Errorf("pebblestore: record %s/%s: %w", schema, id, err)
			}
			return len(out) < limit, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count returns the number of live records of schema.
func (s *Store) Count(ctx context.Context, schema string) (int64, error) {
	c, err := s.schemaCounters(ctx, schema)
	return c.count, err
}

// LastSeq returns the sequence number of schema's newest change, 0 when it
// has none.
func (s *Store) LastSeq(ctx context.Context, schema string) (uint64, error) {
	c, err := s.schemaCounters(ctx, schema)
	return c.seq, err
}

func (s *Store) schemaCounters(ctx context.Context, schema string) (counters, error) {
	if err := ctx.Err(); err != nil {
		return counters{}, err
	}
	var c counters
	err := s.read(func(rd pebble.Reader) error {
		v, err := getValue(rd, countersKey(schema))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err == nil {
			c, err = decodeCounters(v)
		}
		if err != nil {
			return fmt.Errorf("pebblestore: counters of %s: %w", schema, err)
		}
		return nil
	})
	return c, err
}

// History returns the revisions kept for a record, newest first, bodies
// included. It returns ErrNotFound for a record that never existed. A
// deleted record's history stays until retention drops it.
func (s *Store) History(ctx context.Context, schema, id string) ([]HistoryEntry, error) {
	return s.HistorySince(ctx, schema, id, 1)
}

// HistorySince is History without the revisions before from: it reads and
// rebuilds only the newest ones, down to from.
func (s *Store) HistorySince(ctx context.Context, schema, id string, from int64) ([]HistoryEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []HistoryEntry
	var deltas [][]byte // out[i]'s body as a difference, or nil
	err := s.read(func(rd pebble.Reader) error {
		v, closer, err := rd.Get(recordKey(schema, id))
		if errors.Is(err, pebble.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("pebblestore: get %s/%s: %w", schema, id, err)
		}
		newest, delta, err := historyEntry(v)
		closer.Close()
		if err == nil && delta != nil {
			err = errCorrupt
		}
		if err != nil {
			return fmt.Errorf("pebblestore: record %s/%s: %w", schema, id, err)
		}
		// Entries beyond the limit are left over from a higher limit until
		// Open trims them.
		first := max(1, from)
		if s.limit > 0 {
			first = max(first, newest.Revision-s.limit+1)
		}
		prefix := historyPrefix(schema, id)
		start := binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(first))
		err = iterate(rd, prefix, successor(prefix), start, func(k, v []byte) (bool, error) {
			e, delta, err := historyEntry(v)
			if err != nil {
				return false, fmt.Errorf("pebblestore: history of %s/%s: %w", schema, id, err)
			}
			if rev := k[len(prefix):]; len(rev) != 8 || binary.BigEndian.Uint64(rev) != uint64(e.Revision) || e.Revision >= newest.Revision {
				return false, fmt.Errorf("pebblestore: history key of %s/%s revision %d: %w", schema, id, e.Revision, errCorrupt)
			}
			out = append(out, e)
			deltas = append(deltas, delta)
			return true, nil
		})
		if err != nil {
			return err
		}
		if newest.Revision >= from {
			out = append(out, newest)
			deltas = append(deltas, nil)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Each difference is from the body of the revision after it, so the
	// bodies are rebuilt newest first.
	for i := len(out) - 2; i >= 0; i-- {
		if deltas[i] == nil {
			continue
		}
		next := out[i+1]
		if next.Revision != out[i].Revision+1 || next.Body == nil {
			return nil, fmt.Errorf("pebblestore: history of %s/%s revision %d: %w", schema, id, out[i].Revision, errCorrupt)
		}
		if out[i].Body, err = applyDelta(deltas[i], next.Body); err != nil {
			return nil, fmt.Errorf("pebblestore: history of %s/%s revision %d: %w", schema, id, out[i].Revision, err)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// historyEntry builds a HistoryEntry from a record value, copying it out
// of Pebble's memory. For a body stored as a difference, the entry has no
// body and delta holds the difference.
func historyEntry(v []byte) (e HistoryEntry, delta []byte, err error) {
	m, stored, err := decodeRecord(v)
	if err != nil {
		return HistoryEntry{}, nil, err
	}
	e = HistoryEntry{
		Revision: m.revision,
		Op:       string(m.op),
		By:       string(m.by),
		Version:  m.version,
		At:       m.at,
		Extra:    bytes.Clone(m.extra),
	}
	switch {
	case m.deleted:
	case m.delta:
		delta = bytes.Clone(stored)
		if delta == nil {
			delta = []byte{}
		}
	default:
		if e.Body, err = ownBody(m, stored); err != nil {
			return HistoryEntry{}, nil, err
		}
		if e.Body == nil {
			e.Body = []byte{}
		}
	}
	return e, delta, nil
}

// Changes returns at most limit entries of schema's change feed with
// sequence numbers above since, in ascending order. Each record appears
// once, at its newest change.
func (s *Store) Changes(ctx context.Context, schema string, since uint64, limit int) ([]Change, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pebblestore: changes limit %d is not positive", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if since == math.MaxUint64 {
		return nil, nil
	}
	prefix := schemaPrefix(prefixChange, schema)
	var out []Change
	err := s.read(func(rd pebble.Reader) error {
		return iterate(rd, prefix, successor(prefix), changeKey(schema, since+1), func(k, v []byte) (bool, error) {
			key := k[len(prefix):]
			if len(key) != 8 {
				return false, fmt.Errorf("pebblestore: change key in %s: %w", schema, errCorrupt)
			}
			seq := binary.BigEndian.Uint64(key)
			cv, err := decodeChange(v)
			if err != nil {
				return false, fmt.Errorf("pebblestore: change %d of %s: %w", seq, schema, err)
			}
			out = append(out, Change{Seq: seq, ID: cv.id, Revision: cv.revision, Op: cv.op, At: cv.at})
			return len(out) < limit, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
