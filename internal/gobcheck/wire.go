package gobcheck

import (
	"math"
)

// Type ids that gob predefines. Ids 9 to 63 describe gob's own type
// definitions or are reserved; user types are numbered from firstUserID.
const (
	idBool      = 1
	idString    = 6
	idComplex   = 7
	idInterface = 8
	firstUserID = 64
)

// A kind is the shape of a wire type. The basic kinds equal their
// predefined type ids.
type kind uint8

const (
	kindNone kind = iota
	kindBool
	kindInt
	kindUint
	kindFloat
	kindBytes
	kindString
	kindStruct
	kindSlice
	kindMap
	kindExternal // sent by GobEncoder, BinaryMarshaler or TextMarshaler
)

var kindNames = [...]string{
	kindNone:     "undefined type",
	kindBool:     "bool",
	kindInt:      "int",
	kindUint:     "uint",
	kindFloat:    "float",
	kindBytes:    "byte slice",
	kindString:   "string",
	kindStruct:   "struct",
	kindSlice:    "slice",
	kindMap:      "map",
	kindExternal: "value with its own encoding",
}

func (k kind) String() string { return kindNames[k] }

// A wtype is a wire type: predefined, or defined by a message of the stream.
type wtype struct {
	kind   kind
	id     int32
	off    int64    // stream offset of the definition, for messages
	fields []field  // struct fields by field number
	names  []string // their names, kept only when a target type is matched by name
	key    field    // map keys
	elem   field    // slice elements and map values
	state  uint8    // resolution progress, see Scanner.resolve
	plan   planned  // the plan for the first shape t is decoded into
	plans  []planned
}

// A field refers to a wire type by id until the type is resolved.
type field struct {
	id int32
	t  *wtype
}

const (
	unresolved uint8 = iota
	resolving
	resolved
)

// basicTypes holds the predefined types a value may use, indexed by id.
// They are resolved from the start and never modified.
var basicTypes = [...]wtype{
	kindBool:   {kind: kindBool, id: int32(kindBool), state: resolved},
	kindInt:    {kind: kindInt, id: int32(kindInt), state: resolved},
	kindUint:   {kind: kindUint, id: int32(kindUint), state: resolved},
	kindFloat:  {kind: kindFloat, id: int32(kindFloat), state: resolved},
	kindBytes:  {kind: kindBytes, id: int32(kindBytes), state: resolved},
	kindString: {kind: kindString, id: int32(kindString), state: resolved},
}

// Results of readUint.
const (
	uintOK = iota
	uintShort
	uintBad
)

// readUint decodes the gob unsigned integer at the start of b: one byte
// below 0x80, else a byte holding the negated count (1 to 8) of big-endian
// bytes that follow.
func readUint(b []byte) (v uint64, width, status int) {
	if len(b) == 0 {
		return 0, 0, uintShort
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1, uintOK
	}
	n := -int(int8(b[0]))
	if n > 8 {
		return 0, 0, uintBad
	}
	if len(b) <= n {
		return 0, 0, uintShort
	}
	for _, x := range b[1 : n+1] {
		v = v<<8 | uint64(x)
	}
	return v, n + 1, uintOK
}

// A cursor reads one message. Running past the end of b is a syntax error,
// not truncation: the message's length has already been checked.
type cursor struct {
	b        []byte // the data up to the end of the message
	pos      int
	base     int64 // stream offset of b[0]
	maxDepth int
	alloc    int64 // estimated bytes the decoder allocates so far
	budget   int64
	// values counts the values read other than structs: gob sends a
	// struct field even when it is zero, every other one only when not.
	values int64
}

func (c *cursor) off() int64 { return c.base + int64(c.pos) }

// uint reads an unsigned integer, inline when it takes one byte.
func (c *cursor) uint() (uint64, error) {
	if p := c.pos; p < len(c.b) {
		if x := c.b[p]; x < 0x80 {
			c.pos = p + 1
			return uint64(x), nil
		}
	}
	return c.longUint()
}

