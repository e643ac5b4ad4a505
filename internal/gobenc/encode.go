package gobenc

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"slices"
)

// maxMessage is the largest message a gob decoder takes (encoding/gob's
// tooBig).
const maxMessage = 1 << 30

// maxDepth bounds how deeply a value may nest, so that a value that
// points back into itself, through structs, slices or maps, fails rather
// than exhausting the stack.
const maxDepth = 1000

// Marshal returns v, a struct or a pointer to one, as a complete gob
// stream: the descriptions of its types, then the value. Values that
// encoding/gob would write with the same map entries, in some order, give
// the same bytes.
func (p *Planner) Marshal(v any) ([]byte, error) {
	return NewEncoder(p).Append(nil, v)
}

// An Encoder writes the messages of one gob stream of many values. Each
// type is described once, before the first value that needs it, and the
// stream numbers its types in the order it describes them.
type Encoder struct {
	planner *Planner
	ids     map[reflect.Type]int
	next    int
	// msg holds the message being built.
	msg []byte
}

// NewEncoder returns an encoder of a new stream whose types are planned by
// p.
func NewEncoder(p *Planner) *Encoder {
	return &Encoder{planner: p, ids: make(map[reflect.Type]int), next: firstUserID}
}

// Append appends to dst the messages that write v, a struct or a pointer
// to one: the descriptions of the types the stream has not described yet,
// then the value. On error dst is returned as it was, and the stream is
// as if v had not been given.
func (e *Encoder) Append(dst []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return dst, errors.New("gobenc: cannot encode nil")
	}
	r, err := e.planner.ref(rv.Type())
	if err != nil {
		return dst, err
	}
	if r.plan.kind != kindStruct {
		return dst, fmt.Errorf("%w: %s is not a struct", ErrUnsupported, rv.Type())
	}
	for range r.indir {
		if rv.IsNil() {
			return dst, fmt.Errorf("gobenc: cannot encode a nil %s", rv.Type())
		}
		rv = rv.Elem()
	}
	start, next := len(dst), e.next
	added := e.assign(r.plan, nil)
	for _, pl := range added {
		e.msg = e.describe(appendInt(e.msg[:0], -int64(e.ids[pl.base])), pl)
		dst = appendMessage(dst, e.msg)
	}
	e.msg = appendInt(e.msg[:0], int64(e.ids[r.plan.base]))
	e.msg, err = e.appendStruct(e.msg, r.plan, rv, 0)
	if err == nil && len(e.msg) >= maxMessage {
		err = fmt.Errorf("gobenc: a value of %d bytes is more than a gob decoder takes", len(e.msg))
	}
	if err != nil {
		for _, pl := range added {
			delete(e.ids, pl.base)
		}
		e.next = next
		return dst[:start], err
	}
	return appendMessage(dst, e.msg), nil
}

func appendMessage(dst, msg []byte) []byte {
	return append(appendUint(dst, uint64(len(msg))), msg...)
}

// assign gives a wire id to pl and to every type it needs that the stream
// has not numbered yet, parent before children as encoding/gob does, and
// returns the plans it numbered in that order.
func (e *Encoder) assign(pl *plan, added []*plan) []*plan {
	if pl.builtin() != 0 {
		return added
	}
	if _, ok := e.ids[pl.base]; ok {
		return added
	}
	e.ids[pl.base] = e.next
	e.next++
	added = append(added, pl)
	switch pl.kind {
	case kindStruct:
		for _, f := range pl.fields {
			added = e.assign(f.plan, added)
		}
	case kindSlice, kindArray:
		added = e.assign(pl.elem.plan, added)
	case kindMap:
		added = e.assign(pl.key.plan, added)
		added = e.assign(pl.elem.plan, added)
	}
	return added
}

func (e *Encoder) id(pl *plan) int {
	if id := pl.builtin(); id != 0 {
		return id
	}
	return e.ids[pl.base]
}

