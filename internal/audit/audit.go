// Package audit writes Ferry's audit log: a line for each write that
// changed a record, naming who made it and the request or background job
// it came from.
package audit

import (
	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/records"
)

// Write writes the audit line of w, a write to a record of schemaName by
// the key named by, which the request or job whose id is origin made;
// originKey names the kind of id ("request_id", "job_id").
func Write(logger *zerolog.Logger, originKey, origin, by, schemaName string, w *records.Written) {
	ev := logger.Info()
	if !ev.Enabled() {
		return
	}
	ev.Str("log", "audit").
		Str(originKey, origin).
		Str("by", by).
		Str("schema", schemaName).
		Str("id", w.Record.ID).
		Int64("revision", w.Record.Revision).
		Str("op", w.Op).
		Int("version", w.Version).
		Str("sha256", w.Sha256()).
		Msg("write")
}

// A JobLog is the log of background jobs (records.JobLog): an audit line
// for each record a job rewrites, as for a client's write but naming the
// job, and a warning for each record a job could not rewrite, naming it
// and why.
type JobLog struct {
	logger *zerolog.Logger
}

// NewJobLog returns the log of background jobs, written to logger.
func NewJobLog(logger zerolog.Logger) *JobLog { return &JobLog{logger: &logger} }

// Rewrote writes the audit line of a record the job rewrote.
func (l *JobLog) Rewrote(job *records.Job, w *records.Written) {
	Write(l.logger, "job_id", job.ID, job.By, job.Schema, w)
}

// Refused warns of a record the job could not rewrite, and why.
func (l *JobLog) Refused(job *records.Job, id string, err error) {
	l.logger.Warn().Str("job_id", job.ID).Str("kind", job.Kind).Str("schema", job.Schema).
		Str("id", id).Err(err).Msg("job could not rewrite a record")
}
