package schema

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// A kind is the type of a field as a schema names it.
type kind uint8

const (
	kindInvalid kind = iota
	kindString
	kindInt
	kindFloat
	kindBool
	kindTime
	kindBytes
	kindObject
	kindArray
	kindMap
)

var kindNames = [...]string{
	kindString: "string",
	kindInt:    "int",
	kindFloat:  "float",
	kindBool:   "bool",
	kindTime:   "time",
	kindBytes:  "bytes",
	kindObject: "object",
	kindArray:  "array",
	kindMap:    "map",
}

func (k kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "invalid"
}

func parseKind(s string) kind {
	for k, name := range kindNames {
		if name != "" && name == s {
			return kind(k)
		}
	}
	return kindInvalid
}

// scalar reports whether values of k are neither objects nor containers.
func (k kind) scalar() bool { return k >= kindString && k <= kindBytes }

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

// maxDepth is how deeply a record may nest objects, arrays and maps, the
// record itself being level 1: the same limit the decoders enforce on
// bodies, so that every valid record can be sent.
const maxDepth = 32

// maxFields bounds the size of one definition, so that registering one
// cannot make the service build an unbounded type.
const maxFields = 4096

// A node is the compiled form of a field's type. It is immutable once
// built and shared by every version whose definition hashes the same.
type node struct {
	kind kind
	// plain is the Go type of a present value in a record struct: string,
	// int64, float64, bool, time.Time, []byte, a struct, a slice or a map.
	plain reflect.Type
	// wire is the Go type decoders fill. It differs from plain only for
	// objects (whose fields are pointers so that absence shows) and for
	// containers holding objects.
	wire reflect.Type
	// elem is the node of array items and map values.
	elem *node
	// fields are an object's fields in name order, which is the order of
	// the struct fields.
	fields []*field
	byName map[string]*field
	byGo   map[string]*field
	// docOrder lists the fields (their indexes) in the order a stored
	// document keeps them.
	docOrder []int
	// sig describes the structure (kinds, names, optionality) and nothing
	// else, for comparing element types across versions.
	sig string
}

// sameWire reports whether the wire and plain types are the same, so a
// decoded value can be used as it is.
func (n *node) sameWire() bool { return n.wire == n.plain }

// A field is a compiled field of an object node.
type field struct {
	name     string
	goName   string
	def      *Field
	node     *node
	optional bool
	// hasDefault and dflt hold the default in plain form (see ToMap).
	hasDefault bool
	dflt       any
	// rule is the validate tag of the struct field: the definition's rule
	// with cross-field parameters in Go names and element rules composed
	// after "dive".
	rule string
	// index is the field's index in both the plain and the wire struct.
	index int
	// offset is the field's offset in the plain struct.
	offset uintptr
}

// plainType is the Go type of the field in a record struct.
func (f *field) plainType() reflect.Type {
	if f.optional {
		return reflect.PointerTo(f.node.plain)
	}
	return f.node.plain
}

// wireType is the Go type of the field in a wire struct: a pointer for
// every scalar, so that an absent field stays nil; bytes, arrays and maps
// are nil when absent already (every decoder makes an empty one for [] or
// {}), unless optional, where the pointer keeps a present empty value
// apart from null.
func (f *field) wireType() reflect.Type {
	switch {
	case f.node.kind == kindObject:
		return reflect.PointerTo(f.node.wire)
	case f.optional, f.node.kind.scalar() && f.node.kind != kindBytes:
		return reflect.PointerTo(f.node.wire)
	default:
		return f.node.wire
	}
}

// compiler builds nodes from a definition, collecting every error it finds.
type compiler struct {
	errs   []string
	fields int
	rules  *ruleChecker
	// params maps cross-field rule parameters in Go names back to the
	// schema names the definition used, for error reports.
	params map[string]string
}

