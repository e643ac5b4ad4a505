package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
)

// exec runs apply in the committer's next batch, so that these rare writes
// share its fsync like record writes do.
func (s *Store) exec(ctx context.Context, apply applyFunc) error {
	r := &request{apply: apply, done: make(chan struct{})}
	if err := s.submit(ctx, r); err != nil {
		return err
	}
	return r.err
}

func validName(what, name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("pebblestore: %s must have 1 to %d bytes, has %d", what, maxNameLen, len(name))
	}
	return nil
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
		return fmt.Errorf("pebblestore: schema %s version %d is out of range", name, version)
	}
	key := defKey(name, version)
	def = bytes.Clone(def)
	return s.exec(ctx, func(b *pebble.Batch) (reject, err error) {
		old, err := getValue(b, key)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, err
		case bytes.Equal(old, def):
			return nil, nil
		default:
			return fmt.Errorf("pebblestore: schema %s version %d is stored with another definition: %w", name, version, ErrConflict), nil
		}
		return nil, b.Set(key, def, nil)
	})
}

// SchemaVersions returns the stored definitions of a schema in ascending
// order of version, or ErrNotFound when it has none.
func (s *Store) SchemaVersions(ctx context.Context, name string) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := schemaPrefix(prefixDef, name)
	var out [][]byte
	err := s.read(func(rd pebble.Reader) error {
		return iterate(rd, prefix, successor(prefix), prefix, func(_, v []byte) (bool, error) {
			out = append(out, bytes.Clone(v))
			return true, nil
		})
	})
	if err == nil && len(out) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SchemaNames returns the names of the schemas that have at least one
// stored version, in bytewise order.
func (s *Store) SchemaNames(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := s.read(func(rd pebble.Reader) error {
		prefix := []byte{prefixDef}
		it, err := rd.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: successor(prefix)})
		if err != nil {
			return err
		}
		// One seek per name skips over its versions.
		for ok := it.First(); ok; {
			name, _, err := readName(it.Key()[1:])
			if err != nil {
				it.Close()
				return fmt.Errorf("pebblestore: definition key %q: %w", it.Key(), err)
			}
			out = append(out, string(name))
			next := successor(schemaPrefix(prefixDef, string(name)))
			if next == nil {
				break
			}
			ok = it.SeekGE(next)
		}
		return errors.Join(it.Error(), it.Close())
	})
	if err != nil {
		return nil, err
	}
	// Keys order names by length first.
	slices.Sort(out)
	return out, nil
}

// PutSchemaMeta replaces a schema's metadata (opaque bytes such as its
// compatibility mode and deprecations).
func (s *Store) PutSchemaMeta(ctx context.Context, name string, meta []byte) error {
	if err := validName("schema name", name); err != nil {
		return err
	}
	return s.putValue(ctx, metaKey(name), meta)
}

// SchemaMeta returns a schema's metadata, or ErrNotFound when none is
// stored.
func (s *Store) SchemaMeta(ctx context.Context, name string) ([]byte, error) {
	return s.getValue(ctx, metaKey(name))
}

// PutJob replaces the state of a background job (opaque bytes).
func (s *Store) PutJob(ctx context.Context, id string, state []byte) error {
	if err := validName("job id", id); err != nil {
		return err
	}
	return s.putValue(ctx, jobKey(id), state)
}

// Job returns the state of a job, or ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) ([]byte, error) {
	return s.getValue(ctx, jobKey(id))
}

// Jobs returns the ids of the stored jobs in bytewise order.
func (s *Store) Jobs(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := []byte{prefixJob}
	var out []string
	err := s.read(func(rd pebble.Reader) error {
		return iterate(rd, prefix, successor(prefix), prefix, func(k, _ []byte) (bool, error) {
			out = append(out, string(k[1:]))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) putValue(ctx context.Context, key, value []byte) error {
	value = bytes.Clone(value)
	if value == nil {
		value = []byte{}
	}
	return s.exec(ctx, func(b *pebble.Batch) (reject, err error) {
		return nil, b.Set(key, value, nil)
	})
}

func (s *Store) getValue(ctx context.Context, key []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.read(func(rd pebble.Reader) error {
		var err error
		out, err = getValue(rd, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
