package negotiate

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

// A shape is what a Go type accepts from a MessagePack or CBOR body, in the
// terms of Ferry's value model. Checking a body against the shape of its
// target before (or, for CBOR, after a failed) library decode gives every
// format the same located errors ("field items[2].qty at offset 57:
// expected integer, got string") and catches what a library lets through,
// such as a MessagePack uint64 above math.MaxInt64 that would wrap into a
// negative int64.
type shape struct {
	kind shapeKind
	// bits is the size of an integer or float.
	bits int
	// elem is the element of a slice or array, the value of a map, or the
	// target of a pointer; key is the key of a map.
	elem, key *shape
	// fields maps a struct's field names on the wire to their shapes.
	fields map[string]*shape
	// goType names the type in details.
	goType reflect.Type
}

type shapeKind uint8

const (
	shapeAny shapeKind = iota // an interface: anything goes
	shapeBool
	shapeInt
	shapeUint
	shapeFloat
	shapeString
	shapeBytes
	shapeTime
	shapeStruct
	shapeSlice
	shapeMap
	shapePtr
)

// scalar reports whether a shape holds one value that has no null.
func (k shapeKind) scalar() bool {
	switch k {
	case shapeBool, shapeInt, shapeUint, shapeFloat, shapeString, shapeTime:
		return true
	}
	return false
}

// expected names what a shape accepts in details.
var expected = [...]string{
	shapeAny:    "any value",
	shapeBool:   "boolean",
	shapeInt:    "integer",
	shapeUint:   "non-negative integer",
	shapeFloat:  "number",
	shapeString: "string",
	shapeBytes:  "bytes",
	shapeTime:   "time",
	shapeStruct: "map",
	shapeSlice:  "array",
	shapeMap:    "map",
	shapePtr:    "value",
}

var timeType = reflect.TypeFor[time.Time]()

// A shapeCache builds and keeps the shapes of the types one codec decodes
// into, naming struct fields the way that codec's library does.
type shapeCache struct {
	// tags are the struct tags that name a field, in order of precedence;
	// the Go field name is used when none is set.
	tags   []string
	shapes sync.Map // reflect.Type → *shape
}

func (c *shapeCache) of(t reflect.Type) *shape {
	if s, ok := c.shapes.Load(t); ok {
		return s.(*shape)
	}
	s := c.build(t, map[reflect.Type]*shape{})
	c.shapes.Store(t, s)
	return s
}

// build returns the shape of t. seen holds the shapes under construction,
// so that a recursive type refers back to itself.
func (c *shapeCache) build(t reflect.Type, seen map[reflect.Type]*shape) *shape {
	if s, ok := seen[t]; ok {
		return s
	}
	s := &shape{goType: t}
	seen[t] = s
	switch {
	case t == timeType:
		s.kind = shapeTime
		return s
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		s.kind = shapeBytes
		return s
	}
	switch t.Kind() {
	case reflect.Bool:
		s.kind = shapeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s.kind, s.bits = shapeInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s.kind, s.bits = shapeUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		s.kind, s.bits = shapeFloat, t.Bits()
	case reflect.String:
		s.kind = shapeString
	case reflect.Slice, reflect.Array:
		s.kind, s.elem = shapeSlice, c.build(t.Elem(), seen)
	case reflect.Map:
		s.kind, s.key, s.elem = shapeMap, c.build(t.Key(), seen), c.build(t.Elem(), seen)
	case reflect.Pointer:
		s.kind, s.elem = shapePtr, c.build(t.Elem(), seen)
	case reflect.Struct:
		s.kind, s.fields = shapeStruct, map[string]*shape{}
		c.addFields(s, t, seen)
	default:
		s.kind = shapeAny
	}
	return s
}

// addFields adds the fields of struct t to s, inlining embedded structs
// that have no name of their own, as both libraries do.
func (c *shapeCache) addFields(s *shape, t reflect.Type, seen map[reflect.Type]*shape) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, skip := c.fieldName(f)
		if skip {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != timeType {
				c.addFields(s, ft, seen)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.fields[name] = c.build(f.Type, seen)
	}
}

// fieldName returns the name a struct tag gives f, and whether a tag of
// "-" leaves the field out.
func (c *shapeCache) fieldName(f reflect.StructField) (name string, skip bool) {
	for _, tag := range c.tags {
		v, ok := f.Tag.Lookup(tag)
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(v, ",")
		return name, name == "-"
	}
	return "", false
}

