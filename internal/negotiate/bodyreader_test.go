package negotiate

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

func TestReadSizedBody(t *testing.T) {
	t.Parallel()
	body := []byte(strings.Repeat("ferry ", 100)) // 600 bytes
	tests := []struct {
		name  string
		size  int64
		limit int64
		want  problem.Kind // Internal: no error
	}{
		{"declared size", 600, 1000, problem.Internal},
		{"declared smaller than sent", 10, 1000, problem.Internal},
		{"declared larger than sent", 900, 1000, problem.Internal},
		{"unknown size", -1, 1000, problem.Internal},
		{"exactly the limit", 600, 600, problem.Internal},
		{"over the limit though declared under", 100, 599, problem.TooLarge},
		{"declared over the limit", 5000, 599, problem.TooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadSizedBody(bytes.NewReader(body), "", tc.size, tc.limit)
			if tc.want == problem.Internal {
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("ReadSizedBody(size %d, limit %d) = %d bytes, %v; want the %d bytes sent", tc.size, tc.limit, len(got), err, len(body))
				}
				return
			}
			if !problem.Is(err, tc.want) {
				t.Fatalf("ReadSizedBody(size %d, limit %d) error = %v, want %v", tc.size, tc.limit, err, tc.want)
			}
		})
	}
}

func TestNewBodyReader(t *testing.T) {
	t.Parallel()
	plain := []byte(strings.Repeat("ferry streams ", 1000)) // 14 000 bytes
	for _, enc := range []string{"", "gzip", "zstd"} {
		data := plain
		if enc != "" {
			data = compressed(t, enc, plain)
		}
		t.Run("whole stream "+enc, func(t *testing.T) {
			t.Parallel()
			r, err := NewBodyReader(bytes.NewReader(data), enc, int64(len(plain)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("read %d bytes, %v; want the %d bytes sent", len(got), err, len(plain))
			}
		})
		t.Run("over the limit "+enc, func(t *testing.T) {
			t.Parallel()
			r, err := NewBodyReader(bytes.NewReader(data), enc, int64(len(plain))-1)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := io.ReadAll(r); !problem.Is(err, problem.TooLarge) {
				t.Fatalf("reading one byte past the limit: %v, want too large", err)
			}
		})
	}
	t.Run("unknown coding", func(t *testing.T) {
		t.Parallel()
		if _, err := NewBodyReader(bytes.NewReader(nil), "br", 10); !problem.Is(err, problem.UnsupportedMedia) {
			t.Fatalf("br request stream: %v, want unsupported media", err)
		}
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		t.Parallel()
		r, err := NewBodyReader(strings.NewReader("not gzip at all"), "gzip", 100)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := io.ReadAll(r); !problem.Is(err, problem.Invalid) {
			t.Fatalf("corrupt gzip: %v, want invalid", err)
		}
	})
	// Compressed data that stops decoding partway, or is not of its
	// coding at all past its header: a problem.Invalid, not a bare error
	// that would be taken for the service's fault.
	for _, enc := range []string{"gzip", "zstd"} {
		t.Run("corrupt "+enc+" past its start", func(t *testing.T) {
			t.Parallel()
			whole := compressed(t, enc, plain)
			for _, data := range [][]byte{whole[:len(whole)/2], append(bytes.Clone(whole[:len(whole)/2]), bytes.Repeat([]byte{0x55}, 64)...)} {
				r, err := NewBodyReader(bytes.NewReader(data), enc, int64(len(plain)))
				if err != nil {
					t.Fatal(err)
				}
				_, err = io.ReadAll(r)
				r.Close()
				if !problem.Is(err, problem.Invalid) {
					t.Fatalf("cut %s stream: %v, want invalid", enc, err)
				}
			}
		})
	}
	t.Run("not zstd", func(t *testing.T) {
		t.Parallel()
		r, err := NewBodyReader(bytes.NewReader([]byte{0x97}), "zstd", 100)
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if !problem.Is(err, problem.Invalid) {
			t.Fatalf("one byte that is not zstd: %v, want invalid", err)
		}
	})
	t.Run("errors from below a decompressor pass through", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("connection reset")
		whole := compressed(t, "gzip", plain)
		r, err := NewBodyReader(io.MultiReader(bytes.NewReader(whole[:len(whole)/2]), errReader{boom}), "gzip", int64(len(plain)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := io.ReadAll(r); !errors.Is(err, boom) || problem.Is(err, problem.Invalid) {
			t.Fatalf("read error = %v, want %v as it is", err, boom)
		}
	})
	t.Run("errors from below pass through", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("connection reset")
		r, err := NewBodyReader(io.MultiReader(bytes.NewReader(plain[:10]), errReader{boom}), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		// The limit is reached exactly; the probe for one more byte meets
		// the failure, which must not be mistaken for a clean end.
		if _, err := io.ReadAll(r); !errors.Is(err, boom) {
			t.Fatalf("read error = %v, want %v", err, boom)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
