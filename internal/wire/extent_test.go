package wire

import (
	"errors"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

func TestExtent(t *testing.T) {
	t.Parallel()
	deepCBOR, deepMsgpack := cat(rep(0x81, 40), h("01")), cat(rep(0x91, 40), h("01"))
	tests := []struct {
		name   string
		extent func([]byte) (int, error)
		data   []byte
		want   int   // the extent, when err is nil
		err    error // ErrTruncated, or nil
		syntax bool  // malformed
	}{
		{"cbor int", CBORExtent, h("01 02"), 1, nil, false},
		{"cbor map", CBORExtent, h("a2 6161 01 6162 82 01 02 ff"), 9, nil, false},
		{"cbor NaN", CBORExtent, h("f9 7e00 01"), 3, nil, false},
		{"cbor foreign tag", CBORExtent, h("d9d9f7 a1 6161 f7 01"), 7, nil, false},
		{"cbor bignum", CBORExtent, h("c2 41 01"), 3, nil, false},
		{"cbor simple values", CBORExtent, h("82 e0 f820"), 4, nil, false},
		{"cbor duplicate keys", CBORExtent, h("a2 6161 01 6161 02"), 7, nil, false},
		{"cbor invalid UTF-8", CBORExtent, h("61 ff 00"), 2, nil, false},
		{"cbor too deep to check", CBORExtent, cat(deepCBOR, h("00")), len(deepCBOR), nil, false},
		{"cbor indefinite items", CBORExtent, h("9f 5f 41 01 ff bf 01 02 ff ff 00"), 10, nil, false},
		{"cbor nested past the walk's bound", CBORExtent, cat(rep(0x81, MaxExtentDepth+1), h("01")), 0, nil, true},
		{"cbor truncated array", CBORExtent, h("82 01"), 0, ErrTruncated, false},
		{"cbor truncated string", CBORExtent, h("5a 00000100 01"), 0, ErrTruncated, false},
		{"cbor missing break", CBORExtent, h("9f 01"), 0, ErrTruncated, false},
		{"cbor truncated tag", CBORExtent, h("c0"), 0, ErrTruncated, false},
		{"cbor reserved information", CBORExtent, h("1c"), 0, nil, true},
		{"cbor lone break", CBORExtent, h("ff"), 0, nil, true},
		{"cbor indefinite integer", CBORExtent, h("1f"), 0, nil, true},
		{"cbor chunk of another type", CBORExtent, h("5f 61 61 ff"), 0, nil, true},
		{"cbor two-byte simple below 32", CBORExtent, h("f8 10"), 0, nil, true},
		{"cbor map ending after a key", CBORExtent, h("bf 01 ff"), 0, nil, true},

		{"msgpack int", MsgpackExtent, h("01 02"), 1, nil, false},
		{"msgpack map", MsgpackExtent, h("82 a161 01 a162 92 01 02 c0"), 9, nil, false},
		{"msgpack NaN", MsgpackExtent, h("cb 7ff8000000000000 01"), 9, nil, false},
		{"msgpack foreign extension", MsgpackExtent, h("d4 05 00 01"), 3, nil, false},
		{"msgpack ext 8", MsgpackExtent, h("c7 02 05 0102 01"), 5, nil, false},
		{"msgpack duplicate keys", MsgpackExtent, h("82 a161 01 a161 02"), 7, nil, false},
		{"msgpack invalid UTF-8", MsgpackExtent, h("a1 ff 00"), 2, nil, false},
		{"msgpack too deep to check", MsgpackExtent, cat(deepMsgpack, h("00")), len(deepMsgpack), nil, false},
		{"msgpack big lengths", MsgpackExtent, h("de 0001 d9 01 61 dc 0001 c4 01 00 00"), 12, nil, false},
		{"msgpack nested past the walk's bound", MsgpackExtent, cat(rep(0x91, MaxExtentDepth+1), h("01")), 0, nil, true},
		{"msgpack truncated array", MsgpackExtent, h("92 01"), 0, ErrTruncated, false},
		{"msgpack truncated head", MsgpackExtent, h("dc 00"), 0, ErrTruncated, false},
		{"msgpack truncated binary", MsgpackExtent, h("c4 05 01"), 0, ErrTruncated, false},
		{"msgpack never used", MsgpackExtent, h("c1"), 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := tc.extent(tc.data)
			switch {
			case tc.syntax:
				if p, ok := problem.As(err); !ok || p.Reason != "syntax" {
					t.Errorf("extent(%s) = %d, %v; want a syntax error", shortHex(tc.data), n, err)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("extent(%s) = %d, %v; want %v", shortHex(tc.data), n, err, tc.err)
				}
			case err != nil || n != tc.want:
				t.Errorf("extent(%s) = %d, %v; want %d", shortHex(tc.data), n, err, tc.want)
			}
		})
	}
}

// assertExtentAgrees checks extent against next on the same data: never a
// panic, only well-formed refusals, the length next finds whenever next
// finds one, and truncation for every prefix of what it measures.
func assertExtentAgrees(t *testing.T, data []byte, next, extent func([]byte) (int, error)) {
	t.Helper()
	m, err := extent(data)
	if err != nil {
		if p := assertRefusal(t, data, err); p.Reason != "syntax" && p.Reason != "truncated" {
			t.Fatalf("extent(%s): %v; want a syntax or truncation error", shortHex(data), err)
		}
		if n, nerr := next(data); nerr == nil {
			t.Fatalf("next(%s) = %d, but extent fails: %v", shortHex(data), n, err)
		}
		return
	}
	if m <= 0 || m > len(data) {
		t.Fatalf("extent(%s) = %d; want a length in [1, %d]", shortHex(data), m, len(data))
	}
	if n, nerr := next(data); nerr == nil && n != m {
		t.Fatalf("next(%s) = %d but extent = %d", shortHex(data), n, m)
	}
	assertPrefixesTruncated(t, data[:m], extent)
}

// FuzzCBORExtent checks CBORExtent against NextCBOR.
func FuzzCBORExtent(f *testing.F) {
	for _, s := range cborSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { assertExtentAgrees(t, data, NextCBOR, CBORExtent) })
}

// FuzzMsgpackExtent checks MsgpackExtent against NextMsgpack.
func FuzzMsgpackExtent(f *testing.F) {
	for _, s := range msgpackSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { assertExtentAgrees(t, data, NextMsgpack, MsgpackExtent) })
}