// A shapeChecker walks a body's items against a shape.
type shapeChecker struct {
	r      *itemReader
	format string
	// untaggedTimes lets text and numbers stand for times, as CBOR's
	// decoder allows.
	untaggedTimes bool
	// wideUints are the offsets of the integers above math.MaxInt64 met
	// where a float goes, which the MessagePack library would wrap
	// through int64 into negative floats.
	wideUints []int
}

// check checks the value at the read position against s.
func (c *shapeChecker) check(s *shape) error {
	var it item
	if err := c.r.next(&it); err != nil {
		return err
	}
	return c.item(&it, s, 0)
}

func (c *shapeChecker) item(it *item, s *shape, depth int) error {
	if it.kind == itemNull {
		// A record's scalar fields are pointers, where null is absence,
		// and a null array, map or bytes value is an empty one; a bare
		// scalar, an array element or a map value, has no null, and the
		// libraries would quietly make it a zero.
		// In CBOR, null is also the zero time, as the library writes it.
		if s.kind.scalar() && !(s.kind == shapeTime && c.untaggedTimes) {
			return &fieldError{kind: problem.Invalid, reason: "type", off: it.off,
				msg: fmt.Sprintf("expected %s, got null", expected[s.kind])}
		}
		return nil
	}
	if depth > wire.MaxDepth {
		return problem.New(problem.Invalid, "%s: value at offset %d is nested deeper than %d levels",
			c.format, it.off, wire.MaxDepth).WithReason("depth").With("offset", it.off)
	}
	ok := false
	switch s.kind {
	case shapeAny:
		return c.skip(it, depth)
	case shapePtr:
		return c.item(it, s.elem, depth)
	case shapeBool:
		ok = it.kind == itemBool
	case shapeInt:
		switch it.kind {
		case itemInt:
			if s.bits < 64 && (it.i < -1<<(s.bits-1) || it.i >= 1<<(s.bits-1)) {
				return intRange(it, s)
			}
			ok = true
		case itemUint:
			return intRange(it, s)
		}
	case shapeUint:
		switch it.kind {
		case itemInt:
			if it.i < 0 || (s.bits < 64 && it.i >= 1<<s.bits) {
				return intRange(it, s)
			}
			ok = true
		case itemUint:
			ok = s.bits == 64
			if !ok {
				return intRange(it, s)
			}
		}
	case shapeFloat:
		ok = it.kind == itemFloat || it.kind == itemInt || it.kind == itemUint
		if it.kind == itemUint {
			c.wideUints = append(c.wideUints, it.off)
		}
		if it.kind == itemFloat && s.bits == 32 && math.Abs(it.f) > math.MaxFloat32 {
			return (&fieldError{kind: problem.Unprocessable, reason: "float_range", off: it.off,
				msg: fmt.Sprintf("%v is out of range for a 32-bit float", it.f)})
		}
	case shapeString:
		ok = it.kind == itemString
	case shapeBytes:
		ok = it.kind == itemBytes
	case shapeTime:
		ok = it.kind == itemTime || (c.untaggedTimes && (it.kind == itemInt || it.kind == itemFloat))
		if c.untaggedTimes && it.kind == itemString {
			if _, err := time.Parse(time.RFC3339Nano, string(it.raw)); err != nil {
				return &fieldError{kind: problem.Invalid, reason: "type", off: it.off,
					msg: fmt.Sprintf("%q is not an RFC 3339 time", problem.Excerpt(string(it.raw), 40))}
			}
			ok = true
		}
	case shapeSlice:
		if it.kind == itemArray {
			return c.elements(it, s, depth)
		}
	case shapeStruct, shapeMap:
		if it.kind == itemMap {
			return c.entries(it, s, depth)
		}
	}
	if !ok {
		return &fieldError{kind: problem.Invalid, reason: "type", off: it.off,
			msg: fmt.Sprintf("expected %s, got %s", expected[s.kind], kindNames[it.kind])}
	}
	return nil
}

func intRange(it *item, s *shape) error {
	v := fmt.Sprint(it.i)
	if it.kind == itemUint {
		v = fmt.Sprint(it.u)
	}
	return &fieldError{kind: problem.Unprocessable, reason: "int_range", off: it.off,
		msg: fmt.Sprintf("%s is out of range for %s", v, s.goType)}
}

// another reports whether the array or map whose head declared n elements
// (-1: up to a break) has an element after the first i.
func (c *shapeChecker) another(n, i int) (bool, error) {
	if n >= 0 {
		return i < n, nil
	}
	return c.r.more()
}

