package wire

import (
	"bytes"

	"github.com/ferry-dev/ferry/internal/problem"
)

// CheckJSON reports whether the arrays and objects of the JSON in data nest
// at most [MaxDepth] deep, refusing the first one deeper with Reason
// "depth".
//
// That bound is all CheckJSON guarantees. It makes one pass over the bytes,
// following only strings and brackets, and leaves syntax, UTF-8, duplicate
// names and trailing data to the JSON decoder, which reports them with byte
// offsets. On well-formed JSON it finds the true depth; on malformed JSON the
// decoder stops at the first error, before which the depth found here is
// exact, so no document the decoder follows nests deeper than MaxDepth.
func CheckJSON(data []byte) error {
	return CheckJSONDepth(data, MaxDepth)
}

// CheckJSONDepth is [CheckJSON] with nesting bounded by maxDepth rather
// than [MaxDepth].
func CheckJSONDepth(data []byte, maxDepth int) error {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			i = stringEnd(data, i+1)
		case '[', '{':
			depth++
			if depth > maxDepth {
				what := "array"
				if data[i] == '{' {
					what = "object"
				}
				return fail(problem.Invalid, "depth", i,
					"json: %s at offset %d is nested deeper than %d levels", what, i, maxDepth)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// stringEnd returns the offset of the quote that closes the string whose
// content starts at start, or len(data) if it is not closed.
func stringEnd(data []byte, start int) int {
	for i := start; ; {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return len(data)
		}
		q := i + j
		// Inside a string a backslash always begins a two-character escape
		// (\uXXXX continues with hex digits), so the quote is escaped
		// exactly when an odd run of backslashes precedes it.
		k := q
		for k > start && data[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q
		}
		i = q + 1
	}
}