func (c *compiler) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// compileObject builds the node of an object from its fields. path is the
// object's own path in messages ("" for the record), depth its level.
func (c *compiler) compileObject(fields map[string]*Field, path string, depth int) *node {
	n := &node{kind: kindObject, byName: make(map[string]*field, len(fields)), byGo: make(map[string]*field, len(fields))}
	if len(fields) == 0 {
		if path == "" {
			c.errorf("the schema has no fields")
		} else {
			c.errorf("field '%s': an object needs at least one field", path)
		}
		return nil
	}
	goNames := make(map[string]string, len(fields))
	ok := true
	for _, name := range sortedKeys(fields) {
		fp := child(path, name)
		c.fields++
		if c.fields > maxFields {
			c.errorf("the schema has more than %d fields", maxFields)
			return nil
		}
		if !validName(name) {
			c.errorf("field '%s': names must match ^[a-z][a-z0-9_]{0,63}$", fp)
			ok = false
			continue
		}
		g := GoName(name)
		if other, dup := goNames[g]; dup {
			c.errorf("fields '%s' and '%s' have the same Go name %s", child(path, other), fp, g)
			ok = false
			continue
		}
		goNames[g] = name
		def := fields[name]
		if def == nil {
			c.errorf("field '%s': the definition is null", fp)
			ok = false
			continue
		}
		fn := c.compileType(def, fp, depth)
		if fn == nil {
			ok = false
			continue
		}
		f := &field{name: name, goName: g, def: def, node: fn, optional: def.Optional, index: len(n.fields)}
		if def.Optional && def.Default != nil {
			c.errorf("field '%s': an optional field cannot have a default (absent stays absent)", fp)
			ok = false
		}
		n.fields = append(n.fields, f)
		n.byName[name] = f
		n.byGo[g] = f
	}
	// Rules are checked even when a sibling failed, so that one
	// registration reports every fault; a cross-field rule may then miss
	// the sibling, so those are checked only when all siblings compiled.
	for _, f := range n.fields {
		f.rule = c.composeRule(f, child(path, f.name), n, ok)
	}
	if !ok || len(c.errs) > 0 {
		return nil
	}
	c.buildStruct(n)
	n.docOrder = docOrder(n.fields)
	return n
}

// docOrder returns the fields' indexes in the order a stored document keeps
// them, shortest name first, then bytewise (RFC 8949 core deterministic
// encoding, see Doc).
func docOrder(fields []*field) []int {
	order := make([]int, len(fields))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareDocKeys(fields[a].name, fields[b].name) })
	return order
}

// compileType builds the node of one field's type.
func (c *compiler) compileType(def *Field, path string, depth int) *node {
	k := parseKind(def.Type)
	if k == kindInvalid {
		c.errorf("field '%s': unknown type %q (want string, int, float, bool, time, bytes, object, array or map)", path, def.Type)
		return nil
	}
	if k != kindArray && def.Items != nil {
		c.errorf("field '%s': only an array has items", path)
		return nil
	}
	if k != kindMap && def.Values != nil {
		c.errorf("field '%s': only a map has values", path)
		return nil
	}
	if k != kindObject && def.Fields != nil {
		c.errorf("field '%s': only an object has fields", path)
		return nil
	}
	if k.scalar() {
		return scalarNode(k)
	}
	if depth+1 > maxDepth {
		c.errorf("field '%s': nesting is deeper than %d levels", path, maxDepth)
		return nil
	}
	switch k {
	case kindObject:
		if def.Fields == nil {
			c.errorf("field '%s': an object needs fields", path)
			return nil
		}
		return c.compileObject(def.Fields, path, depth+1)
	default:
		elem, what := def.Items, "items"
		if k == kindMap {
			elem, what = def.Values, "values"
		}
		if elem == nil {
			c.errorf("field '%s': %s %s needs %s", path, article(k), k, what)
			return nil
		}
		ep := path + "[]"
		if elem.Optional || elem.Default != nil {
			c.errorf("field '%s': %s cannot be optional or have a default", ep, what)
			return nil
		}
		en := c.compileType(elem, ep, depth+1)
		if en == nil {
			return nil
		}
		n := &node{kind: k, elem: en}
		if k == kindArray {
			n.plain, n.wire = reflect.SliceOf(en.plain), reflect.SliceOf(en.wire)
			n.sig = "[" + en.sig + "]"
		} else {
			n.plain, n.wire = reflect.MapOf(reflect.TypeFor[string](), en.plain), reflect.MapOf(reflect.TypeFor[string](), en.wire)
			n.sig = "{" + en.sig + "}"
		}
		return n
	}
}

