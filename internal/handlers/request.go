package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
)

// readBody reads the whole request body within limit bytes, compressed or
// not, and checks Content-Digest when the client sent one.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	digest, err := parseDigest(listField(r.Header, "Content-Digest"))
	if err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		// Refused before a byte is read, so that a client waiting on
		// Expect: 100-continue is not asked to send it.
		return nil, bodyTooLarge(limit)
	}
	raw := io.Reader(http.MaxBytesReader(w, r.Body, limit))
	if digest != nil {
		raw = io.TeeReader(raw, digest)
	}
	body, err := negotiate.ReadSizedBody(raw, listField(r.Header, "Content-Encoding"), r.ContentLength, limit)
	if err == nil && digest != nil {
		// A decoder may stop short of the end of what was sent.
		_, err = io.Copy(io.Discard, raw)
	}
	if err != nil {
		return nil, bodyError(err, limit)
	}
	info := requestInfoFrom(w)
	info.bytesIn = int64(len(body))
	if err := digest.verify(); err != nil {
		return nil, err
	}
	return body, nil
}

// checkDigestOnly checks the Content-Digest of a request whose body means
// nothing, against the bytes received (within limit bytes), without
// decoding them; without a Content-Digest the body is left unread.
func checkDigestOnly(w http.ResponseWriter, r *http.Request, limit int64) error {
	digest, err := parseDigest(listField(r.Header, "Content-Digest"))
	if err != nil || digest == nil {
		return err
	}
	if _, err := io.Copy(digest, http.MaxBytesReader(w, r.Body, limit)); err != nil {
		return bodyError(err, limit)
	}
	return digest.verify()
}

// bodyError turns the error of reading a request body into the client's
// problem: 413 for a body cut off at limit bytes, 400 for one whose bytes
// could not be read. A problem comes back as it is.
func bodyError(err error, limit int64) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return bodyTooLarge(limit)
	}
	if _, ok := problem.As(err); ok {
		return err
	}
	return negotiate.ReadFailed(err)
}

// bodyTooLarge is the 413 of a request body over limit bytes.
func bodyTooLarge(limit int64) error {
	return problem.New(problem.TooLarge, "request body is larger than %d bytes", limit).WithReason("too_large").With("limit", limit)
}

// A contentDigest is the Content-Digest of a request (RFC 9530): the
// sha-256 and sha-512 digests it names, and hashes that the body is written
// to as received, before any content coding is undone.
type contentDigest struct {
	checks []digestCheck
}

type digestCheck struct {
	alg  string
	want []byte
	h    hash.Hash
}

// parseDigest parses a Content-Digest header, or returns nil when there is
// none. A header that names neither sha-256 nor sha-512 is refused, as
// Ferry could check nothing.
func parseDigest(header string) (*contentDigest, error) {
	if header == "" {
		return nil, nil
	}
	d := &contentDigest{}
	for _, member := range strings.Split(header, ",") {
		alg, value, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok {
			return nil, problem.New(problem.Invalid, "content-digest %q is not a dictionary member", member).WithReason("digest")
		}
		alg = strings.ToLower(strings.TrimSpace(alg))
		h := newDigestHash(alg)
		if h == nil {
			continue
		}
		// A member's parameters (RFC 8941 §3.2) do not change its value.
		value, _, _ = strings.Cut(value, ";")
		value = strings.TrimSpace(value)
		if len(value) < 2 || value[0] != ':' || value[len(value)-1] != ':' {
			return nil, problem.New(problem.Invalid, "content-digest %s must be a byte sequence (:base64:)", alg).WithReason("digest")
		}
		want, err := base64.StdEncoding.DecodeString(value[1 : len(value)-1])
		if err != nil {
			return nil, problem.New(problem.Invalid, "content-digest %s is not base64", alg).WithReason("digest")
		}
		d.checks = append(d.checks, digestCheck{alg: alg, want: want, h: h})
	}
	if len(d.checks) == 0 {
		return nil, problem.New(problem.Invalid, "content-digest names no algorithm this service checks (sha-256, sha-512)").WithReason("digest")
	}
	return d, nil
}

// newDigestHash returns a hash for a Content-Digest algorithm Ferry
// computes (sha-256, sha-512), or nil for another.
func newDigestHash(alg string) hash.Hash {
	switch alg {
	case "sha-256":
		return sha256.New()
	case "sha-512":
		return sha512.New()
	}
	return nil
}

// Write adds received bytes to every digest.
func (d *contentDigest) Write(p []byte) (int, error) {
	for _, c := range d.checks {
		c.h.Write(p)
	}
	return len(p), nil
}

// verify compares the digests of the bytes written with the header's. A
// nil digest verifies.
func (d *contentDigest) verify() error {
	if d == nil {
		return nil
	}
	for _, c := range d.checks {
		if subtle.ConstantTimeCompare(c.h.Sum(nil), c.want) != 1 {
			return problem.New(problem.Invalid, "content-digest %s does not match the body received", c.alg).WithReason("digest")
		}
	}
	return nil
}

