package pebblestore

import (
	"bytes"
	"sync"

	"github.com/ferry-dev/ferry/internal/lru"
)

// recordCache keeps the stored values of recently read and written
// records, so that a read of a hot record costs a map lookup rather than a
// walk of Pebble's memtables and tables. Its memory is bounded by a byte
// budget, least recently used first out.
//
// It never serves a value older than the read view it stands for. The
// committer installs each new read view and puts the values that commit
// wrote in one critical section (publish), so a reader finds either the old
// view with the old values or the new view with the new ones. A reader
// that missed fills in what it read only if its view is still the newest
// (fill), so a value read from a view that a commit has since replaced
// never lands after that commit's own.
type recordCache struct {
	mu      sync.Mutex
	enabled bool
	gen     uint64 // the generation of the newest view
	lru     *lru.Cache[string, cached]
}

// A cached record is its stored value, with its header decoded and its
// body expanded once if it is stored compressed, so that reading a hot
// record decodes and expands nothing.
type cached struct {
	value []byte
	meta  recordMeta // aliases value
	body  []byte     // aliases value unless the body is stored compressed
}

// cacheOverhead approximates the bookkeeping bytes of one entry.
const cacheOverhead = 128

func newRecordCache(maxBytes int) *recordCache {
	return &recordCache{enabled: maxBytes > 0, lru: lru.New(maxBytes, func(k string, e cached) int {
		n := len(k) + len(e.value) + cacheOverhead
		if e.meta.compressed {
			n += len(e.body)
		}
		return n
	})}
}

// cachedRead is the entry of a value read from the store, which the
// entry then owns.
func cachedRead(value []byte) (cached, error) {
	m, stored, err := decodeRecord(value)
	if err != nil {
		return cached{}, err
	}
	body, _, err := expand(m, stored)
	if err != nil {
		return cached{}, err
	}
	return cached{value: value, meta: m, body: body}, nil
}

// cachedWrite is the entry of a value just encoded from body. The body
// is the writer's: the entry shares the value's own copy of it or, if
// the value holds it compressed, keeps one of its own.
func cachedWrite(value, body []byte) (cached, error) {
	m, stored, err := decodeRecord(value)
	if err != nil {
		return cached{}, err
	}
	if !m.compressed {
		return cached{value: value, meta: m, body: stored}, nil
	}
	return cached{value: value, meta: m, body: bytes.Clone(body)}, nil
}

// get returns the entry for key. The caller must not modify it.
func (c *recordCache) get(key []byte) (cached, bool) {
	if !c.enabled {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(string(key))
}

// fill records what a reader found at key through a view of generation
// gen, unless a newer view was installed since or the key is cached
// already (by a commit at least as new as the reader's view).
func (c *recordCache) fill(key []byte, e cached, gen uint64) {
	if !c.enabled {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.lru.Contains(string(key)) {
		return
	}
	c.lru.Put(string(key), e)
}

// A cacheWrite is a record value a commit wrote.
type cacheWrite struct {
	key   []byte
	entry cached
}

// publish runs install, which makes the view of generation gen the newest,
// and puts the values of the commit that view shows, as one step for
// readers. A value too large to cache removes the one it replaces.
func (c *recordCache) publish(gen uint64, writes []cacheWrite, install func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	install()
	c.gen = gen
	if !c.enabled {
		return
	}
	for _, w := range writes {
		c.lru.Put(string(w.key), w.entry)
	}
}
