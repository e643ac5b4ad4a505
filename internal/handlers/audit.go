package handlers

import (
	"net/http"

	"github.com/ferry-dev/ferry/internal/audit"
	"github.com/ferry-dev/ferry/internal/records"
)

// audit writes the audit line of a write a request made.
func (d *recordDeps) audit(w http.ResponseWriter, schemaName string, written *records.Written) {
	info := requestInfoFrom(w)
	audit.Request(info.logger, info.id, "", schemaName, written)
}
