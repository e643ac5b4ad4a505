package pebblestore

import (
	"context"
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
}

func newFeeds() feeds {
	return feeds{m: make(map[string]*feed), born: make(chan struct{}), done: make(chan struct{})}
}

// publish records that schema's last sequence number is seq and wakes its
// waiters.
func (f *feeds) publish(schema string, seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd, ok := f.m[schema]
	if !ok {
		fd = &feed{changed: make(chan struct{})}
		f.m[schema] = fd
		close(f.born)
		f.born = make(chan struct{})
	}
	if seq <= fd.last {
		return
	}
	fd.last = seq
	close(fd.changed)
	fd.changed = make(chan struct{})
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
