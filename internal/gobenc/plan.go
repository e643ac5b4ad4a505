package gobenc

import (
	"encoding"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ErrUnsupported is wrapped by the error for a type this package cannot
// write: interfaces, complex numbers, channels and functions outside
// struct fields, structs whose fields are all unexported, types whose
// GobEncode or MarshalBinary has a pointer receiver, and pointer types
// that point to themselves.
var ErrUnsupported = errors.New("gobenc: unsupported type")

// Builtin type ids of the gob wire format, and the first one a stream may
// define.
const (
	idBool   = 1
	idInt    = 2
	idUint   = 3
	idFloat  = 4
	idBytes  = 5
	idString = 6

	firstUserID = 64
)

// How a value is written.
type kind uint8

const (
	kindBool kind = iota + 1
	kindInt
	kindUint
	kindFloat
	kindString
	kindBytes
	kindStruct
	kindSlice
	kindArray
	kindMap
	// kindExternal is a type with its own gob, binary or text marshaling
	// method, written as the bytes that method returns.
	kindExternal
)

// Which method an external type is written with, in gob's order of
// preference. gob does not use MarshalText (golang.org/issue/6760).
type external uint8

const (
	externalGob external = iota + 1
	externalBinary
)

var (
	gobEncoderType    = reflect.TypeFor[gob.GobEncoder]()
	binaryMarshalType = reflect.TypeFor[encoding.BinaryMarshaler]()
)

// maxIndirections is how many pointers a type may have before its value,
// as in encoding/gob; a pointer type that points to itself has no end.
const maxIndirections = 100

// A plan is how values of one type are written, and how the type is
// described on the wire. Pointers are not planned: a ref says how many
// to follow.
type plan struct {
	kind kind
	// typ is the type the plan writes. For an external type it is the
	// type that has the method, which may be a pointer; base is typ
	// without its pointers, the type the wire describes.
	typ, base reflect.Type
	ext       external
	fields    []field // kindStruct
	key       ref     // kindMap
	elem      ref     // kindSlice, kindArray, kindMap
}

// builtin returns the wire id of a type gob predefines, or zero for one a
// stream must describe.
func (pl *plan) builtin() int {
	switch pl.kind {
	case kindBool:
		return idBool
	case kindInt:
		return idInt
	case kindUint:
		return idUint
	case kindFloat:
		return idFloat
	case kindString:
		return idString
	case kindBytes:
		return idBytes
	}
	return 0
}

// A ref is a plan reached through indir pointers.
type ref struct {
	plan  *plan
	indir int
}

// A field is one struct field that gob sends.
type field struct {
	index int
	name  string
	ref
}

// A Planner builds the plans of the types it is asked to write and keeps
// them, so that each type is examined once. Its zero value is ready to
// use, and it is safe for concurrent use.
type Planner struct {
	mu   sync.RWMutex
	refs map[reflect.Type]ref
}

// ref returns the ref of t, building the plans it needs.
func (p *Planner) ref(t reflect.Type) (ref, error) {
	p.mu.RLock()
	r, ok := p.refs[t]
	p.mu.RUnlock()
	if ok {
		return r, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refs == nil {
		p.refs = make(map[reflect.Type]ref)
	}
	b := builder{done: p.refs, building: make(map[reflect.Type]*plan)}
	r, err := b.ref(t)
	if err != nil {
		return ref{}, err
	}
	for t, pl := range b.building {
		p.refs[t] = ref{plan: pl}
	}
	p.refs[t] = r
	return r, nil
}

// A builder makes plans. A plan under construction is entered in building
// before its parts, so that recursive types end.
type builder struct {
	done     map[reflect.Type]ref
	building map[reflect.Type]*plan
}

func (b *builder) ref(t reflect.Type) (ref, error) {
	if r, ok := b.done[t]; ok {
		return r, nil
	}
	if indirections(t) > maxIndirections {
		return ref{}, fmt.Errorf("%w: %s has more than %d pointers before its value", ErrUnsupported, t, maxIndirections)
	}
	if ext, indir, ok := externalMethod(t); ok {
		if indir < 0 {
			return ref{}, fmt.Errorf("%w: %s has its marshaling method on a pointer receiver", ErrUnsupported, t)
		}
		typ := t
		for range indir {
			typ = typ.Elem()
		}
		pl, ok := b.building[typ]
		if !ok {
			pl = &plan{kind: kindExternal, ext: ext, typ: typ, base: deref(typ)}
			b.building[typ] = pl
		}
		return ref{plan: pl, indir: indir}, nil
	}
	base := deref(t)
	pl, err := b.plan(base)
	if err != nil {
		return ref{}, err
	}
	return ref{plan: pl, indir: indirections(t)}, nil
}

// plan makes the plan of t, which is not a pointer.
func (b *builder) plan(t reflect.Type) (*plan, error) {
	if pl, ok := b.building[t]; ok {
		return pl, nil
	}
	if r, ok := b.done[t]; ok && r.indir == 0 {
		return r.plan, nil
	}
	pl := &plan{typ: t, base: t}
	b.building[t] = pl
	var err error
	switch t.Kind() {
	case reflect.Bool:
		pl.kind = kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		pl.kind = kindInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		pl.kind = kindUint
	case reflect.Float32, reflect.Float64:
		pl.kind = kindFloat
	case reflect.String:
		pl.kind = kindString
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			pl.kind = kindBytes
			break
		}
		pl.kind = kindSlice
		pl.elem, err = b.ref(t.Elem())
	case reflect.Array:
		pl.kind = kindArray
		pl.elem, err = b.ref(t.Elem())
	case reflect.Map:
		pl.kind = kindMap
		if pl.key, err = b.ref(t.Key()); err == nil {
			pl.elem, err = b.ref(t.Elem())
		}
	case reflect.Struct:
		pl.kind = kindStruct
		err = b.structFields(pl)
	default:
		err = fmt.Errorf("%w: %s", ErrUnsupported, t)
	}
	if err != nil {
		return nil, err
	}
	return pl, nil
}

func (b *builder) structFields(pl *plan) error {
	t := pl.typ
	for i := range t.NumField() {
		f := t.Field(i)
		if !sent(&f) {
			continue
		}
		r, err := b.ref(f.Type)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		pl.fields = append(pl.fields, field{index: i, name: f.Name, ref: r})
	}
	if len(pl.fields) == 0 && t.NumField() > 0 {
		return fmt.Errorf("%w: %s has no exported fields", ErrUnsupported, t)
	}
	return nil
}

// deref returns t without its pointers, or, when it has more than
// maxIndirections, a pointer type.
func deref(t reflect.Type) reflect.Type {
	for n := 0; t.Kind() == reflect.Pointer && n <= maxIndirections; n++ {
		t = t.Elem()
	}
	return t
}

// indirections counts t's pointers, up to one more than maxIndirections.
func indirections(t reflect.Type) int {
	n := 0
	for ; t.Kind() == reflect.Pointer && n <= maxIndirections; t = t.Elem() {
		n++
	}
	return n
}

// externalMethod reports whether t, or a type its pointers lead to, has
// GobEncode or MarshalBinary, as gob looks for them: the number of
// pointers to follow to reach the type that has it, or -1 when only a
// pointer to t has it.
func externalMethod(t reflect.Type) (external, int, bool) {
	for _, m := range []struct {
		ext   external
		iface reflect.Type
	}{{externalGob, gobEncoderType}, {externalBinary, binaryMarshalType}} {
		if indir, ok := implements(t, m.iface); ok {
			return m.ext, indir, true
		}
	}
	return 0, 0, false
}

func implements(t, iface reflect.Type) (int, bool) {
	u := t
	for indir := 0; ; indir++ {
		if u.Implements(iface) {
			return indir, true
		}
		if u.Kind() != reflect.Pointer {
			break
		}
		u = u.Elem()
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface) {
		return -1, true
	}
	return 0, false
}

// sent reports whether gob sends struct field f: it is exported and is
// not a channel or a function, or a pointer to one.
func sent(f *reflect.StructField) bool {
	r, _ := utf8.DecodeRuneInString(f.Name)
	if !unicode.IsUpper(r) {
		return false
	}
	switch deref(f.Type).Kind() {
	case reflect.Chan, reflect.Func:
		return false
	}
	return true
}