// spoolStream reads a request stream whole, before any of it is used,
// into an unnamed temporary file, and returns the stream to read instead:
// the file, decoded from the content coding, then the error that ended
// the decoding, if one did. It checks the stream against limit, after
// decoding, and against digest (nil: none), over the bytes received, so
// that a stream over the limit, one that does not match its digest, or
// one that did not arrive whole is refused with nothing taken from it.
// Closing the stream frees the file. It is for streams too large to hold
// in memory.
func spoolStream(body io.Reader, contentEncoding string, digest *contentDigest, limit int64) (io.ReadCloser, error) {
	if digest != nil {
		body = io.TeeReader(body, digest)
	}
	decoded, err := negotiate.NewBodyReader(body, contentEncoding, limit)
	if err != nil {
		return nil, err
	}
	defer decoded.Close()
	f, err := os.CreateTemp("", "ferry-body-*")
	if err != nil {
		return nil, fmt.Errorf("handlers: spool a request body: %w", err)
	}
	// Unlinked at once, the file goes away with its descriptor, even if
	// the process dies.
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("handlers: spool a request body: %w", err)
	}
	fail := func(err error) (io.ReadCloser, error) {
		_ = f.Close()
		return nil, err
	}
	spool := &fileWriter{f: f}
	_, decodeErr := io.Copy(spool, decoded)
	if spool.err != nil {
		// The server's own failure (a full disk): nothing is stored,
		// and it is no fault of the client's.
		return fail(fmt.Errorf("handlers: spool a request body: %w", spool.err))
	}
	if _, decodeFailed := problem.As(decodeErr); decodeErr != nil && (!decodeFailed || problem.Is(decodeErr, problem.TooLarge)) {
		// Over the limit, or the bytes did not all arrive (a broken
		// chunked body): refused whole.
		return fail(bodyError(decodeErr, limit))
	}
	if digest != nil {
		// The digest covers every byte received, after any the coding
		// could not decode.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fail(bodyError(err, limit))
		}
		if err := digest.verify(); err != nil {
			return fail(err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("handlers: spool a request body: %w", err))
	}
	if decodeErr == nil {
		return f, nil
	}
	// Data that stops decoding ends the stream there, as it would have
	// unspooled: what came before it is read first.
	return spooled{Reader: io.MultiReader(f, errorReader{decodeErr}), f: f}, nil
}

// A fileWriter writes to f and keeps the first error, to tell a failure
// to write the spool from one to read the request.
type fileWriter struct {
	f   *os.File
	err error
}

// Write writes to the file.
func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// spooled reads a spooled stream and frees its file on Close.
type spooled struct {
	io.Reader
	f *os.File
}

// Close frees the file.
func (s spooled) Close() error { return s.f.Close() }

// errorReader fails every read with err.
type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }

// pathParam returns a URL parameter decoded, once. chi takes parameters
// from the path it routed: the decoded one, or, when decodedPath kept the
// raw path (it encodes a slash), the raw one, whose parameters are still
// percent-encoded.
func pathParam(r *http.Request, name string) (string, error) {
	raw := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return raw, nil
	}
	v, err := url.PathUnescape(raw)
	if err != nil {
		return "", problem.New(problem.Invalid, "path parameter %s is not valid percent-encoding", name).WithReason("path")
	}
	return v, nil
}

// queryInt reads an integer query parameter within [min, max], or def
// when it is absent.
// maxEcho is how much of a bad value from a request a detail quotes.
const maxEcho = 64

func queryInt(r *http.Request, name string, def, min, max int64) (int64, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		if r.URL.Query().Has(name) {
			return 0, problem.New(problem.Invalid, "query parameter %s is empty", name).WithReason("query")
		}
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < min || n > max {
		return 0, problem.New(problem.Invalid, "query parameter %s must be an integer from %d to %d, got %q", name, min, max, problem.Excerpt(raw, maxEcho)).WithReason("query")
	}
	return n, nil
}

// queryBool reads a boolean query parameter of r (see queryFlag).
func queryBool(r *http.Request, name string) (bool, error) {
	if r.URL.RawQuery == "" {
		return false, nil // most requests: no query to parse
	}
	return queryFlag(r.URL.Query(), name)
}

// queryFlag reads a boolean query parameter: absent is false, and given
// with no value (?pretty, ?atomic=) is true, as a flag reads. A value is
// true or false in any case; any other (1, yes) is a 400 rather than a
// guess, which for ?atomic would decide between all or nothing and a
// partial import.
func queryFlag(q url.Values, name string) (bool, error) {
	if !q.Has(name) {
		return false, nil
	}
	// ASCII case only: strings.EqualFold would take "falſe" too.
	switch raw := strings.ToLower(q.Get(name)); {
	case raw == "" || raw == "true":
		return true, nil
	case raw == "false":
		return false, nil
	default:
		return false, problem.New(problem.Invalid, "query parameter %s must be true or false, got %q", name, problem.Excerpt(q.Get(name), maxEcho)).WithReason("query")
	}
}

// includeData reads the include query parameter of history and change
// lists: "data" adds the records, and absent adds nothing; anything else is
// a 400, so that a misspelt request is not answered without them.
func includeData(r *http.Request) (bool, error) {
	q := r.URL.Query()
	if !q.Has("include") {
		return false, nil
	}
	if v := q.Get("include"); v != "data" {
		return false, problem.New(problem.Invalid, "query parameter include must be data, got %q", v).WithReason("query")
	}
	return true, nil
}

// writeContext is the context of a write's work in the store: r's values
// without its cancellation. Once a write's request has been read, what is
// stored depends on the request alone, not on when the client's departure
// is noticed: net/http ends r's context when the client shuts its side of
// the connection, which a client may do as soon as it has sent the
// request, and one that has left learns the outcome either way.
func writeContext(r *http.Request) context.Context {
	return context.WithoutCancel(r.Context())
}
