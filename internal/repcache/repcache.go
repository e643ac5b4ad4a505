// Package repcache keeps encoded representations of records, so that a
// read of an unchanged record is served without decoding and encoding it
// again. Entries are keyed by revision: a reader that looked up the current
// revision first can never be served a stale one, and entries of old
// revisions simply age out. Memory is bounded by a byte budget.
package repcache

import (
	"sync"

	"github.com/ferry-dev/ferry/internal/lru"
)

// A Key names one representation of one revision of a record.
type Key struct {
	Schema   string
	ID       string
	Revision int64
	// Repr names the representation: format, schema version, content
	// coding.
	Repr string
}

// An Entry is a cached representation.
type Entry struct {
	Body []byte
	// Encoding is the content coding applied to Body; "" for none.
	Encoding string
}

// A Cache is a byte-bounded LRU cache of representations, safe for
// concurrent use.
type Cache struct {
	mu      sync.Mutex
	enabled bool
	lru     *lru.Cache[Key, Entry]
}

// overhead approximates the bookkeeping bytes of one entry beyond its body.
const overhead = 160

// New returns a cache that holds at most maxBytes of entries; maxBytes ≤ 0
// disables it.
func New(maxBytes int) *Cache {
	return &Cache{enabled: maxBytes > 0, lru: lru.New(maxBytes, size)}
}

func size(k Key, e Entry) int {
	return len(e.Body) + len(k.Schema) + len(k.ID) + len(k.Repr) + len(e.Encoding) + overhead
}

// Get returns the cached entry for k.
func (c *Cache) Get(k Key) (Entry, bool) {
	if c == nil || !c.enabled {
		return Entry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(k)
}

// Put stores an entry, evicting the least recently used ones to stay within
// the budget. An entry larger than an eighth of the budget is not kept, so
// one huge record cannot flush everything else. The caller must not modify
// e.Body afterwards.
func (c *Cache) Put(k Key, e Entry) {
	if c == nil || !c.enabled {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Put(k, e)
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes returns the bytes the entries account for.
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Bytes()
}
