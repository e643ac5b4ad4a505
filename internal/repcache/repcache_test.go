package repcache

import (
	"fmt"
	"sync"
	"testing"
)

func TestCacheGetPut(t *testing.T) {
	t.Parallel()
	c := New(1 << 20)
	k := Key{Schema: "order", ID: "a", Revision: 1, Repr: "json"}
	if _, ok := c.Get(k); ok {
		t.Fatal("Get on an empty cache: want miss, got hit")
	}
	c.Put(k, Entry{Body: []byte("one"), Encoding: "gzip"})
	got, ok := c.Get(k)
	if !ok || string(got.Body) != "one" {
		t.Fatalf("Get(%v) = %q, %v; want \"one\", true", k, got.Body, ok)
	}
	next := k
	next.Revision = 2
	if _, ok := c.Get(next); ok {
		t.Fatal("Get of another revision: want miss, got hit")
	}
	c.Put(k, Entry{Body: []byte("uno")})
	if got, _ := c.Get(k); string(got.Body) != "uno" {
		t.Fatalf("after replacing: got %q, want \"uno\"", got.Body)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}
}

func TestCacheStaysWithinBudget(t *testing.T) {
	t.Parallel()
	const budget = 64 << 10
	c := New(budget)
	body := make([]byte, 1000)
	for i := range 1000 {
		c.Put(Key{Schema: "s", ID: fmt.Sprint(i), Revision: 1, Repr: "json"}, Entry{Body: body})
		if c.Bytes() > budget {
			t.Fatalf("after %d puts: %d bytes, budget %d", i+1, c.Bytes(), budget)
		}
	}
	if _, ok := c.Get(Key{Schema: "s", ID: "0", Revision: 1, Repr: "json"}); ok {
		t.Error("the oldest entry should have been evicted")
	}
	if _, ok := c.Get(Key{Schema: "s", ID: "999", Revision: 1, Repr: "json"}); !ok {
		t.Error("the newest entry should be kept")
	}
}

func TestCacheRefusesHugeEntries(t *testing.T) {
	t.Parallel()
	c := New(8000)
	k := Key{Schema: "s", ID: "big", Revision: 1}
	c.Put(k, Entry{Body: make([]byte, 2000)})
	if _, ok := c.Get(k); ok {
		t.Error("an entry over an eighth of the budget was kept")
	}
}

func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	c := New(0)
	k := Key{ID: "a"}
	c.Put(k, Entry{Body: []byte("x")})
	if _, ok := c.Get(k); ok {
		t.Error("a disabled cache returned a hit")
	}
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := New(32 << 10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := Key{ID: fmt.Sprint(i % 50), Revision: int64(g)}
				c.Put(k, Entry{Body: []byte(k.ID)})
				if e, ok := c.Get(k); ok && string(e.Body) != k.ID {
					t.Errorf("Get(%v) = %q, want %q", k, e.Body, k.ID)
				}
			}
		}()
	}
	wg.Wait()
	if c.Bytes() > 32<<10 {
		t.Errorf("bytes %d over budget", c.Bytes())
	}
}
