package handlers

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
)

// errBodyTooLarge marks a body cut off by http.MaxBytesReader.
var errBodyTooLarge = errors.New("handlers: request body too large")

// readBody reads the whole request body within limit bytes, compressed or
// not, and checks Content-Digest when the client sent one.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	raw := http.MaxBytesReader(w, r.Body, limit)
	body, err := negotiate.ReadSizedBody(raw, r.Header.Get("Content-Encoding"), r.ContentLength, limit)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, problem.New(problem.TooLarge, "request body is larger than %d bytes", limit).WithReason("too_large")
		}
		return nil, err
	}
	info := requestInfoFrom(w)
	info.bytesIn = int64(len(body))
	if err := checkDigest(r.Header.Get("Content-Digest"), r.Header.Get("Content-Encoding"), body); err != nil {
		return nil, err
	}
	return body, nil
}

// checkDigest verifies an RFC 9530 Content-Digest of sha-256 or sha-512.
// The digest covers the content as sent; Ferry checks it against the
// decoded body when no content coding was applied, which is the common
// case, and against nothing it cannot recompute otherwise.
func checkDigest(header, contentEncoding string, body []byte) error {
	if header == "" {
		return nil
	}
	if ce := strings.TrimSpace(contentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil
	}
	checked := false
	for _, member := range strings.Split(header, ",") {
		alg, value, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok {
			return problem.New(problem.Invalid, "content-digest %q is not a dictionary member", member).WithReason("digest")
		}
		var h hash.Hash
		switch strings.ToLower(strings.TrimSpace(alg)) {
		case "sha-256":
			h = sha256.New()
		case "sha-512":
			h = sha512.New()
		default:
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) < 2 || value[0] != ':' || value[len(value)-1] != ':' {
			return problem.New(problem.Invalid, "content-digest %s must be a byte sequence (:base64:)", alg).WithReason("digest")
		}
		want, err := base64.StdEncoding.DecodeString(value[1 : len(value)-1])
		if err != nil {
			return problem.New(problem.Invalid, "content-digest %s is not base64", alg).WithReason("digest")
		}
		h.Write(body)
		if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
			return problem.New(problem.Invalid, "content-digest %s does not match the body received", alg).WithReason("digest")
		}
		checked = true
	}
	if !checked {
		return problem.New(problem.Invalid, "content-digest names no algorithm this service checks (sha-256, sha-512)").WithReason("digest")
	}
	return nil
}

// pathParam returns a URL parameter decoded; chi leaves them
// percent-encoded.
func pathParam(r *http.Request, name string) (string, error) {
	raw := chi.URLParam(r, name)
	v, err := url.PathUnescape(raw)
	if err != nil {
		return "", problem.New(problem.Invalid, "path parameter %s is not valid percent-encoding", name).WithReason("path")
	}
	return v, nil
}

// queryInt reads an integer query parameter within [min, max], or def
// when it is absent.
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
		return 0, problem.New(problem.Invalid, "query parameter %s must be an integer from %d to %d, got %q", name, min, max, raw).WithReason("query")
	}
	return n, nil
}

// queryBool reads a boolean query parameter; absent is false.
func queryBool(r *http.Request, name string) (bool, error) {
	if r.URL.RawQuery == "" {
		return false, nil // most requests: no query to parse
	}
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, problem.New(problem.Invalid, "query parameter %s must be true or false, got %q", name, raw).WithReason("query")
	}
	return v, nil
}

// drain discards what is left of a body so the connection can be reused.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
}
