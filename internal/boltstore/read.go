package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"go.etcd.io/bbolt"
)

// schemaBucket returns the bucket of a schema's records in a read
// transaction, or nil when the schema has none.
func schemaBucket(tx *bbolt.Tx, schema string) *bbolt.Bucket {
	return tx.Bucket(bucketRecords).Bucket([]byte(schema))
}

// record builds a Record from a stored value, copying the body out of the
// transaction's memory.
func record(schema string, id []byte, v []byte) (Record, error) {
	m, body, err := decodeRecord(v)
	if err != nil {
		return Record{}, fmt.Errorf("boltstore: record %s/%s: %w", schema, id, err)
	}
	return recordOf(schema, id, m, body), nil
}

func recordOf(schema string, id []byte, m recordMeta, body []byte) Record {
	r := Record{
		Schema:    schema,
		ID:        string(id),
		Revision:  m.revision,
		Deleted:   m.deleted,
		UpdatedAt: m.at,
		Seq:       m.seq,
	}
	if !m.deleted {
		r.Body = bytes.Clone(body)
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
	var r Record
	err := s.view(func(tx *bbolt.Tx) error {
		b := schemaBucket(tx, schema)
		if b == nil {
			return ErrNotFound
		}
		v := b.Bucket(bucketRecs).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = record(schema, []byte(id), v)
		return err
	})
	return r, err
}

// Scan returns at most limit live records of schema with ids after the
// cursor after ("" starts at the beginning), in bytewise order of id.
// Callers page through with the last id returned; each call is one short
// read transaction.
func (s *Store) Scan(ctx context.Context, schema, after string, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("boltstore: scan limit %d is not positive", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Record
	err := s.view(func(tx *bbolt.Tx) error {
		b := schemaBucket(tx, schema)
		if b == nil {
			return nil
		}
		c := b.Bucket(bucketRecs).Cursor()
		var k, v []byte
		if after == "" {
			k, v = c.First()
		} else {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		out = make([]Record, 0, min(limit, 1024))
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			m, body, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("boltstore: record %s/%s: %w", schema, k, err)
			}
			if !m.deleted {
				out = append(out, recordOf(schema, k, m, body))
			}
		}
		return nil
	})
	return out, err
}

// Count returns the number of live records of schema.
func (s *Store) Count(ctx context.Context, schema string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n uint64
	err := s.view(func(tx *bbolt.Tx) error {
		b := schemaBucket(tx, schema)
		if b == nil {
			return nil
		}
		var err error
		n, err = getUint64(b.Get(keyCount))
		return err
	})
	if err == nil && n > math.MaxInt64 {
		err = fmt.Errorf("boltstore: count of %s: %w", schema, errCorrupt)
	}
	return int64(n), err
}

// History returns the revisions kept for a record, newest first, bodies
// included. It returns ErrNotFound for a record that never existed. A
// deleted record's history stays until retention drops it.
func (s *Store) History(ctx context.Context, schema, id string) ([]HistoryEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []HistoryEntry
	err := s.view(func(tx *bbolt.Tx) error {
		b := schemaBucket(tx, schema)
		if b == nil {
			return ErrNotFound
		}
		v := b.Bucket(bucketRecs).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		newest, err := historyEntry(v)
		if err != nil {
			return fmt.Errorf("boltstore: record %s/%s: %w", schema, id, err)
		}
		prefix := historyPrefix(id)
		c := b.Bucket(bucketHistory).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			e, err := historyEntry(v)
			if err != nil {
				return fmt.Errorf("boltstore: history of %s/%s: %w", schema, id, err)
			}
			if rev := k[len(prefix):]; len(rev) != 8 || binary.BigEndian.Uint64(rev) != uint64(e.Revision) || e.Revision >= newest.Revision {
				return fmt.Errorf("boltstore: history key of %s/%s revision %d: %w", schema, id, e.Revision, errCorrupt)
			}
			out = append(out, e)
		}
		out = append(out, newest)
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// historyEntry builds a HistoryEntry from a record value, copying it out
// of the transaction's memory.
func historyEntry(v []byte) (HistoryEntry, error) {
	m, body, err := decodeRecord(v)
	if err != nil {
		return HistoryEntry{}, err
	}
	e := HistoryEntry{
		Revision: m.revision,
		Op:       string(m.op),
		By:       string(m.by),
		Version:  m.version,
		At:       m.at,
		Extra:    bytes.Clone(m.extra),
	}
	if !m.deleted {
		e.Body = bytes.Clone(body)
		if e.Body == nil {
			e.Body = []byte{}
		}
	}
	return e, nil
}

// Changes returns at most limit entries of schema's change feed with
// sequence numbers above since, in ascending order. Each record appears
// once, at its newest change.
func (s *Store) Changes(ctx context.Context, schema string, since uint64, limit int) ([]Change, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("boltstore: changes limit %d is not positive", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if since == math.MaxUint64 {
		return nil, nil
	}
	var out []Change
	err := s.view(func(tx *bbolt.Tx) error {
		b := schemaBucket(tx, schema)
		if b == nil {
			return nil
		}
		c := b.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(seqKey(since + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			seq, err := getUint64(k)
			if err != nil {
				return fmt.Errorf("boltstore: change key in %s: %w", schema, err)
			}
			cv, err := decodeChange(v)
			if err != nil {
				return fmt.Errorf("boltstore: change %d of %s: %w", seq, schema, err)
			}
			out = append(out, Change{Seq: seq, ID: cv.id, Revision: cv.revision, Op: cv.op, At: cv.at})
		}
		return nil
	})
	return out, err
}

// LastSeq returns the sequence number of schema's newest change, 0 when it
// has none.
func (s *Store) LastSeq(ctx context.Context, schema string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.view(func(tx *bbolt.Tx) error {
		b := schemaBucket(tx, schema)
		if b == nil {
			return nil
		}
		var err error
		seq, err = getUint64(b.Get(keySeq))
		return err
	})
	return seq, err
}
