package pebblestore

import (
	"fmt"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
)

// TestRecentChanges checks the changes a feed keeps in memory: every one
// since the store opened, superseded ones included, while they reach back
// to since; the last maxRecentChanges of them; none from before a
// restart.
func TestRecentChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpenFS(t, dir, Options{HistoryLimit: 10}, vfs.Default)
	if chs, ok := s.RecentChanges("s", 0, 10); !ok || len(chs) != 0 {
		t.Fatalf("RecentChanges of a schema never written = %v, %v; want none, ok", chs, ok)
	}
	for i := range 3 {
		MustCommitAll(t, s, []Write{{Schema: "s", ID: "a", IfRevision: AnyRevision, Body: []byte(fmt.Sprint(i))}})
	}
	MustCommitAll(t, s, []Write{
		{Schema: "s", ID: "b", IfRevision: AnyRevision, Body: []byte("b")},
		{Schema: "s", ID: "a", IfRevision: AnyRevision, Delete: true},
	})
	chs, ok := s.RecentChanges("s", 0, 10)
	want := []struct {
		id  string
		rev int64
		op  string
	}{{"a", 1, "create"}, {"a", 2, "replace"}, {"a", 3, "replace"}, {"b", 1, "create"}, {"a", 4, "delete"}}
	if !ok || len(chs) != len(want) {
		t.Fatalf("RecentChanges = %v, %v; want %d changes", chs, ok, len(want))
	}
	for i, w := range want {
		if c := chs[i]; c.Seq != uint64(i+1) || c.ID != w.id || c.Revision != w.rev || c.Op != w.op {
			t.Errorf("change %d = %+v, want seq %d %s revision %d %s", i, c, i+1, w.id, w.rev, w.op)
		}
	}
	if chs, ok := s.RecentChanges("s", 3, 1); !ok || len(chs) != 1 || chs[0].Seq != 4 {
		t.Errorf("RecentChanges after 3, limit 1 = %v, %v; want seq 4", chs, ok)
	}
	for _, since := range []uint64{5, 6, math.MaxUint64} {
		if chs, ok := s.RecentChanges("s", since, 10); !ok || len(chs) != 0 {
			t.Errorf("RecentChanges after %d, past the last = %v, %v; want none, ok", since, chs, ok)
		}
	}

	// Past the bound, the oldest go, and a reader behind them is told so.
	// The count leaves the oldest kept change in the middle of the ring,
	// so that reads cross its end.
	writes := make([]Write, 2*maxRecentChanges+2)
	for i := range writes {
		writes[i] = Write{Schema: "s", ID: fmt.Sprint("m", i), IfRevision: AnyRevision, Body: []byte("m")}
	}
	MustCommitAll(t, s, writes)
	last := uint64(2*maxRecentChanges + 7)
	oldest := last - maxRecentChanges + 1
	if _, ok := s.RecentChanges("s", oldest-2, 10); ok {
		t.Errorf("RecentChanges after %d, dropped since, is ok", oldest-2)
	}
	for _, since := range []uint64{oldest - 1, oldest + maxRecentChanges/2, last - 12, last - 3} {
		chs, ok := s.RecentChanges("s", since, 10)
		if !ok || len(chs) != int(min(10, last-since)) {
			t.Errorf("RecentChanges after %d = %d changes, %v; want %d, ok", since, len(chs), ok, min(10, last-since))
			continue
		}
		for i, c := range chs {
			if c.Seq != since+1+uint64(i) {
				t.Errorf("RecentChanges after %d: change %d has seq %d, want %d", since, i, c.Seq, since+1+uint64(i))
				break
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart, only what comes after is at hand.
	s = mustOpenFS(t, dir, Options{HistoryLimit: 10}, vfs.Default)
	if _, ok := s.RecentChanges("s", last-1, 10); ok {
		t.Error("RecentChanges from before a restart is ok")
	}
	if chs, ok := s.RecentChanges("s", last, 10); !ok || len(chs) != 0 {
		t.Errorf("RecentChanges after the last before a restart = %v, %v; want none, ok", chs, ok)
	}
	MustCommitAll(t, s, []Write{{Schema: "s", ID: "b", IfRevision: AnyRevision, Body: []byte("b2")}})
	if chs, ok := s.RecentChanges("s", last, 10); !ok || len(chs) != 1 || chs[0].Seq != last+1 {
		t.Errorf("RecentChanges after a restart = %v, %v; want seq %d", chs, ok, last+1)
	}
}
