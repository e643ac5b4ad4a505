package handlers

import (
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/ferry-dev/ferry/internal/negotiate"
)

// A streamBody is the body of a streamed 200 response, such as an export.
// It holds the start of the stream until there is more of it than
// compression is worth (negotiate.MinCompressBytes) or the stream ends.
// So a short stream is sent whole, with a Content-Length, uncompressed and
// with any Content-Digest asked for as a header, and a failure before the
// first bytes went out can still be answered with a problem. A longer
// stream starts the response, compressed when the client asked for it,
// and sends the Content-Digest asked for as a trailer.
type streamBody struct {
	w http.ResponseWriter
	r *http.Request
	// encoding is the content coding to use, "" for none.
	encoding string
	held     []byte
	started  bool
	out      io.Writer // after the start: the compressor, or w
	zw       io.WriteCloser
	alg      string // the Content-Digest algorithm, "" when none was asked for
	digest   hash.Hash
	// headersOnly is set for HEAD: the stream is made only as far as it
	// takes to know the headers a GET would send, then refused.
	headersOnly bool
	// n counts the bytes of the stream, before any content coding.
	n int64
}

// errHeadersSent ends the making of a HEAD response's stream once its
// headers are sent.
var errHeadersSent = errors.New("handlers: a HEAD response's headers are sent")

func newStreamBody(w http.ResponseWriter, r *http.Request, encoding string) *streamBody {
	s := &streamBody{w: w, r: r, encoding: encoding, headersOnly: r.Method == http.MethodHead}
	if want := r.Header["Want-Content-Digest"]; len(want) > 0 {
		s.alg = wantedDigest(want)
	}
	return s
}

// Started reports whether the response has started: after that a failure
// can only cut the stream short.
func (s *streamBody) Started() bool { return s.started }

// HeadersSent reports whether a HEAD response is complete: its headers are
// those a GET would have started with.
func (s *streamBody) HeadersSent() bool { return s.headersOnly && s.started }

// Len returns the number of bytes written to the stream, before any
// content coding.
func (s *streamBody) Len() int64 { return s.n }

// Write adds p to the stream.
func (s *streamBody) Write(p []byte) (int, error) {
	if s.HeadersSent() {
		return 0, errHeadersSent
	}
	s.n += int64(len(p))
	if !s.started {
		if len(s.held)+len(p) < negotiate.MinCompressBytes {
			s.held = append(s.held, p...)
			return len(p), nil
		}
		if err := s.start(); err != nil {
			return 0, err
		}
	}
	return s.out.Write(p)
}

// start sends the headers and what was held; for HEAD, only the headers.
func (s *streamBody) start() error {
	h := s.w.Header()
	if s.alg != "" {
		h.Set("Trailer", "Content-Digest")
	}
	if s.encoding != "" {
		h.Set("Content-Encoding", s.encoding)
	}
	if s.headersOnly {
		s.started, s.held = true, nil
		s.w.WriteHeader(http.StatusOK)
		return errHeadersSent
	}
	var dst io.Writer = s.w
	if s.digest = newDigestHash(s.alg); s.digest != nil {
		dst = io.MultiWriter(s.w, s.digest)
	}
	s.out = dst
	if s.encoding != "" {
		zw, err := negotiate.NewEncodingWriter(dst, s.encoding)
		if err != nil {
			return err
		}
		s.zw, s.out = zw, zw
	}
	s.started = true
	s.w.WriteHeader(http.StatusOK)
	held := s.held
	s.held = nil
	_, err := s.out.Write(held)
	return err
}

// Flush sends what the compressor and the server hold, once the response
// has started.
func (s *streamBody) Flush() error {
	if !s.started {
		return nil
	}
	if f, ok := s.zw.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(s.w).Flush()
}

// Close ends the stream: a short one is sent now, whole, or for HEAD its
// headers only.
func (s *streamBody) Close() error {
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Length", strconv.Itoa(len(s.held)))
		setContentDigest(h, s.r, s.held)
		s.w.WriteHeader(http.StatusOK)
		s.started = true
		if s.headersOnly {
			return nil
		}
		_, err := s.w.Write(s.held)
		return err
	}
	if s.zw != nil {
		if err := s.zw.Close(); err != nil {
			return err
		}
	}
	if s.digest != nil {
		s.w.Header().Set("Content-Digest", digestField(s.alg, s.digest))
	}
	return nil
}

// Abort gives back the compressor of a stream that is being cut short,
// whatever it still holds.
func (s *streamBody) Abort() {
	if s.zw != nil {
		_ = s.zw.Close()
		s.zw = nil
	}
}
