package records

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
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
	sum, err := svc.Import(ctx, "m", next, false, "", nil)
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

// TestImportEndsAfterARunOfUnreadableEnvelopes checks that MaxRejectedRun
// envelopes in a row that fail to read end the import there, as a
// framing error does, while a run one shorter, broken by a good
// envelope, does not.
func TestImportEndsAfterARunOfUnreadableEnvelopes(t *testing.T) {
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
	stream := func(items []*ImportItem) func() (*ImportItem, error) {
		return func() (*ImportItem, error) {
			if len(items) == 0 {
				return nil, io.EOF
			}
			item := items[0]
			items = items[1:]
			return item, nil
		}
	}
	bad := &ImportItem{ID: "bad id", Version: 1}

	var broken []*ImportItem
	for range MaxRejectedRun - 1 {
		broken = append(broken, bad)
	}
	broken = append(broken, good(1))
	for range MaxRejectedRun - 1 {
		broken = append(broken, bad)
	}
	broken = append(broken, good(2))
	sum, err := svc.Import(ctx, "m", stream(broken), false, "", nil)
	if err != nil || sum.Accepted != 2 || sum.Rejected != 2*(MaxRejectedRun-1) {
		t.Fatalf("runs of %d bad envelopes broken by good ones: %+v, %v; want both good ones accepted", MaxRejectedRun-1, sum, err)
	}

	var run []*ImportItem
	for range MaxRejectedRun {
		run = append(run, bad)
	}
	run = append(run, good(3))
	sum, err = svc.Import(ctx, "m", stream(run), false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	last := sum.Errors[len(sum.Errors)-1]
	if sum.Accepted != 0 || sum.Rejected != MaxRejectedRun+1 || last.Index != MaxRejectedRun || problem.KindOf(last.Problem) != problem.Invalid {
		t.Errorf("a run of %d bad envelopes, then a good one: %d accepted, %d rejected, last error %+v; want the import ended at index %d",
			MaxRejectedRun, sum.Accepted, sum.Rejected, last, MaxRejectedRun)
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
	sum, err := svc.Import(ctx, "m", next, false, "", func(*Written) { written++ })
	if err != nil || sum.Accepted != 4 {
		t.Fatalf("import of 4 large envelopes: %+v, %v; want 4 accepted", sum, err)
	}
}
