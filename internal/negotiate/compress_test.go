package negotiate

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-dev/ferry/internal/problem"
)

func TestChooseEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   string
	}{
		{"", "identity"},
		{"gzip", "gzip"},
		{"gzip, deflate, br", "br"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"br;q=1.0, gzip;q=0.8, *;q=0.1", "br"},
		{"gzip;q=0.5, br;q=0.5", "br"},
		{"gzip;q=0.9, zstd;q=0.8", "gzip"},
		{"*", "zstd"},
		{"*;q=0.5, zstd;q=0", "br"},
		{"identity", "identity"},
		{"identity;q=0", "identity"},
		{"gzip;q=0.5, identity", "identity"},
		{"gzip, identity;q=0", "gzip"},
		{"gzip;q=0.5, identity;q=0.5", "gzip"},
		{"*;q=0", "identity"},
		{"*;q=0, gzip", "gzip"},
		{"deflate, compress", "identity"},
		{"GZIP", "gzip"},
		{"x-gzip", "gzip"},
		{"gzip;q=0", "identity"},
		{"gzip;q=bad, br", "br"},
		{"gzip ; q=0.3 , br ; q=0.2", "gzip"},
		{",,;;==", "identity"},
	}
	for _, tc := range tests {
		if got := ChooseEncoding(tc.header); got != tc.want {
			t.Errorf("ChooseEncoding(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

// decompress reads what NewEncodingWriter wrote with the libraries'
// own readers.
func decompress(t *testing.T, encoding string, data []byte) []byte {
	t.Helper()
	var r io.Reader
	switch encoding {
	case EncodingIdentity:
		return data
	case EncodingGzip:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case EncodingZstd:
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case EncodingBrotli:
		r = brotli.NewReader(bytes.NewReader(data))
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: reading back: %v", encoding, err)
	}
	return out
}

func TestEncodingWriter(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte(`{"id":"ord-1","items":[{"sku":"a","qty":2}]}`+"\n"), 2000)
	for _, enc := range []string{EncodingZstd, EncodingBrotli, EncodingGzip, EncodingIdentity} {
		t.Run(enc, func(t *testing.T) {
			t.Parallel()
			// Twice, so that the second run takes a pooled encoder.
			for range 2 {
				var buf bytes.Buffer
				w, err := NewEncodingWriter(&buf, enc)
				if err != nil {
					t.Fatal(err)
				}
				half := len(body) / 2
				w.Write(body[:half])
				if err := w.(interface{ Flush() error }).Flush(); err != nil {
					t.Fatalf("%s: Flush error: %v", enc, err)
				}
				w.Write(body[half:])
				if err := w.Close(); err != nil {
					t.Fatalf("%s: Close error: %v", enc, err)
				}
				if got := decompress(t, enc, buf.Bytes()); !bytes.Equal(got, body) {
					t.Fatalf("%s: round trip gave %d bytes, want %d", enc, len(got), len(body))
				}
				if enc != EncodingIdentity && buf.Len() >= len(body)/10 {
					t.Errorf("%s: %d bytes compressed to %d", enc, len(body), buf.Len())
				}
				if enc != EncodingIdentity {
					if _, err := w.Write([]byte("x")); err == nil {
						t.Errorf("%s: Write after Close succeeded", enc)
					}
				}
			}
		})
	}
	if _, err := NewEncodingWriter(io.Discard, "deflate"); err == nil {
		t.Errorf("NewEncodingWriter(deflate) succeeded")
	}
}

func compressed(t *testing.T, encoding string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewEncodingWriter(&buf, encoding)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadBody(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("ferry "), 1000)
	random := make([]byte, 5000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name     string
		encoding string
		data     []byte
		limit    int64
		want     []byte
		kind     problem.Kind
		reason   string
	}{
		{name: "identity", encoding: "", data: body, limit: 6000, want: body},
		{name: "identity named", encoding: "identity", data: body, limit: 6000, want: body},
		{name: "identity at the limit", encoding: "identity", data: body, limit: int64(len(body)), want: body},
		{name: "identity over the limit", encoding: "identity", data: body, limit: int64(len(body)) - 1, kind: problem.TooLarge},
		{name: "empty", encoding: "", data: nil, limit: 10, want: []byte{}},
		{name: "gzip", encoding: "gzip", data: compressed(t, "gzip", body), limit: 6000, want: body},
		{name: "x-gzip", encoding: "X-Gzip", data: compressed(t, "gzip", body), limit: 6000, want: body},
		{name: "zstd", encoding: "zstd", data: compressed(t, "zstd", body), limit: 6000, want: body},
		{name: "listed with identity", encoding: "identity, zstd", data: compressed(t, "zstd", body), limit: 6000, want: body},
		{name: "gzip decoded over the limit", encoding: "gzip", data: compressed(t, "gzip", body), limit: 5999, kind: problem.TooLarge},
		{name: "zstd decoded over the limit", encoding: "zstd", data: compressed(t, "zstd", body), limit: 5999, kind: problem.TooLarge},
		{name: "gzip sent over the limit", encoding: "gzip", data: compressed(t, "gzip", random), limit: 4000, kind: problem.TooLarge},
		{name: "zstd sent over the limit", encoding: "zstd", data: compressed(t, "zstd", random), limit: 4000, kind: problem.TooLarge},
		{name: "gzip corrupt", encoding: "gzip", data: []byte("not gzip at all"), limit: 6000, kind: problem.Invalid, reason: "encoding"},
		{name: "zstd corrupt", encoding: "zstd", data: []byte("not zstd at all"), limit: 6000, kind: problem.Invalid, reason: "encoding"},
		{name: "gzip truncated", encoding: "gzip", data: compressed(t, "gzip", body)[:20], limit: 6000, kind: problem.Invalid, reason: "encoding"},
		{name: "zstd truncated", encoding: "zstd", data: compressed(t, "zstd", body)[:20], limit: 6000, kind: problem.Invalid, reason: "encoding"},
		{name: "brotli request", encoding: "br", data: body, limit: 6000, kind: problem.UnsupportedMedia},
		{name: "unknown", encoding: "deflate", data: body, limit: 6000, kind: problem.UnsupportedMedia},
		{name: "two codings", encoding: "gzip, zstd", data: body, limit: 6000, kind: problem.UnsupportedMedia},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadBody(bytes.NewReader(tc.data), tc.encoding, tc.limit)
			if tc.want != nil {
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Fatalf("ReadBody(%s, limit %d) = %d bytes, %v; want %d bytes", tc.encoding, tc.limit, len(got), err, len(tc.want))
				}
				return
			}
			p, ok := problem.As(err)
			if !ok || p.Kind != tc.kind || (tc.reason != "" && p.Reason != tc.reason) {
				t.Fatalf("ReadBody(%s, limit %d) error = %v, want kind %v reason %q", tc.encoding, tc.limit, err, tc.kind, tc.reason)
			}
			if tc.kind == problem.UnsupportedMedia && p.Extra["accept_encoding"] != "gzip, zstd" {
				t.Errorf("ReadBody(%s) accept_encoding = %v, want %q", tc.encoding, p.Extra["accept_encoding"], "gzip, zstd")
			}
		})
	}
}

func TestReadBodyReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	for _, enc := range []string{"identity", "gzip", "zstd"} {
		src := io.MultiReader(bytes.NewReader(compressed(t, enc, []byte(strings.Repeat("x", 100)))[:10]), iotest.ErrReader(boom))
		_, err := ReadBody(src, enc, 1000)
		if !errors.Is(err, boom) || !problem.Is(err, problem.Invalid) {
			t.Errorf("ReadBody(%s) of a failing reader error = %v, want an invalid problem wrapping %v", enc, err, boom)
		}
	}
}

// bombs holds, per coding, about 1 GiB of zeros compressed: a run of
// members (gzip) or frames (zstd) of 8 MiB each, which is how a real bomb is
// cheapest to build.
var bombs = sync.OnceValue(func() map[string][]byte {
	zeros := make([]byte, 8<<20)
	out := map[string][]byte{}
	for _, enc := range []string{EncodingGzip, EncodingZstd} {
		var member bytes.Buffer
		w, _ := NewEncodingWriter(&member, enc)
		w.Write(zeros)
		w.Close()
		out[enc] = bytes.Repeat(member.Bytes(), 128)
	}
	return out
})

func TestReadBodyBomb(t *testing.T) {
	const limit = 1 << 20
	for enc, bomb := range bombs() {
		// The first call may build a pooled decoder; measure the second.
		if _, err := ReadBody(bytes.NewReader(bomb), enc, limit); !problem.Is(err, problem.TooLarge) {
			t.Fatalf("ReadBody(%s bomb of %d bytes) error = %v, want too large", enc, len(bomb), err)
		}
		// The pool may lose its decoder to a collection: take the least
		// of a few runs.
		alloc := uint64(math.MaxUint64)
		for range 3 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ReadBody(bytes.NewReader(bomb), enc, limit)
			runtime.ReadMemStats(&after)
			if !problem.Is(err, problem.TooLarge) {
				t.Fatalf("ReadBody(%s bomb) error = %v, want too large", enc, err)
			}
			alloc = min(alloc, after.TotalAlloc-before.TotalAlloc)
		}
		if alloc > 2*limit+limit/4 {
			t.Errorf("ReadBody(%s bomb, limit %d) allocated %d bytes, want at most %d", enc, limit, alloc, 2*limit+limit/4)
		} else {
			t.Logf("%s bomb (%d bytes, 1 GiB decoded): refused after allocating %d bytes", enc, len(bomb), alloc)
		}
	}
}

// A zstd body whose frame asks for a window past RFC 9659's 8 MiB is
// refused with a 400 that says so, not as data that is not zstd.
func TestReadBodyZstdWindow(t *testing.T) {
	t.Parallel()
	// A frame whose header asks for a 2 GiB window (window log 31), then
	// one raw block of one byte, last.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x09, 0x00, 0x00, 'x'}
	_, err := ReadBody(bytes.NewReader(frame), "zstd", 1<<20)
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid || !strings.Contains(p.Detail, "window larger than the 8 MiB") {
		t.Errorf("ReadBody of a zstd body with a 2 GiB window: %v, want a 400 naming the window", err)
	}
	// The same frame with an 8 MiB window (log 23) reads.
	frame[5] = 13 << 3
	if body, err := ReadBody(bytes.NewReader(frame), "zstd", 1<<20); err != nil || string(body) != "x" {
		t.Errorf("ReadBody of a zstd body with an 8 MiB window = %q, %v; want x", body, err)
	}
}
