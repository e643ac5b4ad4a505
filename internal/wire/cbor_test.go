package wire

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// textItem encodes s as a definite-length text string.
func textItem(s string) []byte {
	return append(cborHead(3, uint64(len(s))), s...)
}

// cborHead encodes a head of the given major type and argument in its
// shortest form.
func cborHead(major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return []byte{m | byte(arg)}
	case arg <= 0xff:
		return []byte{m | 24, byte(arg)}
	case arg <= 0xffff:
		return binary.BigEndian.AppendUint16([]byte{m | 25}, uint16(arg))
	case arg <= 0xffffffff:
		return binary.BigEndian.AppendUint32([]byte{m | 26}, uint32(arg))
	}
	return binary.BigEndian.AppendUint64([]byte{m | 27}, arg)
}

// cborKeysMap encodes a definite-length map whose n keys are the text
// strings "k0", "k1", ... with null values, written as indefinite-length
// strings of one-byte chunks when chunked, and then repeats the key numbered
// dup (if dup >= 0) in the other form as the last key.
func cborKeysMap(n, dup int, chunked bool) []byte {
	total := n
	if dup >= 0 {
		total++
	}
	b := cborHead(5, uint64(total))
	key := func(i int, chunked bool) {
		s := fmt.Sprintf("k%d", i)
		if chunked {
			b = append(b, 0x7f)
			for j := range len(s) {
				b = append(b, 0x61, s[j])
			}
			b = append(b, 0xff)
		} else {
			b = append(b, textItem(s)...)
		}
		b = append(b, 0xf6)
	}
	for i := range n {
		key(i, chunked)
	}
	if dup >= 0 {
		key(dup, !chunked)
	}
	return b
}

// cborValid lists well-formed data items, each of which CheckCBOR must
// accept.
func cborValid() []checkCase {
	return []checkCase{
		ok("zero", h("00")),
		ok("self-described int", h("d9d9f7 01")),
		ok("self-described map", h("d9d9f7 a1 6161 c1 1a514b67b0")),
		ok("23", h("17")),
		ok("uint8", h("18 18")),
		ok("uint16", h("19 0100")),
		ok("uint32", h("1a 00010000")),
		ok("uint64 max", h("1b ffffffffffffffff")),
		ok("non-minimal uint", h("1b 0000000000000001")),
		ok("minus one", h("20")),
		ok("negative int8", h("38 ff")),
		ok("-2^63", h("3b 7fffffffffffffff")),
		ok("empty byte string", h("40")),
		ok("byte string not UTF-8", h("43 ff0001")),
		ok("indefinite byte string", h("5f 41 01 42 0203 ff")),
		ok("empty indefinite byte string", h("5f ff")),
		ok("empty text", h("60")),
		ok("text", h("61 61")),
		ok("euro sign", h("63 e282ac")),
		ok("indefinite text", h("7f 61 61 62 6263 ff")),
		ok("indefinite text with empty chunk", h("7f 60 61 61 ff")),
		ok("empty array", h("80")),
		ok("array", h("83 01 02 03")),
		ok("non-minimal array count", h("98 03 01 02 03")),
		ok("empty indefinite array", h("9f ff")),
		ok("indefinite array", h("9f 01 9f ff 02 ff")),
		ok("empty map", h("a0")),
		ok("map", h("a1 6161 01")),
		ok("empty indefinite map", h("bf ff")),
		ok("indefinite map", h("bf 6161 01 6162 bf ff ff")),
		ok("false", h("f4")),
		ok("true", h("f5")),
		ok("null", h("f6")),
		ok("float16", h("f9 3c00")),
		ok("float16 max", h("f9 7bff")),
		ok("float16 subnormal", h("f9 0001")),
		ok("float32", h("fa 47c35000")),
		ok("float64", h("fb 3ff8000000000000")),
		ok("float64 negative zero", h("fb 8000000000000000")),
		ok("tag 0", cat(h("c0"), textItem("2013-03-21T20:04:00Z"))),
		ok("tag 0 with nanoseconds and offset", cat(h("c0"), textItem("2013-03-21T20:04:00.123456789+05:30"))),
		ok("tag 0 on 29 February 2000", cat(h("c0"), textItem("2000-02-29T00:00:00Z"))),
		ok("tag 0 indefinite text", h("c0 7f 6a 323031332d30332d3231 6a 5432303a30343a3030 5a ff")),
		ok("tag 1 uint", h("c1 1a 514b67b0")),
		ok("tag 1 negative", h("c1 3a 514b67af")),
		ok("tag 1 float16", h("c1 f9 3c00")),
		ok("tag 1 float64", h("c1 fb 41d452d9ec200000")),
		ok("tag 1 int64 max", h("c1 1b 7fffffffffffffff")),
		ok("tag 1 largest float64 below 2^63", h("c1 fb 43dfffffffffffff")),
		ok("tag 1 float64 -2^63", h("c1 fb c3e0000000000000")),
		ok("32 nested arrays", cat(rep(0x81, 32), h("01"))),
		ok("32 nested indefinite arrays", cat(rep(0x9f, 32), rep(0xff, 32))),
		ok("32 nested maps", cat(repeat(h("a1 6161"), 32), h("01"))),
		ok("tag at the deepest level", cat(rep(0x81, 32), h("c1 01"))),
		ok("integer keys", h("a2 01 01 02 02")),
		ok("negative and positive keys", h("a2 20 01 00 02")),
		ok("byte and text keys with the same bytes", h("a2 41 61 01 61 61 02")),
		ok("tag key", h("a1 c1 01 01")),
		ok("null and bool keys", h("a3 f6 01 f4 02 f5 03")),
		ok("float keys", h("a2 f9 3c00 01 fa 40000000 02")),
		ok("16 distinct keys", cborKeysMap(16, -1, false)),
		ok("17 distinct keys", cborKeysMap(17, -1, false)),
		ok("1000 distinct chunked keys", cborKeysMap(1000, -1, true)),
	}
}

