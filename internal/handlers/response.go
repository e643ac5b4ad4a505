package handlers

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/negotiate"
)

// varyNegotiated is the Vary of every negotiated response.
const varyNegotiated = "Accept, Accept-Encoding"

// A representation is an encoded response body with its metadata.
type representation struct {
	body         []byte
	contentType  string
	encoding     string // the content coding applied; "" for none
	etag         string
	lastModified time.Time
}

// compress applies the content coding the client prefers when the body is
// large enough to gain from it.
func compress(body []byte, encoding string) ([]byte, string, error) {
	if encoding == "" || encoding == "identity" || len(body) < negotiate.MinCompressBytes {
		return body, "", nil
	}
	var buf bytes.Buffer
	buf.Grow(len(body) / 2)
	zw, err := negotiate.NewEncodingWriter(&buf, encoding)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), encoding, nil
}

// responseEncoding is the content coding negotiated for r; "" for none.
func responseEncoding(r *http.Request) string {
	enc := negotiate.ChooseEncoding(listField(r.Header, "Accept-Encoding"))
	if enc == "identity" {
		return ""
	}
	return enc
}

// writeRepresentation sends rep with status, and its headers. The header
// names are written in canonical form directly: this runs on every read.
func writeRepresentation(w http.ResponseWriter, r *http.Request, status int, rep representation) {
	h := w.Header()
	set := newHeaderSetter(h, 6).set
	set("Vary", varyNegotiated)
	set("Content-Type", rep.contentType)
	if rep.encoding != "" {
		set("Content-Encoding", rep.encoding)
	}
	if rep.etag != "" {
		set("Etag", rep.etag)
	}
	if !rep.lastModified.IsZero() {
		set("Last-Modified", httpDate(rep.lastModified))
	}
	set("Content-Length", strconv.Itoa(len(rep.body)))
	setContentDigest(h, r, rep.body)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rep.body)
	}
}

// setContentDigest sets the Content-Digest of body, the content as sent,
// when the request's Want-Content-Digest asks for one.
func setContentDigest(h http.Header, r *http.Request, body []byte) {
	want := r.Header["Want-Content-Digest"] // canonical already: every response asks
	if len(want) == 0 {
		return
	}
	alg := wantedDigest(want)
	if d := newDigestHash(alg); d != nil {
		d.Write(body)
		h["Content-Digest"] = []string{digestField(alg, d)}
	}
}

// digestField is the Content-Digest field value of the bytes written to
// d, a hash of algorithm alg (RFC 9530: a dictionary member whose value
// is a byte sequence).
func digestField(alg string, d hash.Hash) string {
	return alg + "=:" + base64.StdEncoding.EncodeToString(d.Sum(nil)) + ":"
}

// withContentDigest serves h, and when the request asks for a
// Content-Digest, holds h's response to add one. It is for the handlers
// that write their responses themselves (health, metrics, documents). A
// HEAD is served to h as a GET, so that its headers describe the body a
// GET would get.
func withContentDigest(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Want-Content-Digest")) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		inner := r
		if r.Method == http.MethodHead {
			inner = r.Clone(r.Context())
			inner.Method = http.MethodGet
		}
		held := &heldResponse{w: w, header: make(http.Header), status: http.StatusOK}
		h.ServeHTTP(held, inner)
		dst := w.Header()
		for k, v := range held.header {
			dst[k] = v
		}
		if held.status != http.StatusNotModified {
			setContentDigest(dst, r, held.body.Bytes())
			dst.Set("Content-Length", strconv.Itoa(held.body.Len()))
		}
		w.WriteHeader(held.status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(held.body.Bytes())
		}
	})
}

