package wire

import (
	"errors"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/ferry-dev/ferry/internal/problem"
)

// reasons lists every Reason the checks report.
var reasons = map[string]bool{
	"depth": true, "length": true, "duplicate_key": true, "utf8": true, "trailing": true,
	"syntax": true, "truncated": true, "nonfinite": true, "int_range": true, "time": true,
	"unsupported_tag": true, "unsupported_value": true, "unsupported_ext": true, "unsupported_key": true,
}

// assertRefusal fails t unless err is a problem with a known reason, a
// client kind and an offset inside data.
func assertRefusal(t *testing.T, data []byte, err error) *problem.Error {
	t.Helper()
	p, isProblem := problem.As(err)
	if !isProblem {
		t.Fatalf("input %s: got %T %v, want *problem.Error", shortHex(data), err, err)
	}
	offset, hasOffset := p.Extra["offset"].(int)
	if !reasons[p.Reason] || (p.Kind != problem.Invalid && p.Kind != problem.Unprocessable) ||
		!hasOffset || offset < 0 || offset > len(data) {
		t.Fatalf("input %s: got kind %s, reason %q, offset %v (%v); want a known reason and an offset in [0, %d]",
			shortHex(data), p.Kind, p.Reason, p.Extra["offset"], err, len(data))
	}
	return p
}

// assertPrefixesTruncated fails t unless next reports every proper prefix
// of the valid value data as truncated. Long values are sampled.
func assertPrefixesTruncated(t *testing.T, data []byte, next func([]byte) (int, error)) {
	t.Helper()
	step := max(1, len(data)/256)
	for i := 0; i < len(data); i += step {
		if n, err := next(data[:i]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("next(%s), a %d-byte prefix of the valid %s = %d, %v; want ErrTruncated",
				shortHex(data[:i]), i, shortHex(data), n, err)
		}
	}
}

// assertNextAgrees checks next against check on the same data: a value
// found by next passes check alone and check on all of data fails only on
// the data after it; an error from next is the error check reports, except
// that truncation may be a declared length past the end for check.
func assertNextAgrees(t *testing.T, data []byte, check func([]byte) error, next func([]byte) (int, error)) {
	t.Helper()
	n, err := next(data)
	cerr := check(data)
	if err == nil {
		if n <= 0 || n > len(data) {
			t.Fatalf("next(%s) = %d, nil; want a length in [1, %d]", shortHex(data), n, len(data))
		}
		if err := check(data[:n]); err != nil {
			t.Fatalf("next(%s) = %d, but check of that value fails: %v", shortHex(data), n, err)
		}
		if n == len(data) {
			if cerr != nil {
				t.Fatalf("next(%s) = %d, the whole input, but check fails: %v", shortHex(data), n, cerr)
			}
			return
		}
		p := assertRefusal(t, data, cerr)
		if p.Reason != "trailing" || p.Extra["offset"] != n {
			t.Fatalf("next(%s) = %d, but check says %v; want trailing data at offset %d", shortHex(data), n, cerr, n)
		}
		return
	}
	if n != 0 {
		t.Fatalf("next(%s) = %d with error %v; want 0", shortHex(data), n, err)
	}
	p := assertRefusal(t, data, err)
	cp := assertRefusal(t, data, cerr)
	if errors.Is(err, ErrTruncated) {
		if cp.Reason != "truncated" && cp.Reason != "length" {
			t.Fatalf("next(%s) reports truncation (%v) but check reports %v", shortHex(data), err, cerr)
		}
		return
	}
	if p.Kind != cp.Kind || p.Reason != cp.Reason || p.Extra["offset"] != cp.Extra["offset"] {
		t.Fatalf("next(%s) reports %v but check reports %v", shortHex(data), err, cerr)
	}
}

// seeds returns the data of the cases plus hostile inputs small enough to
// mutate quickly.
func seeds(cases []checkCase, hostile ...[]byte) [][]byte {
	out := hostile
	for _, c := range cases {
		out = append(out, c.data)
	}
	return out
}

func msgpackSeeds() [][]byte {
	return seeds(msgpackValid(),
		h("df ffffffff"), h("dd ffffffff"), rep(0x91, 4<<10), cat(rep(0x91, 33), h("01")),
		h("d9 ff 61"), h("db ffffffff 61"), h("c6 ffffffff"), h("82 a161 01 a161 02"),
		h("82 a161 01 d901 61 02"), h("a1 ff"), h("01 02"), h("ca 7fc00000"), h("cb 7ff0000000000000"),
		h("d4 05 00"), h("c1"), h("81 90 01"), mpTimestamp64(0, 1e9), h("92 cd 00"),
	)
}

