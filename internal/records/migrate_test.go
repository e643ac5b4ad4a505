package records

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/pebblestore"
	"github.com/ferry-dev/ferry/internal/schema"
)

// TestMigrationResumes checks that a migration interrupted after some
// records goes on after the last one it saved, with its counts and start.
func TestMigrationResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := pebblestore.Open(ctx, t.TempDir(), pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := schema.NewRegistry(st)
	register := func(def string) {
		t.Helper()
		d, err := schema.ParseDefinition([]byte(def), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Register(ctx, d, false); err != nil {
			t.Fatal(err)
		}
	}
	register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	svc := New(st, reg, Options{})
	v1, err := reg.Schema("m")
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		body, err := v1.Latest().FromMap(map[string]any{"n": int64(i)}, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Put(ctx, Write{Schema: "m", ID: id, Version: 1, Body: body, Cond: Conditions{}}); err != nil {
			t.Fatal(err)
		}
	}
	register(`{"name":"m","version":2,"fields":{"n":{"type":"int"},"c":{"type":"string","default":"blue"}},
		"migrate":[{"op":"add","field":"c","default":"blue"}]}`)

	// A job that stopped after records a and b, as the store keeps it.
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	raw, err := json.Marshal(storedJob{Job: Job{ID: "j1", Kind: "migrate", Schema: "m", State: JobRunning, Done: 2, Total: 5, StartedAt: &started}, After: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutJob(ctx, "j1", raw); err != nil {
		t.Fatal(err)
	}
	jobs := NewJobs(svc, st)
	defer jobs.Close()
	if err := jobs.Resume(ctx, []string{"j1"}); err != nil {
		t.Fatal(err)
	}
	var job *Job
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if job, err = jobs.Get(ctx, "j1"); err != nil {
			t.Fatal(err)
		}
		if job.State != JobRunning && job.State != JobQueued {
			break
		}
	}
	if job.State != JobSucceeded || job.Done != 5 || job.Total != 5 || !job.StartedAt.Equal(started) {
		t.Fatalf("resumed job = %+v, want succeeded, done 5 of 5, started at %v", job, started)
	}
	// The records after b were upgraded; a and b, which the job had gone
	// through before it stopped, were not visited again.
	for id, want := range map[string]int{"a": 1, "b": 1, "c": 2, "d": 2, "e": 2} {
		rec, err := svc.Get(ctx, "m", id)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := rec.Doc()
		if err != nil {
			t.Fatal(err)
		}
		if doc.Version != want {
			t.Errorf("record %s stored at version %d, want %d", id, doc.Version, want)
		}
	}
}
