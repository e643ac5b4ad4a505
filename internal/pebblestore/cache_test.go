package pebblestore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// TestCacheNeverGoesBack has writers bump counters while readers read
// them through a record cache too small to hold them all: no reader may
// see a revision older than one it saw before, and a writer must read its
// own write back once Commit returns.
func TestCacheNeverGoesBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := MustOpen(t, t.TempDir(), Options{HistoryLimit: 4, CacheBytes: 3 * 1024})
	const keys, writesPerKey, readers = 8, 60, 4
	for k := range keys {
		MustCommitAll(t, s, []Write{put(fmt.Sprint("k", k), "0")})
	}
	done := make(chan struct{})
	var readerWG, writerWG sync.WaitGroup
	for r := range readers {
		readerWG.Add(1)
		go func() {
			defer readerWG.Done()
			seen := make([]int64, keys)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := (i + r) % keys
				rec, err := s.Get(ctx, "s", fmt.Sprint("k", k))
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				if rec.Revision < seen[k] {
					t.Errorf("k%d went back from revision %d to %d", k, seen[k], rec.Revision)
					return
				}
				if want := strconv.FormatInt(rec.Revision-1, 10); string(rec.Body) != want {
					t.Errorf("k%d revision %d holds %q, want %q", k, rec.Revision, rec.Body, want)
					return
				}
				seen[k] = rec.Revision
			}
		}()
	}
	for k := range keys {
		writerWG.Add(1)
		go func() {
			defer writerWG.Done()
			id := fmt.Sprint("k", k)
			for n := 1; n <= writesPerKey; n++ {
				res, err := s.Commit(ctx, []Write{put(id, strconv.Itoa(n))}, false)
				if err != nil || res[0].Err != nil {
					t.Errorf("Commit: %v %v", err, res)
					return
				}
				rec, err := s.Get(ctx, "s", id)
				if err != nil || rec.Revision < res[0].Revision {
					t.Errorf("%s: Get after writing revision %d = revision %d, %v", id, res[0].Revision, rec.Revision, err)
					return
				}
			}
		}()
	}
	writerWG.Wait()
	close(done)
	readerWG.Wait()
}

// TestCacheRefusesStaleFill covers the race the generations exist for: a
// reader that read through a view before a commit replaced it must not
// put what it read into the cache after that commit's own values.
func TestCacheRefusesStaleFill(t *testing.T) {
	t.Parallel()
	c := newRecordCache(1 << 20)
	installed := 0
	install := func() { installed++ }
	c.publish(1, nil, install)
	readerGen := uint64(1) // the reader took view 1, then a commit came
	c.publish(2, []cacheWrite{{key: []byte("k"), entry: cached{value: []byte("new")}}}, install)
	c.fill([]byte("k"), cached{value: []byte("old")}, readerGen)
	if e, ok := c.get([]byte("k")); !ok || string(e.value) != "new" {
		t.Errorf("after a stale fill the cache holds %q, %v; want the commit's value", e.value, ok)
	}
	c.fill([]byte("j"), cached{value: []byte("old")}, readerGen)
	if e, ok := c.get([]byte("j")); ok {
		t.Errorf("a fill from a replaced view was kept: %q", e.value)
	}
	c.fill([]byte("j"), cached{value: []byte("current")}, 2)
	if e, ok := c.get([]byte("j")); !ok || string(e.value) != "current" {
		t.Errorf("a fill from the newest view = %q, %v; want it kept", e.value, ok)
	}
	if installed != 2 {
		t.Errorf("install ran %d times, want 2", installed)
	}
}

// TestCacheBudget keeps the cache within its byte budget and keeps out an
// entry over an eighth of it, dropping what it replaces.
func TestCacheBudget(t *testing.T) {
	t.Parallel()
	c := newRecordCache(8 << 10)
	for i := range 200 {
		c.fill([]byte(fmt.Sprint("key", i)), cached{value: make([]byte, 100)}, 0)
		if c.lru.Bytes() > 8<<10 {
			t.Fatalf("after %d fills the cache holds %d bytes, budget %d", i+1, c.lru.Bytes(), 8<<10)
		}
	}
	if _, ok := c.get([]byte("key199")); !ok {
		t.Errorf("the newest entry was evicted")
	}
	if _, ok := c.get([]byte("key0")); ok {
		t.Errorf("the oldest entry survived 200 fills of a cache that holds about 35")
	}
	c.publish(0, []cacheWrite{{key: []byte("key199"), entry: cached{value: make([]byte, 2<<10)}}}, func() {})
	if _, ok := c.get([]byte("key199")); ok {
		t.Errorf("an entry over an eighth of the budget replaced a cached one")
	}
}