func TestCheckCBOR(t *testing.T) {
	t.Parallel()
	cases := append(cborValid(),
		bad("huge byte string", h("5b ffffffffffffffff"), "length", 0),
		bad("huge text", h("7a ffffffff 61"), "length", 0),
		bad("huge array", h("9b ffffffffffffffff"), "length", 0),
		bad("huge map", h("bb ffffffffffffffff"), "length", 0),
		bad("map of 2^32-1 pairs", h("ba ffffffff"), "length", 0),
		bad("array longer than the data", h("83 01 02"), "length", 0),
		bad("map with more pairs than half the data", h("a2 01 01 01"), "length", 0),
		bad("huge chunk", h("5f 5a ffffffff ff"), "length", 1),

		bad("33 nested arrays", cat(rep(0x81, 33), h("01")), "depth", 32),
		bad("33 nested maps", cat(repeat(h("a1 6161"), 33), h("01")), "depth", 96),
		bad("33 nested indefinite arrays", cat(rep(0x9f, 33), rep(0xff, 33)), "depth", 32),
		bad("2 MiB of 0x81", rep(0x81, 2<<20), "depth", 32),
		bad("2 MiB of 0x9f", rep(0x9f, 2<<20), "depth", 32),
		bad("2 MiB of indefinite maps", repeat(h("bf 00"), 1<<20), "depth", 64),

		bad("empty", nil, "truncated", 0),
		bad("uint16 cut short", h("19 01"), "truncated", 0),
		bad("float64 cut short", h("fb 3ff8"), "truncated", 0),
		bad("indefinite bytes without break", h("5f 41 01"), "truncated", 0),
		bad("indefinite array without break", h("9f 01"), "truncated", 0),
		bad("indefinite map ends after a key", h("bf 01"), "truncated", 2),
		bad("tag without content", h("c1"), "truncated", 0),
		bad("element cut short", h("82 19 01"), "truncated", 1),

		bad("reserved additional information 28", h("1c"), "syntax", 0),
		bad("reserved additional information 29", h("3d 00"), "syntax", 0),
		bad("reserved additional information 30", h("5e"), "syntax", 0),
		bad("indefinite uint", h("1f"), "syntax", 0),
		bad("indefinite negative int", h("3f"), "syntax", 0),
		bad("indefinite tag", h("df 01"), "syntax", 0),
		bad("break at top level", h("ff"), "syntax", 0),
		bad("break in definite array", h("82 01 ff"), "syntax", 2),
		bad("break as key", h("a1 ff 01"), "syntax", 1),
		bad("break after key", h("bf 01 ff"), "syntax", 2),
		bad("byte chunk in text", h("7f 41 61 ff"), "syntax", 1),
		bad("indefinite chunk", h("5f 5f ff ff"), "syntax", 1),
		bad("array chunk", h("5f 80 ff"), "syntax", 1),
		bad("two-byte simple value below 32", h("f8 1f"), "syntax", 0),
		bad("reserved major 7 byte", h("fc"), "syntax", 0),

		bad("duplicate text keys", h("a2 6161 01 6161 02"), "duplicate_key", 4),
		bad("definite and indefinite text are one key", h("a2 6161 01 7f 6161 ff 02"), "duplicate_key", 4),
		bad("differently chunked text is one key", h("bf 7f 62 6162 ff 01 7f 61 61 61 62 ff 02 ff"), "duplicate_key", 7),
		bad("definite and indefinite bytes are one key", h("a2 4161 01 5f 40 4161 ff 02"), "duplicate_key", 4),
		bad("non-minimal int is the same key", h("a2 01 00 1801 00"), "duplicate_key", 3),
		bad("non-minimal negative int is the same key", h("a2 20 00 3800 00"), "duplicate_key", 3),
		bad("duplicate tag keys", h("a2 c101 00 c101 00"), "duplicate_key", 4),
		bad("duplicate null keys", h("a2 f6 00 f6 00"), "duplicate_key", 3),
		bad("float16 and float32 of one value are one key", h("a2 f9 3c00 01 fa 3f800000 02"), "duplicate_key", 5),
		bad("float16 and float64 of one value are one key", h("a2 f9 c000 01 fb c000000000000000 02"), "duplicate_key", 5),
		bad("zero and negative zero are one key", h("a2 f9 0000 01 f9 8000 02"), "duplicate_key", 5),
		bad("duplicate 17th key", cborKeysMap(16, 5, false), "duplicate_key", -1),
		bad("duplicate chunked key in a large map", cborKeysMap(1000, 777, true), "duplicate_key", -1),
		bad("duplicate definite key in a large map", cborKeysMap(1000, 0, false), "duplicate_key", -1),

		unprocessable("array key", h("a1 80 01"), "unsupported_key", 1),
		unprocessable("map key", h("a1 a0 01"), "unsupported_key", 1),
		unprocessable("indefinite array key", h("a1 9f ff 01"), "unsupported_key", 1),
		unprocessable("indefinite map key", h("bf bf ff 01 ff"), "unsupported_key", 1),

		bad("invalid UTF-8", h("61 ff"), "utf8", 0),
		bad("invalid UTF-8 in a long text", h("62 c328"), "utf8", 0),
		bad("invalid UTF-8 chunk", h("7f 61 61 61 ff ff"), "utf8", 3),
		bad("chunks split a character", h("7f 61 c3 61 a9 ff"), "utf8", 1),
		bad("invalid UTF-8 key", h("a1 61ff 01"), "utf8", 1),
		bad("surrogate half", h("63 eda080"), "utf8", 0),

		bad("trailing byte", h("01 02"), "trailing", 1),
		bad("trailing break", h("80 ff"), "trailing", 1),

		unprocessable("float16 +Inf", h("f9 7c00"), "nonfinite", 0),
		unprocessable("float16 NaN", h("f9 7e00"), "nonfinite", 0),
		unprocessable("float16 -Inf", h("f9 fc00"), "nonfinite", 0),
		unprocessable("float32 NaN", h("fa 7fc00000"), "nonfinite", 0),
		unprocessable("float64 +Inf", h("fb 7ff0000000000000"), "nonfinite", 0),
		unprocessable("NaN key", h("a1 f9 7e00 01"), "nonfinite", 1),

		unprocessable("-2^63-1", h("3b 8000000000000000"), "int_range", 0),
		unprocessable("-2^64", h("3b ffffffffffffffff"), "int_range", 0),
		unprocessable("big negative in array", h("82 00 3b ffffffffffffffff"), "int_range", 2),

		unprocessable("tag 2 bignum", h("c2 41 01"), "unsupported_tag", 0),
		unprocessable("tag 3 bignum", h("c3 41 01"), "unsupported_tag", 0),
		unprocessable("tag 32 URI", cat(h("d8 20"), textItem("https://example.com")), "unsupported_tag", 0),
		unprocessable("self-described tag twice", h("d9d9f7 d9d9f7 01"), "unsupported_tag", 3),
		unprocessable("self-described tag in an array", h("81 d9d9f7 01"), "unsupported_tag", 1),
		unprocessable("self-described tag on a key", h("a1 d9d9f7 6161 01"), "unsupported_tag", 1),
		unprocessable("self-described tag inside tag 1", h("c1 d9d9f7 01"), "time", 0),
		bad("self-described tag alone", h("d9d9f7"), "truncated", 3),
		unprocessable("largest tag", h("db ffffffffffffffff 00"), "unsupported_tag", 0),
		unprocessable("2 MiB of tag 6", rep(0xc6, 2<<20), "unsupported_tag", 0),
		unprocessable("unsupported tag in array", h("81 c2 41 01"), "unsupported_tag", 1),
		unprocessable("unsupported tag as key", h("a1 c2 41 01 01"), "unsupported_tag", 1),

		unprocessable("2 MiB of tag 0", rep(0xc0, 2<<20), "time", 0),
		unprocessable("tag 0 wraps a number", h("c0 01"), "time", 0),
		unprocessable("tag 0 wraps bytes", h("c0 41 61"), "time", 0),
		unprocessable("tag 0 wraps tag 1", h("c0 c1 01"), "time", 0),
		unprocessable("tag 0 text is no date", cat(h("c0"), textItem("yesterday")), "time", 0),
		unprocessable("tag 0 lower-case t", cat(h("c0"), textItem("2013-03-21t20:04:00Z")), "time", 0),
		unprocessable("tag 0 leap second", cat(h("c0"), textItem("2016-12-31T23:59:60Z")), "time", 0),
		unprocessable("tag 0 30 February", cat(h("c0"), textItem("2013-02-30T00:00:00Z")), "time", 0),
		unprocessable("tag 0 29 February 1900", cat(h("c0"), textItem("1900-02-29T00:00:00Z")), "time", 0),
		unprocessable("tag 0 ten fractional digits", cat(h("c0"), textItem("2013-03-21T20:04:00.1234567891Z")), "time", 0),
		unprocessable("tag 0 without zone", cat(h("c0"), textItem("2013-03-21T20:04:00")), "time", 0),
		unprocessable("tag 0 offset hour 24", cat(h("c0"), textItem("2013-03-21T20:04:00+24:00")), "time", 0),
		unprocessable("tag 0 long indefinite text", cat(h("c0 7f"), repeat(textItem("2013-03-21T20:04:00Z"), 3), h("ff")), "time", 0),
		unprocessable("tag 1 wraps text", h("c1 61 61"), "time", 0),
		unprocessable("tag 1 wraps null", h("c1 f6"), "time", 0),
		unprocessable("tag 1 wraps an array", h("c1 81 01"), "time", 0),
		unprocessable("tag 1 seconds over int64", h("c1 1b 8000000000000000"), "time", 0),
		unprocessable("tag 1 float64 2^63", h("c1 fb 43e0000000000000"), "time", 0),
		unprocessable("tag 1 float32 2^63", h("c1 fa 5f000000"), "time", 0),
		unprocessable("tag 1 float32 below -2^63", h("c1 fa df800000"), "time", 0),
		unprocessable("tag 1 below -2^63", h("c1 3b 8000000000000000"), "int_range", 1),
		unprocessable("tag 1 NaN", h("c1 f9 7e00"), "nonfinite", 1),
		bad("tag 0 cut short", h("c0 62 61"), "length", 1),

		unprocessable("undefined", h("f7"), "unsupported_value", 0),
		unprocessable("simple value 0", h("e0"), "unsupported_value", 0),
		unprocessable("simple value 19", h("f3"), "unsupported_value", 0),
		unprocessable("simple value 32", h("f8 20"), "unsupported_value", 0),
		unprocessable("simple value 255", h("f8 ff"), "unsupported_value", 0),
		unprocessable("undefined in map", h("a1 00 f7"), "unsupported_value", 2),
	)
	runCheckCases(t, CheckCBOR, cases)
}

