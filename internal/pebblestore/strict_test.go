package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
)

// TestDropUnsyncedWrites runs writers on a filesystem in memory that can
// forget everything not synced, as a power failure does. After each round
// it forgets, reopens the store and checks that every acknowledged write
// is there: a missing sync of the log, of a file Pebble makes from it or of
// a directory entry loses one. Later rounds write enough to switch log
// files and flush memtables to tables.
func TestDropUnsyncedWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs := vfs.NewStrictMem()
	const dir = "/srv/ferry"
	rounds := []struct {
		writers, writes, size int
	}{
		{8, 40, 100},
		{4, 20, 3000},
		{8, 100, 40 << 10}, // 32 MiB: log switches and flushes
		{16, 30, 500},
	}
	acked := make(map[memKey][]byte)
	revs := make(map[memKey]int64)
	var mu sync.Mutex
	for round, rc := range rounds {
		s, err := open(ctx, dir, Options{HistoryLimit: 2}, fs)
		if err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		checkAcked(t, s, round, acked, revs)
		var wg sync.WaitGroup
		for w := range rc.writers {
			wg.Go(func() {
				for i := range rc.writes {
					k := memKey{fmt.Sprintf("s%d", w%3), fmt.Sprintf("w%d-%d", w, i%7)}
					body := bytes.Repeat([]byte{byte(round), byte(w), byte(i)}, rc.size/3+1)
					res, err := s.Commit(ctx, []Write{{Schema: k.schema, ID: k.id, IfRevision: AnyRevision, Body: body}}, false)
					if err != nil || res[0].Err != nil {
						t.Errorf("round %d: Commit(%v) = %v, %v", round, k, err, res)
						return
					}
					mu.Lock()
					acked[k], revs[k] = body, res[0].Revision
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		// Syncs that Close makes would hide a missing one before it.
		fs.SetIgnoreSyncs(true)
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		fs.ResetToSyncedState()
		fs.SetIgnoreSyncs(false)
	}
	s, err := open(ctx, dir, Options{HistoryLimit: 2}, fs)
	if err != nil {
		t.Fatalf("final open: %v", err)
	}
	defer s.Close()
	checkAcked(t, s, len(rounds), acked, revs)
}

// memKey names a record written to the filesystem in memory.
type memKey struct{ schema, id string }

func checkAcked(t *testing.T, s *Store, round int, acked map[memKey][]byte, revs map[memKey]int64) {
	t.Helper()
	ctx := context.Background()
	counts := make(map[string]int64)
	for k, body := range acked {
		counts[k.schema]++
		r, err := s.Get(ctx, k.schema, k.id)
		if errors.Is(err, ErrNotFound) {
			t.Errorf("after round %d: %s/%s acknowledged at revision %d, now missing", round, k.schema, k.id, revs[k])
			continue
		}
		if err != nil {
			t.Fatalf("after round %d: Get(%s, %s): %v", round, k.schema, k.id, err)
		}
		if r.Revision != revs[k] || !bytes.Equal(r.Body, body) {
			t.Errorf("after round %d: %s/%s at revision %d with %d bytes, acknowledged revision %d with %d bytes",
				round, k.schema, k.id, r.Revision, len(r.Body), revs[k], len(body))
		}
	}
	for schema, want := range counts {
		if n, err := s.Count(ctx, schema); err != nil || n != want {
			t.Errorf("after round %d: Count(%s) = %d, %v; want %d", round, schema, n, err, want)
		}
	}
}
