package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/schema"
	"github.com/ferry-dev/ferry/internal/store"
)

// JobStore keeps background jobs' state.
type JobStore interface {
	PutJob(ctx context.Context, id string, state []byte) error
	Job(ctx context.Context, id string) ([]byte, error)
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// A Job is a background job's state, as served at /v1/jobs/{id}.
type Job struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Schema     string     `json:"schema"`
	State      string     `json:"state"`
	Done       int64      `json:"done"`
	Total      int64      `json:"total"`
	Errors     int64      `json:"errors"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	By         string     `json:"-"`

	// after is the id of the last record the job went through, where a
	// resumed job goes on; target is the version it upgrades records to.
	after  string
	target int
}

// storedJob is a job as the store keeps it: what is served, and what the
// job needs to go on after a restart.
type storedJob struct {
	Job
	By     string `json:"by,omitempty"`
	After  string `json:"after,omitempty"`
	Target int    `json:"target,omitempty"`
}

// A JobLog is told what a job does to records: of each record it
// rewrites, so that the write reaches the audit log as a client's would,
// and of each it could not, so that a failed job names its records.
type JobLog interface {
	// Rewrote is told of a record the job rewrote.
	Rewrote(job *Job, w *Written)
	// Refused is told of a record the job could not rewrite, and why.
	Refused(job *Job, id string, err error)
}

// Jobs runs background jobs (schema migrations) and keeps their state in
// the store so that it outlives the process.
type Jobs struct {
	records *Service
	store   JobStore
	log     JobLog
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewJobs returns a job runner that tells log what its jobs do. Close
// stops the jobs it runs.
func NewJobs(records *Service, st JobStore, log JobLog) *Jobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &Jobs{records: records, store: st, log: log, ctx: ctx, cancel: cancel}
}

// Close stops running jobs and waits for them to save their state; they
// go on at the next start (see Resume).
func (j *Jobs) Close() {
	j.cancel()
	j.wg.Wait()
}

// progressEvery is how often a running job saves its progress.
const progressEvery = time.Second

// StartMigration queues a job that rewrites every record of the schema at
// its latest version.
func (j *Jobs) StartMigration(ctx context.Context, schemaName, by string) (*Job, error) {
	if _, err := j.records.Schema(schemaName); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("records: make job id: %w", err)
	}
	job := &Job{ID: id.String(), Kind: "migrate", Schema: schemaName, State: JobQueued, By: by}
	if err := j.save(ctx, job); err != nil {
		return nil, err
	}
	// The runner owns job from here on; the caller gets the state as queued.
	queued := *job
	j.launch(job)
	return &queued, nil
}

// Resume restarts the jobs listed by ids that had not finished when the
// service last stopped. A migration goes on after the last record it
// saved progress for, keeping its counts: the records before it are at the
// latest version, as is every record written since. It starts over when a
// version was registered since, or when it kept no place (saved by an
// older build).
func (j *Jobs) Resume(ctx context.Context, ids []string) error {
	for _, id := range ids {
		job, err := j.Get(ctx, id)
		if err != nil {
			return err
		}
		if job.State == JobQueued || job.State == JobRunning {
			j.launch(job)
		}
	}
	return nil
}

// Get returns a job's state.
func (j *Jobs) Get(ctx context.Context, id string) (*Job, error) {
	raw, err := j.store.Job(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, problem.New(problem.NotFound, "no job %q", problem.Excerpt(id, 64))
	}
	if err != nil {
		return nil, fmt.Errorf("records: job %s: %w", id, err)
	}
	var stored storedJob
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("records: job %s: %w", id, err)
	}
	job := stored.Job
	job.By, job.after, job.target = stored.By, stored.After, stored.Target
	return &job, nil
}

func (j *Jobs) save(ctx context.Context, job *Job) error {
	raw, err := json.Marshal(storedJob{Job: *job, By: job.By, After: job.after, Target: job.target})
	if err != nil {
		return fmt.Errorf("records: encode job: %w", err)
	}
	if err := j.store.PutJob(ctx, job.ID, raw); err != nil {
		return fmt.Errorf("records: save job %s: %w", job.ID, err)
	}
	return nil
}

func (j *Jobs) launch(job *Job) {
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		j.runMigration(j.ctx, job)
	}()
}

func (j *Jobs) runMigration(ctx context.Context, job *Job) {
	if job.StartedAt == nil {
		now := j.records.opts.Now().UTC()
		job.StartedAt = &now
	}
	job.State, job.FinishedAt = JobRunning, nil
	err := j.migrate(ctx, job)
	if ctx.Err() != nil {
		// Shutting down: leave the job running in the store so that the
		// next start resumes it.
		_ = j.save(context.Background(), job)
		return
	}
	end := j.records.opts.Now().UTC()
	job.FinishedAt = &end
	job.State = JobSucceeded
	if err != nil || job.Errors > 0 {
		job.State = JobFailed
	}
	_ = j.save(context.Background(), job)
}

// migrate goes through the schema's records, upgrading each to the latest
// version as the pass began, until a pass ends with that version still the
// latest: one registered during a pass leaves the records the pass went
// through before then a version short, so the job goes over them all
// again (those written since are at the latest already). A pass that a
// restart interrupted goes on after the last record it saved.
func (j *Jobs) migrate(ctx context.Context, job *Job) error {
	for {
		latest, err := j.latest(job.Schema)
		if err != nil {
			return err
		}
		if job.after == "" || job.target != latest {
			job.after, job.target, job.Done, job.Errors = "", latest, 0, 0
			if job.Total, err = j.records.Count(ctx, job.Schema); err != nil {
				return err
			}
		}
		if err := j.save(ctx, job); err != nil {
			return err
		}
		if err := j.pass(ctx, job); err != nil {
			return err
		}
		if latest, err = j.latest(job.Schema); err != nil || latest == job.target {
			// What the pass went through is the whole schema, whatever
			// the count at its start: records come and go meanwhile.
			job.Total = job.Done
			return err
		}
		job.after = ""
	}
}

func (j *Jobs) latest(schemaName string) (int, error) {
	sc, err := j.records.Schema(schemaName)
	if err != nil {
		return 0, err
	}
	return sc.Latest().Number(), nil
}

// pass upgrades the records after job.after, saving its progress now and
// then.
func (j *Jobs) pass(ctx context.Context, job *Job) error {
	lastSave := time.Now()
	return j.records.eachAfter(ctx, job.Schema, job.after, func(r *Record) error {
		written, err := j.records.upgradeRecord(ctx, job.Schema, r, job.By)
		switch {
		case err == nil && written != nil:
			j.log.Rewrote(job, written)
		case err == nil:
		case isProblem(err):
			j.log.Refused(job, r.ID, err)
			job.Errors++
		default:
			return err
		}
		job.Done++
		job.after = r.ID
		if job.Done > job.Total {
			job.Total = job.Done
		}
		if time.Since(lastSave) >= progressEvery {
			lastSave = time.Now()
			return j.save(ctx, job)
		}
		return nil
	})
}

// isProblem reports whether err is a problem with a record, which a job
// counts and goes on after, rather than a failure that stops it.
func isProblem(err error) bool {
	_, ok := problem.As(err)
	return ok
}

// errUpToDate stops a job's write of a record that another write has
// brought to the latest version since the job read it.
var errUpToDate = errors.New("records: record is at the latest version")

// upgradeRecord rewrites one record at the schema's latest version and
// returns the write, or nil when the record is there already, whether as
// the job read it or as it is when the job writes, or has been deleted.
func (s *Service) upgradeRecord(ctx context.Context, schemaName string, r *Record, by string) (*Written, error) {
	sc, err := s.Schema(schemaName)
	if err != nil {
		return nil, err
	}
	doc, err := r.Doc()
	if err != nil {
		return nil, err
	}
	latest := sc.Latest().Number()
	if doc.Version >= latest {
		return nil, nil
	}
	// The history names the version the job wrote: the latest.
	written, err := s.write(ctx, writeOp{sc: sc, id: r.ID, by: by, version: latest, op: "replace",
		mustExist: true,
		build: func(sc *schema.Schema, prev *Record) (*schema.Doc, error) {
			stored, err := prev.Doc()
			if err != nil {
				return nil, err
			}
			if stored.Version >= latest {
				return nil, errUpToDate
			}
			return sc.Upgrade(stored)
		}})
	if errors.Is(err, errUpToDate) || problem.Is(err, problem.NotFound) {
		return nil, nil
	}
	return written, err
}