func cborSeeds() [][]byte {
	return seeds(cborValid(),
		h("bb ffffffffffffffff"), h("9b ffffffffffffffff"), rep(0x81, 4<<10), rep(0x9f, 4<<10),
		cat(rep(0x81, 33), h("01")), h("7a ffffffff 61"), h("a2 6161 01 6161 02"),
		h("a2 6161 01 7f 6161 ff 02"), h("61 ff"), h("01 02"), h("f9 7e00"), h("fb 7ff0000000000000"),
		h("3b ffffffffffffffff"), h("c2 41 01"), h("f7"), h("1c"), h("ff"), h("bf 01 ff"),
		rep(0xc6, 4<<10), rep(0xc0, 4<<10), h("a1 80 01"), h("c1 fb 43e0000000000000"),
	)
}

// FuzzCheckMsgpack checks that CheckMsgpack never panics, refuses only with
// well-formed problems, and that whatever it accepts the library decodes
// within MaxDepth, NextMsgpack measures whole, and every prefix is
// truncated. The library's own output for the decoded value passes too.
func FuzzCheckMsgpack(f *testing.F) {
	for _, s := range msgpackSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckMsgpack(data)
		if err != nil {
			assertRefusal(t, data, err)
			return
		}
		v, err := decodeMsgpack(data)
		if err != nil {
			t.Fatalf("CheckMsgpack accepts %s but the library decoder fails: %v", shortHex(data), err)
		}
		if d := depthOf(v); d > MaxDepth {
			t.Fatalf("CheckMsgpack accepts %s nesting %d levels", shortHex(data), d)
		}
		if n, err := NextMsgpack(data); err != nil || n != len(data) {
			t.Fatalf("NextMsgpack(%s) = %d, %v; want %d, nil", shortHex(data), n, err, len(data))
		}
		assertPrefixesTruncated(t, data, NextMsgpack)
		again, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatalf("re-encoding %v decoded from %s: %v", v, shortHex(data), err)
		}
		if err := CheckMsgpack(again); err != nil {
			t.Fatalf("CheckMsgpack refuses the library's encoding %s of %v, decoded from %s: %v",
				shortHex(again), v, shortHex(data), err)
		}
	})
}

// FuzzCheckCBOR checks that CheckCBOR never panics, refuses only with
// well-formed problems, and that whatever it accepts the library decodes
// with MaxNestedLevels 32, NextCBOR measures whole, and every prefix is
// truncated.
func FuzzCheckCBOR(f *testing.F) {
	for _, s := range cborSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckCBOR(data)
		if err != nil {
			assertRefusal(t, data, err)
			return
		}
		v, err := decodeCBOR(data)
		if err != nil {
			t.Fatalf("CheckCBOR accepts %s but the library decoder fails: %v", shortHex(data), err)
		}
		if d := depthOf(v); d > MaxDepth {
			t.Fatalf("CheckCBOR accepts %s nesting %d levels", shortHex(data), d)
		}
		if n, err := NextCBOR(data); err != nil || n != len(data) {
			t.Fatalf("NextCBOR(%s) = %d, %v; want %d, nil", shortHex(data), n, err, len(data))
		}
		assertPrefixesTruncated(t, data, NextCBOR)
	})
}

// FuzzNextMsgpack checks that NextMsgpack never panics and agrees with
// CheckMsgpack.
func FuzzNextMsgpack(f *testing.F) {
	for _, s := range msgpackSeeds() {
		f.Add(s)
		f.Add(cat(s, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		assertNextAgrees(t, data, CheckMsgpack, NextMsgpack)
	})
}

// FuzzNextCBOR checks that NextCBOR never panics and agrees with CheckCBOR.
func FuzzNextCBOR(f *testing.F) {
	for _, s := range cborSeeds() {
		f.Add(s)
		f.Add(cat(s, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		assertNextAgrees(t, data, CheckCBOR, NextCBOR)
	})
}

// FuzzCheckJSON checks that CheckJSON never panics, refuses only with a
// depth problem at an opening bracket, and, on every document the JSON
// decoder reads, refuses exactly those nesting deeper than MaxDepth.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":[1,"x",{"b":null}],"c":"\"[{"}`, nestJSON(32, "1"), nestJSON(33, "1"),
		nestObjects(32, `"x"`), nestObjects(33, `"x"`), `["\\"` + nestJSON(40, ""), `"\u005b"`,
		nestJSON(200, `"]]]]"`), `["` + nestJSON(40, "") + `"]`, `{"a":1,"a":2}`, "[\"\xff\"]", `[1] [`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckJSON(data)
		if err != nil {
			p := assertRefusal(t, data, err)
			if off := p.Extra["offset"].(int); p.Reason != "depth" || off >= len(data) || (data[off] != '[' && data[off] != '{') {
				t.Fatalf("CheckJSON(%q) = %v; want a depth problem at an opening bracket", data, err)
			}
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		if d := depthOf(v); (d <= MaxDepth) != (err == nil) {
			t.Fatalf("CheckJSON(%q) = %v for a document nesting %d levels", data, err, d)
		}
	})
}
