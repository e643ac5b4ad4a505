package boltstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/internal/storetest"
)

var _ storetest.Backend = (*Store)(nil)

func TestContract(t *testing.T) {
	var mu sync.Mutex
	dirs := make(map[*testing.T]string)
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		mu.Lock()
		dir, ok := dirs[t]
		if !ok {
			dir = t.TempDir()
			dirs[t] = dir
		}
		mu.Unlock()
		return MustOpen(t, dir, Options{HistoryLimit: storetest.HistoryLimit})
	})
}

// MustOpen opens a store in dir and closes it when the test ends.
func MustOpen(t testing.TB, dir string, opt Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opt)
	if err != nil {
		t.Fatalf("Open(%s) error: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close error: %v", err)
		}
	})
	return s
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opt     Options
		wantErr string
	}{
		{"no sync refused", Options{NoSync: true}, "boltstore: fsync cannot be turned off"},
		{"negative history", Options{HistoryLimit: -1}, "history limit -1 is negative"},
		{"negative batch", Options{MaxBatch: -5}, "max batch -5 is negative"},
		{"defaults", Options{}, ""},
		{"unlimited history, tiny batch", Options{HistoryLimit: 0, MaxBatch: 1}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(context.Background(), t.TempDir(), tc.opt)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open(%+v) error: %v", tc.opt, err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v) = nil error, want %q", tc.opt, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Open(%+v) error = %q, want it to contain %q", tc.opt, err, tc.wantErr)
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	MustOpen(t, dir, Options{})
	s, err := Open(context.Background(), dir, Options{})
	if err == nil {
		s.Close()
		t.Fatal("second Open of a locked directory succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second Open error = %q, want it to say the file is in use", err)
	}
}

func TestOpenCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, t.TempDir(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context = %v, want context.Canceled", err)
	}
}

func TestCommitCanceled(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := Write{Schema: "s", ID: "a", IfRevision: AnyRevision, Body: []byte("x")}
	if _, err := s.Commit(ctx, []Write{w}, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := s.Get(context.Background(), "s", "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("write of a canceled Commit: Get err = %v, want ErrNotFound", err)
	}
}

// TestBatchCap runs requests larger and smaller than MaxBatch concurrently,
// so that the committer carries requests over to the next transaction and
// commits oversized ones alone: each must be applied whole, exactly once.
func TestBatchCap(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, t.TempDir(), Options{MaxBatch: 2})
	const goroutines, rounds = 8, 10
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				n := 1 + (g+i)%3
				writes := make([]Write, n)
				for j := range writes {
					writes[j] = Write{Schema: "s", ID: fmt.Sprintf("g%d-%d-%d", g, i, j), IfRevision: 0, Body: []byte("x")}
				}
				res, err := s.Commit(context.Background(), writes, n > 1)
				if err != nil {
					t.Errorf("Commit of %d writes: %v", n, err)
					return
				}
				for j, r := range res {
					if r.Err != nil || r.Revision != 1 {
						t.Errorf("write %s: revision %d err %v, want revision 1", writes[j].ID, r.Revision, r.Err)
					}
				}
			}
		})
	}
	wg.Wait()
	n, err := s.Count(context.Background(), "s")
	want := int64(0)
	for g := range goroutines {
		for i := range rounds {
			want += int64(1 + (g+i)%3)
		}
	}
	if err != nil || n != want {
		t.Errorf("Count = %d, %v; want %d", n, err, want)
	}
	if st := s.Stats(); st.Writes != uint64(want) || st.Commits < uint64(want)/3 {
		t.Errorf("Stats = %+v, want %d writes in at least %d commits", st, want, want/3)
	}
}
