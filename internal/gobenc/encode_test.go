package gobenc

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Name  string
	Count int64
	Tags  []string
}

// textOnly has MarshalText, which gob ignores: it is written as an int.
type textOnly int64

func (t textOnly) MarshalText() ([]byte, error) { return []byte("text"), nil }

type everything struct {
	Bool     bool
	Int      int64
	Int8     int8
	Uint     uint64
	Uint16   uint16
	Float    float64
	Float32  float32
	String   string
	Bytes    []byte
	Time     time.Time
	TimePtr  *time.Time
	IntPtr   *int64
	StrPtr   *string
	PtrPtr   **int64
	Inner    inner
	InnerPtr *inner
	Slice    []inner
	Strings  []string
	Times    []time.Time
	Array    [3]int32
	Map      map[string]int64
	Nested   map[string]map[string]string
	Structs  map[string]inner
	IntKeys  map[int64]string
	ByteMap  map[string][]byte
	Addr     netip.Addr // MarshalBinary and MarshalText, no GobEncode
	IP       net.IP     // MarshalText only, which gob does not use
	Text     textOnly
	FloatKey map[float64]int8
	Empty    struct{}
	unsent   int
	Chan     chan int
	Func     func()
}

func ptr[T any](v T) *T { return &v }

func samples() map[string]any {
	at := time.Date(2026, 12, 2, 11, 30, 0, 123456789, time.UTC)
	zero := int64(0)
	return map[string]any{
		"zero": everything{},
		"full": everything{
			Bool: true, Int: -1 << 40, Int8: -3, Uint: math.MaxUint64, Uint16: 300,
			Float: -2.5e-300, Float32: 1.5, String: "ferry ✓", Bytes: []byte{0, 1, 255},
			Time: at, TimePtr: &at, IntPtr: ptr(int64(7)), StrPtr: ptr("x"), PtrPtr: ptr(ptr(int64(-9))),
			Inner:    inner{Name: "a", Count: 1, Tags: []string{"p", ""}},
			InnerPtr: &inner{},
			Slice:    []inner{{}, {Name: "b"}, {Tags: []string{}}},
			Strings:  []string{"", "z", ""},
			Times:    []time.Time{{}, at},
			Array:    [3]int32{0, -1, 1 << 30},
			Map:      map[string]int64{"a": 0, "b": 1, "c": -1, "d": 1 << 62, "é": 5},
			Nested:   map[string]map[string]string{"x": {"1": "", "2": "b"}, "y": {}, "z": nil},
			Structs:  map[string]inner{"k": {Name: "v"}, "": {}},
			IntKeys:  map[int64]string{-1: "m", 0: "z", 1: "o", 300: "big"},
			ByteMap:  map[string][]byte{"e": {}, "f": {1}},
			Addr:     netip.MustParseAddr("192.0.2.1"),
			IP:       net.ParseIP("192.0.2.2"),
			Text:     7,
			FloatKey: map[float64]int8{-1.5: 1, 0: 2, math.Inf(1): 3},
			unsent:   5,
		},
		"zero pointees": everything{
			TimePtr: &time.Time{}, IntPtr: &zero, StrPtr: ptr(""), PtrPtr: ptr(&zero),
			Map: map[string]int64{}, Slice: []inner{}, Bytes: []byte{},
		},
		"pointer":       &inner{Name: "p", Tags: []string{"t"}},
		"negative zero": struct{ F float64 }{math.Copysign(0, -1)},
		"extremes": struct {
			I     int64
			U     uint8
			F     float64
			Small float64
		}{math.MinInt64, 255, math.MaxFloat64, math.SmallestNonzeroFloat64},
	}
}

// decode reads one value of v's type from a gob stream.
func decode(t *testing.T, data []byte, like any) any {
	t.Helper()
	out := reflect.New(reflect.TypeOf(like))
	if err := gob.NewDecoder(bytes.NewReader(data)).DecodeValue(out); err != nil {
		t.Fatalf("encoding/gob cannot read the stream: %v", err)
	}
	return out.Elem().Interface()
}