func TestNextCBOR(t *testing.T) {
	t.Parallel()
	for _, tc := range cborValid() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seq := cat(tc.data, h("ff 9b ffffffffffffffff"))
			n, err := NextCBOR(seq)
			if err != nil || n != len(tc.data) {
				t.Fatalf("NextCBOR(%s) = %d, %v; want %d, nil", shortHex(seq), n, err, len(tc.data))
			}
			assertPrefixesTruncated(t, tc.data, NextCBOR)
		})
	}
}

func TestNextCBORErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   []byte
		kind   problem.Kind
		reason string
		offset int
	}{
		{"huge map past the end", h("bb ffffffffffffffff"), problem.Invalid, "truncated", 0},
		{"text past the end", h("65 6161"), problem.Invalid, "truncated", 0},
		{"chunk past the end", h("5f 45 01"), problem.Invalid, "truncated", 1},
		{"2 MiB of 0x81", rep(0x81, 2<<20), problem.Invalid, "depth", 32},
		{"break first", h("ff 00"), problem.Invalid, "syntax", 0},
		{"tag 2", h("c2 41 01 00"), problem.Unprocessable, "unsupported_tag", 0},
		{"big negative", h("3b ffffffffffffffff 00"), problem.Unprocessable, "int_range", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := NextCBOR(tc.data)
			if n != 0 {
				t.Errorf("NextCBOR(%s) returned n = %d with error %v, want 0", shortHex(tc.data), n, err)
			}
			assertOutcome(t, tc.data, err, tc.kind, tc.reason, tc.offset)
		})
	}
}

