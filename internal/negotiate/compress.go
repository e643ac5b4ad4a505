package negotiate

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-dev/ferry/internal/problem"
)

// Content codings.
const (
	EncodingZstd     = "zstd"
	EncodingBrotli   = "br"
	EncodingGzip     = "gzip"
	EncodingIdentity = "identity"
)

// MinCompressBytes is the smallest response body worth compressing.
const MinCompressBytes = 1024

// AcceptedRequestEncodings names the content codings ReadBody decodes, as an
// Accept-Encoding response header (RFC 7694) lists them.
const AcceptedRequestEncodings = "gzip, zstd"

// zstdMaxWindow is the largest window a zstd request body may use; RFC 9659
// holds the zstd content coding to 8 MiB.
const zstdMaxWindow = 8 << 20

// responseCodings are the codings ChooseEncoding picks from, in the
// server's order of preference.
var responseCodings = [...]string{EncodingZstd, EncodingBrotli, EncodingGzip}

// ResponseCoding reports whether name is a content coding Ferry's
// responses come in.
func ResponseCoding(name string) bool { return slices.Contains(responseCodings[:], name) }

// ChooseEncoding picks the content coding of a response from an
// Accept-Encoding header value (RFC 9110 §12.5.3): the coding among zstd, br
// and gzip with the highest q, ties going to that order, unless identity
// has a higher q. "*" stands for every coding not listed. identity is the
// answer when nothing else is acceptable, even if the client excluded it
// too: a response without a coding is the only one left to send. Malformed
// elements are ignored.
func ChooseEncoding(acceptEncoding string) string {
	const unset = -1
	weights := [len(responseCodings)]int{unset, unset, unset}
	identity, star := unset, unset
	for elem := range strings.SplitSeq(acceptEncoding, ",") {
		coding, params, _ := strings.Cut(elem, ";")
		coding = strings.Trim(coding, " \t")
		q := qualityScale
		if params != "" {
			name, value, ok := strings.Cut(strings.Trim(params, " \t"), "=")
			if !ok || !strings.EqualFold(strings.TrimRight(name, " \t"), "q") {
				continue
			}
			if q, ok = parseQuality(strings.TrimLeft(value, " \t")); !ok {
				continue
			}
		}
		switch {
		case coding == "*":
			star = q
		case strings.EqualFold(coding, EncodingIdentity):
			identity = q
		case strings.EqualFold(coding, "x-gzip"):
			weights[2] = q
		default:
			for i, c := range responseCodings {
				if strings.EqualFold(coding, c) {
					weights[i] = q
				}
			}
		}
	}
	best, bestQ := EncodingIdentity, 0
	for i, c := range responseCodings {
		q := weights[i]
		if q == unset {
			q = max(star, 0)
		}
		if q > bestQ {
			best, bestQ = c, q
		}
	}
	if identity == unset {
		identity = star
	}
	if best != EncodingIdentity && identity > bestQ {
		return EncodingIdentity
	}
	return best
}

// Pools of compressors and decompressors. zstd encoders in particular are
// expensive to create; each is used by one request at a time.
var (
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
		return w
	}}
	brotliWriters = sync.Pool{New: func() any { return brotli.NewWriterLevel(io.Discard, 4) }}
	zstdWriters   = sync.Pool{New: func() any {
		w, _ := zstd.NewWriter(io.Discard,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20),
		)
		return w
	}}
	gzipReaders sync.Pool // of *gzip.Reader, made by the first Reset
	zstdReaders = sync.Pool{New: func() any {
		d, _ := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
		)
		return d
	}}
)

// A compressor is what the pooled encoders have in common.
type compressor interface {
	io.WriteCloser
	Flush() error
	Reset(w io.Writer)
}

// NewEncodingWriter returns a writer that compresses what is written to it
// into w with the given content coding ("identity" or "" for none). Close
// ends the compressed stream, without closing w, and must be called. The
// writer also has a Flush method, for streamed responses.
func NewEncodingWriter(w io.Writer, encoding string) (io.WriteCloser, error) {
	var pool *sync.Pool
	switch encoding {
	case EncodingIdentity, "":
		return nopCloser{w}, nil
	case EncodingGzip:
		pool = &gzipWriters
	case EncodingBrotli:
		pool = &brotliWriters
	case EncodingZstd:
		pool = &zstdWriters
	default:
		return nil, fmt.Errorf("negotiate: unknown content coding %q", encoding)
	}
	c := pool.Get().(compressor)
	c.Reset(w)
	return &pooledWriter{c: c, pool: pool}, nil
}

type nopCloser struct{ io.Writer }

// Close does nothing: there is no compressed stream to end.
func (nopCloser) Close() error { return nil }

