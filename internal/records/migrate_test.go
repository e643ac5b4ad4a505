package records

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestMigrationResumes checks where a migration that was stopped goes on:
// after the last record it saved, with its counts and start, unless it
// kept no place (an older build saved it) or a version came since, when it
// starts over.
func TestMigrationResumes(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		stored   storedJob
		thirdVer bool
		want     map[string]int // the version each record ends at
	}{{
		name:   "after the last saved record",
		stored: storedJob{After: "b", Target: 2},
		want:   map[string]int{"a": 1, "b": 1, "c": 2, "d": 2, "e": 2},
	}, {
		name:   "no place kept",
		stored: storedJob{},
		want:   map[string]int{"a": 2, "b": 2, "c": 2, "d": 2, "e": 2},
	}, {
		name:     "a version registered since",
		stored:   storedJob{After: "b", Target: 2},
		thirdVer: true,
		want:     map[string]int{"a": 3, "b": 3, "c": 3, "d": 3, "e": 3},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, svc, register := testService(t)
			register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
			sc, err := svc.Schema("m")
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range []string{"a", "b", "c", "d", "e"} {
				body, err := sc.Latest().FromMap(map[string]any{"n": int64(i)}, false)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := svc.Put(ctx, Write{Schema: "m", ID: id, Version: 1, Body: body}); err != nil {
					t.Fatal(err)
				}
			}
			register(`{"name":"m","version":2,"fields":{"n":{"type":"int"},"c":{"type":"string","default":"blue"}},
				"migrate":[{"op":"add","field":"c","default":"blue"}]}`)
			if tt.thirdVer {
				register(`{"name":"m","version":3,"fields":{"n":{"type":"int"},"c":{"type":"string","default":"blue"},"d":{"type":"bool","default":false}},
					"migrate":[{"op":"add","field":"d","default":false}]}`)
			}
			// A job that stopped after records a and b, as the store keeps it.
			stored := tt.stored
			stored.Job = Job{ID: "j1", Kind: "migrate", Schema: "m", State: JobRunning, Done: 2, Errors: 1, Total: 5, StartedAt: &started}
			raw, err := json.Marshal(stored)
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
			// Resumed, the job keeps the error it had counted.
			wantState, wantErrors := JobFailed, int64(1)
			if tt.stored.After == "" || tt.thirdVer {
				wantState, wantErrors = JobSucceeded, 0
			}
			if job.State != wantState || job.Done != 5 || job.Total != 5 || job.Errors != wantErrors || !job.StartedAt.Equal(started) {
				t.Fatalf("resumed job = %+v, want %s, done 5 of 5, %d errors, started at %v", job, wantState, wantErrors, started)
			}
			for id, want := range tt.want {
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
		})
	}
}