// describe appends pl's description, a value of encoding/gob's wireType:
// a struct of one pointer field per kind of type, of which one is set.
func (e *Encoder) describe(b []byte, pl *plan) []byte {
	// The number of the wireType field that holds pl's description:
	// ArrayT, SliceT, StructT, MapT, GobEncoderT, BinaryMarshalerT,
	// TextMarshalerT.
	var which uint64
	switch pl.kind {
	case kindArray:
		which = 0
	case kindSlice:
		which = 1
	case kindStruct:
		which = 2
	case kindMap:
		which = 3
	case kindExternal:
		which = 4 + uint64(pl.ext-externalGob)
	}
	b = appendUint(b, which+1)
	// Every kind of description starts with a CommonType, its field 0.
	b = appendUint(b, 1)
	if name := pl.base.Name(); name != "" {
		b = appendString(appendUint(b, 1), name)
		b = appendUint(b, 1)
	} else {
		b = appendUint(b, 2)
	}
	b = appendUint(appendInt(b, int64(e.id(pl))), 0)
	switch pl.kind {
	case kindArray:
		b = appendInt(appendUint(b, 1), int64(e.id(pl.elem.plan)))
		if n := pl.base.Len(); n != 0 {
			b = appendInt(appendUint(b, 1), int64(n))
		}
	case kindSlice:
		b = appendInt(appendUint(b, 1), int64(e.id(pl.elem.plan)))
	case kindMap:
		b = appendInt(appendUint(b, 1), int64(e.id(pl.key.plan)))
		b = appendInt(appendUint(b, 1), int64(e.id(pl.elem.plan)))
	case kindStruct:
		b = appendUint(appendUint(b, 1), uint64(len(pl.fields)))
		for _, f := range pl.fields {
			b = appendString(appendUint(b, 1), f.name)
			b = appendUint(appendInt(appendUint(b, 1), int64(e.id(f.plan))), 0)
		}
	}
	// The ends of the description and of the wireType.
	return append(b, 0, 0)
}