func (c *cursor) longUint() (uint64, error) {
	v, w, st := readUint(c.b[c.pos:])
	switch st {
	case uintShort:
		return 0, invalid("syntax", "the gob message ends inside an integer at byte %d", c.off())
	case uintBad:
		return 0, invalid("syntax", "invalid integer at byte %d", c.off())
	}
	c.pos += w
	return v, nil
}

func (c *cursor) int() (int64, error) {
	u, err := c.uint()
	if u&1 != 0 {
		return ^int64(u >> 1), err
	}
	return int64(u >> 1), err
}

// count reads an element count and checks that n elements of at least
// size bytes each fit in the rest of the message.
func (c *cursor) count(what string, size int) (int, error) {
	off := c.off()
	n, err := c.uint()
	if err != nil {
		return 0, err
	}
	if left := uint64(len(c.b) - c.pos); n > left/uint64(size) {
		return 0, invalid("length", "the gob %s at byte %d declares a length of %d but only %d bytes follow in its message", what, off, n, left)
	}
	return int(n), nil
}

// bytes reads a length-prefixed byte string.
func (c *cursor) bytes(what string) ([]byte, error) {
	n, err := c.count(what, 1)
	if err != nil {
		return nil, err
	}
	b := c.b[c.pos : c.pos+n]
	c.pos += n
	return b, nil
}

// field reads the delta that introduces the next field of a struct with n
// fields whose last field read was prev (-1 at the start). It returns -1 at
// the struct's terminating zero delta.
func (c *cursor) field(prev, n int) (int, error) {
	off := c.off()
	delta, err := c.uint()
	if err != nil || delta == 0 {
		return -1, err
	}
	if delta > uint64(n-1-prev) {
		return -1, invalid("syntax", "field number %d at byte %d is out of range for a struct of %d fields", uint64(prev+1)+delta-1, off, n)
	}
	return prev + int(delta), nil
}

// eachField reads the fields of a struct of n fields that c is positioned
// in, calling read with each field's number and the offset of its delta,
// up to the struct's terminator. Every part of gob's wire format that is a
// struct, type descriptions and values alike, is walked this way.
func (c *cursor) eachField(n int, read func(f int, off int64) error) error {
	for f := -1; ; {
		off := c.off()
		next, err := c.field(f, n)
		if err != nil || next < 0 {
			return err
		}
		f = next
		if err := read(f, off); err != nil {
			return err
		}
	}
}

// define reads the type definition for id that c is positioned in.
func (s *Scanner) define(c *cursor, id int64) error {
	off := c.off()
	switch {
	case id < firstUserID || id > math.MaxInt32:
		return invalid("type", "the gob type definition at byte %d uses id %d, which is reserved or out of range", off, id)
	case s.types.get(int32(id)) != nil:
		return invalid("type", "the gob type definition at byte %d redefines type id %d", off, id)
	}
	t := s.types.alloc()
	t.id, t.off = int32(id), off
	if err := c.wireType(t, &s.types, s.checker.target != nil); err != nil {
		return err
	}
	if c.pos != len(c.b) {
		return invalid("trailing", "%d bytes follow the gob type definition in its message at byte %d", len(c.b)-c.pos, c.off())
	}
	s.types.add(t)
	return nil
}

// wireType reads gob's description of a type:
//
//	struct { ArrayT, SliceT, StructT, MapT, GobEncoderT, BinaryMarshalerT, TextMarshalerT *T }
//
// of which exactly one field is set.
func (c *cursor) wireType(t *wtype, tb *table, names bool) error {
	err := c.eachField(7, func(f int, off int64) error {
		if t.kind != kindNone {
			return invalid("syntax", "the gob type definition at byte %d describes more than one type", off)
		}
		switch f {
		case 0:
			return invalid("type", "the gob type definition at byte %d is an array; arrays are not accepted", off)
		case 1:
			return c.sliceType(t)
		case 2:
			return c.structType(t, tb, names)
		case 3:
			return c.mapType(t)
		}
		t.kind = kindExternal
		return c.commonTypeOnly(t)
	})
	if err != nil {
		return err
	}
	if t.kind == kindNone {
		return invalid("syntax", "the gob type definition at byte %d is empty", t.off)
	}
	return nil
}

