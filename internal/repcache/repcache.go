// Package repcache keeps encoded representations of records, so that a
// read of an unchanged record is served without decoding and encoding it
// again. Entries are keyed by revision: a reader that looked up the current
// revision first can never be served a stale one, and entries of old
// revisions simply age out. Memory is bounded by a byte budget.
package repcache

import (
	"container/list"
	"sync"
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

type item struct {
	key   Key
	entry Entry
}

// A Cache is a byte-bounded LRU cache of representations, safe for
// concurrent use.
type Cache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	order    *list.List // front: most recently used
	items    map[Key]*list.Element
}

// overhead approximates the bookkeeping bytes of one entry beyond its body.
const overhead = 160

// New returns a cache that holds at most maxBytes of entries; maxBytes ≤ 0
// disables it.
func New(maxBytes int) *Cache {
	return &Cache{maxBytes: maxBytes, order: list.New(), items: make(map[Key]*list.Element)}
}

func size(k Key, e Entry) int {
	return len(e.Body) + len(k.Schema) + len(k.ID) + len(k.Repr) + len(e.Encoding) + overhead
}

// Get returns the cached entry for k.
func (c *Cache) Get(k Key) (Entry, bool) {
	if c == nil || c.maxBytes <= 0 {
		return Entry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return Entry{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*item).entry, true
}

// Put stores an entry, evicting the least recently used ones to stay within
// the budget. An entry larger than an eighth of the budget is not kept, so
// one huge record cannot flush everything else. The caller must not modify
// e.Body afterwards.
func (c *Cache) Put(k Key, e Entry) {
	if c == nil || c.maxBytes <= 0 {
		return
	}
	n := size(k, e)
	if n > c.maxBytes/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		it := el.Value.(*item)
		c.bytes += n - size(it.key, it.entry)
		it.entry = e
		c.order.MoveToFront(el)
	} else {
		c.items[k] = c.order.PushFront(&item{key: k, entry: e})
		c.bytes += n
	}
	for c.bytes > c.maxBytes {
		el := c.order.Back()
		it := el.Value.(*item)
		c.order.Remove(el)
		delete(c.items, it.key)
		c.bytes -= size(it.key, it.entry)
	}
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Bytes returns the bytes the entries account for.
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
