package records

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
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
			jobs := NewJobs(svc, st, &jobLog{})
			defer jobs.Close()
			if err := jobs.Resume(ctx, []string{"j1"}); err != nil {
				t.Fatal(err)
			}
			job := waitJob(t, jobs, "j1")
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

// waitJob waits for a job to finish and returns its state.
func waitJob(t *testing.T, jobs *Jobs, id string) *Job {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		job, err := jobs.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if job.State != JobRunning && job.State != JobQueued {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 10 s", id, job.State)
		}
	}
}

// jobLog keeps what jobs tell their log.
type jobLog struct {
	mu      sync.Mutex
	rewrote []string // schema/id@revision
	refused []string // ids
}

func (l *jobLog) Rewrote(job *Job, w *Written) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rewrote = append(l.rewrote, fmt.Sprintf("%s/%s@%d", job.Schema, w.Record.ID, w.Record.Revision))
}

func (l *jobLog) Refused(job *Job, id string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused = append(l.refused, id)
}

// TestMigrationRewritesEachRecordOnce runs two migrations at once over
// records of which one was written again since a job could have read it:
// each record behind the latest version gains exactly one revision, one
// already there gains none, the log hears of each rewrite and of the
// record that fails the latest version's rules.
func TestMigrationRewritesEachRecordOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc, register := testService(t)
	v1 := register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	put := func(id string, n int64) {
		t.Helper()
		record, err := v1.FromMap(map[string]any{"n": n}, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Put(ctx, Write{Schema: "m", ID: id, Version: 1, Body: record}); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"a", "b", "c", "d"} {
		put(id, int64(i))
	}
	put("neg", -1)
	stale, err := svc.Get(ctx, "m", "a")
	if err != nil {
		t.Fatal(err)
	}
	register(`{"name":"m","version":2,"fields":{"n":{"type":"int","validate":"gte=0"},"c":{"type":"string","default":"blue"}},
		"migrate":[{"op":"add","field":"c","default":"blue"}]}`)
	// A client's write stores a at the latest version after a job read it.
	put("a", 10)
	if written, err := svc.upgradeRecord(ctx, "m", stale, ""); err != nil || written != nil {
		t.Fatalf("upgrading a record written at the latest version since it was read: %+v, %v; want nothing written", written, err)
	}

	log := &jobLog{}
	jobs := NewJobs(svc, st, log)
	defer jobs.Close()
	var ids []string
	for range 2 {
		job, err := jobs.StartMigration(ctx, "m", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	for _, id := range ids {
		if job := waitJob(t, jobs, id); job.State != JobFailed || job.Done != 5 || job.Errors != 1 {
			t.Errorf("job %s = %+v, want failed, 5 done, 1 error", id, job)
		}
	}
	for id, want := range map[string]int64{"a": 2, "b": 2, "c": 2, "d": 2, "neg": 1} {
		rec, err := svc.Get(ctx, "m", id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Revision != want {
			t.Errorf("record %s at revision %d after two migrations, want %d", id, rec.Revision, want)
		}
	}
	slices.Sort(log.rewrote)
	if want := []string{"m/b@2", "m/c@2", "m/d@2"}; !slices.Equal(log.rewrote, want) {
		t.Errorf("the jobs' log heard of rewrites %v, want %v", log.rewrote, want)
	}
	if !slices.Equal(log.refused, []string{"neg", "neg"}) {
		t.Errorf("the jobs' log heard of refusals %v, want neg from each job", log.refused)
	}
}

// hookLog calls its hook on the job's first rewrite.
type hookLog struct {
	jobLog
	once sync.Once
	hook func()
}

func (l *hookLog) Rewrote(job *Job, w *Written) {
	l.once.Do(l.hook)
	l.jobLog.Rewrote(job, w)
}

// TestMigrationMeetsChanges checks a migration over records that change
// under it: a version registered while it runs has it go over the records
// it passed again, so that every record ends at the latest version, and
// records deleted meanwhile leave it succeeded with done equal to total.
func TestMigrationMeetsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, svc, register := testService(t)
	v1 := register(`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`)
	ids := []string{"a", "b", "c", "d", "e", "f"}
	for i, id := range ids {
		record, err := v1.FromMap(map[string]any{"n": int64(i)}, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Put(ctx, Write{Schema: "m", ID: id, Version: 1, Body: record}); err != nil {
			t.Fatal(err)
		}
	}
	register(`{"name":"m","version":2,"fields":{"n":{"type":"int"},"c":{"type":"string","default":"blue"}},
		"migrate":[{"op":"add","field":"c","default":"blue"}]}`)
	log := &hookLog{hook: func() {
		register(`{"name":"m","version":3,"fields":{"n":{"type":"int"},"c":{"type":"string"},"d":{"type":"bool","default":true}},
			"migrate":[{"op":"add","field":"d","default":true}]}`)
		for _, id := range []string{"e", "f"} {
			if _, err := svc.Delete(ctx, "m", id, Conditions{}, ""); err != nil {
				t.Error(err)
			}
		}
	}}
	jobs := NewJobs(svc, st, log)
	defer jobs.Close()
	job, err := jobs.StartMigration(ctx, "m", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := waitJob(t, jobs, job.ID); got.State != JobSucceeded || got.Done != 4 || got.Total != 4 {
		t.Errorf("job = %+v, want succeeded with 4 done of 4", got)
	}
	for _, id := range ids[:4] {
		rec, err := svc.Get(ctx, "m", id)
		if err != nil {
			t.Fatal(err)
		}
		if doc, err := rec.Doc(); err != nil || doc.Version != 3 {
			t.Errorf("record %s at version %v after the job, want 3 (%v)", id, doc, err)
		}
	}
}
