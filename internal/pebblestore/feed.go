package pebblestore

import (
	"cmp"
	"context"
	"slices"
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
	// recent holds the schema's latest changes in seq order, superseded
	// ones included: every change with a seq above from, at least the
	// last maxRecentChanges and fewer than twice as many.
	recent []Change
	from   uint64
}

// maxRecentChanges is how many changes each schema's feed keeps in memory
// at least for event streams, which send every change, where the stored
// feed keeps only each record's newest. Once it holds twice as many, the
// older half goes, so that a commit does not move the rest each time.
const maxRecentChanges = 16384

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
	fd.recent = append(fd.recent, changes...)
	if over := len(fd.recent) - maxRecentChanges; len(fd.recent) >= 2*maxRecentChanges {
		fd.from = fd.recent[over-1].Seq
		fd.recent = slices.Clone(fd.recent[over:])
	}
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
	i, _ := slices.BinarySearchFunc(fd.recent, since, func(c Change, since uint64) int { return cmp.Compare(c.Seq, since+1) })
	end := min(len(fd.recent), i+max(limit, 0))
	return slices.Clone(fd.recent[i:end]), true
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