// commonType reads struct { Name string; Id int }, the part every type
// description starts with. Its id need not match the one being defined:
// for a type that encodes itself, gob's encoder writes the id of another
// description there, and the decoder never looks at it.
func (c *cursor) commonType() error {
	return c.eachField(2, func(f int, _ int64) error {
		var err error
		if f == 0 {
			_, err = c.bytes("type name")
		} else {
			_, err = c.int()
		}
		return err
	})
}

// commonTypeOnly reads struct { CommonType }, which describes a type that
// encodes itself.
func (c *cursor) commonTypeOnly(t *wtype) error {
	seen := false
	err := c.eachField(1, func(int, int64) error {
		seen = true
		return c.commonType()
	})
	if err != nil {
		return err
	}
	return t.complete(seen)
}

// sliceType reads struct { CommonType; Elem int }.
func (c *cursor) sliceType(t *wtype) error {
	t.kind = kindSlice
	seen := false
	err := c.eachField(2, func(f int, _ int64) error {
		if f == 0 {
			seen = true
			return c.commonType()
		}
		var err error
		t.elem.id, err = c.typeID()
		return err
	})
	if err != nil {
		return err
	}
	return t.complete(seen && t.elem.id != 0)
}

// mapType reads struct { CommonType; Key, Elem int }. Keys must be strings.
func (c *cursor) mapType(t *wtype) error {
	t.kind = kindMap
	seen := false
	err := c.eachField(3, func(f int, off int64) error {
		var err error
		switch f {
		case 0:
			seen = true
			err = c.commonType()
		case 1:
			t.key.id, err = c.typeID()
			if err == nil && t.key.id != idString {
				err = invalid("type", "the gob map type at byte %d has keys of type id %d; only string keys are accepted", off, t.key.id)
			}
		case 2:
			t.elem.id, err = c.typeID()
		}
		return err
	})
	if err != nil {
		return err
	}
	return t.complete(seen && t.key.id != 0 && t.elem.id != 0)
}

// structType reads struct { CommonType; Field []struct { Name string; Id int } }.
func (c *cursor) structType(t *wtype, tb *table, names bool) error {
	t.kind = kindStruct
	seen := false
	err := c.eachField(2, func(f int, _ int64) error {
		if f == 0 {
			seen = true
			return c.commonType()
		}
		return c.fieldTypes(t, tb, names)
	})
	if err != nil {
		return err
	}
	return t.complete(seen)
}

func (c *cursor) fieldTypes(t *wtype, tb *table, names bool) error {
	off := c.off()
	// A field's description takes at least six bytes: two deltas, a name
	// of one byte with its length, an id and the terminator.
	n, err := c.count("field list", 6)
	if err != nil {
		return err
	}
	if n > MaxFields {
		return invalid("length", "the gob struct type at byte %d has %d fields, more than %d", off, n, MaxFields)
	}
	t.fields = tb.fields(n)
	// Names are kept as spans of the field list, copied in one piece at the
	// end, because the caller may reuse the data once the call returns.
	start := c.pos
	var spanBuf [2 * 32]int32
	spans := spanBuf[:0]
	for i := range t.fields {
		fd := &t.fields[i]
		var name []byte
		nameEnd := 0
		err := c.eachField(2, func(f int, _ int64) error {
			var err error
			if f == 0 {
				name, err = c.bytes("field name")
				nameEnd = c.pos - start
			} else {
				fd.id, err = c.typeID()
			}
			return err
		})
		if err != nil {
			return err
		}
		if len(name) == 0 || fd.id == 0 {
			return invalid("type", "field %d of the gob struct type defined at byte %d lacks a name or a type", i, t.off)
		}
		if names {
			spans = append(spans, int32(nameEnd-len(name)), int32(nameEnd))
		}
	}
	if names {
		list := string(c.b[start:c.pos])
		t.names = make([]string, n)
		for i := range t.names {
			t.names[i] = list[spans[2*i]:spans[2*i+1]]
		}
	}
	return nil
}

// complete reports a type description that lacks its common part or a
// type it refers to.
func (t *wtype) complete(ok bool) error {
	if !ok {
		return invalid("type", "the gob %s type definition at byte %d is incomplete", t.kind, t.off)
	}
	return nil
}