func (c *shapeChecker) elements(it *item, s *shape, depth int) error {
	var e item
	for i := 0; ; i++ {
		if more, err := c.another(it.n, i); !more || err != nil {
			return err
		}
		if err := c.r.next(&e); err != nil {
			return err
		}
		if err := c.item(&e, s.elem, depth+1); err != nil {
			return atSegment(err, indexSegment(i))
		}
	}
}

func (c *shapeChecker) entries(it *item, s *shape, depth int) error {
	var k, v item
	for i := 0; ; i++ {
		if more, err := c.another(it.n, i); !more || err != nil {
			return err
		}
		if err := c.r.next(&k); err != nil {
			return err
		}
		elem := s.elem
		if s.kind == shapeStruct {
			if k.kind != itemString {
				return &fieldError{kind: problem.Invalid, reason: "type", off: k.off,
					msg: fmt.Sprintf("expected a field name, got %s", kindNames[k.kind])}
			}
			field, known := s.fields[string(k.raw)]
			if !known {
				return unknownField(string(k.raw), k.off, s)
			}
			elem = field
		} else if err := c.item(&k, s.key, depth+1); err != nil {
			return err
		}
		if err := c.r.next(&v); err != nil {
			return err
		}
		if err := c.item(&v, elem, depth+1); err != nil {
			if s.kind == shapeMap && k.kind == itemString {
				// A record's map key, written as the schema's paths
				// write it: "attrs[k]".
				return atSegment(err, "["+string(k.raw)+"]")
			}
			return atSegment(err, keySegment(scalarValue(&k)))
		}
	}
}

// skip moves past the elements of it, if it is an array or map.
func (c *shapeChecker) skip(it *item, depth int) error {
	per := 1
	switch it.kind {
	case itemMap:
		per = 2
	case itemArray:
	default:
		return nil
	}
	for i := 0; ; i++ {
		if more, err := c.another(it.n, i); !more || err != nil {
			return err
		}
		for range per {
			var e item
			if err := c.r.next(&e); err != nil {
				return err
			}
			if err := c.skip(&e, depth+1); err != nil {
				return err
			}
		}
	}
}

// unknownField reports a name the struct does not have, pointing out a
// field whose name differs only in case.
func unknownField(name string, off int, s *shape) *fieldError {
	names := make([]string, 0, len(s.fields))
	for known := range s.fields {
		names = append(names, known)
	}
	return newUnknownField(name, off, names)
}

func newUnknownField(name string, off int, known []string) *fieldError {
	msg := "unknown field"
	for _, k := range known {
		if strings.EqualFold(k, name) {
			msg += fmt.Sprintf(" (names are case-sensitive: did you mean %q?)", k)
			break
		}
	}
	return &fieldError{kind: problem.Invalid, reason: "unknown_field", off: off, msg: msg, rev: []string{keySegment(name)}}
}

// A fieldError is a decode failure inside a body, located by the path of
// the field that holds it (collected as the error unwinds, innermost
// segment first) and by byte offset.
type fieldError struct {
	kind   problem.Kind
	reason string
	msg    string
	off    int
	rev    []string
}

// Error returns the detail the client will see.
func (e *fieldError) Error() string { return e.problem("").Error() }

// atSegment adds the segment of an enclosing container to err's path, if
// err is a fieldError.
func atSegment(err error, segment string) error {
	if fe, ok := err.(*fieldError); ok {
		fe.rev = append(fe.rev, segment)
	}
	return err
}

// path returns the field path, as in "items[2].qty".
func (e *fieldError) path() string {
	var b strings.Builder
	for i := len(e.rev) - 1; i >= 0; i-- {
		seg := e.rev[i]
		if b.Len() == 0 && seg[0] == '.' {
			seg = seg[1:]
		}
		b.WriteString(seg)
	}
	return b.String()
}

// problem renders e for the client; format prefixes the detail.
func (e *fieldError) problem(format string) *problem.Error {
	var b strings.Builder
	if format != "" {
		b.WriteString(format + ": ")
	}
	path := e.path()
	if path == "" {
		b.WriteString("body")
	} else {
		b.WriteString("field " + path)
	}
	if e.off >= 0 {
		fmt.Fprintf(&b, " at offset %d", e.off)
	}
	b.WriteString(": " + e.msg)
	p := &problem.Error{Kind: e.kind, Detail: b.String(), Reason: e.reason}
	if path != "" {
		p.With("field", path)
	}
	if e.off >= 0 {
		p.With("offset", e.off)
	}
	return p
}

// asProblem turns the errors of the shape checker and the item readers into
// a *problem.Error.
func asProblem(err error, format string) error {
	if fe, ok := err.(*fieldError); ok {
		return fe.problem(format)
	}
	return err
}
