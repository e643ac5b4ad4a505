package main

import (
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"
)

var boltBucket = []byte("kv")

type boltEngine struct {
	db *bbolt.DB
	g  *groupCommitter
}

func openBolt(dir string) (engine, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(filepath.Join(dir, "data.db"), 0o600, &bbolt.Options{
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	e := &boltEngine{db: db}
	e.g = newGroupCommitter(e.load)
	return e, nil
}

func (e *boltEngine) put(key, value []byte) error { return e.g.put(key, value) }

func (e *boltEngine) load(keys, values [][]byte) error {
	return e.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(boltBucket)
		if err != nil {
			return err
		}
		for i, k := range keys {
			if err := b.Put(k, values[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltEngine) scan(fn func(key, value []byte)) error {
	return e.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(boltBucket).ForEach(func(k, v []byte) error {
			fn(k, v)
			return nil
		})
	})
}

func (e *boltEngine) settle() error { return nil }

func (e *boltEngine) close() error {
	e.g.close()
	return e.db.Close()
}
