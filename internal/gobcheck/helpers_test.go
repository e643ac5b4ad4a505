package gobcheck

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// mustEncode writes vs with one Encoder and returns the stream.
func mustEncode(tb testing.TB, vs ...any) []byte {
	tb.Helper()
	var b bytes.Buffer
	enc := gob.NewEncoder(&b)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			tb.Fatalf("encode %T: %v", v, err)
		}
	}
	return b.Bytes()
}

// appendUint appends v in gob's unsigned integer encoding.
func appendUint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	var be [8]byte
	n := 0
	for x := v; x > 0; x >>= 8 {
		n++
	}
	for i := range n {
		be[i] = byte(v >> (8 * (n - 1 - i)))
	}
	b = append(b, byte(-int8(n)))
	return append(b, be[:n]...)
}

func appendInt(b []byte, i int64) []byte {
	if i < 0 {
		return appendUint(b, uint64(^i)<<1|1)
	}
	return appendUint(b, uint64(i)<<1)
}

// frame prefixes content with its length, making a message.
func frame(content []byte) []byte {
	return append(appendUint(nil, uint64(len(content))), content...)
}

// mustSplit returns the messages of a stream, each with its length prefix.
func mustSplit(tb testing.TB, data []byte) [][]byte {
	tb.Helper()
	var msgs [][]byte
	for len(data) > 0 {
		n, w, st := readUint(data)
		if st != uintOK || uint64(len(data)-w) < n {
			tb.Fatalf("malformed stream at % x", data)
		}
		msgs = append(msgs, data[:w+int(n)])
		data = data[w+int(n):]
	}
	return msgs
}

// mustBodyWith returns the type definitions gob writes for v followed by a
// value message holding v's type id and then payload.
func mustBodyWith(tb testing.TB, v any, payload ...byte) []byte {
	tb.Helper()
	msgs := mustSplit(tb, mustEncode(tb, v))
	last := msgs[len(msgs)-1]
	_, w, _ := readUint(last)
	_, iw, _ := readUint(last[w:])
	var body []byte
	for _, m := range msgs[:len(msgs)-1] {
		body = append(body, m...)
	}
	content := append(append([]byte(nil), last[w:w+iw]...), payload...)
	return append(body, frame(content)...)
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// fill sets every part of v to a value that gob sends, giving slices and
// maps width elements.
func fill(v reflect.Value, n, width int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-é✓", n))
	case reflect.Int64:
		v.SetInt(int64(n)*1_000_003 - 500)
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.25)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		if v.Type() == timeType {
			loc := time.FixedZone("x", 3600*(n%5))
			v.Set(reflect.ValueOf(time.Date(2024, 1, 2, 3, 4, 5, n+1, loc)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), n+i+1, width)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n, width)
		v.Set(p)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{0, 1, byte(n)})
			return
		}
		s := reflect.MakeSlice(v.Type(), width, width)
		for i := range width {
			fill(s.Index(i), n+i, width)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range width {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, n+i, width)
			m.SetMapIndex(reflect.ValueOf(fmt.Sprintf("k%d", i)), e)
		}
		v.Set(m)
	default:
		panic("fill: unexpected kind " + v.Kind().String())
	}
}

// filled returns a pointer to a filled value of type t.
func filled(t reflect.Type, width int) any {
	p := reflect.New(t)
	fill(p.Elem(), 1, width)
	return p.Interface()
}

func structOf(fields ...reflect.StructField) reflect.Type { return reflect.StructOf(fields) }

func fieldOf(name string, t reflect.Type) reflect.StructField {
	return reflect.StructField{Name: name, Type: t}
}

// schemaType is the kind of struct Ferry compiles from a schema definition.
func schemaType() reflect.Type {
	str := reflect.TypeFor[string]()
	i64 := reflect.TypeFor[int64]()
	f64 := reflect.TypeFor[float64]()
	item := structOf(
		fieldOf("Sku", str),
		fieldOf("Qty", i64),
		fieldOf("Tags", reflect.SliceOf(str)),
	)
	geo := structOf(fieldOf("Lat", f64), fieldOf("Lng", f64))
	address := structOf(fieldOf("Street", str), fieldOf("Geo", geo), fieldOf("Zip", reflect.PointerTo(str)))
	return structOf(
		fieldOf("Customer", str),
		fieldOf("AmountCents", i64),
		fieldOf("Ratio", f64),
		fieldOf("Paid", reflect.TypeFor[bool]()),
		fieldOf("PlacedAt", timeType),
		fieldOf("Note", reflect.PointerTo(str)),
		fieldOf("Items", reflect.SliceOf(item)),
		fieldOf("Attrs", reflect.MapOf(str, str)),
		fieldOf("Blob", reflect.TypeFor[[]byte]()),
		fieldOf("Address", address),
		fieldOf("Billing", reflect.PointerTo(address)),
		fieldOf("Times", reflect.SliceOf(timeType)),
		fieldOf("Due", reflect.PointerTo(timeType)),
		fieldOf("Matrix", reflect.SliceOf(reflect.SliceOf(f64))),
		fieldOf("ByKey", reflect.MapOf(str, item)),
		fieldOf("Lists", reflect.MapOf(str, reflect.SliceOf(i64))),
		fieldOf("Blobs", reflect.SliceOf(reflect.TypeFor[[]byte]())),
		fieldOf("Limit", reflect.PointerTo(i64)),
	)
}

// envelopeOf is the struct that carries a record in a gob stream.
func envelopeOf(data reflect.Type) reflect.Type {
	return structOf(
		fieldOf("Id", reflect.TypeFor[string]()),
		fieldOf("Revision", reflect.TypeFor[int64]()),
		fieldOf("Version", reflect.TypeFor[int64]()),
		fieldOf("UpdatedAt", timeType),
		fieldOf("Data", data),
	)
}

// structChain returns a struct type nesting depth structs, the innermost
// holding an int64.
func structChain(depth int) reflect.Type {
	t := structOf(fieldOf("V", reflect.TypeFor[int64]()))
	for range depth - 1 {
		t = structOf(fieldOf("N", t), fieldOf("V", reflect.TypeFor[int64]()))
	}
	return t
}

// mixedChain returns a struct whose value nests depth levels through
// alternating slices, maps and structs.
func mixedChain(depth int) reflect.Type {
	str := reflect.TypeFor[string]()
	t := reflect.TypeFor[int64]()
	for level := depth; level > 1; level-- {
		switch level % 3 {
		case 0:
			t = reflect.SliceOf(t)
		case 1:
			t = reflect.MapOf(str, t)
		default:
			t = structOf(fieldOf("V", t))
		}
	}
	return structOf(fieldOf("V", t))
}