// typeID reads a reference to a type, which may be defined later in the
// stream, and refuses the predefined types no schema produces.
func (c *cursor) typeID() (int32, error) {
	off := c.off()
	id, err := c.int()
	switch {
	case err != nil:
		return 0, err
	case id == idComplex:
		return 0, invalid("type", "the gob type at byte %d is complex; complex numbers are not accepted", off)
	case id == idInterface:
		return 0, invalid("type", "the gob type at byte %d is an interface; interface values are not accepted", off)
	case id < idBool || id > math.MaxInt32 || id > idString && id < firstUserID:
		return 0, invalid("type", "the gob type id %d at byte %d is reserved or out of range", id, off)
	}
	return int32(id), nil
}

// lookup returns the type with the given id, predefined or defined so far.
func (s *Scanner) lookup(id int64) (*wtype, bool) {
	if id >= idBool && id <= idString {
		return &basicTypes[id], true
	}
	if id < firstUserID || id > math.MaxInt32 {
		return nil, false
	}
	t := s.types.get(int32(id))
	return t, t != nil
}

// resolve links t to the types it refers to, which must all be defined by
// now, and refuses recursive types: no schema produces them, and a value
// of one could nest without bound. A resolved type stays valid for the
// rest of the stream because types cannot be redefined.
func (s *Scanner) resolve(t *wtype) error {
	switch t.state {
	case resolved:
		return nil
	case resolving:
		return invalid("type", "the gob type defined at byte %d is recursive", t.off)
	}
	t.state = resolving
	for i := range t.fields {
		if err := s.link(t, &t.fields[i]); err != nil {
			return err
		}
	}
	switch t.kind {
	case kindMap:
		if err := s.link(t, &t.key); err != nil {
			return err
		}
		fallthrough
	case kindSlice:
		if err := s.link(t, &t.elem); err != nil {
			return err
		}
	}
	t.state = resolved
	return nil
}

func (s *Scanner) link(from *wtype, f *field) error {
	t, ok := s.lookup(int64(f.id))
	if !ok {
		return invalid("type", "the gob type defined at byte %d refers to type id %d, which is not defined", from.off, f.id)
	}
	if err := s.resolve(t); err != nil {
		return err
	}
	f.t = t
	return nil
}

// A table holds the types a stream defines. Most streams define a handful,
// so it allocates them in small batches and searches a short list before
// it builds an index.
type table struct {
	list  []*wtype
	index map[int32]*wtype // once list is longer than indexAfter
	spare []wtype          // allocated but not yet defined
	pool  []field          // storage for the fields of struct types

	planSpare []plan // storage for plans, see planFor
	edgePool  []edge
}

const (
	indexAfter = 16 // types
	batch      = 16 // types or plans allocated at once
)

func (tb *table) len() int { return len(tb.list) }

func (tb *table) get(id int32) *wtype {
	if tb.index != nil {
		return tb.index[id]
	}
	for _, t := range tb.list {
		if t.id == id {
			return t
		}
	}
	return nil
}

// alloc returns a zero type for a definition being read; add keeps it.
// A definition that fails ends the stream, so a type is never reused.
func (tb *table) alloc() *wtype {
	if len(tb.spare) == 0 {
		tb.spare = make([]wtype, batch)
	}
	return &tb.spare[0]
}

func (tb *table) add(t *wtype) {
	tb.spare = tb.spare[1:]
	if tb.list == nil {
		tb.list = make([]*wtype, 0, batch)
	}
	tb.list = append(tb.list, t)
	switch {
	case tb.index != nil:
		tb.index[t.id] = t
	case len(tb.list) > indexAfter:
		tb.index = make(map[int32]*wtype, 2*len(tb.list))
		for _, u := range tb.list {
			tb.index[u.id] = u
		}
	}
}

// fields returns room for the n fields of a struct type.
func (tb *table) fields(n int) []field {
	if n > cap(tb.pool)-len(tb.pool) {
		tb.pool = make([]field, 0, max(n, 64))
	}
	f := tb.pool[len(tb.pool) : len(tb.pool)+n : len(tb.pool)+n]
	tb.pool = tb.pool[:len(tb.pool)+n]
	return f
}
