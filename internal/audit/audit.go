// Package audit writes Ferry's audit log: a line for each write that
// changed a record, naming who made it and the request or background job
// it came from.
package audit

import (
	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/records"
)

// Request writes the audit line of written, a write to a record of
// schemaName that the request requestID made for the key named by.
func Request(logger *zerolog.Logger, requestID, by, schemaName string, written *records.Written) {
	write(logger.Info().Str("request_id", requestID), by, schemaName, written)
}

// write finishes ev, an event that names where a write came from, as the
// write's audit line.
func write(ev *zerolog.Event, by, schemaName string, written *records.Written) {
	if !ev.Enabled() {
		return
	}
	ev.Str("log", "audit").
		Str("by", by).
		Str("schema", schemaName).
		Str("id", written.Record.ID).
		Int64("revision", written.Record.Revision).
		Str("op", written.Op).
		Int("version", written.Version).
		Str("sha256", written.Sha256()).
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
func (l *JobLog) Rewrote(job *records.Job, written *records.Written) {
	write(l.logger.Info().Str("job_id", job.ID), job.By, job.Schema, written)
}

// Refused warns of a record the job could not rewrite, and why.
func (l *JobLog) Refused(job *records.Job, id string, err error) {
	l.logger.Warn().Str("job_id", job.ID).Str("kind", job.Kind).Str("schema", job.Schema).
		Str("id", id).Err(err).Msg("job could not rewrite a record")
}
