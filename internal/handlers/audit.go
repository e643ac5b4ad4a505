package handlers

import (
	"net/http"

	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/records"
)

// audit writes the audit line of a write a request made.
func (d *recordDeps) audit(w http.ResponseWriter, schemaName string, written *records.Written) {
	info := requestInfoFrom(w)
	writeAudit(info.logger, "request_id", info.id, "", schemaName, written)
}

// writeAudit writes the audit line of a write by the key named by, which
// the request or job whose id is origin made.
func writeAudit(logger *zerolog.Logger, originKey, origin, by, schemaName string, written *records.Written) {
	ev := logger.Info()
	if !ev.Enabled() {
		return
	}
	ev.Str("log", "audit").
		Str(originKey, origin).
		Str("by", by).
		Str("schema", schemaName).
		Str("id", written.Record.ID).
		Int64("revision", written.Record.Revision).
		Str("op", written.Op).
		Int("version", written.Version).
		Str("sha256", written.Sha256()).
		Msg("write")
}

// NewJobLog returns the log of background jobs: an audit line for each
// record a job rewrites, as for a client's write but naming the job, and a
// warning for each record a job could not rewrite, naming it and why.
func NewJobLog(logger zerolog.Logger) records.JobLog { return jobLog{logger: &logger} }

type jobLog struct{ logger *zerolog.Logger }

func (l jobLog) Rewrote(job *records.Job, w *records.Written) {
	writeAudit(l.logger, "job_id", job.ID, job.By, job.Schema, w)
}

func (l jobLog) Refused(job *records.Job, id string, err error) {
	l.logger.Warn().Str("job_id", job.ID).Str("kind", job.Kind).Str("schema", job.Schema).
		Str("id", id).Err(err).Msg("job could not rewrite a record")
}
