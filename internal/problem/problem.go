// Package problem defines Ferry's error type: a kind that says what went
// wrong in terms a client can act on, a message, and located details. The
// HTTP layer maps each kind to a status and writes an RFC 9457 document;
// every package below it returns these errors and knows nothing of HTTP.
package problem

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the client can do about it.
type Kind uint8

// The kinds of error. Internal is the zero value so that an error that was
// never classified is never shown to a client as its own fault.
const (
	Internal             Kind = iota // a fault of the service; details are hidden
	Invalid                          // malformed request: syntax, limits, bad query or id
	Unauthorized                     // missing or unknown credentials
	Forbidden                        // credentials lack the scope
	NotFound                         // unknown schema, record or job
	NotAcceptable                    // no acceptable format or version for the response
	Conflict                         // schema compatibility or version numbering
	PreconditionFailed               // If-Match or If-None-Match did not hold
	TooLarge                         // body over the limit
	UnsupportedMedia                 // unsupported Content-Type or Content-Encoding
	Unprocessable                    // decoded but fails validation
	PreconditionRequired             // If-Match required but missing
	Unavailable                      // a dependency is not ready
	Timeout                          // the request did not arrive in time
)

var kindNames = [...]string{
	Internal:             "internal",
	Invalid:              "invalid",
	Unauthorized:         "unauthorized",
	Forbidden:            "forbidden",
	NotFound:             "not-found",
	NotAcceptable:        "not-acceptable",
	Conflict:             "conflict",
	PreconditionFailed:   "precondition-failed",
	TooLarge:             "too-large",
	UnsupportedMedia:     "unsupported-media-type",
	Unprocessable:        "unprocessable",
	PreconditionRequired: "precondition-required",
	Unavailable:          "unavailable",
	Timeout:              "request-timeout",
}

// String returns the kind's name, used as the default problem type slug.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// A FieldError locates one validation failure by the schema's own field
// names, e.g. "items[2].qty".
type FieldError struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Param   string `json:"param"`
	Message string `json:"message"`
	// Version is set when the failure was found after upgrading the body to
	// a later schema version than the one it was written at.
	Version int `json:"version,omitzero"`
}

// An Error is a classified error with a client-facing detail.
type Error struct {
	Kind Kind
	// Slug is the last part of the problem type ("/problems/<slug>"); when
	// empty the kind's name is used.
	Slug string
	// Detail is a sentence for the client. For Internal errors it is logged
	// but never sent.
	Detail string
	// Reason is a short machine label for metrics, e.g. "depth" or "utf8".
	Reason string
	// Fields lists every validation failure found, not just the first.
	Fields []FieldError
	// Extra holds further members of the problem document, such as
	// "acceptable", "supported", "versions" or "current_revision".
	Extra map[string]any
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the detail, followed by the cause when there is one.
func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// With sets a member of the problem document and returns e.
func (e *Error) With(key string, value any) *Error {
	if e.Extra == nil {
		e.Extra = make(map[string]any)
	}
	e.Extra[key] = value
	return e
}

// WithReason sets the metrics reason label and returns e.
func (e *Error) WithReason(reason string) *Error {
	e.Reason = reason
	return e
}

// New returns an error of the given kind with a formatted detail.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the given kind that carries err as its cause.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...), Err: err}
}

// As reports whether err is, or wraps, an *Error and returns it.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// KindOf returns the kind of err, or Internal when err is not classified.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool {
	return err != nil && KindOf(err) == kind
}

// Excerpt returns s cut to its first n bytes, marked with an ellipsis when
// cut, for quoting a client's value in a detail without echoing all of it.
func Excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
