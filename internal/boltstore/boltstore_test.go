package boltstore

import (
	"context"
	"errors"
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
