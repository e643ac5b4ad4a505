package schema

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/wire"
)

// ErrNoDirectJSON is what AppendJSON returns for a document it cannot copy
// as it is; the caller then takes View and an encoder.
var ErrNoDirectJSON = errors.New("schema: the document needs a conversion to be shown")

// AppendJSON appends the data of a stored document (as Doc.MarshalBinary
// encodes it) to dst as compact JSON at the given version: byte for byte
// what the JSON codec writes for the record View returns, but straight
// from the stored bytes, with no map, no record struct and no reflection.
// It is the export path, where building each record costs more than
// writing it.
//
// Only a document already at the version, whose data fills the version's
// record struct as it is, is written this way: a conversion, a default to
// fill in, a value of the wrong type, a damaged document or anything
// unknown gives ErrNoDirectJSON, and what was appended must be dropped.
func (s *Schema) AppendJSON(dst, stored []byte, version int) ([]byte, error) {
	v, err := s.Version(version)
	if err != nil {
		return dst, err
	}
	t := jsonTranscoder{r: docReader{b: stored}}
	if docVersion, err := t.r.docHeader(); err != nil || docVersion != version {
		return dst, ErrNoDirectJSON
	}
	if dst, err = t.object(dst, v.c.root, 1); err != nil {
		return dst, err
	}
	// What was kept is not shown, but a damaged document is not either:
	// it is checked as the decoder would, unless empty, as it mostly is.
	const emptyMap = 0xa0
	if byteAt(stored, t.r.pos) == emptyMap {
		t.r.pos++
	} else if _, err := t.r.member(false); err != nil {
		return dst, ErrNoDirectJSON
	}
	if t.r.pos != len(stored) {
		return dst, ErrNoDirectJSON
	}
	return dst, nil
}

// jsonTranscoder turns the CBOR of a docReader into JSON, guided by
// compiled nodes.
type jsonTranscoder struct {
	r docReader
}

// docMember is a member of a CBOR map: its key and where its value starts.
type docMember struct {
	key   []byte
	value int
}

const cborNull = 0xf6

