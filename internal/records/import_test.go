package records

import (
	"context"
	"fmt"
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
