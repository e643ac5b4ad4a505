package main

import (
	"github.com/cockroachdb/pebble"
)

type pebbleEngine struct{ db *pebble.DB }

// quietLogger keeps Pebble's informational messages out of the table.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Fatalf(string, ...any) {}

func openPebble(dir string) (engine, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, err
	}
	return &pebbleEngine{db: db}, nil
}

func (e *pebbleEngine) put(key, value []byte) error { return e.db.Set(key, value, pebble.Sync) }

func (e *pebbleEngine) load(keys, values [][]byte) error {
	b := e.db.NewBatch()
	defer b.Close()
	for i, k := range keys {
		if err := b.Set(k, values[i], nil); err != nil {
			return err
		}
	}
	return e.db.Apply(b, pebble.Sync)
}

func (e *pebbleEngine) scan(fn func(key, value []byte)) error {
	it, err := e.db.NewIter(nil)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		fn(it.Key(), v)
	}
	return it.Close()
}

func (e *pebbleEngine) settle() error { return e.db.Flush() }

func (e *pebbleEngine) close() error { return e.db.Close() }