// appendStruct appends struct v's fields that are not zero, each after
// the difference between its number and the last one's, then a zero.
func (e *Encoder) appendStruct(b []byte, pl *plan, v reflect.Value, depth int) ([]byte, error) {
	last := -1
	for i, f := range pl.fields {
		fv, ok := follow(v.Field(f.index), f.indir)
		if !ok || omitted(f.plan, fv) {
			continue
		}
		b = appendUint(b, uint64(i-last))
		last = i
		var err error
		if b, err = e.appendValue(b, f.plan, fv, depth+1); err != nil {
			return b, fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	return append(b, 0), nil
}

// follow follows indir pointers from v, and reports false when one is
// nil.
func follow(v reflect.Value, indir int) (reflect.Value, bool) {
	for range indir {
		if v.IsNil() {
			return v, false
		}
		v = v.Elem()
	}
	return v, true
}

// omitted reports whether a struct field holding v is left out: gob sends
// no zero scalars, empty strings, byte slices or slices, nil maps, and no
// zero values of external types.
func omitted(pl *plan, v reflect.Value) bool {
	switch pl.kind {
	case kindBool:
		return !v.Bool()
	case kindInt:
		return v.Int() == 0
	case kindUint:
		return v.Uint() == 0
	case kindFloat:
		return v.Float() == 0
	case kindString, kindBytes, kindSlice:
		return v.Len() == 0
	case kindMap:
		return v.IsNil()
	case kindExternal:
		return v.IsZero()
	}
	return false
}

// appendElem appends an element of a slice, an array or a map, which gob
// sends even when it is zero.
func (e *Encoder) appendElem(b []byte, r ref, v reflect.Value, depth int) ([]byte, error) {
	v, ok := follow(v, r.indir)
	if !ok || (r.plan.kind == kindExternal && r.plan.typ.Kind() == reflect.Pointer && v.IsNil()) {
		return b, errors.New("gobenc: nil element")
	}
	return e.appendValue(b, r.plan, v, depth+1)
}

// appendValue appends v, whose pointers have been followed.
func (e *Encoder) appendValue(b []byte, pl *plan, v reflect.Value, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, fmt.Errorf("gobenc: a value nests more than %d levels deep", maxDepth)
	}
	switch pl.kind {
	case kindBool:
		if v.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case kindInt:
		return appendInt(b, v.Int()), nil
	case kindUint:
		return appendUint(b, v.Uint()), nil
	case kindFloat:
		return appendUint(b, bits.ReverseBytes64(math.Float64bits(v.Float()))), nil
	case kindString:
		return appendString(b, v.String()), nil
	case kindBytes:
		return append(appendUint(b, uint64(v.Len())), v.Bytes()...), nil
	case kindStruct:
		return e.appendStruct(b, pl, v, depth)
	case kindSlice, kindArray:
		n := v.Len()
		b = appendUint(b, uint64(n))
		for i := range n {
			var err error
			if b, err = e.appendElem(b, pl.elem, v.Index(i), depth); err != nil {
				return b, err
			}
		}
		return b, nil
	case kindMap:
		return e.appendMap(b, pl, v, depth)
	case kindExternal:
		data, err := marshal(pl.ext, v)
		if err != nil {
			return b, err
		}
		return append(appendUint(b, uint64(len(data))), data...), nil
	}
	return b, fmt.Errorf("%w: %s", ErrUnsupported, pl.typ)
}

// appendMap appends a map's entries in the order of their encoded keys,
// where encoding/gob takes Go's random order. Entries whose keys encode
// alike (NaN, pointers to equal values) go in the order of their encoded
// values, so that only entries that encode alike whole can swap.
func (e *Encoder) appendMap(b []byte, pl *plan, v reflect.Value, depth int) ([]byte, error) {
	n := v.Len()
	b = appendUint(b, uint64(n))
	if n == 0 {
		return b, nil
	}
	// Each entry is encoded into a buffer of this map's own, since a map
	// within a key or a value has one too.
	type entry struct{ start, mid, end int }
	var (
		buf     []byte
		entries = make([]entry, 0, n)
		err     error
	)
	for it := v.MapRange(); it.Next(); {
		start := len(buf)
		if buf, err = e.appendElem(buf, pl.key, it.Key(), depth); err != nil {
			return b, err
		}
		mid := len(buf)
		if buf, err = e.appendElem(buf, pl.elem, it.Value(), depth); err != nil {
			return b, err
		}
		entries = append(entries, entry{start, mid, len(buf)})
	}
	slices.SortFunc(entries, func(x, y entry) int {
		if c := bytes.Compare(buf[x.start:x.mid], buf[y.start:y.mid]); c != 0 {
			return c
		}
		return bytes.Compare(buf[x.mid:x.end], buf[y.mid:y.end])
	})
	for _, en := range entries {
		b = append(b, buf[en.start:en.end]...)
	}
	return b, nil
}

// marshal calls the method an external type is written with.
func marshal(ext external, v reflect.Value) ([]byte, error) {
	var (
		data []byte
		err  error
	)
	switch ext {
	case externalGob:
		data, err = v.Interface().(gob.GobEncoder).GobEncode()
	case externalBinary:
		data, err = v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
	}
	if err != nil {
		return nil, fmt.Errorf("gobenc: marshal %s: %w", v.Type(), err)
	}
	return data, nil
}

// appendUint appends x as gob writes an unsigned integer: below 128 in one
// byte, else its big-endian bytes without leading zeros after their
// count, negated.
func appendUint(b []byte, x uint64) []byte {
	if x <= 0x7f {
		return append(b, byte(x))
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], x)
	skip := bits.LeadingZeros64(x) / 8
	return append(append(b, byte(-(8-skip))), buf[skip:]...)
}

// appendInt appends i as gob writes a signed integer: shifted left one
// bit, with its complement and the low bit set when it is negative.
func appendInt(b []byte, i int64) []byte {
	if i < 0 {
		return appendUint(b, uint64(^i<<1)|1)
	}
	return appendUint(b, uint64(i<<1))
}

func appendString(b []byte, s string) []byte {
	return append(appendUint(b, uint64(len(s))), s...)
}