// Flush flushes the underlying writer, if it can be.
func (n nopCloser) Flush() error {
	if f, ok := n.Writer.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

var errWriterClosed = errors.New("negotiate: encoding writer is closed")

type pooledWriter struct {
	c    compressor
	pool *sync.Pool
}

// Write compresses b.
func (p *pooledWriter) Write(b []byte) (int, error) {
	if p.c == nil {
		return 0, errWriterClosed
	}
	return p.c.Write(b)
}

// Flush writes out what has been compressed so far.
func (p *pooledWriter) Flush() error {
	if p.c == nil {
		return errWriterClosed
	}
	return p.c.Flush()
}

// Close ends the compressed stream and returns the compressor to its pool.
func (p *pooledWriter) Close() error {
	if p.c == nil {
		return nil
	}
	err := p.c.Close()
	p.c.Reset(io.Discard)
	p.pool.Put(p.c)
	p.c = nil
	return err
}

// ReadBody reads a request body sent with the given Content-Encoding
// (identity, gzip or zstd) and returns it decoded. Both the body as sent
// and the decoded body are held to limit bytes, so a compression bomb costs
// no more than limit: either over it is a problem.TooLarge error. An
// unknown coding is problem.UnsupportedMedia with "accept_encoding" naming
// the codings read; corrupt compressed data is problem.Invalid.
func ReadBody(r io.Reader, contentEncoding string, limit int64) ([]byte, error) {
	return ReadSizedBody(r, contentEncoding, -1, limit)
}

// ReadSizedBody is ReadBody for a body whose length as sent is declared
// (Content-Length; -1 when unknown). An uncompressed body of a declared
// length is read into a buffer of that size at once; the declaration is
// only a hint, and the limit holds whatever the body turns out to be.
func ReadSizedBody(r io.Reader, contentEncoding string, size, limit int64) ([]byte, error) {
	coding, err := requestCoding(contentEncoding)
	if err != nil {
		return nil, err
	}
	if coding == EncodingIdentity {
		src := &SourceReader{r: r}
		body, err := readLimited(src, limit, size)
		if err != nil && src.err != nil {
			return nil, ReadFailed(src.err)
		}
		return body, err
	}

	// One byte over the limit is enough to know the body is too large.
	src := &SourceReader{r: io.LimitReader(r, limit+1)}
	var body []byte
	switch coding {
	case EncodingGzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		if err = zr.Reset(src); err == nil {
			body, err = readLimited(zr, limit, -1)
		}
		gzipReaders.Put(zr)
	case EncodingZstd:
		zr := zstdReaders.Get().(*zstd.Decoder)
		if err = zr.Reset(src); err == nil {
			body, err = readLimited(zr, limit, -1)
		}
		// Drop the reference to the body before pooling the decoder.
		zr.Reset(nil)
		zstdReaders.Put(zr)
	}
	switch {
	case err == nil:
		return body, nil
	case problem.Is(err, problem.TooLarge):
		return nil, err
	case src.n > limit:
		return nil, tooLarge(limit)
	case src.err != nil:
		return nil, ReadFailed(src.err)
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, problem.Wrap(problem.Invalid, err, "the zstd request body uses a window larger than the %d MiB of the zstd content coding (RFC 9659); compress it with a window of 8 MiB or less", zstdMaxWindow>>20).WithReason("encoding")
	}
	return nil, problem.Wrap(problem.Invalid, err, "the request body is not valid %s data", coding).WithReason("encoding")
}

// requestCoding parses a request's Content-Encoding. Codings may be listed
// (RFC 9110 §8.4), but Ferry reads at most one besides identity.
func requestCoding(contentEncoding string) (string, error) {
	coding := EncodingIdentity
	for elem := range strings.SplitSeq(contentEncoding, ",") {
		c := strings.ToLower(strings.Trim(elem, " \t"))
		switch c {
		case "", EncodingIdentity:
			continue
		case EncodingGzip, "x-gzip":
			c = EncodingGzip
		case EncodingZstd:
		default:
			return "", unsupportedEncoding(fmt.Sprintf("content-encoding %q is not supported", c))
		}
		if coding != EncodingIdentity {
			return "", unsupportedEncoding("a request body may have at most one content coding")
		}
		coding = c
	}
	return coding, nil
}

func unsupportedEncoding(detail string) *problem.Error {
	return problem.New(problem.UnsupportedMedia, "%s", detail).
		WithReason("content_encoding").
		With("accept_encoding", AcceptedRequestEncodings)
}

func tooLarge(limit int64) *problem.Error {
	return problem.New(problem.TooLarge, "the request body is larger than the limit of %d bytes", limit).
		WithReason("size").With("limit", limit)
}

// ReadFailed is the client's problem (400) of a request body whose bytes
// could not be read, such as a chunked body cut off or malformed.
func ReadFailed(err error) *problem.Error {
	if p, ok := problem.As(err); ok && p.Kind == problem.Timeout {
		// A body that stalled says so itself.
		return p
	}
	return problem.Wrap(problem.Invalid, err, "the request body could not be read").WithReason("read")
}

// A SourceReader counts what it reads and keeps the first read error
// other than io.EOF, so that a failure of the connection is not mistaken
// for what the bytes read from it hold (corrupt compressed data, a
// framing error).
type SourceReader struct {
	r   io.Reader
	n   int64
	err error
}

// NewSourceReader returns a SourceReader of r.
func NewSourceReader(r io.Reader) *SourceReader { return &SourceReader{r: r} }

// N returns the number of bytes read.
func (s *SourceReader) N() int64 { return s.n }

// Err returns the first read error other than io.EOF, or nil.
func (s *SourceReader) Err() error { return s.err }

// Read reads from the source, counting and keeping its error.
func (s *SourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// readLimited reads r to its end, failing with problem.TooLarge as soon as
// more than limit bytes come. The buffer grows by doubling up to limit, so
// at most about twice the limit is ever allocated.
func readLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	limit = max(limit, 0)
	initial := int64(512)
	if sizeHint >= 0 {
		// One byte more than declared, so that the end is seen without
		// growing the buffer.
		initial = sizeHint + 1
	}
	buf := make([]byte, 0, min(limit, initial))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= limit {
				// Full at the limit: one more byte is one too many.
				var one [1]byte
				switch _, err := io.ReadFull(r, one[:]); err {
				case nil:
					return nil, tooLarge(limit)
				case io.EOF:
					return buf, nil
				default:
					return nil, err
				}
			}
			grown := make([]byte, len(buf), min(max(2*int64(cap(buf)), 512), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
