package wire

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// mpTimestamp64 encodes a timestamp 64 (fixext 8) from its fields.
func mpTimestamp64(sec, nsec uint64) []byte {
	b := h("d7 ff")
	return binary.BigEndian.AppendUint64(b, nsec<<34|sec)
}

// mpTimestamp96 encodes a timestamp 96 (ext 8 of 12 bytes) from its fields.
func mpTimestamp96(sec int64, nsec uint32) []byte {
	b := h("c7 0c ff")
	b = binary.BigEndian.AppendUint32(b, nsec)
	return binary.BigEndian.AppendUint64(b, uint64(sec))
}

// mpStrKeysMap encodes a map16 whose n keys are fixstr "k0", "k1", ...
// with nil values, then repeats the key numbered dup (if dup >= 0) as the
// last key.
func mpStrKeysMap(n, dup int) []byte {
	total := n
	if dup >= 0 {
		total++
	}
	b := binary.BigEndian.AppendUint16(h("de"), uint16(total))
	key := func(i int) {
		s := fmt.Sprintf("k%d", i)
		b = append(b, 0xa0|byte(len(s)))
		b = append(b, s...)
		b = append(b, 0xc0)
	}
	for i := range n {
		key(i)
	}
	if dup >= 0 {
		key(dup)
	}
	return b
}

// msgpackValid lists well-formed values, each of which CheckMsgpack must
// accept.
func msgpackValid() []checkCase {
	return []checkCase{
		ok("positive fixint", h("00")),
		ok("largest positive fixint", h("7f")),
		ok("negative fixint", h("e0")),
		ok("minus one", h("ff")),
		ok("nil", h("c0")),
		ok("false", h("c2")),
		ok("true", h("c3")),
		ok("uint8", h("cc ff")),
		ok("uint16", h("cd ffff")),
		ok("uint32", h("ce ffffffff")),
		ok("uint64 max", h("cf ffffffffffffffff")),
		ok("int8", h("d0 80")),
		ok("int16", h("d1 8000")),
		ok("int32", h("d2 80000000")),
		ok("int64 min", h("d3 8000000000000000")),
		ok("float32", h("ca 3fc00000")),
		ok("float32 max finite", h("ca 7f7fffff")),
		ok("float32 negative zero", h("ca 80000000")),
		ok("float64", h("cb 3ff8000000000000")),
		ok("float64 max finite", h("cb 7fefffffffffffff")),
		ok("empty fixstr", h("a0")),
		ok("fixstr", h("a1 61")),
		ok("fixstr two-byte rune", h("a2 c3a9")),
		ok("fixstr four-byte rune", h("a4 f09f9880")),
		ok("str8", h("d9 03 616263")),
		ok("str16", h("da 0003 616263")),
		ok("str32", h("db 00000003 616263")),
		ok("bin8 not UTF-8", h("c4 02 ff00")),
		ok("bin16", h("c5 0001 ff")),
		ok("empty bin32", h("c6 00000000")),
		ok("empty fixarray", h("90")),
		ok("array16", h("dc 0002 01 02")),
		ok("array32", h("dd 00000001 c0")),
		ok("empty fixmap", h("80")),
		ok("map16", h("de 0001 a161 01")),
		ok("map32", h("df 00000001 a161 01")),
		ok("timestamp 32", h("d6 ff 00000000")),
		ok("timestamp 64", mpTimestamp64(1<<34-1, 999_999_999)),
		ok("timestamp 96", mpTimestamp96(-62135596800, 999_999_999)),
		ok("32 nested arrays", cat(rep(0x91, 31), h("90"))),
		ok("32 nested arrays around a scalar", cat(rep(0x91, 32), h("01"))),
		ok("32 nested maps", cat(repeat(h("81 a161"), 32), h("01"))),
		ok("integer keys", h("82 01 01 02 02")),
		ok("nil key", h("81 c0 01")),
		ok("float key", h("81 cb 3ff8000000000000 01")),
		ok("timestamp key", cat(h("81 d6 ff 00000000"), h("01"))),
		ok("str and bin keys with the same bytes", h("82 a161 01 c401 61 02")),
		ok("float32 and float64 keys of different values", h("82 ca 3fc00000 01 cb 3ff8000000000001 02")),
		ok("uint and negative int keys", h("82 cf 8000000000000000 01 d3 8000000000000000 02")),
		ok("16 distinct keys", mpStrKeysMap(16, -1)),
		ok("17 distinct keys", mpStrKeysMap(17, -1)),
		ok("1000 distinct keys", mpStrKeysMap(1000, -1)),
		ok("map in array in map", h("81 a161 91 81 a162 c3")),
	}
}

