package schema

import (
	"fmt"
	"reflect"
	"slices"
	"time"
)

// EncodeLatest returns the stored document of a record written at the
// latest version over the stored document prev (nil when there is none):
// the bytes WriteStored and MarshalBinary give, but encoded straight from
// the record struct, with no map in between. It is the most common write.
//
// ok is false, with nothing encoded, when the write needs more than that:
// a body at an older version, a stored document at an older version or
// holding kept values, or one that does not decode. The caller then takes
// WriteStored, which does the conversion or reports the fault.
func (s *Schema) EncodeLatest(body any, from int, prev []byte) (doc []byte, ok bool, err error) {
	latest := len(s.versions)
	if from != latest || !keepsNothing(prev, latest) {
		return nil, false, nil
	}
	v := s.versions[latest-1]
	rv := reflect.ValueOf(body)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Type().Elem() != v.c.root.plain {
		return nil, false, fmt.Errorf("schema: encode %s v%d: %T is not a record of this version", s.name, latest, body)
	}
	b := make([]byte, 0, 1024)
	b = appendCBORHead(append(b, 0x83), 0, uint64(latest))
	b = appendStruct(b, v.c.root, rv.Elem())
	return append(b, 0xa0), true, nil
}

// keepsNothing reports whether prev is absent, or a well-formed document
// at version latest that kept no values.
func keepsNothing(prev []byte, latest int) bool {
	if prev == nil {
		return true
	}
	r := docReader{b: prev}
	if version, err := r.docHeader(); err != nil || version != latest {
		return false
	}
	// The data is stepped over as strictly as decodeDoc does, so that a
	// document WriteStored refuses is refused here too.
	if _, err := r.member(true); err != nil {
		return false
	}
	return r.pos == len(prev)-1 && prev[r.pos] == 0xa0
}

// appendStruct appends a record struct (or a nested object) as appendCBOR
// appends its plain form: a map of the present fields, keys in the
// document's order.
func appendStruct(b []byte, n *node, v reflect.Value) []byte {
	present := 0
	for _, f := range n.fields {
		if !f.optional || !v.Field(f.index).IsNil() {
			present++
		}
	}
	b = appendCBORHead(b, 5, uint64(present))
	for _, i := range n.docOrder {
		f := n.fields[i]
		fv := v.Field(f.index)
		if f.optional {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		b = append(appendCBORHead(b, 3, uint64(len(f.name))), f.name...)
		b = appendField(b, f.node, fv)
	}
	return b
}

// appendField appends one value of node n.
func appendField(b []byte, n *node, v reflect.Value) []byte {
	switch n.kind {
	case kindObject:
		return appendStruct(b, n, v)
	case kindString:
		s := v.String()
		return append(appendCBORHead(b, 3, uint64(len(s))), s...)
	case kindInt:
		return appendCBORInt(b, v.Int())
	case kindFloat:
		return appendCBORFloat(b, v.Float())
	case kindBool:
		if v.Bool() {
			return append(b, 0xf5)
		}
		return append(b, 0xf4)
	case kindTime:
		var scratch [40]byte
		s := utc(v).AppendFormat(scratch[:0], time.RFC3339Nano)
		return append(appendCBORHead(append(b, 0xc0), 3, uint64(len(s))), s...)
	case kindBytes:
		x := v.Bytes()
		return append(appendCBORHead(b, 2, uint64(len(x))), x...)
	case kindArray:
		b = appendCBORHead(b, 4, uint64(v.Len()))
		for i := range v.Len() {
			b = appendField(b, n.elem, v.Index(i))
		}
		return b
	case kindMap:
		if v.Type() == stringMapType {
			return appendStringMap(b, v.Interface().(map[string]string))
		}
		type member struct {
			key   string
			value reflect.Value
		}
		members := make([]member, 0, v.Len())
		for iter := v.MapRange(); iter.Next(); {
			members = append(members, member{iter.Key().String(), iter.Value()})
		}
		slices.SortFunc(members, func(x, y member) int {
			return compareDocKeys(x.key, y.key)
		})
		b = appendCBORHead(b, 5, uint64(len(members)))
		for _, m := range members {
			b = append(appendCBORHead(b, 3, uint64(len(m.key))), m.key...)
			b = appendField(b, n.elem, m.value)
		}
		return b
	}
	panic(fmt.Sprintf("schema: encode: unknown kind %v", n.kind))
}

// appendStringMap appends a map of strings, the common map, without the
// reflection that boxes each key and value.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareDocKeys)
	b = appendCBORHead(b, 5, uint64(len(keys)))
	for _, k := range keys {
		v := m[k]
		b = append(appendCBORHead(b, 3, uint64(len(k))), k...)
		b = append(appendCBORHead(b, 3, uint64(len(v))), v...)
	}
	return b
}
