package pebblestore

import (
	"container/list"
	"sync"
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
	mu       sync.Mutex
	maxBytes int
	bytes    int
	gen      uint64     // the generation of the newest view
	order    *list.List // of *cached, front: most recently used
	items    map[string]*list.Element
}

type cached struct {
	key   string
	value []byte
}

// cacheOverhead approximates the bookkeeping bytes of one entry.
const cacheOverhead = 128

func newRecordCache(maxBytes int) *recordCache {
	return &recordCache{maxBytes: maxBytes, order: list.New(), items: make(map[string]*list.Element)}
}

func (c *recordCache) enabled() bool { return c.maxBytes > 0 }

// get returns the value stored at key. The caller must not modify it.
func (c *recordCache) get(key []byte) ([]byte, bool) {
	if !c.enabled() {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[string(key)]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cached).value, true
}

// fill records what a reader found at key through a view of generation
// gen, unless a newer view was installed since or the key is cached
// already (by a commit at least as new as the reader's view).
func (c *recordCache) fill(key, value []byte, gen uint64) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.items[string(key)]; ok {
		return
	}
	c.put(string(key), value)
}

// A cacheWrite is a record value a commit wrote.
type cacheWrite struct {
	key   []byte
	value []byte
}

// publish runs install, which makes the view of generation gen the newest,
// and puts the values of the commit that view shows, as one step for
// readers.
func (c *recordCache) publish(gen uint64, writes []cacheWrite, install func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	install()
	c.gen = gen
	if !c.enabled() {
		return
	}
	for _, w := range writes {
		c.put(string(w.key), w.value)
	}
}

// put stores or replaces an entry and evicts down to the budget; an
// entry over an eighth of the budget is dropped instead, so that one huge
// record cannot flush the rest. c.mu is held.
func (c *recordCache) put(key string, value []byte) {
	n := len(key) + len(value) + cacheOverhead
	if el, ok := c.items[key]; ok {
		it := el.Value.(*cached)
		c.bytes -= len(it.key) + len(it.value) + cacheOverhead
		if n > c.maxBytes/8 {
			c.order.Remove(el)
			delete(c.items, key)
			return
		}
		it.value = value
		c.bytes += n
		c.order.MoveToFront(el)
	} else {
		if n > c.maxBytes/8 {
			return
		}
		c.items[key] = c.order.PushFront(&cached{key: key, value: value})
		c.bytes += n
	}
	for c.bytes > c.maxBytes {
		el := c.order.Back()
		it := el.Value.(*cached)
		c.order.Remove(el)
		delete(c.items, it.key)
		c.bytes -= len(it.key) + len(it.value) + cacheOverhead
	}
}