func stdlib(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMarshalReadsBackAsEncodingGobsOwn(t *testing.T) {
	var p Planner
	for name, v := range samples() {
		t.Run(name, func(t *testing.T) {
			got, err := p.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			ours, theirs := decode(t, got, v), decode(t, stdlib(t, v), v)
			if !reflect.DeepEqual(ours, theirs) {
				t.Errorf("read back\n%#v\nencoding/gob's reads back\n%#v", ours, theirs)
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	var p Planner
	v := samples()["full"]
	first, err := p.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	theirs := map[string]bool{}
	for range 20 {
		again, err := p.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatalf("two encodings differ:\n%x\n%x", first, again)
		}
		theirs[string(stdlib(t, v))] = true
	}
	// The test means something only if encoding/gob itself varies.
	if len(theirs) < 2 {
		t.Errorf("encoding/gob wrote one stream in 20 tries; the maps are too small to show its order")
	}
	// A new planner, as after a restart, writes the same bytes.
	var fresh Planner
	if again, _ := fresh.Marshal(v); !bytes.Equal(again, first) {
		t.Errorf("a new planner writes other bytes")
	}
}

func TestEncoderWritesOneStreamOfManyValues(t *testing.T) {
	var p Planner
	e := NewEncoder(&p)
	values := []inner{{Name: "a"}, {Tags: []string{"x"}}, {Count: 3}}
	var stream []byte
	for i, v := range values {
		n := len(stream)
		var err error
		if stream, err = e.Append(stream, v); err != nil {
			t.Fatal(err)
		}
		if i > 0 && bytes.Contains(stream[n:], []byte("Count")) {
			t.Errorf("value %d described its type again", i)
		}
	}
	// A value of another type in the same stream gets its own type.
	stream, err := e.Append(stream, &everything{Int: 4})
	if err != nil {
		t.Fatal(err)
	}
	dec := gob.NewDecoder(bytes.NewReader(stream))
	for i, want := range values {
		var got inner
		if err := dec.Decode(&got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("value %d: %+v, %v; want %+v", i, got, err, want)
		}
	}
	var last everything
	if err := dec.Decode(&last); err != nil || last.Int != 4 {
		t.Fatalf("last value: %+v, %v", last, err)
	}
}

type badMarshal struct{ X int }

func (badMarshal) GobEncode() ([]byte, error) { return nil, errors.New("refused") }

type pointerMethod struct{ X int }

func (*pointerMethod) GobEncode() ([]byte, error) { return nil, nil }

func TestAppendRefuses(t *testing.T) {
	var p Planner
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, "nil"},
		{"nil pointer", (*inner)(nil), "nil"},
		{"not a struct", []int{1}, "not a struct"},
		{"interface field", struct{ A any }{1}, "unsupported"},
		{"complex field", struct{ C complex128 }{1}, "unsupported"},
		{"no exported fields", struct{ a int }{1}, "no exported fields"},
		{"pointer receiver", struct{ P pointerMethod }{}, "pointer receiver"},
		{"nil element", struct{ S []*int64 }{[]*int64{nil}}, "nil element"},
		{"nil map value", struct{ M map[string]*int64 }{map[string]*int64{"a": nil}}, "nil element"},
		{"method fails", struct{ B badMarshal }{badMarshal{1}}, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := NewEncoder(&p).Append(dst, tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if string(got) != "keep" {
				t.Errorf("dst became %q", got)
			}
		})
	}
}

func TestFailedValueLeavesTheStreamAsItWas(t *testing.T) {
	type holder struct {
		Name string
		S    []*int64
	}
	var p Planner
	e := NewEncoder(&p)
	stream, err := e.Append(nil, holder{S: []*int64{nil}})
	if err == nil || len(stream) != 0 {
		t.Fatalf("a nil element wrote %d bytes, error %v", len(stream), err)
	}
	// The type it would have described is described with the next value.
	stream, err = e.Append(stream, holder{Name: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, stream, holder{}).(holder); got.Name != "ok" {
		t.Errorf("read %+v", got)
	}
}

func TestDepthIsBounded(t *testing.T) {
	type node struct {
		Name string
		Next *node
	}
	n := &node{Name: "loop"}
	n.Next = n
	var p Planner
	if _, err := p.Marshal(n); err == nil || !strings.Contains(err.Error(), "levels") {
		t.Fatalf("a value pointing at itself: %v", err)
	}
	// A recursive type with a finite value is fine.
	chain := &node{Name: "a", Next: &node{Name: "b"}}
	got, err := p.Marshal(chain)
	if err != nil {
		t.Fatal(err)
	}
	if back := decode(t, got, node{}).(node); back.Next == nil || back.Next.Name != "b" {
		t.Errorf("read %+v", back)
	}
}

func TestMapsWithinMapKeys(t *testing.T) {
	type key struct {
		N int
		M map[string]int
	}
	in := struct{ M map[*key]int }{map[*key]int{}}
	for i := range 6 {
		in.M[&key{N: i + 1, M: map[string]int{string(rune('a' + i)): i}}] = i
	}
	var p Planner
	data, err := p.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := decode(t, data, in).(struct{ M map[*key]int })
	if len(out.M) != len(in.M) {
		t.Fatalf("read %d entries, want %d", len(out.M), len(in.M))
	}
	for k, v := range out.M {
		if k.N != v+1 || len(k.M) != 1 || k.M[string(rune('a'+v))] != v {
			t.Errorf("entry %+v: %d, not as written", *k, v)
		}
	}
}

func TestKeysThatEncodeAlike(t *testing.T) {
	m := map[float64]int{}
	for i := range 8 {
		m[math.NaN()] = i
	}
	v := struct{ M map[float64]int }{m}
	var p Planner
	first, err := p.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if again, _ := p.Marshal(v); !bytes.Equal(again, first) {
			t.Fatal("entries whose keys encode alike came out in another order")
		}
	}
}

type cycle []cycle

type cycleMap map[string]cycleMap

type selfPointer *selfPointer

func TestCyclesAreRefused(t *testing.T) {
	s := cycle{nil}
	s[0] = s
	m := cycleMap{}
	m["a"] = m
	var p Planner
	for name, v := range map[string]any{
		"slice": struct{ C cycle }{s},
		"map":   struct{ M cycleMap }{m},
	} {
		if _, err := p.Marshal(v); err == nil || !strings.Contains(err.Error(), "levels") {
			t.Errorf("%s that holds itself: %v", name, err)
		}
	}
	if _, err := p.Marshal(struct{ P selfPointer }{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a pointer type that points to itself: %v", err)
	}
}

func TestIntegersAsGobWritesThem(t *testing.T) {
	for _, tc := range []struct {
		i    int64
		want []byte
	}{
		{0, []byte{0}},
		{-1, []byte{1}},
		{1, []byte{2}},
		{63, []byte{0x7e}},
		{64, []byte{0xff, 0x80}},
		{-129, []byte{0xfe, 0x01, 0x01}},
		{math.MaxInt64, []byte{0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}},
		{math.MinInt64, []byte{0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		if got := appendInt(nil, tc.i); !bytes.Equal(got, tc.want) {
			t.Errorf("appendInt(%d) = %x, want %x", tc.i, got, tc.want)
		}
	}
}

// fill sets the fields of v from data, so that a fuzzer reaches values of
// every kind; it returns what is left of data.
func fill(v reflect.Value, data []byte, depth int) []byte {
	take := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	word := func() uint64 {
		var x uint64
		for range take() % 9 {
			x = x<<8 | uint64(take())
		}
		return x
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(take()&1 == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(word()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(word())
	case reflect.Float32, reflect.Float64:
		f := math.Float64frombits(word())
		if math.IsNaN(f) {
			f = 0 // NaN is not equal to itself, which DeepEqual needs
		}
		v.SetFloat(f)
	case reflect.String:
		v.SetString(strings.Repeat(string(rune('a'+take()%4)), int(take()%3)))
	case reflect.Pointer:
		if take()%3 != 0 && depth < 4 {
			v.Set(reflect.New(v.Type().Elem()))
			data = fill(v.Elem(), data, depth+1)
		}
	case reflect.Slice:
		// Nil, or empty, or up to three elements.
		if k := int(take() % 5); k > 0 && depth < 4 {
			v.Set(reflect.MakeSlice(v.Type(), k-1, k-1))
			for i := range v.Len() {
				data = fill(v.Index(i), data, depth+1)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			data = fill(v.Index(i), data, depth+1)
		}
	case reflect.Map:
		if k := take() % 4; k > 0 && depth < 4 {
			v.Set(reflect.MakeMap(v.Type()))
			for range k - 1 {
				key, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				data = fill(key, data, depth+1)
				data = fill(val, data, depth+1)
				v.SetMapIndex(key, val)
			}
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(int64(word()%(1<<40)), int64(word()%1e9)).UTC()))
			break
		}
		if v.Type() == reflect.TypeFor[netip.Addr]() {
			if take()&1 == 1 {
				v.Set(reflect.ValueOf(netip.AddrFrom4([4]byte{take(), take(), take(), take()})))
			}
			break
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && v.Field(i).Kind() != reflect.Chan && v.Field(i).Kind() != reflect.Func {
				data = fill(v.Field(i), data, depth+1)
			}
		}
	}
	return data
}

func FuzzMarshal(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x08\xff\xff\xff\xff\xff\xff\xff\xff\x03\x02ab\x01\x01\x02\x03\x03\x03"))
	f.Add(bytes.Repeat([]byte{3, 1, 2, 7, 0xff}, 64))
	var p Planner
	f.Fuzz(func(t *testing.T, data []byte) {
		v := reflect.New(reflect.TypeFor[everything]()).Elem()
		fill(v, data, 0)
		got, err := p.Marshal(v.Interface())
		if err != nil {
			t.Fatal(err)
		}
		again, err := p.Marshal(v.Interface())
		if err != nil || !bytes.Equal(got, again) {
			t.Fatalf("two encodings differ, or %v", err)
		}
		ours, theirs := decode(t, got, everything{}), decode(t, stdlib(t, v.Interface()), everything{})
		if !reflect.DeepEqual(ours, theirs) {
			t.Fatalf("read back\n%#v\nencoding/gob's reads back\n%#v", ours, theirs)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	v := samples()["full"]
	b.Run("gobenc", func(b *testing.B) {
		var p Planner
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-gob", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := gob.NewEncoder(&buf).Encode(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
