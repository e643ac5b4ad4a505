package records

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/ferry-dev/ferry/internal/schema"
)

// staleFirst answers its first lookup with an older schema, as a request
// that looked its schema up before a version was registered holds it.
type staleFirst struct {
	old  *schema.Schema
	now  Schemas
	used atomic.Bool
}

func (s *staleFirst) Schema(name string) (*schema.Schema, error) {
	if !s.used.Swap(true) {
		return s.old, nil
	}
	return s.now.Schema(name)
}

// oneItem is an import stream of item alone.
func oneItem(item *ImportItem) func() (*ImportItem, error) {
	sent := false
	return func() (*ImportItem, error) {
		if sent {
			return nil, io.EOF
		}
		sent = true
		return item, nil
	}
}

// TestStaleSchemaMeetsNewerRecord checks reads, writes and imports that
// looked their schema up before a version was registered and a record
// written at it: each goes through the schema as it is now, and a write
// at the old version keeps what the newer one holds.
func TestStaleSchemaMeetsNewerRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc, register := testService(t)
	register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	old, err := svc.Schema("m")
	if err != nil {
		t.Fatal(err)
	}
	v2 := register(`{"name":"m","version":2,"fields":{"n":{"type":"int"},"c":{"type":"string","default":"blue"}},
		"migrate":[{"op":"add","field":"c","default":"blue"}]}`)
	body, err := v2.FromMap(map[string]any{"n": int64(1), "c": "red"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Put(ctx, Write{Schema: "m", ID: "a", Version: 2, Body: body}); err != nil {
		t.Fatal(err)
	}

	rec, err := svc.Get(ctx, "m", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.View(old, 1); err != nil {
		t.Errorf("viewing a version-2 record through a version-1 schema: %v", err)
	}

	v1, _ := old.Version(1)
	v1Body := func(n int64) any {
		b, err := v1.FromMap(map[string]any{"n": n}, false)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wantKept := func(what string, n int64) {
		t.Helper()
		rec, err := svc.Get(ctx, "m", "a")
		if err != nil {
			t.Fatal(err)
		}
		doc, err := rec.Doc()
		if err != nil {
			t.Fatal(err)
		}
		if doc.Version != 2 || doc.Data["n"] != n || doc.Data["c"] != "red" {
			t.Errorf("after %s: stored at version %d as %v, want version 2 with n = %d and c kept", what, doc.Version, doc.Data, n)
		}
	}

	stale := New(st, &staleFirst{old: old, now: svc.schemas}, Options{})
	if _, err := stale.Put(ctx, Write{Schema: "m", ID: "a", Version: 1, Body: v1Body(2)}); err != nil {
		t.Errorf("a version-1 PUT through a stale schema: %v", err)
	} else {
		wantKept("a PUT", 2)
	}

	stale = New(st, &staleFirst{old: old, now: svc.schemas}, Options{})
	if _, err := stale.Patch(ctx, Patch{Schema: "m", ID: "a", Version: 1, Merge: map[string]any{"n": int64(3)}}); err != nil {
		t.Errorf("a version-1 PATCH through a stale schema: %v", err)
	} else {
		wantKept("a PATCH", 3)
	}

	stale = New(st, &staleFirst{old: old, now: svc.schemas}, Options{})
	sum, err := stale.Import(ctx, "m", oneItem(&ImportItem{ID: "a", Version: 1, Body: v1Body(4)}), false, "", ImportHooks{})
	if err != nil || sum.Accepted != 1 {
		t.Errorf("a version-1 import through a stale schema: %+v, %v", sum, err)
	} else {
		wantKept("an import", 4)
	}

	// A record created through a stale schema is stored at the latest
	// version too, so that a migration that ended before it is not
	// undone.
	for name, create := range map[string]func(*Service) error{
		"PUT": func(s *Service) error {
			_, err := s.Put(ctx, Write{Schema: "m", ID: "new-put", Version: 1, Body: v1Body(5)})
			return err
		},
		"import": func(s *Service) error {
			_, err := s.Import(ctx, "m", oneItem(&ImportItem{ID: "new-import", Version: 1, Body: v1Body(6)}), false, "", ImportHooks{})
			return err
		},
	} {
		if err := create(New(st, &staleFirst{old: old, now: svc.schemas}, Options{})); err != nil {
			t.Fatalf("creating through a stale schema (%s): %v", name, err)
		}
	}
	for _, id := range []string{"new-put", "new-import"} {
		rec, err := svc.Get(ctx, "m", id)
		if err != nil {
			t.Fatal(err)
		}
		if doc, err := rec.Doc(); err != nil || doc.Version != 2 || doc.Data["c"] != "blue" {
			t.Errorf("%s created through a stale schema: stored as %+v (%v), want version 2 with the default", id, doc, err)
		}
	}
}