// byteAt returns the byte at i, or 0 past the end.
func byteAt(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// members reads the keys of a CBOR map and where each value starts,
// stepping over the values, for a map's members to be written sorted.
func (t *jsonTranscoder) members(small []docMember, depth int) ([]docMember, error) {
	major, _, count, err := t.r.head()
	if err != nil || major != 5 || count > uint64(len(t.r.b)-t.r.pos) {
		return nil, ErrNoDirectJSON
	}
	members := small[:0]
	for range count {
		key, err := t.text()
		if err != nil {
			return nil, err
		}
		members = append(members, docMember{key: key, value: t.r.pos})
		if err := t.r.skip(depth); err != nil {
			return nil, ErrNoDirectJSON
		}
	}
	return members, nil
}

// object appends an object of node n with its fields in struct order, as
// the record struct's encoder would. The document keeps them in another
// order, so it reads them once, in the document's order, writing each
// value past the end of dst; then it appends the object with the values
// copied in struct order, and moves it down to where it belongs.
func (t *jsonTranscoder) object(dst []byte, n *node, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, ErrNoDirectJSON
	}
	major, _, count, err := t.r.head()
	if err != nil || major != 5 || count > uint64(len(n.fields)) {
		// More members than fields: a key the version does not know.
		return dst, ErrNoDirectJSON
	}
	start := len(dst)
	var small [32]valueSpan
	spans := small[:0]
	if len(n.fields) > len(small) {
		spans = make([]valueSpan, 0, len(n.fields))
	}
	spans = spans[:len(n.fields)]
	next := 0 // the place in n.docOrder of the field expected next
	for range count {
		key, err := t.text()
		if err != nil {
			return dst, err
		}
		i := -1
		for next < len(n.docOrder) {
			j := n.docOrder[next]
			next++
			if string(key) == n.fields[j].name {
				i = j
				break
			}
		}
		if i < 0 {
			// A key the version does not know, one out of the document's
			// order or one repeated (the search only moves forward): View
			// says what it makes of them.
			return dst, ErrNoDirectJSON
		}
		f := n.fields[i]
		spans[i].set = true
		if byteAt(t.r.b, t.r.pos) == cborNull {
			if !f.optional {
				return dst, ErrNoDirectJSON
			}
			t.r.pos++
			spans[i].null = true
			continue
		}
		spans[i].from = len(dst)
		if dst, err = t.value(dst, f.node, depth+1); err != nil {
			return dst, err
		}
		spans[i].to = len(dst)
	}
	out := len(dst)
	dst = append(dst, '{')
	for i, f := range n.fields {
		if !spans[i].set && !f.optional {
			// A default to fill in, or a field missing: View says which.
			return dst, ErrNoDirectJSON
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		// Field names (^[a-z][a-z0-9_]*$) need no escaping.
		dst = append(append(append(dst, '"'), f.name...), '"', ':')
		if !spans[i].set || spans[i].null {
			dst = append(dst, absentJSON(f.node.kind)...)
			continue
		}
		dst = append(dst, dst[spans[i].from:spans[i].to]...)
	}
	dst = append(dst, '}')
	moved := copy(dst[start:], dst[out:])
	return dst[:start+moved], nil
}

// absentJSON is how an optional field of kind k that the record lacks is
// shown: arrays and maps are never null.
func absentJSON(k kind) string {
	switch k {
	case kindArray:
		return "[]"
	case kindMap:
		return "{}"
	}
	return "null"
}

// valueSpan is where object wrote one field's value: dst[from:to], or
// null; set once the document has the field.
type valueSpan struct {
	from, to  int
	set, null bool
}

// text reads a CBOR text string. Its UTF-8 is checked where it is
// written out: by appendQuoted, or by matching a field name.
func (t *jsonTranscoder) text() ([]byte, error) {
	major, _, n, err := t.r.head()
	if err != nil || major != 3 {
		return nil, ErrNoDirectJSON
	}
	s, err := t.r.take(n)
	if err != nil {
		return nil, ErrNoDirectJSON
	}
	return s, nil
}

// appendQuoted appends s as a JSON string, as the JSON codec escapes it.
// Printable ASCII other than '"' and '\\' stands for itself, and most
// strings are nothing else.
func appendQuoted(dst, s []byte) ([]byte, error) {
	if plainASCII(s) {
		dst = append(append(dst, '"'), s...)
		return append(dst, '"'), nil
	}
	dst, err := jsontext.AppendQuote(dst, s)
	if err != nil {
		return dst, ErrNoDirectJSON // not UTF-8: the decoder refuses it
	}
	return dst, nil
}

// plainASCII reports whether s is printable ASCII without '"' or '\\',
// which a JSON string holds as it is.
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// quoted appends a text string as a JSON string.
func (t *jsonTranscoder) quoted(dst []byte) ([]byte, error) {
	s, err := t.text()
	if err != nil {
		return dst, err
	}
	return appendQuoted(dst, s)
}

// value appends one value of node n.
func (t *jsonTranscoder) value(dst []byte, n *node, depth int) ([]byte, error) {
	switch n.kind {
	case kindObject:
		return t.object(dst, n, depth)
	case kindString:
		return t.quoted(dst)
	case kindTime:
		return t.time(dst)
	case kindArray, kindMap:
		return t.container(dst, n, depth)
	}
	major, info, arg, err := t.r.head()
	if err != nil {
		return dst, ErrNoDirectJSON
	}
	switch {
	case n.kind == kindInt && major == 0 && arg <= math.MaxInt64:
		return strconv.AppendInt(dst, int64(arg), 10), nil
	case n.kind == kindInt && major == 1 && arg <= math.MaxInt64:
		return strconv.AppendInt(dst, -1-int64(arg), 10), nil
	case n.kind == kindFloat && major == 0 && arg <= math.MaxInt64:
		return appendJSONFloat(dst, float64(int64(arg))), nil
	case n.kind == kindFloat && major == 1 && arg <= math.MaxInt64:
		return appendJSONFloat(dst, float64(-1-int64(arg))), nil
	case n.kind == kindFloat && major == 7 && info >= 25 && info <= 27:
		f := math.Float64frombits(arg)
		switch info {
		case 25:
			f = float16ToFloat64(uint16(arg))
		case 26:
			f = float64(math.Float32frombits(uint32(arg)))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return dst, ErrNoDirectJSON
		}
		return appendJSONFloat(dst, f), nil
	case n.kind == kindBool && major == 7 && info == 20:
		return append(dst, "false"...), nil
	case n.kind == kindBool && major == 7 && info == 21:
		return append(dst, "true"...), nil
	case n.kind == kindBytes && major == 2:
		b, err := t.r.take(arg)
		if err != nil {
			return dst, ErrNoDirectJSON
		}
		dst = base64.StdEncoding.AppendEncode(append(dst, '"'), b)
		return append(dst, '"'), nil
	}
	return dst, ErrNoDirectJSON
}

// appendJSONFloat appends f as the JSON encoder writes a float64: the
// shortest decimal that reads back as f, in plain notation for magnitudes
// from 1e-6 up to 1e21 and in exponent notation beyond, with the exponent
// written without leading zeros (the number serialization of ECMAScript,
// RFC 8785 §3.2.2.3).
func appendJSONFloat(dst []byte, f float64) []byte {
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
		// strconv writes at least two exponent digits: 1e-07 becomes 1e-7.
		if e := bytes.LastIndexByte(dst[start:], 'e'); e >= 0 {
			exp := start + e + 2 // past 'e' and the sign
			if len(dst)-exp == 2 && dst[exp] == '0' {
				dst[exp] = dst[exp+1]
				dst = dst[:len(dst)-1]
			}
		}
		return dst
	}
	if b, ok := appendShortDecimal(dst, f); ok {
		return b
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// pow10 are the powers of ten appendShortDecimal tries, exact as float64.
var pow10 = [...]float64{1, 10, 100, 1000, 10000}

// appendShortDecimal appends f in plain notation when it is the float64
// nearest to m/10^k for an integer m of at most 15 digits and k of at most
// 4, as prices and quantities mostly are, and reports whether it did. Such a decimal reads
// back as f (the division below is rounded as parsing rounds), and no
// other decimal of 15 digits or fewer does, since their spacing is wider
// than a float64's: so it is the shortest, which is what strconv writes,
// without strconv's general search.
func appendShortDecimal(dst []byte, f float64) ([]byte, bool) {
	if f == 0 { // keeps the sign of -0 to strconv
		return dst, false
	}
	for _, p := range pow10 {
		// f*p is rounded, so m is taken as the integer nearest to it
		// (0.07*100 is 7.000000000000001) and kept only if m/p is f.
		m := math.Round(f * p)
		if math.Abs(m) >= 1e15 || m/p != f {
			continue
		}
		n := int64(m)
		if n < 0 {
			dst = append(dst, '-')
			n = -n
		}
		scale := int64(p)
		dst = strconv.AppendInt(dst, n/scale, 10)
		if frac := n % scale; frac > 0 {
			// The digits of the fraction, up to its last one that is not 0.
			dst = append(dst, '.')
			for scale /= 10; frac > 0; scale /= 10 {
				dst = append(dst, byte('0'+frac/scale))
				frac %= scale
			}
		}
		return dst, true
	}
	return dst, false
}

// time appends a time stored as tag 0 text. Ferry's encoder writes times
// in UTC as RFC 3339 with only the fractional digits needed, which is how
// the JSON codec writes them too; anything else goes the general way.
func (t *jsonTranscoder) time(dst []byte) ([]byte, error) {
	major, _, tag, err := t.r.head()
	if err != nil || major != 6 || tag != 0 {
		return dst, ErrNoDirectJSON
	}
	s, err := t.text()
	if err != nil || !canonicalTime(s) {
		return dst, ErrNoDirectJSON
	}
	dst = append(append(dst, '"'), s...)
	return append(dst, '"'), nil
}

// canonicalTime reports whether s is what time.RFC3339Nano makes of a UTC
// time of years 0 to 9999: a valid date-time ending in Z, whose fraction,
// if any, has no trailing zero (Go drops those, and the dot with them).
func canonicalTime(s []byte) bool {
	if !wire.ValidRFC3339(s) || s[len(s)-1] != 'Z' {
		return false
	}
	frac := s[len("2006-01-02T15:04:05") : len(s)-1]
	return len(frac) == 0 || frac[len(frac)-1] != '0'
}

// container appends an array, or a map with its keys in the order the
// JSON encoder gives them: sorted bytewise.
func (t *jsonTranscoder) container(dst []byte, n *node, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, ErrNoDirectJSON
	}
	if n.kind == kindMap {
		return t.mapObject(dst, n, depth)
	}
	major, _, count, err := t.r.head()
	if err != nil || major != 4 || count > uint64(len(t.r.b)-t.r.pos) {
		return dst, ErrNoDirectJSON
	}
	dst = append(dst, '[')
	for i := range count {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = t.element(dst, n.elem, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// mapObject appends a map as a JSON object with sorted keys.
func (t *jsonTranscoder) mapObject(dst []byte, n *node, depth int) ([]byte, error) {
	var small [16]docMember
	members, err := t.members(small[:], depth)
	if err != nil {
		return dst, err
	}
	end := t.r.pos
	slices.SortFunc(members, func(a, b docMember) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(members); i++ {
		if bytes.Equal(members[i].key, members[i-1].key) {
			return dst, ErrNoDirectJSON // a damaged document: View keeps one
		}
	}
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendQuoted(dst, m.key); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		t.r.pos = m.value
		if dst, err = t.element(dst, n.elem, depth+1); err != nil {
			return dst, err
		}
	}
	t.r.pos = end
	return append(dst, '}'), nil
}

// element appends an array item or map value, which may not be null.
func (t *jsonTranscoder) element(dst []byte, n *node, depth int) ([]byte, error) {
	if byteAt(t.r.b, t.r.pos) == cborNull {
		return dst, ErrNoDirectJSON
	}
	return t.value(dst, n, depth)
}
