package schema

import (
	"encoding/base64"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/wire"
)

// DecodeJSON reads a JSON body written at this version straight into a
// record struct, guided by the compiled schema: no wire struct, no
// reflection over struct tags, and strings that need no unescaping share
// one copy of the body. It is the write path of the common case, a
// well-formed JSON record with every field it needs.
//
// It takes only bodies it can read exactly as the general way (the JSON
// codec into New, then Validate) does, and returns a decoded body for
// Validate, which then gives the same record as the general way: the
// record is complete already (defaults filled in, containers empty rather
// than nil, times in UTC), so Validate only runs the rules. For anything
// else (a syntax error, an unknown or repeated member, a missing field, a
// value of the wrong type, null where a value is needed, a number out of
// range) ok is false, and the caller decodes the general way, which
// reports the failure precisely.
func (v *Version) DecodeJSON(data []byte) (decoded any, ok bool) {
	d := jsonDecoder{src: string(data)}
	root := v.c.root
	p := reflect.New(root.plain)
	if !d.object(root, p.UnsafePointer()) {
		return nil, false
	}
	d.space()
	if d.pos != len(d.src) {
		return nil, false
	}
	return &completeRecord{root: root, rec: p}, true
}

// A completeRecord is a pointer to a record struct that needs no filling
// in, only the rules, and the node it is a record of.
type completeRecord struct {
	root *node
	rec  reflect.Value
}

// jsonDecoder reads JSON from src. Every method reports whether it read
// what it was asked for; false means "not taken", never an error to show.
type jsonDecoder struct {
	// src is the body, copied once: an unescaped string is a slice of it.
	src   string
	pos   int
	depth int
}

func (d *jsonDecoder) space() {
	for d.pos < len(d.src) {
		switch d.src[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return
		}
	}
}