func TestNextCBORSequence(t *testing.T) {
	t.Parallel()
	seq := h("01 6161 a1 6162 f5 c1 1a514b67b0 9f ff 5f 41 01 ff d9d9f7 a0 d9d9f7 01")
	want := []int{1, 2, 4, 6, 2, 4, 4, 4}
	var got []int
	for rest := seq; len(rest) > 0; {
		n, err := NextCBOR(rest)
		if err != nil {
			t.Fatalf("NextCBOR(%s) at offset %d: %v", shortHex(rest), len(seq)-len(rest), err)
		}
		got = append(got, n)
		rest = rest[n:]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lengths of the items of %s: got %v, want %v", shortHex(seq), got, want)
	}
}

func TestFloat16(t *testing.T) {
	t.Parallel()
	tests := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0},
		{0x0001, 0x1p-24},
		{0x03ff, 0x3ffp-24},
		{0x0400, 0x1p-14},
		{0x3c00, 1},
		{0x3c01, 1 + 0x1p-10},
		{0x7bff, 65504},
		{0xc000, -2},
		{0x8000, 0},
	}
	for _, tc := range tests {
		if got := float16(tc.bits); got != tc.want {
			t.Errorf("float16(%#04x) = %v, want %v", tc.bits, got, tc.want)
		}
	}
}

