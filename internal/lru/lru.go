// Package lru is a least-recently-used cache bounded by a byte budget. It
// is not safe for concurrent use: its users hold their own locks, which
// usually guard more than the cache.
package lru

import "container/list"

// A Cache holds entries within a byte budget, evicting the least recently
// used first. An entry over an eighth of the budget is never kept, so that
// one huge value cannot flush all the others.
type Cache[K comparable, V any] struct {
	maxBytes int
	bytes    int
	size     func(K, V) int
	order    *list.List // of *entry[K, V], front: most recently used
	items    map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	value V
	size  int
}

// New returns a cache of at most maxBytes, as measured by size; a budget
// of 0 or less keeps nothing.
func New[K comparable, V any](maxBytes int, size func(K, V) int) *Cache[K, V] {
	return &Cache[K, V]{maxBytes: maxBytes, size: size, order: list.New(), items: make(map[K]*list.Element)}
}

// Get returns the value at k and marks it used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	el, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry[K, V]).value, true
}

// Contains reports whether k has an entry, without marking it used.
func (c *Cache[K, V]) Contains(k K) bool {
	_, ok := c.items[k]
	return ok
}

// Put stores v at k, replacing what was there, and evicts down to the
// budget. A value too large to keep removes the one it would replace.
func (c *Cache[K, V]) Put(k K, v V) {
	n := c.size(k, v)
	if el, ok := c.items[k]; ok {
		c.remove(el)
	}
	if n > c.maxBytes/8 {
		return
	}
	c.items[k] = c.order.PushFront(&entry[K, V]{key: k, value: v, size: n})
	c.bytes += n
	for c.bytes > c.maxBytes {
		c.remove(c.order.Back())
	}
}

func (c *Cache[K, V]) remove(el *list.Element) {
	e := el.Value.(*entry[K, V])
	c.order.Remove(el)
	delete(c.items, e.key)
	c.bytes -= e.size
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int { return len(c.items) }

// Bytes returns the bytes the entries account for.
func (c *Cache[K, V]) Bytes() int { return c.bytes }