// A heldResponse is a response kept in memory until its handler is done.
// It unwraps to the writer it will be copied to, which carries the
// request's information.
type heldResponse struct {
	w           http.ResponseWriter
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

// Unwrap returns the writer the response will be copied to.
func (h *heldResponse) Unwrap() http.ResponseWriter { return h.w }

func (h *heldResponse) WriteHeader(status int) {
	if !h.wroteHeader {
		h.status, h.wroteHeader = status, true
	}
}

func (h *heldResponse) Write(p []byte) (int, error) {
	h.wroteHeader = true
	return h.body.Write(p)
}

// wantedDigest picks the digest algorithm a Want-Content-Digest header
// (RFC 9530: algorithms with weights from 0 to 10) prefers among sha-256
// and sha-512, or "" when it names neither with a weight above 0. A member
// without a valid weight counts as weight 1; on a tie sha-256 wins.
func wantedDigest(values []string) string {
	best, bestWeight := "", 0
	for _, v := range values {
		for member := range strings.SplitSeq(v, ",") {
			alg, weight, _ := strings.Cut(strings.TrimSpace(member), "=")
			alg = strings.ToLower(strings.TrimSpace(alg))
			if alg != "sha-256" && alg != "sha-512" {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(weight))
			if err != nil || n < 0 || n > 10 {
				n = 1
			}
			if n > 0 && (n > bestWeight || (n == bestWeight && alg == "sha-256")) {
				best, bestWeight = alg, n
			}
		}
	}
	return best
}

// httpDate formats t as HTTP dates are written (http.TimeFormat, in UTC)
// without interpreting a layout, as every record response carries one.
func httpDate(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(http.TimeFormat)
	}
	hour, minute, sec := t.Clock()
	b := make([]byte, 0, len(http.TimeFormat))
	b = append(b, t.Weekday().String()[:3]...)
	b = append(b, ", "...)
	b = append2(b, day)
	b = append(b, ' ')
	b = append(b, month.String()[:3]...)
	b = append(b, ' ')
	b = append2(append2(b, year/100), year%100)
	b = append(b, ' ')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, minute)
	b = append(b, ':')
	b = append2(b, sec)
	return string(append(b, " GMT"...))
}

// append2 appends v, from 0 to 99, as two digits.
func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

// writeValidators answers with rep's validators and no body: a 304, or a
// write the client asked to answer minimally.
func writeValidators(w http.ResponseWriter, status int, rep representation) {
	set := newHeaderSetter(w.Header(), 3).set
	set("Vary", varyNegotiated)
	set("Etag", rep.etag)
	set("Last-Modified", httpDate(rep.lastModified))
	w.WriteHeader(status)
}

// A headerSetter sets header fields whose values share one backing array,
// so that a response costs one allocation for them rather than one each.
// Each field gets a capacity-1 slice of the array, so that an Add to it
// appends to a copy.
type headerSetter struct {
	h    http.Header
	vals []string
}

// newHeaderSetter returns a setter for about n fields of h; keys must be
// in canonical form.
func newHeaderSetter(h http.Header, n int) *headerSetter {
	return &headerSetter{h: h, vals: make([]string, 0, n)}
}

func (s *headerSetter) set(key, value string) {
	s.vals = append(s.vals, value)
	n := len(s.vals)
	s.h[key] = s.vals[n-1 : n : n]
}

// writeJSON answers a JSON document built by the service (schema, job,
// history and summary bodies), compressed when the client likes.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	opts := []json.Options{json.Deterministic(true)}
	if pretty, _ := queryBool(r, "pretty"); pretty {
		opts = append(opts, jsontext.WithIndent("  "))
	}
	body, err := json.Marshal(v, opts...)
	if err != nil {
		return fmt.Errorf("handlers: encode response: %w", err)
	}
	body, enc, err := compress(body, responseEncoding(r))
	if err != nil {
		return err
	}
	writeRepresentation(w, r, status, representation{body: body, contentType: "application/json", encoding: enc})
	return nil
}

var jsonOnly = []negotiate.Offer{{MediaType: "application/json"}}

// acceptJSON refuses a request whose Accept rules out JSON, for endpoints
// that speak only JSON.
func acceptJSON(r *http.Request) error {
	_, err := negotiate.Choose(acceptHeader(r), jsonOnly)
	return err
}

// An errHandler is a handler that reports failure by returning an error,
// which is answered as a problem document; a handler that has started its
// response returns nil.
type errHandler func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP runs h and answers its error.
func (h errHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		writeProblem(w, r, err)
	}
}