// repeat repeats b n times.
func repeat(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

func TestCheckMsgpack(t *testing.T) {
	t.Parallel()
	cases := append(msgpackValid(),
		// Hostile inputs that crash or exhaust the library decoder.
		bad("map32 of 2^32-1 entries in 5 bytes", h("df ffffffff"), "length", 0),
		bad("array32 of 2^32-1 elements in 5 bytes", h("dd ffffffff"), "length", 0),
		bad("2 MiB of 0x91", rep(0x91, 2<<20), "depth", 32),
		bad("huge str8", h("d9 ff 61"), "length", 0),
		bad("huge str32", h("db ffffffff 61"), "length", 0),
		bad("huge bin32", h("c6 ffffffff"), "length", 0),
		bad("huge ext32", h("c9 ffffffff ff"), "length", 0),
		bad("nested huge map", h("91 df ffffffff"), "length", 1),

		bad("33 nested arrays", cat(rep(0x91, 33), h("01")), "depth", 32),
		bad("33 nested maps", cat(repeat(h("81 a161"), 33), h("01")), "depth", 96),
		bad("33rd level is an array16", cat(rep(0x91, 32), h("dc 0000")), "depth", 32),

		bad("array longer than the data", h("93 01 02"), "length", 0),
		bad("map with more pairs than half the data", h("82 01 01 01"), "length", 0),
		bad("map16 longer than the data", h("de ffff 01 01"), "length", 0),

		bad("empty", nil, "truncated", 0),
		bad("uint16 cut short", h("cd 00"), "truncated", 0),
		bad("float64 cut short", h("cb 3ff8"), "truncated", 0),
		bad("str8 length missing", h("d9"), "truncated", 0),
		bad("array16 count cut short", h("dc 00"), "truncated", 0),
		bad("element cut short", h("92 cd 00"), "truncated", 1),
		bad("map value cut short", h("81 01 cd 00"), "truncated", 2),
		bad("ext type missing", h("d6"), "truncated", 0),
		bad("fixext payload missing", h("d6 ff 00"), "length", 0),

		bad("never-used byte", h("c1"), "syntax", 0),
		bad("never-used byte in array", h("92 01 c1"), "syntax", 2),
		bad("never-used byte as key", h("81 c1 01"), "syntax", 1),

		bad("duplicate fixstr keys", h("82 a161 01 a161 02"), "duplicate_key", 4),
		bad("fixstr and str8 are one key", h("82 a161 01 d901 61 02"), "duplicate_key", 4),
		bad("fixstr and str32 are one key", h("82 a161 01 db00000001 61 02"), "duplicate_key", 4),
		bad("fixint and uint8 are one key", h("82 01 00 cc01 00"), "duplicate_key", 3),
		bad("uint64 and int16 are one key", h("82 cf 0000000000000005 00 d1 0005 00"), "duplicate_key", 11),
		bad("negative fixint and int8 are one key", h("82 ff 00 d0ff 00"), "duplicate_key", 3),
		bad("duplicate bin keys", h("82 c401 61 01 c5 0001 61 02"), "duplicate_key", 5),
		bad("duplicate nil keys", h("82 c0 01 c0 02"), "duplicate_key", 3),
		bad("float32 and float64 of one value are one key", h("82 ca 3fc00000 01 cb 3ff8000000000000 02"), "duplicate_key", 7),
		bad("zero and negative zero are one key", h("82 ca 00000000 01 ca 80000000 02"), "duplicate_key", 7),
		bad("duplicate timestamp keys", h("82 d6ff00000001 01 d6ff00000001 02"), "duplicate_key", 8),
		bad("duplicate 17th key", mpStrKeysMap(16, 3), "duplicate_key", -1),
		bad("duplicate 1001st key", mpStrKeysMap(1000, 999), "duplicate_key", -1),
		bad("duplicate in nested map", h("81 a161 82 a162 01 a162 02"), "duplicate_key", 7),

		unprocessable("array key", h("81 90 01"), "unsupported_key", 1),
		unprocessable("map key", h("81 80 01"), "unsupported_key", 1),
		unprocessable("array16 key", h("81 dc0000 01"), "unsupported_key", 1),
		unprocessable("map32 key", h("81 df00000000 01"), "unsupported_key", 1),

		bad("invalid UTF-8 in fixstr", h("a1 ff"), "utf8", 0),
		bad("invalid UTF-8 in str8", h("d9 02 c328"), "utf8", 0),
		bad("overlong encoding", h("a2 c080"), "utf8", 0),
		bad("surrogate half", h("a3 eda080"), "utf8", 0),
		bad("invalid UTF-8 in key", h("81 a1ff 01"), "utf8", 1),

		bad("trailing byte", h("01 02"), "trailing", 1),
		bad("trailing nil after map", h("80 c0"), "trailing", 1),

		unprocessable("float32 NaN", h("ca 7fc00000"), "nonfinite", 0),
		unprocessable("float32 +Inf", h("ca 7f800000"), "nonfinite", 0),
		unprocessable("float32 -Inf", h("ca ff800000"), "nonfinite", 0),
		unprocessable("float64 NaN", h("cb 7ff8000000000001"), "nonfinite", 0),
		unprocessable("float64 -Inf", h("cb fff0000000000000"), "nonfinite", 0),
		unprocessable("NaN key", h("81 cb 7ff8000000000000 01"), "nonfinite", 1),

		unprocessable("ext type 5", h("d4 05 00"), "unsupported_ext", 0),
		unprocessable("ext8 type 5", h("c7 01 05 00"), "unsupported_ext", 0),
		unprocessable("ext type 0", h("d8 00 00000000000000000000000000000000"), "unsupported_ext", 0),
		unprocessable("timestamp as fixext 1", h("d4 ff 00"), "time", 0),
		unprocessable("timestamp as fixext 16", h("d8 ff 00000000000000000000000000000000"), "time", 0),
		unprocessable("timestamp as ext8 of 4 bytes", h("c7 04 ff 00000000"), "time", 0),
		unprocessable("timestamp 64 with 10^9 ns", mpTimestamp64(0, 1e9), "time", 0),
		unprocessable("timestamp 96 with 10^9 ns", mpTimestamp96(0, 1e9), "time", 0),
	)
	runCheckCases(t, CheckMsgpack, cases)
}

func TestNextMsgpack(t *testing.T) {
	t.Parallel()
	for _, tc := range msgpackValid() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seq := cat(tc.data, h("c1 dd ffffffff"))
			n, err := NextMsgpack(seq)
			if err != nil || n != len(tc.data) {
				t.Fatalf("NextMsgpack(%s) = %d, %v; want %d, nil", shortHex(seq), n, err, len(tc.data))
			}
			assertPrefixesTruncated(t, tc.data, NextMsgpack)
		})
	}
}

func TestNextMsgpackErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   []byte
		kind   problem.Kind
		reason string
		offset int
	}{
		// In a sequence a declared length past the end means more is to come.
		{"map32 past the end", h("df ffffffff"), problem.Invalid, "truncated", 0},
		{"str8 past the end", h("d9 05 61"), problem.Invalid, "truncated", 0},
		{"array past the end", h("93 01 02"), problem.Invalid, "truncated", 0},
		{"2 MiB of 0x91", rep(0x91, 2<<20), problem.Invalid, "depth", 32},
		{"duplicate key then more values", h("82 a161 01 a161 02 c0"), problem.Invalid, "duplicate_key", 4},
		{"never-used byte", h("c1 c0"), problem.Invalid, "syntax", 0},
		{"NaN", h("ca 7fc00000 c0"), problem.Unprocessable, "nonfinite", 0},
		{"ext 5", h("d4 05 00 c0"), problem.Unprocessable, "unsupported_ext", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := NextMsgpack(tc.data)
			if n != 0 {
				t.Errorf("NextMsgpack(%s) returned n = %d with error %v, want 0", shortHex(tc.data), n, err)
			}
			assertOutcome(t, tc.data, err, tc.kind, tc.reason, tc.offset)
		})
	}
}

func TestNextMsgpackSequence(t *testing.T) {
	t.Parallel()
	seq := h("01 a161 81a162c3 d6ff00000000 90")
	want := []int{1, 2, 4, 6, 1}
	var got []int
	for rest := seq; len(rest) > 0; {
		n, err := NextMsgpack(rest)
		if err != nil {
			t.Fatalf("NextMsgpack(%s) at offset %d: %v", shortHex(rest), len(seq)-len(rest), err)
		}
		got = append(got, n)
		rest = rest[n:]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lengths of the values of %s: got %v, want %v", shortHex(seq), got, want)
	}
}

func TestHasNull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		msgpack    []byte
		cbor       []byte
		wantOfBoth bool
	}{
		{"nil alone", []byte{0xc0}, []byte{0xf6}, true},
		{"nil as a map value", []byte{0x81, 0xa1, 'a', 0xc0}, []byte{0xa1, 0x61, 'a', 0xf6}, true},
		{"nil in an array", []byte{0x92, 0x01, 0xc0}, []byte{0x82, 0x01, 0xf6}, true},
		// The byte of a null inside a string or a float is no null.
		{"null byte in a string", []byte{0xa1, 0xc0}, []byte{0x41, 0xf6}, false},
		{"null byte in a float", []byte{0xcb, 0xc0, 0, 0, 0, 0, 0, 0, 0}, []byte{0xfb, 0xf6, 0, 0, 0, 0, 0, 0, 0}, false},
		{"no null", []byte{0x81, 0xa1, 'a', 0x01}, []byte{0xa1, 0x61, 'a', 0x01}, false},
		{"malformed", []byte{0x81, 0xc0}, []byte{0xa1, 0xf6}, false},
	}
	for _, tt := range tests {
		if got := MsgpackHasNil(tt.msgpack); got != tt.wantOfBoth {
			t.Errorf("%s: MsgpackHasNil(% x) = %v, want %v", tt.name, tt.msgpack, got, tt.wantOfBoth)
		}
		if got := CBORHasNull(tt.cbor); got != tt.wantOfBoth {
			t.Errorf("%s: CBORHasNull(% x) = %v, want %v", tt.name, tt.cbor, got, tt.wantOfBoth)
		}
	}
}
