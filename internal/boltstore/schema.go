package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// exec runs apply in the committer's next transaction, so that these rare
// writes share its fsync like record writes do.
func (s *Store) exec(ctx context.Context, apply applyFunc) error {
	r := &request{apply: apply, done: make(chan struct{})}
	if err := s.submit(ctx, r); err != nil {
		return err
	}
	return r.err
}

func validName(what, name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("boltstore: %s must have 1 to %d bytes, has %d", what, maxNameLen, len(name))
	}
	return nil
}

func versionKey(version int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(version))
}

// PutSchemaVersion stores the definition of one version of a schema.
// Storing the same bytes again is a no-op; other bytes for a stored version
// are refused with ErrConflict. Versions must be at least 1; which versions
// may follow which is the caller's rule.
func (s *Store) PutSchemaVersion(ctx context.Context, name string, version int, def []byte) error {
	if err := validName("schema name", name); err != nil {
		return err
	}
	if version < 1 || version > 1<<31-1 {
		return fmt.Errorf("boltstore: schema %s version %d is out of range", name, version)
	}
	key := versionKey(version)
	return s.exec(ctx, func(tx *bbolt.Tx) (reject, err error) {
		defs := tx.Bucket(bucketDefs)
		if b := defs.Bucket([]byte(name)); b != nil {
			if old := b.Get(key); old != nil {
				if bytes.Equal(old, def) {
					return nil, nil
				}
				return fmt.Errorf("boltstore: schema %s version %d is stored with another definition: %w", name, version, ErrConflict), nil
			}
		}
		b, err := defs.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return nil, err
		}
		return nil, b.Put(key, bytes.Clone(def))
	})
}

// SchemaVersions returns the stored definitions of a schema in ascending
// order of version, or ErrNotFound when it has none.
func (s *Store) SchemaVersions(ctx context.Context, name string) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out [][]byte
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDefs).Bucket([]byte(name))
		if b == nil {
			return ErrNotFound
		}
		return b.ForEach(func(_, v []byte) error {
			out = append(out, bytes.Clone(v))
			return nil
		})
	})
	if err == nil && len(out) == 0 {
		err = ErrNotFound
	}
	return out, err
}

// SchemaNames returns the names of the schemas that have at least one
// stored version, in bytewise order.
func (s *Store) SchemaNames(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDefs).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// PutSchemaMeta replaces a schema's metadata (opaque bytes such as its
// compatibility mode and deprecations).
func (s *Store) PutSchemaMeta(ctx context.Context, name string, meta []byte) error {
	return s.putValue(ctx, bucketMeta, "schema name", name, meta)
}

// SchemaMeta returns a schema's metadata, or ErrNotFound when none is
// stored.
func (s *Store) SchemaMeta(ctx context.Context, name string) ([]byte, error) {
	return s.getValue(ctx, bucketMeta, name)
}

// PutJob replaces the state of a background job (opaque bytes).
func (s *Store) PutJob(ctx context.Context, id string, state []byte) error {
	return s.putValue(ctx, bucketJobs, "job id", id, state)
}

// Job returns the state of a job, or ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) ([]byte, error) {
	return s.getValue(ctx, bucketJobs, id)
}

// Jobs returns the ids of the stored jobs in bytewise order.
func (s *Store) Jobs(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

func (s *Store) putValue(ctx context.Context, bucket []byte, what, key string, value []byte) error {
	if err := validName(what, key); err != nil {
		return err
	}
	value = bytes.Clone(value)
	if value == nil {
		value = []byte{}
	}
	return s.exec(ctx, func(tx *bbolt.Tx) (reject, err error) {
		return nil, tx.Bucket(bucket).Put([]byte(key), value)
	})
}

func (s *Store) getValue(ctx context.Context, bucket []byte, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		if out == nil {
			out = []byte{}
		}
		return nil
	})
	return out, err
}
