package wire

import (
	"strings"
	"testing"
)

// nestJSON returns n arrays nested around inner.
func nestJSON(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

// nestObjects returns n objects nested through the name "a" around inner.
func nestObjects(n int, inner string) string {
	return strings.Repeat(`{"a":`, n) + inner + strings.Repeat("}", n)
}

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	js := func(s string) []byte { return []byte(s) }
	cases := []checkCase{
		ok("empty object", js(`{}`)),
		ok("empty array", js(`[]`)),
		ok("scalar", js(`12.5e3`)),
		ok("record", js(`{"id":"a1","tags":["x","y"],"n":{"m":[1,2,{"k":null}]}}`)),
		ok("32 nested arrays", js(nestJSON(32, "1"))),
		ok("32 nested objects", js(nestObjects(32, "1"))),
		ok("32 levels mixed", js(nestObjects(16, nestJSON(16, "true")))),
		ok("siblings do not add depth", js(strings.Repeat(nestJSON(32, "")+",", 100))),
		ok("brackets inside a string", js(nestJSON(31, `"`+strings.Repeat("[{", 50)+`"`))),
		ok("escaped quote inside a string", js(nestJSON(31, `"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["`))),
		ok("escaped backslash before a quote inside a string", js(`["a\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]`)),
		ok("unicode escape", js(`{"\u005b":"\u007b"}`)),
		ok("unterminated string", js(`["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`)),
		ok("empty body", nil),
		bad("33 nested arrays", js(nestJSON(33, "1")), "depth", 32),
		bad("33 nested objects", js(nestObjects(33, "1")), "depth", 5*32),
		bad("33rd level after a long string", js(`[`+nestJSON(32, `"`+strings.Repeat("x", 100)+`"`)+`]`), "depth", 32),
		bad("brackets after an escaped backslash", js(`["\\"`+strings.Repeat("[", 40)), "depth", 5+31),
		bad("brackets after a string with escaped quotes", js(`["\"\"",`+strings.Repeat("[", 40)), "depth", 8+31),
		bad("2 MiB of brackets", js(strings.Repeat("[", 2<<20)), "depth", 32),
		bad("2 MiB of objects", js(strings.Repeat(`{"":`, 1<<19)), "depth", 4*32),
	}
	runCheckCases(t, CheckJSON, cases)
}

func TestStringEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string // the string's content, after its opening quote
		want int
	}{
		{`"`, 0},
		{`abc"`, 3},
		{`\""`, 2},
		{`\\"`, 2},
		{`\\\""`, 4},
		{`\\\\"x"`, 4},
		{`\u0022"`, 6},
		{`abc`, 3},
		{`abc\"`, 5},
		{``, 0},
	}
	for _, tc := range tests {
		data := []byte(`"` + tc.in)
		if got := stringEnd(data, 1) - 1; got != tc.want {
			t.Errorf("stringEnd of %q: got content length %d, want %d", tc.in, got, tc.want)
		}
	}
}
