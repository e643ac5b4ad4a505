// Package handlers is Ferry's HTTP layer: routing, content negotiation at the
// edges, problem documents, access logs and metrics. It holds no business
// rules; it translates requests into calls on the domain packages and their
// results back into responses.
package handlers

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/metrics"
	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/records"
	"github.com/ferry-dev/ferry/internal/repcache"
	"github.com/ferry-dev/ferry/internal/schema"
)

// Limits bounds what a client may send.
type Limits struct {
	// MaxBodyBytes caps a single-record body and each envelope of an
	// import, after decompression.
	MaxBodyBytes int64
	// MaxImportBytes caps a whole import stream.
	MaxImportBytes int64
	// MaxAtomicBytes caps an atomic import stream, below MaxImportBytes:
	// an atomic import holds every envelope in memory until it commits.
	MaxAtomicBytes int64
}

// Pinger reports whether the store answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps is everything the HTTP layer needs from the rest of Ferry.
type Deps struct {
	Logger  zerolog.Logger
	Metrics *metrics.Metrics
	Codecs  *negotiate.Registry
	Store   Pinger
	Schemas *schema.Registry
	Records *records.Service
	Jobs    *records.Jobs
	// Cache keeps encoded representations of records; nil disables it.
	Cache  *repcache.Cache
	Limits Limits
	// OpenAPI is the API description in YAML.
	OpenAPI []byte
	// Shutdown ends when the server shuts down, so that long-polls and
	// event streams can answer and close instead of holding it up.
	Shutdown context.Context
	// BodyIdle is how long a request body may send nothing before it is
	// answered 408; zero means a minute.
	BodyIdle time.Duration
	// EventPing is how often an event stream sends a ping comment; zero
	// means every 15 seconds.
	EventPing time.Duration
	// RequestIDs makes the ids of requests, shared with the listener
	// (ProblemListener); nil makes one of the server's own.
	RequestIDs *RequestIDs
}

// NewServer builds the router with its middleware and every route.
func NewServer(d Deps) (http.Handler, error) {
	if d.Limits.MaxBodyBytes <= 0 {
		d.Limits.MaxBodyBytes = 1 << 20
	}
	if d.Limits.MaxImportBytes <= 0 {
		d.Limits.MaxImportBytes = 1 << 30
	}
	if d.Limits.MaxAtomicBytes <= 0 {
		d.Limits.MaxAtomicBytes = 32 << 20
	}
	if d.Shutdown == nil {
		d.Shutdown = context.Background()
	}
	if d.BodyIdle <= 0 {
		d.BodyIdle = defaultBodyIdle
	}
	if d.EventPing <= 0 {
		d.EventPing = defaultEventPing
	}
	docs, err := newAPIDocs(d.OpenAPI)
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	if d.RequestIDs == nil {
		d.RequestIDs = NewRequestIDs()
	}
	r.Use(observe(d.Logger, d.Metrics, d.RequestIDs, d.BodyIdle), httpOne, decodedPath, validQuery, oneContentType)
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, req, problem.New(problem.NotFound, "no resource at %s", req.URL.Path))
	})
	r.MethodNotAllowed(methodNotAllowed(r))
	addRoutes(r, d, docs)
	return r, nil
}