func article(k kind) string {
	if strings.ContainsRune("aeiou", rune(k.String()[0])) {
		return "an"
	}
	return "a"
}

func scalarNode(k kind) *node {
	var t reflect.Type
	switch k {
	case kindString:
		t = reflect.TypeFor[string]()
	case kindInt:
		t = reflect.TypeFor[int64]()
	case kindFloat:
		t = reflect.TypeFor[float64]()
	case kindBool:
		t = reflect.TypeFor[bool]()
	case kindTime:
		t = timeType
	case kindBytes:
		t = bytesType
	}
	return &node{kind: k, plain: t, wire: t, sig: k.String()}
}

// buildStruct makes the plain and wire struct types of an object node.
func (c *compiler) buildStruct(n *node) {
	plain := make([]reflect.StructField, len(n.fields))
	wire := make([]reflect.StructField, len(n.fields))
	var sig strings.Builder
	sig.WriteByte('(')
	for i, f := range n.fields {
		wireTag, plainTag := f.tags(validatorRule(f))
		plain[i] = reflect.StructField{Name: f.goName, Type: f.plainType(), Tag: reflect.StructTag(plainTag)}
		wire[i] = reflect.StructField{Name: f.goName, Type: f.wireType(), Tag: reflect.StructTag(wireTag)}
		sig.WriteString(f.name)
		if f.optional {
			sig.WriteByte('?')
		}
		sig.WriteByte(':')
		sig.WriteString(f.node.sig)
		sig.WriteByte(';')
	}
	sig.WriteByte(')')
	n.plain = reflect.StructOf(plain)
	n.wire = reflect.StructOf(wire)
	n.sig = sig.String()
	for i, f := range n.fields {
		f.offset = n.plain.Field(i).Offset
	}
}

// hasRules reports whether def or anything inside it has a rule, so that
// the validator must look at its values.
func hasRules(def *Field) bool {
	if def.Validate != "" {
		return true
	}
	for _, f := range def.Fields {
		if hasRules(f) {
			return true
		}
	}
	return def.Items != nil && hasRules(def.Items) || def.Values != nil && hasRules(def.Values)
}

// walkFields calls fn for every field of the object n and of the objects
// nested in it, children before their parents, with the field's path.
func walkFields(n *node, path string, fn func(f *field, path string)) {
	for _, f := range n.fields {
		fp := child(path, f.name)
		walkElems(f.node, fp, fn)
		fn(f, fp)
	}
}

func walkElems(n *node, path string, fn func(f *field, path string)) {
	switch n.kind {
	case kindObject:
		walkFields(n, path, fn)
	case kindArray, kindMap:
		walkElems(n.elem, path+"[]", fn)
	}
}

// schemaPath turns a validator's namespace in Go names ("Items[2].Qty")
// into the schema's ("items[2].qty"). Indexes and map keys are kept as
// they are; a namespace it cannot follow is returned unchanged.
func (n *node) schemaPath(ns string) string {
	var b strings.Builder
	cur := n
	for i := 0; i < len(ns); {
		j := i
		for j < len(ns) && ns[j] != '.' && ns[j] != '[' {
			j++
		}
		if cur == nil || cur.kind != kindObject || cur.byGo[ns[i:j]] == nil {
			return ns
		}
		f := cur.byGo[ns[i:j]]
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.name)
		cur, i = f.node, j
		for i < len(ns) && ns[i] == '[' {
			k := strings.IndexByte(ns[i:], ']')
			if k < 0 || cur.elem == nil {
				return ns
			}
			b.WriteString(ns[i : i+k+1])
			cur, i = cur.elem, i+k+1
		}
		if i < len(ns) && ns[i] == '.' {
			i++
		}
	}
	return b.String()
}