// consume steps over c (after any white space) if it is next.
func (d *jsonDecoder) consume(c byte) bool {
	d.space()
	if d.pos < len(d.src) && d.src[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// literal steps over the keyword lit if it is next.
func (d *jsonDecoder) literal(lit string) bool {
	if strings.HasPrefix(d.src[d.pos:], lit) {
		d.pos += len(lit)
		return true
	}
	return false
}

// enter steps into an object or array, bounding nesting as the codec's
// depth check does; whatever reads the closing bracket steps out again.
func (d *jsonDecoder) enter(open byte) bool {
	if !d.consume(open) {
		return false
	}
	d.depth++
	return d.depth <= wire.MaxDepth
}

// firstMember is called after an object's '{' and reports whether a
// member follows; afterMember is called after each member's value.
func (d *jsonDecoder) firstMember() (more, ok bool) {
	if d.consume('}') {
		d.depth--
		return false, true
	}
	return true, true
}

func (d *jsonDecoder) afterMember() (more, ok bool) {
	if d.consume(',') {
		return true, true
	}
	if d.consume('}') {
		d.depth--
		return false, true
	}
	return false, false
}

// name reads a member's name and the colon after it.
func (d *jsonDecoder) name() (string, bool) {
	d.space()
	name, ok := d.string()
	if !ok || !d.consume(':') {
		return "", false
	}
	d.space()
	return name, true
}

// The decoder writes values through pointers into the record struct, at
// offsets the compiler took from the struct's type: a typed store, with
// the write barriers the collector needs, and none of the checks that
// setting each field through reflection makes.

// object reads an object of n into the record struct at p.
func (d *jsonDecoder) object(n *node, p unsafe.Pointer) bool {
	if !d.enter('{') {
		return false
	}
	// named holds the members the body names, valued those that are not
	// null: null is absence, as it is for the general way.
	named, valued := newFieldSet(len(n.fields)), newFieldSet(len(n.fields))
	more, ok := d.firstMember()
	for ; ok && more; more, ok = d.afterMember() {
		name, found := d.name()
		if !found {
			return false
		}
		f := n.byName[name]
		if f == nil || !named.add(f.index) {
			return false
		}
		if d.literal("null") {
			continue
		}
		valued.add(f.index)
		if !d.field(f, unsafe.Add(p, f.offset)) {
			return false
		}
	}
	if !ok {
		return false
	}
	if valued.count == len(n.fields) {
		return true
	}
	var fl filler
	for _, f := range n.fields {
		if !valued.has(f.index) {
			fl.absent(f, reflect.NewAt(f.plainType(), unsafe.Add(p, f.offset)).Elem(), named.has(f.index))
		}
	}
	return len(fl.missing) == 0
}

// A fieldSet is a set of field indexes.
type fieldSet struct {
	small uint64
	large []bool // for objects of more than 64 fields
	count int
}

func newFieldSet(fields int) fieldSet {
	if fields > 64 {
		return fieldSet{large: make([]bool, fields)}
	}
	return fieldSet{}
}

func (s *fieldSet) has(i int) bool {
	if s.large != nil {
		return s.large[i]
	}
	return s.small&(1<<i) != 0
}

// add adds i and reports whether it was not there already.
func (s *fieldSet) add(i int) bool {
	if s.has(i) {
		return false
	}
	if s.large != nil {
		s.large[i] = true
	} else {
		s.small |= 1 << i
	}
	s.count++
	return true
}

// field reads the value of f into the field at p.
func (d *jsonDecoder) field(f *field, p unsafe.Pointer) bool {
	if !f.optional {
		return d.value(f.node, p)
	}
	v := reflect.New(f.node.plain)
	if !d.value(f.node, v.UnsafePointer()) {
		return false
	}
	// An empty optional array or map reads as absent (see emptyContainer).
	if !emptyContainer(f, v.Elem()) {
		*(*unsafe.Pointer)(p) = v.UnsafePointer()
	}
	return true
}

// value reads a value of n into p, which points to n's plain type.
func (d *jsonDecoder) value(n *node, p unsafe.Pointer) bool {
	switch n.kind {
	case kindString:
		s, ok := d.string()
		*(*string)(p) = s
		return ok
	case kindInt:
		i, ok := d.int()
		*(*int64)(p) = i
		return ok
	case kindFloat:
		f, ok := d.float()
		*(*float64)(p) = f
		return ok
	case kindBool:
		switch {
		case d.literal("true"):
			*(*bool)(p) = true
		case d.literal("false"):
			*(*bool)(p) = false
		default:
			return false
		}
		return true
	case kindTime:
		s, ok := d.string()
		if !ok || !wire.ValidRFC3339([]byte(s)) {
			return false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		t = t.UTC()
		*(*time.Time)(p) = t
		// A time that leaves the years RFC 3339 can write in UTC is the
		// general way's to report.
		return err == nil && t.Year() >= 0 && t.Year() <= 9999
	case kindBytes:
		s, ok := d.string()
		if !ok || strings.ContainsAny(s, "\r\n") {
			return false
		}
		// As the JSON library does: padding required, no line breaks.
		b, err := base64.StdEncoding.DecodeString(s)
		*(*[]byte)(p) = b
		return err == nil
	case kindObject:
		return d.object(n, p)
	case kindArray:
		return d.array(n, p)
	case kindMap:
		return d.mapValue(n, p)
	}
	return false
}

// array reads an array of n into the nil slice at p.
func (d *jsonDecoder) array(n *node, p unsafe.Pointer) bool {
	if !d.enter('[') {
		return false
	}
	s := reflect.NewAt(n.plain, p).Elem()
	if d.consume(']') {
		d.depth--
		s.Set(reflect.MakeSlice(n.plain, 0, 0))
		return true
	}
	s.Set(reflect.MakeSlice(n.plain, 0, 4))
	size := n.elem.plain.Size()
	for {
		d.space()
		i := s.Len()
		if i == s.Cap() {
			s.Grow(1)
		}
		s.SetLen(i + 1)
		if !d.value(n.elem, unsafe.Add(s.UnsafePointer(), uintptr(i)*size)) {
			return false
		}
		if d.consume(',') {
			continue
		}
		if d.consume(']') {
			d.depth--
			return true
		}
		return false
	}
}

var stringMapType = reflect.TypeFor[map[string]string]()

// mapValue reads a map of n into the nil map at p.
func (d *jsonDecoder) mapValue(n *node, p unsafe.Pointer) bool {
	if !d.enter('{') {
		return false
	}
	more, ok := d.firstMember()
	if n.plain == stringMapType {
		m := make(map[string]string)
		*(*map[string]string)(p) = m
		for ; ok && more; more, ok = d.afterMember() {
			key, named := d.name()
			if !named {
				return false
			}
			if _, dup := m[key]; dup {
				return false
			}
			value, read := d.string()
			if !read {
				return false
			}
			m[key] = value
		}
		return ok
	}
	m := reflect.MakeMap(n.plain)
	reflect.NewAt(n.plain, p).Elem().Set(m)
	elem := reflect.New(n.elem.plain)
	for ; ok && more; more, ok = d.afterMember() {
		key, named := d.name()
		if !named {
			return false
		}
		k := reflect.ValueOf(key)
		if m.MapIndex(k).IsValid() {
			return false
		}
		elem.Elem().SetZero()
		if !d.value(n.elem, elem.UnsafePointer()) {
			return false
		}
		m.SetMapIndex(k, elem.Elem())
	}
	return ok
}

// string reads a string. One without escapes is a slice of the body;
// escapes are undone by the JSON library, which also checks them.
func (d *jsonDecoder) string() (string, bool) {
	if d.pos >= len(d.src) || d.src[d.pos] != '"' {
		return "", false
	}
	start := d.pos + 1
	ascii := true
	for i := start; i < len(d.src); i++ {
		switch c := d.src[i]; {
		case c == '"':
			d.pos = i + 1
			s := d.src[start:i]
			if !ascii && !utf8.ValidString(s) {
				return "", false
			}
			return s, true
		case c == '\\':
			return d.escapedString()
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// escapedString reads a string that has escapes, from its opening quote.
func (d *jsonDecoder) escapedString() (string, bool) {
	end := d.pos + 1
	for {
		j := strings.IndexByte(d.src[end:], '"')
		if j < 0 {
			return "", false
		}
		end += j
		k := end
		for d.src[k-1] == '\\' {
			k--
		}
		end++
		if (end-1-k)%2 == 0 {
			break
		}
	}
	b, err := jsontext.AppendUnquote(nil, d.src[d.pos:end])
	if err != nil {
		return "", false
	}
	d.pos = end
	return string(b), true
}

// number returns the text of a number in JSON's grammar, and whether it
// is an integer (no fraction, no exponent).
func (d *jsonDecoder) number() (text string, integer, ok bool) {
	s, i := d.src, d.pos
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i)
	default:
		return "", false, false
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		integer = false
		j := digits(s, i+1)
		if j == i+1 {
			return "", false, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return "", false, false
		}
		i = j
	}
	text = s[d.pos:i]
	d.pos = i
	return text, integer, true
}

func digits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

func (d *jsonDecoder) int() (int64, bool) {
	text, integer, ok := d.number()
	if !ok || !integer {
		return 0, false
	}
	i, err := strconv.ParseInt(text, 10, 64)
	return i, err == nil
}

func (d *jsonDecoder) float() (float64, bool) {
	text, _, ok := d.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(text, 64)
	return f, err == nil
}