// httpOne answers the HTTP/2 preface (PRI * HTTP/2.0), which net/http
// hands on for a handler that speaks HTTP/2 without TLS, with the 400 that
// the listener gives every other HTTP version but 1.x: Ferry speaks
// HTTP/1.0 and HTTP/1.1.
func httpOne(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 1 {
			w.Header().Set("Connection", "close")
			writeProblem(w, r, problem.New(problem.Invalid, "%s", unspokenVersion).WithReason("version"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// decodedPath routes a request by its decoded path, as net/url gives it,
// unless the raw path encodes a slash, which decoding would turn into a
// separator: /v1/records/thing/%5Fexport is the export, as RFC 3986
// §6.2.2.2 has it, where the router would otherwise match its encoded form
// as a record id.
func decodedPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if raw := r.URL.RawPath; raw != "" && !strings.Contains(raw, "%2F") && !strings.Contains(raw, "%2f") {
			r.URL.RawPath = ""
		}
		next.ServeHTTP(w, r)
	})
}

// validQuery answers 400 to a query string that does not parse, such as
// one with a bad percent-escape, whose parameters the handlers would
// otherwise not see at all: a mistyped ?atomic=true must not become a
// partial import.
func validQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				writeProblem(w, r, problem.Wrap(problem.Invalid, err, "the query string is not valid: %v", err).WithReason("query"))
				return
			}
			// Every parameter Ferry reads has one value; of two, taking
			// either would be a guess.
			for name, values := range q {
				if len(values) > 1 {
					writeProblem(w, r, problem.New(problem.Invalid, "query parameter %q is given %d times; give it once", problem.Excerpt(name, maxEcho), len(values)).WithReason("query"))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// takes answers 400 to a query parameter that h does not read, naming the
// ones it does: a misspelt or misplaced parameter (?dry_run=true on a
// record write, ?limt=5 on a page) must not be carried out as if it were
// absent. Every route takes pretty, which indents a JSON answer, problems
// included. When h is an errHandler the 400 is its error, for wrappers
// such as listErrors to see.
func takes(h http.Handler, names ...string) http.Handler {
	names = append([]string{"pretty"}, names...)
	check := func(r *http.Request) error {
		if r.URL.RawQuery == "" || misroutedReserved(r) {
			return nil
		}
		// validQuery has parsed the query already.
		q := r.URL.Query()
		var unknown []string
		for name := range q {
			if !slices.Contains(names, name) {
				unknown = append(unknown, strconv.Quote(problem.Excerpt(name, maxEcho)))
			}
		}
		if len(unknown) == 0 {
			// Every resource reads pretty, some only to answer: a bad
			// value is refused before anything is done.
			_, err := queryFlag(q, "pretty")
			return err
		}
		slices.Sort(unknown)
		what := "query parameter %s is not one"
		if len(unknown) > 1 {
			what = "query parameters %s are not ones"
		}
		return problem.New(problem.Invalid, what+" this resource takes; it takes %s",
			strings.Join(unknown, ", "), strings.Join(names, ", ")).WithReason("query")
	}
	if eh, ok := h.(errHandler); ok {
		return errHandler(func(w http.ResponseWriter, r *http.Request) error {
			if err := check(r); err != nil {
				return err
			}
			return eh(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := check(r); err != nil {
			writeProblem(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// oneContentType answers 400 to a request with more than one Content-Type
// field: the field holds one media type (RFC 9110 §8.3), and of two,
// taking either would be a guess.
func oneContentType(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := len(r.Header["Content-Type"]); n > 1 {
			writeProblem(w, r, problem.New(problem.Invalid, "the request has %d Content-Type fields; it takes one", n).WithReason("content_type"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// candidateMethods are the methods probed to build an Allow header.
var candidateMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete,
}

// methodNotAllowed answers 405 with an Allow header listing the methods the
// path does route; chi drops Allow once a custom handler is set, so the
// router is asked again for each method.
func methodNotAllowed(routes chi.Routes) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		allowed, reserved := reservedMethods(r.URL.Path)
		if !reserved {
			allowed = allowedMethods(routes, r.URL.Path)
		}
		if err := reservedAsID(r.URL.Path); err != nil && slices.Contains(allowed, r.Method) {
			writeProblem(w, r, err)
			return
		}
		if len(allowed) == 0 {
			// No method at all routes there (chi answers a path such as
			// "*" this way): no resource, rather than a 405 allowing
			// nothing.
			writeProblem(w, r, problem.New(problem.NotFound, "no resource at %s", r.URL.Path))
			return
		}
		// The path has a route, only not for this method: label the
		// request with it rather than as unmatched.
		rctx := chi.NewRouteContext()
		if routes.Match(rctx, allowed[0], r.URL.Path) {
			requestInfoFrom(w).route = rctx.RoutePattern()
		}
		writeNotAllowed(w, r, allowed)
	}
}

// writeNotAllowed answers 405 with the Allow header RFC 9110 requires.
func writeNotAllowed(w http.ResponseWriter, r *http.Request, allowed []string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	method := r.Method
	if method == http.MethodHead {
		// HEAD gets what GET would, to the length.
		method = http.MethodGet
	}
	p := problem.New(problem.Invalid, "%s is not allowed on %s", method, r.URL.Path)
	p.Slug = "method-not-allowed"
	writeProblemStatus(w, r, http.StatusMethodNotAllowed, p.With("allow", allowed))
}

// A notAllowedError is a request for a method that the path, one of the
// service's reserved sub-resources, does not answer.
type notAllowedError struct{ allowed []string }

func (e *notAllowedError) Error() string { return "handlers: method not allowed" }

// reservedAllow lists the methods of the reserved names under
// /v1/records/{schema}/: a record id never starts with "_", so another
// method on them is a 405, not a request about a record.
var reservedAllow = map[string][]string{
	"_export":  {http.MethodGet, http.MethodHead},
	"_import":  {http.MethodPost},
	"_changes": {http.MethodGet, http.MethodHead},
}

// reservedName returns the reserved name that path puts right under
// /v1/records/{schema}/, and whether the path goes on below it.
func reservedName(path string) (name string, below, ok bool) {
	rest, ok := strings.CutPrefix(path, "/v1/records/")
	if !ok {
		return "", false, false
	}
	schema, rest, ok := strings.Cut(rest, "/")
	if !ok || schema == "" {
		return "", false, false
	}
	name, _, below = strings.Cut(rest, "/")
	_, ok = reservedAllow[name]
	return name, below, ok
}

// reservedMethods returns the methods of path when it names one of the
// reserved sub-resources of a schema's records. The router matches the
// record routes there too, taking the name for an id, so asking it would
// list their methods as well.
func reservedMethods(path string) ([]string, bool) {
	name, below, ok := reservedName(path)
	if !ok || below {
		return nil, false
	}
	return reservedAllow[name], true
}

// misroutedReserved reports whether r reached a record's route only
// because a reserved name stands where the id goes, as GET …/_import does:
// the handler answers it as it would without a query (405, or 400 for the
// id), which says more than a parameter it does not take.
func misroutedReserved(r *http.Request) bool {
	name, below, ok := reservedName(r.URL.Path)
	return ok && (below || !slices.Contains(reservedAllow[name], r.Method))
}

// reservedAsID returns the error of a path that puts a reserved name where
// a record's id goes, below it (/v1/records/{schema}/_changes/_history).
// For a method such a path routes, the router takes the name for its own
// route and finds no method there, but the request is about a record,
// whose id is invalid.
func reservedAsID(path string) error {
	name, below, ok := reservedName(path)
	if !ok || !below {
		return nil
	}
	return records.CheckID(name)
}

// allowedMethods lists the methods routed for path.
func allowedMethods(routes chi.Routes, path string) []string {
	var allowed []string
	for _, m := range candidateMethods {
		rctx := chi.NewRouteContext()
		if routes.Match(rctx, m, path) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}
