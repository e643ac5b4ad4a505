package records

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/store"
)

// TestImportListsBoundedErrors imports more bad envelopes than a summary
// lists, rejected both as they are read (bad ids) and as their chunk is
// prepared (bad data), then a framing error: every one is counted, the
// lowest indexes are listed in order, MaxImportErrors of them, and the
// framing error after them.
func TestImportListsBoundedErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, svc, register := testService(t)
	v := register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	const total = 3 * MaxImportErrors
	i := 0
	next := func() (*ImportItem, error) {
		switch i {
		case total:
			i++
			return nil, problem.New(problem.Invalid, "not a value of the stream")
		case total + 1:
			t.Fatal("the import read on past a framing error")
		}
		i++
		if i%2 == 0 {
			return &ImportItem{ID: "bad id", Version: 1}, nil
		}
		// An empty wire struct: n is missing, found when its chunk is
		// prepared.
		return &ImportItem{ID: fmt.Sprint("r", i), Version: 1, Body: v.New()}, nil
	}
	sum, err := svc.Import(ctx, "m", next, false, "", ImportHooks{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 0 || sum.Rejected != total+1 || len(sum.Errors) != MaxImportErrors+1 {
		t.Fatalf("summary: %d accepted, %d rejected, %d listed; want 0, %d, %d", sum.Accepted, sum.Rejected, len(sum.Errors), total+1, MaxImportErrors+1)
	}
	for k, e := range sum.Errors {
		want := k
		if k == MaxImportErrors {
			want = total // the framing error, listed past the bound
		}
		if e.Index != want || e.Problem == nil || problem.KindOf(e.Problem) == problem.Internal {
			t.Fatalf("error %d: index %d, problem %v; want index %d and a problem", k, e.Index, e.Problem, want)
		}
	}
}

// TestImportEndsWhenMostEnvelopesAreRejected checks that an import ends
// as at a framing error once it has rejected more than MaxRejected
// envelopes and they are more than three in four of those read, good
// envelopes among them or not, and goes on while they are not.
func TestImportEndsWhenMostEnvelopesAreRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, svc, register := testService(t)
	v := register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	good := func(i int) *ImportItem {
		body, err := v.FromMap(map[string]any{"n": int64(i)}, false)
		if err != nil {
			t.Fatal(err)
		}
		return &ImportItem{ID: fmt.Sprint("g", i), Version: 1, Body: body}
	}
	bad := &ImportItem{ID: "bad id", Version: 1}
	// stream yields n envelopes, good where isGood says, then ends.
	stream := func(n int, isGood func(i int) bool) func() (*ImportItem, error) {
		i := 0
		return func() (*ImportItem, error) {
			if i == n {
				return nil, io.EOF
			}
			i++
			if isGood(i) {
				return good(i), nil
			}
			return bad, nil
		}
	}

	// Half bad: never the most.
	n := 2*MaxRejected + 10
	sum, err := svc.Import(ctx, "m", stream(n, func(i int) bool { return i%2 == 0 }), false, "", ImportHooks{})
	if err != nil || sum.Accepted != n/2 || sum.Rejected != n/2 {
		t.Fatalf("half of %d envelopes bad: %d accepted, %d rejected, %v; want %d of each", n, sum.Accepted, sum.Rejected, err, n/2)
	}

	// All bad, then good ones: the import ends after MaxRejected+1.
	sum, err = svc.Import(ctx, "m", stream(n, func(i int) bool { return i > MaxRejected+1 }), false, "", ImportHooks{})
	if err != nil {
		t.Fatal(err)
	}
	last := sum.Errors[len(sum.Errors)-1]
	if sum.Accepted != 0 || sum.Rejected != MaxRejected+2 || last.Index != MaxRejected+1 || problem.KindOf(last.Problem) != problem.Invalid {
		t.Errorf("%d bad envelopes, then good ones: %d accepted, %d rejected, last error %+v; want the import ended at index %d",
			MaxRejected+1, sum.Accepted, sum.Rejected, last, MaxRejected+1)
	}

	// A good envelope now and then does not keep a stream of bad ones
	// going.
	sum, err = svc.Import(ctx, "m", stream(10*MaxRejected, func(i int) bool { return i%1000 == 0 }), false, "", ImportHooks{})
	if err != nil || sum.Rejected > MaxRejected+2 || sum.Accepted > MaxRejected/1000+1 {
		t.Errorf("one good envelope in 1000: %d accepted, %d rejected, %v; want the import ended past %d rejected", sum.Accepted, sum.Rejected, err, MaxRejected)
	}
}

