package pebblestore

import (
	"context"
	"sort"
	"sync"
)

// feeds wakes the waiters of each schema's change feed. Each schema has a
// channel that is closed and replaced whenever a commit raises its last
// sequence number, so a waiter needs no polling and a commit wakes every
// waiter at once. Waiters on a schema with no changes yet wait on born,
// which is replaced whenever a schema gets its first change, so that
// waiting on a name creates nothing.
type feeds struct {
	mu     sync.Mutex
	m      map[string]*feed
	born   chan struct{}
	closed bool
	done   chan struct{} // closed by close
}

type feed struct {
	last    uint64
	changed chan struct{}
	// recent holds the schema's latest changes, superseded ones included:
	// every change with a seq above from, the last maxRecentChanges at
	// most. It grows to that size and then becomes a ring, whose oldest
	// change is at start, so that a commit neither moves nor allocates.
	recent []Change
	start  int
	from   uint64
}

// maxRecentChanges is how many changes each schema's feed keeps in memory
// for event streams, which send every change, where the stored feed keeps
// only each record's newest.
const maxRecentChanges = 16384

// add appends changes, in seq order, dropping the oldest beyond
// maxRecentChanges.
func (fd *feed) add(changes []Change) {
	for _, c := range changes {
		if len(fd.recent) < maxRecentChanges {
			fd.recent = append(fd.recent, c)
			continue
		}
		fd.from = fd.recent[fd.start].Seq
		fd.recent[fd.start] = c
		fd.start = (fd.start + 1) % len(fd.recent)
	}
}

// at returns the i-th oldest of the recent changes.
func (fd *feed) at(i int) Change {
	return fd.recent[(fd.start+i)%len(fd.recent)]
}

func newFeeds() feeds {
	return feeds{m: make(map[string]*feed), born: make(chan struct{}), done: make(chan struct{})}
}

// publish records that schema's last sequence number is seq, after the
// changes made (in seq order, the last at seq; none when the store opens),
// and wakes its waiters.
func (f *feeds) publish(schema string, seq uint64, changes []Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, ok := f.m[schema]
	if !ok {
		// Every change from here on is published: the feed holds all
		// those after the first.
		fd = &feed{changed: make(chan struct{}), from: seq}
		if len(changes) > 0 {
			fd.from = changes[0].Seq - 1
		}
		f.m[schema] = fd
		close(f.born)
		f.born = make(chan struct{})
	}
	fd.add(changes)
	if seq <= fd.last {
		return
	}
	fd.last = seq
	close(fd.changed)
	fd.changed = make(chan struct{})
}

// RecentChanges returns up to limit changes of schema with a seq above
// since, in seq order, from memory: unlike Changes, every change made
// since the store opened, a record's superseded ones included, as long as
// the last maxRecentChanges of the schema reach back to since. ok is
// false when they do not, and the caller reads Changes instead.
func (s *Store) RecentChanges(schema string, since uint64, limit int) (changes []Change, ok bool) {
	f := &s.feeds
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, found := f.m[schema]
	if !found {
		// No change since the store opened, nor stored before: there is
		// nothing to miss.
		return nil, true
	}
	if since < fd.from {
		return nil, false
	}
	if since >= fd.last {
		return nil, true
	}
	n := len(fd.recent)
	i := sort.Search(n, func(i int) bool { return fd.at(i).Seq > since })
	changes = make([]Change, 0, min(n-i, max(limit, 0)))
	for ; i < n && len(changes) < cap(changes); i++ {
		changes = append(changes, fd.at(i))
	}
	return changes, true
}

func (f *feeds) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
}

// WaitChange blocks until schema has a change with a sequence number above
// since, returning nil, or until ctx is done, returning ctx.Err(). It
// returns ErrClosed when the store closes.
func (s *Store) WaitChange(ctx context.Context, schema string, since uint64) error {
	f := &s.feeds
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return ErrClosed
		}
		last, changed := uint64(0), f.born
		if fd, ok := f.m[schema]; ok {
			last, changed = fd.last, fd.changed
		}
		f.mu.Unlock()
		if last > since {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			return ErrClosed
		}
	}
}
