package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/problem"
)

// statusOf maps each kind of error to the status it is answered with.
var statusOf = map[problem.Kind]int{
	problem.Internal:             http.StatusInternalServerError,
	problem.Invalid:              http.StatusBadRequest,
	problem.Unauthorized:         http.StatusUnauthorized,
	problem.Forbidden:            http.StatusForbidden,
	problem.NotFound:             http.StatusNotFound,
	problem.NotAcceptable:        http.StatusNotAcceptable,
	problem.Conflict:             http.StatusConflict,
	problem.PreconditionFailed:   http.StatusPreconditionFailed,
	problem.TooLarge:             http.StatusRequestEntityTooLarge,
	problem.UnsupportedMedia:     http.StatusUnsupportedMediaType,
	problem.Unprocessable:        http.StatusUnprocessableEntity,
	problem.PreconditionRequired: http.StatusPreconditionRequired,
	problem.Unavailable:          http.StatusServiceUnavailable,
	problem.Timeout:              http.StatusRequestTimeout,
}

// reasonCancelled is the reason of the problem answered to a request
// cancelled before its work was done.
const reasonCancelled = "cancelled"

// statusClientClosed is the status that logs and metrics give a request
// whose client closed its connection before the answer, after the
// convention of nginx; no client ever receives it.
const statusClientClosed = 499

// classify turns any error into a problem and its status. Errors that are
// not classified become a bare 500.
func classify(err error) (*problem.Error, int) {
	p, ok := problem.As(err)
	switch {
	case !ok && errors.Is(err, context.Canceled):
		// The client went away (or the server is stopping) before the work
		// was done: not a fault of the service, and nobody reads the answer.
		p = problem.Wrap(problem.Unavailable, err, "the request was cancelled before it finished").WithReason(reasonCancelled)
	case !ok:
		p = &problem.Error{Kind: problem.Internal, Err: err}
	}
	status, known := statusOf[p.Kind]
	if !known {
		status = http.StatusInternalServerError
	}
	return p, status
}

// writeProblem answers err as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	var na *notAllowedError
	if errors.As(err, &na) {
		writeNotAllowed(w, r, na.allowed)
		return
	}
	p, status := classify(err)
	if status == http.StatusNotAcceptable || status == http.StatusPreconditionFailed {
		// The answer depends on Accept like the representation would: a
		// 412 names the current ETag of the representation asked for.
		w.Header().Set("Vary", varyNegotiated)
	}
	writeProblemStatus(w, r, status, p)
}

// problemDocument builds the RFC 9457 members of p: type, title, status,
// detail, instance (the request id), errors for validation, and the
// problem's own extra members. An internal error is logged with the
// request id and its text withheld.
func problemDocument(info *requestInfo, status int, p *problem.Error) map[string]any {
	detail := p.Detail
	if p.Kind == problem.Internal {
		info.logger.Error().Err(p).Str("request_id", info.id).Msg("internal error")
		detail = "the service failed to answer this request; it was logged under request id " + info.id
	}
	slug := p.Slug
	if slug == "" {
		slug = p.Kind.String()
	}
	doc := make(map[string]any, 6+len(p.Extra))
	if p.Kind != problem.Internal {
		for k, v := range p.Extra {
			if s, ok := v.(string); ok {
				v = validText(s)
			}
			doc[k] = v
		}
	}
	doc["type"] = "/problems/" + slug
	doc["title"] = http.StatusText(status)
	doc["status"] = status
	doc["detail"] = validText(detail)
	doc["instance"] = info.id
	if len(p.Fields) > 0 {
		fields := make([]problem.FieldError, len(p.Fields))
		for i, f := range p.Fields {
			f.Field, f.Rule, f.Param, f.Message = validText(f.Field), validText(f.Rule), validText(f.Param), validText(f.Message)
			fields[i] = f
		}
		doc["errors"] = fields
	}
	return doc
}

// validText returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD: details and field names can quote what a client
// sent, and JSON (and every other format of a problem) holds text only.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// problemMembers renders err as a problem document, for problems nested in
// another body (an import's rejected envelopes).
func problemMembers(info *requestInfo, err error) map[string]any {
	p, status := classify(err)
	return problemDocument(info, status, p)
}

// writeProblemStatus writes p with the given status. The router's 405,
// which has no kind of its own, comes here directly.
func writeProblemStatus(w http.ResponseWriter, r *http.Request, status int, p *problem.Error) {
	info := requestInfoFrom(w)
	if p.Reason != "" {
		info.failure = p.Reason
	}
	body, err := json.Marshal(problemDocument(info, status, p))
	if err != nil {
		body = []byte(`{"type":"/problems/internal","title":"Internal Server Error","status":500}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	for _, k := range []string{"Content-Encoding", "ETag", "Last-Modified", "Content-Length", "Content-Digest", "Ferry-Revision"} {
		h.Del(k)
	}
	if ae, ok := p.Extra["accept_encoding"].(string); ok && status == http.StatusUnsupportedMediaType {
		h.Set("Accept-Encoding", ae)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	// Set here, not by net/http, so that HEAD gets the GET's length too.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	setContentDigest(h, r, body)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
