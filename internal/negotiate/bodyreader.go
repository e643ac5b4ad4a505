package negotiate

import (
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-dev/ferry/internal/problem"
)

// NewBodyReader returns the decoded stream of a request body sent with the
// given Content-Encoding (identity, gzip or zstd), for bodies read as a
// stream (imports) rather than whole. The decoded stream is held to limit
// bytes: a read past it fails with a problem.TooLarge error, however small
// the body was on the wire. An unknown coding is problem.UnsupportedMedia.
// Close returns the decompressor to its pool.
func NewBodyReader(r io.Reader, contentEncoding string, limit int64) (io.ReadCloser, error) {
	coding, err := requestCoding(contentEncoding)
	if err != nil {
		return nil, err
	}
	// The source is watched so that a failure of the connection is told
	// from compressed data that does not decode.
	src := &SourceReader{r: r}
	switch coding {
	case EncodingGzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		if err := zr.Reset(src); err != nil {
			gzipReaders.Put(zr)
			return &limitedBody{err: decodeFailed(coding, err)}, nil
		}
		return &limitedBody{r: zr, src: src, coding: coding, left: limit, limit: limit, close: func() { gzipReaders.Put(zr) }}, nil
	case EncodingZstd:
		zr := zstdReaders.Get().(*zstd.Decoder)
		if err := zr.Reset(src); err != nil {
			zr.Reset(nil)
			zstdReaders.Put(zr)
			return &limitedBody{err: decodeFailed(coding, err)}, nil
		}
		return &limitedBody{r: zr, src: src, coding: coding, left: limit, limit: limit, close: func() { zr.Reset(nil); zstdReaders.Put(zr) }}, nil
	}
	return &limitedBody{r: r, left: limit, limit: limit}, nil
}

// A limitedBody fails with TooLarge once more than limit bytes come.
type limitedBody struct {
	r      io.Reader
	src    *SourceReader // under a decompressor, else nil
	coding string
	left   int64
	limit  int64
	err    error
	close  func()
}

// fail keeps err as the body's error: as it is when it comes from the
// source (a *http.MaxBytesError must stay recognisable as the stream
// being too large), else, from a decompressor, as a problem.Invalid saying
// that the body does not decode.
func (b *limitedBody) fail(err error) error {
	if _, ok := problem.As(err); !ok && b.src != nil && b.src.err == nil {
		err = decodeFailed(b.coding, err)
	}
	b.err = err
	return err
}

// Read reads from the decoded stream.
func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// Over the limit only if there is more to come.
		var one [1]byte
		n, err := b.r.Read(one[:])
		switch {
		case n > 0:
			b.err = tooLarge(b.limit)
		case err == nil || err == io.EOF:
			return 0, io.EOF
		default:
			return 0, b.fail(err)
		}
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err != nil && err != io.EOF {
		return n, b.fail(err)
	}
	return n, err
}

// Close releases the decompressor.
func (b *limitedBody) Close() error {
	if b.close != nil {
		b.close()
		b.close = nil
	}
	return nil
}

func decodeFailed(coding string, err error) error {
	return problem.Wrap(problem.Invalid, err, "the request body is not valid %s data", coding).WithReason("encoding")
}
