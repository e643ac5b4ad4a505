package gobcheck

import (
	"encoding"
	"encoding/gob"
	"reflect"
)

// mapEntryOverhead approximates what a Go map spends per entry beyond its
// key and value: control bytes, spare slots below the load factor, and the
// pointers it keeps in place of large keys and values.
const mapEntryOverhead = 16

// A shape summarizes how a Go type stores what encoding/gob decodes into
// it: the fixed size and the allocations that depend on the data.
type shape struct {
	kind   reflect.Kind // Struct, Slice or Map; Invalid for types with no parts to match
	bytes  bool         // a string or []byte, whose length is allocated
	size   int64
	fields map[string]slot // exported struct fields by name
	key    slot
	elem   slot
}

// A slot is a place that holds a value: a struct field, a slice element, a
// map key or value.
type slot struct {
	s    *shape // the shape below any pointers
	size int64  // the size of the slot itself
	ptr  int64  // what the decoder allocates to fill the pointers on the way to s
}

var (
	gobDecoderType        = reflect.TypeFor[gob.GobDecoder]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// decodesItself reports whether gob hands t's bytes to a method of t. gob
// does not use UnmarshalText (golang.org/issue/6760).
func decodesItself(t reflect.Type) bool {
	for _, u := range [...]reflect.Type{t, reflect.PointerTo(t)} {
		if u.Implements(gobDecoderType) || u.Implements(binaryUnmarshalerType) {
			return true
		}
	}
	return false
}

// shapes builds the shapes of a target type graph, which may be recursive.
type shapes map[reflect.Type]*shape

func newShapes() shapes { return make(shapes) }

func (m shapes) of(t reflect.Type) *shape {
	return m.slot(t).s
}

func (m shapes) slot(t reflect.Type) slot {
	sl := slot{size: int64(t.Size())}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		sl.ptr += int64(t.Size())
	}
	if s, ok := m[t]; ok {
		sl.s = s
		return sl
	}
	s := &shape{size: int64(t.Size())}
	m[t] = s
	sl.s = s
	switch {
	case decodesItself(t):
	case t.Kind() == reflect.String, t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		s.bytes = true
	case t.Kind() == reflect.Struct:
		s.kind = reflect.Struct
		s.fields = make(map[string]slot, t.NumField())
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				s.fields[f.Name] = m.slot(f.Type)
			}
		}
	case t.Kind() == reflect.Slice:
		s.kind = reflect.Slice
		s.elem = m.slot(t.Elem())
	case t.Kind() == reflect.Map:
		s.kind = reflect.Map
		s.key = m.slot(t.Key())
		s.elem = m.slot(t.Elem())
	}
	return sl
}

// A plan pairs a wire type with the shape it is decoded into.
type plan struct {
	fields []edge // struct fields by wire field number
	key    edge
	elem   edge
	per    int64 // bytes allocated per slice element or map entry
}

// An edge says what decoding one value into its slot allocates.
type edge struct {
	p     *plan // for structs, slices and maps the target can hold
	cost  int64 // allocated whenever a struct field is present
	bytes bool  // the value's length is allocated
	// unknown marks a struct field the target struct does not have, which
	// encoding/gob would drop without a word.
	unknown bool
}

type planned struct {
	s *shape
	p *plan
}

// planFor returns the plan for decoding t into s, or nil when the decoder
// would refuse the pair before decoding anything. Plans are kept with the
// wire type; a wire type is almost always decoded into one shape.
func (t *wtype) planFor(s *shape, tb *table) *plan {
	if t.plan.s == s {
		return t.plan.p
	}
	for _, x := range t.plans {
		if x.s == s {
			return x.p
		}
	}
	var p *plan
	switch {
	case t.kind == kindStruct && s.kind == reflect.Struct:
		p = tb.newPlan()
		p.fields = tb.edges(len(t.fields))
		for i, f := range t.fields {
			sl, ok := s.fields[t.names[i]]
			if !ok {
				p.fields[i].unknown = true
				continue
			}
			p.fields[i] = edgeFor(f.t, sl, tb)
			p.fields[i].cost = sl.ptr
		}
	case t.kind == kindSlice && s.kind == reflect.Slice:
		p = tb.newPlan()
		p.elem = edgeFor(t.elem.t, s.elem, tb)
		// Even elements of size zero cost the decoder a step each.
		p.per = max(s.elem.size+s.elem.ptr, 1)
	case t.kind == kindMap && s.kind == reflect.Map:
		p = tb.newPlan()
		p.key = edgeFor(t.key.t, s.key, tb)
		p.elem = edgeFor(t.elem.t, s.elem, tb)
		p.per = s.key.size + s.key.ptr + s.elem.size + s.elem.ptr + mapEntryOverhead
	}
	if t.plan.s == nil {
		t.plan = planned{s, p}
	} else {
		t.plans = append(t.plans, planned{s, p})
	}
	return p
}

func edgeFor(t *wtype, sl slot, tb *table) edge {
	if sl.s.bytes && (t.kind == kindString || t.kind == kindBytes) {
		return edge{bytes: true}
	}
	switch t.kind {
	case kindStruct, kindSlice, kindMap:
		return edge{p: t.planFor(sl.s, tb)}
	}
	return edge{}
}

// newPlan returns a zero plan from the table's batch.
func (tb *table) newPlan() *plan {
	if len(tb.planSpare) == 0 {
		tb.planSpare = make([]plan, batch)
	}
	p := &tb.planSpare[0]
	tb.planSpare = tb.planSpare[1:]
	return p
}

// edges returns room for the n field edges of a struct plan.
func (tb *table) edges(n int) []edge {
	if n > cap(tb.edgePool)-len(tb.edgePool) {
		tb.edgePool = make([]edge, 0, max(n, 64))
	}
	e := tb.edgePool[len(tb.edgePool) : len(tb.edgePool)+n : len(tb.edgePool)+n]
	tb.edgePool = tb.edgePool[:len(tb.edgePool)+n]
	return e
}
