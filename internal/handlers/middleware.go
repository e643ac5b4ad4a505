package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/metrics"
	"github.com/ferry-dev/ferry/internal/problem"
)

// requestInfo collects what the access log and the problem writer need to
// know about a request while handlers run.
type requestInfo struct {
	id        string
	logger    *zerolog.Logger
	formatIn  string
	formatOut string
	bytesIn   int64
	failure   string // reason label of a refused body
	// route is the pattern of a path answered with 405, which chi leaves
	// without one.
	route string
}

// requestInfoFrom returns the info of the request w answers, which the
// observing middleware's writer carries (found through Unwrap when
// something wrapped it), or a throwaway one outside the middleware (in unit
// tests of a single handler). It rides on the writer rather than in the
// request's context so that observing a request does not copy it.
func requestInfoFrom(w http.ResponseWriter) *requestInfo {
	for {
		switch x := w.(type) {
		case *observedWriter:
			return x.info
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			nop := zerolog.Nop()
			return &requestInfo{logger: &nop}
		}
	}
}

// RequestIDs makes request ids: a random prefix and a counter, unique and
// cheap, so that the ids of one RequestIDs sort by arrival. A process
// makes one, for its router and its listener (ProblemListener) alike.
type RequestIDs struct {
	prefix string
	next   atomic.Uint64
}

// NewRequestIDs returns a maker of request ids with a prefix of its own.
func NewRequestIDs() *RequestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &RequestIDs{prefix: hex.EncodeToString(b[:])}
}

func (g *RequestIDs) make() string {
	var buf [48]byte
	b := append(append(buf[:0], g.prefix...), '-')
	return string(strconv.AppendUint(b, g.next.Add(1), 16))
}

// observe is the outermost middleware: it gives the request an id, recovers
// panics into a 500 problem, and writes the access log line and the
// request metrics once the handler returns.
func observe(logger zerolog.Logger, m *metrics.Metrics, ids *RequestIDs, bodyIdle time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			// One allocation holds what the request's observation needs.
			obs := &observation{
				info:   requestInfo{id: ids.make(), logger: &logger},
				writer: observedWriter{ResponseWriter: w},
				body:   countingBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: bodyIdle},
			}
			info, ww, counted := &obs.info, &obs.writer, &obs.body
			ww.info = info
			r.Body = counted
			ww.Header()["X-Request-Id"] = []string{info.id}

			defer func() {
				rec := recover()
				if rec == http.ErrAbortHandler {
					// A response cut short on purpose (an export that
					// failed midway) is logged and counted, then cut.
					defer panic(rec)
				} else if rec != nil {
					logger.Error().Str("request_id", info.id).Interface("panic", rec).
						Bytes("stack", debug.Stack()).Msg("handler panicked")
					if ww.status == 0 {
						writeProblem(ww, r, errors.New("handler panicked"))
					}
				}
				status := ww.status
				if status == 0 {
					status = http.StatusOK
				}
				if info.failure == reasonCancelled && r.Context().Err() != nil {
					// The client closed the connection before the answer,
					// which nobody reads: counted as its own doing, not as
					// the service's 503.
					status = statusClientClosed
				}
				route := routePattern(r)
				if route == "unmatched" && info.route != "" {
					route = info.route
				}
				elapsed := time.Since(start)
				m.ObserveRequest(route, r.Method, status, elapsed)
				ev := logger.Info().
					Str("request_id", info.id).
					Str("method", r.Method).
					Str("route", route).
					Int("status", status).
					Int64("bytes_in", counted.n).
					Int("bytes_out", ww.bytes).
					Dur("duration", elapsed)
				if info.formatIn != "" {
					ev = ev.Str("format_in", info.formatIn)
				}
				if info.formatOut != "" {
					ev = ev.Str("format_out", info.formatOut)
				}
				if info.failure != "" {
					ev = ev.Str("failure", info.failure)
				}
				ev.Msg("request")
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// routePattern is the chi route pattern that served r, or "unmatched".
// Ferry routes no wildcards, so a pattern ending in "*" is a sub-router's
// mount point reached by a path that nothing under it matched.
func routePattern(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return "unmatched"
	}
	if p := rctx.RoutePattern(); p != "" && !strings.HasSuffix(p, "*") {
		return p
	}
	return "unmatched"
}

// observation is what observe keeps of one request.
type observation struct {
	info   requestInfo
	writer observedWriter
	body   countingBody
}

// observedWriter notes the status and size of a response. Flushing,
// deadlines and the like reach the connection's writer through Unwrap, as
// http.ResponseController looks for it.
type observedWriter struct {
	http.ResponseWriter
	info   *requestInfo
	status int // 0 until a final status is written
	bytes  int
}

// WriteHeader notes the first final status and forwards.
func (w *observedWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write notes an implicit 200 and the bytes written, and forwards.
func (w *observedWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// Unwrap returns the writer underneath, for http.ResponseController.
func (w *observedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// defaultBodyIdle is how long a request body may send nothing.
const defaultBodyIdle = time.Minute

// minBodyRate is the average rate, in bytes a second, that a request body
// must keep up once its reads have waited longer than its idle time. A
// body may be slow, but not so slow that holding its connection costs
// Ferry more than sending it costs the client.
const minBodyRate = 1 << 10

// countingBody counts the bytes a handler reads from the request body, and
// gives each read idle to arrive, and the body as a whole idle plus the
// time its bytes take at minBodyRate: a body that stalls or trickles is a
// 408, rather than a connection held open for as long as its client likes.
// Only the time reads wait counts, so that Ferry's own pauses between
// reads (committing what it read) are not taken for a slow client.
type countingBody struct {
	io.ReadCloser
	rc     *http.ResponseController // the connection's, for its deadlines
	idle   time.Duration
	waited time.Duration // in reads so far
	n      int64
}

// Read counts and forwards.
func (c *countingBody) Read(p []byte) (int, error) {
	// The next byte is due when the time waited for the bytes so far and
	// it, less a first idle period, would average minBodyRate.
	allowed := c.idle + time.Duration(c.n+1)*(time.Second/minBodyRate) - c.waited
	slow := allowed < c.idle
	if !slow {
		allowed = c.idle
	}
	start := time.Now()
	// Without a connection to set a deadline on (a test's recorder),
	// reads simply wait.
	timed := c.idle > 0 && c.rc.SetReadDeadline(start.Add(allowed)) == nil
	n, err := c.ReadCloser.Read(p)
	// A read is charged no more than it was allowed: the rest is the
	// time it took to be scheduled again, not the client's. So the next
	// read is always allowed the time its byte earns at the rate.
	c.waited += min(time.Since(start), allowed)
	c.n += int64(n)
	switch {
	case !timed:
	case errors.Is(err, os.ErrDeadlineExceeded) && slow:
		err = problem.Wrap(problem.Timeout, err, "the request body arrived at less than %d bytes a second after its first %v", minBodyRate, c.idle).WithReason("body_too_slow")
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = problem.Wrap(problem.Timeout, err, "the request body sent nothing for %v", c.idle).WithReason("body_timeout")
	case err != nil:
		// At the body's end the connection is watched for the client
		// leaving while the handler works, however long that is.
		_ = c.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
