package negotiate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ferry-dev/ferry/internal/problem"
)

// Schemaless values, decoded into *any, use one model in every format:
//
//	nil, bool, int64, uint64 (only above math.MaxInt64), float64, string,
//	[]byte, time.Time (UTC), []any, map[string]any, and map[any]any when a
//	map has a key that is not a string.
//
// Record data from JSON (DecodeData) adds encoding/json's
// Number, for the literals that none of them holds as written: -0 and
// integers beyond 64 bits.
//
// Arrays and maps decode as non-nil, possibly empty, values.

// decodePlainItems checks data with check, then reads it as plain data
// into *p with a reader of its format, arrays and maps nesting at most
// maxDepth deep.
func decodePlainItems(data []byte, p *any, maxDepth int, check func([]byte, int) error, reader func([]byte) *itemReader, format string) error {
	if err := check(data, maxDepth); err != nil {
		return err
	}
	x, err := decodeItems(reader(data), format, maxDepth)
	if err != nil {
		return err
	}
	*p = x
	return nil
}

// decodeItems builds one value of the schemaless model from r, refusing
// arrays and maps nested deeper than maxDepth.
func decodeItems(r *itemReader, format string, maxDepth int) (any, error) {
	return decodeItem(r, format, 0, maxDepth)
}

func decodeItem(r *itemReader, format string, depth, maxDepth int) (any, error) {
	var it item
	if err := r.next(&it); err != nil {
		return nil, err
	}
	switch it.kind {
	case itemArray, itemMap:
		if depth >= maxDepth {
			return nil, problem.New(problem.Invalid, "%s: %s at offset %d is nested deeper than %d levels",
				format, kindNames[it.kind], it.off, maxDepth).WithReason("depth").With("offset", it.off)
		}
		if it.kind == itemMap {
			return decodeMapItems(r, it, format, depth, maxDepth)
		}
		a := make([]any, 0, max(it.n, 0))
		for i := 0; ; i++ {
			if more, err := r.hasEntry(&it, i); err != nil || !more {
				if err != nil {
					return nil, err
				}
				break
			}
			v, err := decodeItem(r, format, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	}
	return scalarValue(&it), nil
}

// scalarValue returns the model value of an item that is not an array or
// map. Strings and bytes are copied out of the body.
func scalarValue(it *item) any {
	switch it.kind {
	case itemBool:
		return it.b
	case itemInt:
		return it.i
	case itemUint:
		return it.u
	case itemFloat:
		return it.f
	case itemString:
		return string(it.raw)
	case itemBytes:
		return append([]byte{}, it.raw...)
	case itemTime:
		return it.t
	}
	return nil
}

// decodeMapItems reads the entries of the map whose head is it. The map is a
// map[string]any until a key that is not a string turns up.
func decodeMapItems(r *itemReader, it item, format string, depth, maxDepth int) (any, error) {
	size := max(it.n, 0)
	strs := make(map[string]any, size)
	var anys map[any]any
	for i := 0; ; i++ {
		if more, err := r.hasEntry(&it, i); err != nil || !more {
			if err != nil {
				return nil, err
			}
			break
		}
		var k item
		if err := r.next(&k); err != nil {
			return nil, err
		}
		switch k.kind {
		case itemArray, itemMap, itemBytes:
			return nil, problem.New(problem.Unprocessable, "%s: map key at offset %d is a %s; Ferry's map keys are scalar values other than bytes",
				format, k.off, kindNames[k.kind]).WithReason("unsupported_key").With("offset", k.off)
		case itemString:
			if anys == nil {
				key := string(k.raw)
				if _, dup := strs[key]; dup {
					return nil, duplicateKey(format, it.off, k.off)
				}
				v, err := decodeItem(r, format, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				strs[key] = v
				continue
			}
		}
		if anys == nil {
			anys = make(map[any]any, size)
			for key, v := range strs {
				anys[key] = v
			}
			strs = nil
		}
		key := scalarValue(&k)
		if _, dup := anys[key]; dup {
			// Keys that differ on the wire can be one key in the model,
			// as 0.0 and -0.0 are.
			return nil, duplicateKey(format, it.off, k.off)
		}
		v, err := decodeItem(r, format, depth+1, maxDepth)
		if err != nil {
			return nil, err
		}
		anys[key] = v
	}
	if anys != nil {
		return anys, nil
	}
	return strs, nil
}

func duplicateKey(format string, mapOff, keyOff int) *problem.Error {
	return problem.New(problem.Invalid, "%s: map at offset %d has a duplicate key at offset %d", format, mapOff, keyOff).
		WithReason("duplicate_key").With("offset", keyOff)
}

// modelKind names the kind of a model value for client-facing details.
func modelKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "int"
	case float32, float64:
		return "float"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case time.Time:
		return "time"
	case []any:
		return "array"
	case map[string]any, map[any]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

// A valueError is a value that a format cannot hold, found while encoding.
// The path is collected as the error unwinds, innermost segment first, so
// that encoding pays nothing for it until something fails.
type valueError struct {
	kind   problem.Kind
	reason string
	msg    string
	rev    []string
}

// Error returns the message with the path of the value.
func (e *valueError) Error() string { return e.msg + " at " + e.path() }

// at adds the segment of the enclosing container to the path.
func (e *valueError) at(segment string) *valueError {
	e.rev = append(e.rev, segment)
	return e
}

func (e *valueError) path() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, s := range slices.Backward(e.rev) {
		b.WriteString(s)
	}
	return b.String()
}

func (e *valueError) problem() *problem.Error {
	return problem.New(e.kind, "%s at %s", e.msg, e.path()).WithReason(e.reason).With("path", e.path())
}

// nonFinite reports a NaN or infinite float, which no Ferry format carries.
func nonFinite(format string, f float64) *valueError {
	return &valueError{kind: problem.Unprocessable, reason: "nonfinite",
		msg: fmt.Sprintf("%s cannot hold the float %v", format, f)}
}

// keySegment is the path segment of a map entry.
func keySegment(key any) string {
	if s, ok := key.(string); ok {
		if isIdentifier(s) {
			return "." + s
		}
		return "[" + strconv.Quote(s) + "]"
	}
	return fmt.Sprintf("[%v]", key)
}

func indexSegment(i int) string { return "[" + strconv.Itoa(i) + "]" }

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// compareKeys orders the keys of a map[any]any so that encoding it is
// deterministic: by kind first, then by value.
func compareKeys(a, b any) int {
	ra, rb := keyRank(a), keyRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		if x == y {
			return 0
		}
		if !x {
			return -1
		}
		return 1
	case int64:
		return cmp.Compare(x, b.(int64))
	case uint64:
		return cmp.Compare(x, b.(uint64))
	case float64:
		return cmp.Compare(x, b.(float64))
	case string:
		return strings.Compare(x, b.(string))
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func keyRank(k any) int {
	switch k.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64:
		return 2
	case uint64:
		return 3
	case float64:
		return 4
	case string:
		return 5
	case time.Time:
		return 6
	}
	return 7
}

// appendJSONFloat appends f as a JSON number that reads back as a float: an
// integral value gets a ".0", so that 2.0 does not come back as the integer
// 2. Very large and very small magnitudes use an exponent, as ECMAScript
// does.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// Go writes e-07 where e-7 is usual.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}