// TestImportRepeatedIDsShareCommits checks that envelopes repeating one
// id are written in few commits, each its own revision, rather than in a
// commit each.
func TestImportRepeatedIDsShareCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc, register := testService(t)
	v := register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	const n = 1000
	i := 0
	next := func() (*ImportItem, error) {
		if i == n {
			return nil, io.EOF
		}
		i++
		body, err := v.FromMap(map[string]any{"n": int64(i)}, false)
		if err != nil {
			t.Fatal(err)
		}
		return &ImportItem{ID: "same", Version: 1, Body: body}, nil
	}
	before := st.Stats().Commits
	sum, err := svc.Import(ctx, "m", next, false, "", ImportHooks{})
	if err != nil || sum.Accepted != n {
		t.Fatalf("import of %d envelopes for one id: %+v, %v; want all accepted", n, sum, err)
	}
	if commits := st.Stats().Commits - before; commits > n/importChunk+1 {
		t.Errorf("import of %d envelopes for one id took %d commits, want at most %d", n, commits, n/importChunk+1)
	}
	rec, err := svc.Get(ctx, "m", "same")
	if err != nil || rec.Revision != n {
		t.Errorf("after the import: revision %d, %v; want %d", rec.Revision, err, n)
	}
}

// TestImportCommitsLargeEnvelopesSooner checks that a non-atomic import
// commits once its pending envelopes took importChunkBytes of the stream,
// before it has importChunk of them.
func TestImportCommitsLargeEnvelopesSooner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, svc, register := testService(t)
	v := register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	written, i := 0, 0
	next := func() (*ImportItem, error) {
		if i == 2 && written != 2 {
			t.Errorf("after two envelopes of half importChunkBytes each, %d are committed, want 2", written)
		}
		if i == 4 {
			return nil, io.EOF
		}
		i++
		body, err := v.FromMap(map[string]any{"n": int64(i)}, false)
		if err != nil {
			t.Fatal(err)
		}
		return &ImportItem{ID: fmt.Sprint("big", i), Version: 1, Body: body, Size: importChunkBytes / 2}, nil
	}
	sum, err := svc.Import(ctx, "m", next, false, "", ImportHooks{Written: func(*Written) { written++ }})
	if err != nil || sum.Accepted != 4 {
		t.Fatalf("import of 4 large envelopes: %+v, %v; want 4 accepted", sum, err)
	}
}

// racingStore runs race once, before the first commit of more than one
// write, as another writer would between an import's read and its commit.
type racingStore struct {
	Store
	race func()
	once sync.Once
}

func (s *racingStore) Commit(ctx context.Context, writes []store.Write, atomic bool) ([]store.Result, error) {
	if len(writes) > 1 {
		s.once.Do(s.race)
	}
	return s.Store.Commit(ctx, writes, atomic)
}

// TestImportRepeatedIDLosingARace checks that when an import's chunk
// repeats an id that another writer creates between the chunk's read and
// its commit, the chunk's envelopes for it are all written again in order,
// on top of the other write: the last envelope's data is what stays.
// Committed one by one, the second envelope's condition would hold against
// the other writer's revision, and the first would then be written over it.
func TestImportRepeatedIDLosingARace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc, register := testService(t)
	v := register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	body := func(n int64) any {
		b, err := v.FromMap(map[string]any{"n": n}, false)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	racing := New(&racingStore{Store: st, race: func() {
		if _, err := svc.Put(ctx, Write{Schema: "m", ID: "x", Version: 1, Body: body(100)}); err != nil {
			t.Error(err)
		}
	}}, svc.schemas, Options{})
	items := []*ImportItem{
		{ID: "x", Version: 1, Body: body(1)},
		{ID: "x", Version: 1, Body: body(2)},
	}
	next := func() (*ImportItem, error) {
		if len(items) == 0 {
			return nil, io.EOF
		}
		item := items[0]
		items = items[1:]
		return item, nil
	}
	sum, err := racing.Import(ctx, "m", next, false, "", ImportHooks{})
	if err != nil || sum.Accepted != 2 || sum.Rejected != 0 {
		t.Fatalf("import: %+v, %v; want both envelopes accepted", sum, err)
	}
	rec, err := svc.Get(ctx, "m", "x")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := svc.Schema("m")
	if err != nil {
		t.Fatal(err)
	}
	view, err := rec.View(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(view)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revision != 3 || string(data) != `{"n":2}` {
		t.Errorf("after the race: revision %d, data %s; want revision 3 (the other write, then both envelopes) and {\"n\":2}", rec.Revision, data)
	}
}