// TestCBORChunkedKeys checks that a text key written in chunks is the same
// key as the same text written whole, for every length and split, in small
// and large maps.
func TestCBORChunkedKeys(t *testing.T) {
	t.Parallel()
	const text = "The quick brown fox jumps over the lazy dog"
	filler := func(n int) []byte {
		var b []byte
		for i := range n {
			b = append(b, textItem(fmt.Sprintf("filler%d", i))...)
			b = append(b, 0xf6)
		}
		return b
	}
	for n := range 20 {
		s := text[:n]
		for split := range n + 1 {
			chunked := cat(h("7f"), textItem(s[:split]), textItem(""), textItem(s[split:]), h("ff"))
			for _, fill := range []int{0, 20} {
				m := cat(cborHead(5, uint64(fill+2)), filler(fill), textItem(s), h("01"), chunked, h("02"))
				assertOutcome(t, m, CheckCBOR(m), problem.Invalid, "duplicate_key", -1)
				m = cat(cborHead(5, uint64(fill+2)), filler(fill), chunked, h("01"), textItem(s), h("02"))
				assertOutcome(t, m, CheckCBOR(m), problem.Invalid, "duplicate_key", -1)
				// One byte more makes a different key.
				m = cat(cborHead(5, uint64(fill+2)), filler(fill), textItem(s+"!"), h("01"), chunked, h("02"))
				assertOutcome(t, m, CheckCBOR(m), 0, "", -1)
			}
		}
	}
}
