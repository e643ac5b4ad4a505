package gobcheck

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
)

type item struct {
	Sku string
	Qty int64
}

type record struct {
	Customer    string
	AmountCents int64
	Ratio       float64
	Paid        bool
	PlacedAt    time.Time
	Note        *string
	Items       []item
	Attrs       map[string]string
	Blob        []byte
	Nested      struct{ Inner struct{ Deep []item } }
}

type envelope struct {
	Id        string
	Revision  int64
	Version   int64
	UpdatedAt time.Time
	Data      record
}

type node struct {
	Name string
	Kids []node
}

type mapBody struct{ M map[string]int64 }

func fullRecord() *record {
	note := "leave at the door"
	r := &record{
		Customer:    "ada@example.com",
		AmountCents: -12345,
		Ratio:       0.125,
		Paid:        true,
		PlacedAt:    time.Date(2025, 3, 4, 5, 6, 7, 890, time.FixedZone("CET", 3600)),
		Note:        &note,
		Attrs:       map[string]string{"channel": "web", "ref": "ünïcode ✓"},
		Blob:        []byte{0, 1, 2, 255},
	}
	for i := range 8 {
		r.Items = append(r.Items, item{Sku: fmt.Sprintf("SKU-%03d", i), Qty: int64(i + 1)})
	}
	r.Nested.Inner.Deep = r.Items[:2]
	return r
}

var detailOffset = regexp.MustCompile(`byte \d+`)

// checkProblem reports whether err is an Invalid problem with the reason
// and a detail that names a byte offset.
func checkProblem(t *testing.T, err error, reason string) {
	t.Helper()
	p, ok := problem.As(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *problem.Error; want reason %q", err, err, reason)
	}
	if p.Kind != problem.Invalid || p.Reason != reason {
		t.Fatalf("error %q: kind %v reason %q; want invalid %q", err, p.Kind, p.Reason, reason)
	}
	if !detailOffset.MatchString(p.Detail) {
		t.Errorf("detail %q names no byte offset", p.Detail)
	}
	if want := reason == "truncated"; errors.Is(err, ErrTruncated) != want {
		t.Errorf("errors.Is(%q, ErrTruncated) = %v; want %v", err, !want, want)
	}
}

func TestCheckAcceptsEncoderOutput(t *testing.T) {
	t.Parallel()
	schema := schemaType()
	many := &record{}
	for i := range 1000 {
		many.Items = append(many.Items, item{Sku: fmt.Sprint(i), Qty: int64(i)})
	}
	tests := []struct {
		name string
		v    any // a pointer to the value to encode
	}{
		{"zero record", &record{}},
		{"full record", fullRecord()},
		{"envelope", &envelope{Id: "r1", Revision: 3, Version: 2, UpdatedAt: time.Now(), Data: *fullRecord()}},
		{"zero envelope", &envelope{}},
		{"empty map and slice", &record{Attrs: map[string]string{}, Items: []item{}}},
		{"zero elements", &struct {
			Items []item
			Times []time.Time
			Ints  []int64
			Strs  []string
		}{make([]item, 5), make([]time.Time, 3), make([]int64, 4), make([]string, 2)}},
		{"pointers to zero values", &struct {
			P *string
			Q *int64
			T *time.Time
		}{new(string), new(int64), new(time.Time)}},
		{"1000 items", many},
		{"schema zero", reflect.New(schema).Interface()},
		{"schema filled", filled(schema, 2)},
		{"schema wide", filled(schema, 30)},
		{"schema envelope", filled(envelopeOf(schema), 2)},
		{"32 nested structs", filled(structChain(32), 1)},
		{"32 levels of structs, slices and maps", filled(mixedChain(32), 1)},
		{"uint and bool fields", &struct {
			U uint64
			B []bool
		}{1 << 63, []bool{true, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := mustEncode(t, tc.v)
			typ := reflect.TypeOf(tc.v).Elem()
			if err := Check(data); err != nil {
				t.Fatalf("Check(%d-byte body of %s) = %v; want nil", len(data), tc.name, err)
			}
			if err := NewChecker(typ, Limits{}).Check(data); err != nil {
				t.Fatalf("typed Check(%d-byte body of %s) = %v; want nil", len(data), tc.name, err)
			}
			if err := gob.NewDecoder(bytes.NewReader(data)).DecodeValue(reflect.New(typ)); err != nil {
				t.Fatalf("gob decode of accepted body = %v; want nil", err)
			}
		})
	}
}

type rejectCase struct {
	name   string
	data   []byte
	reason string
}

// rejectCases returns hostile and malformed bodies with the reason Check
// gives for each.
func rejectCases(t testing.TB) []rejectCase {
	value := &struct{ A, B int64 }{1, 2}
	valid := mustEncode(t, value)
	msgs := mustSplit(t, mustEncode(t, fullRecord()))
	typeDef := msgs[0]
	_, w, _ := readUint(typeDef)

	manyKeys := []byte{1, 21}
	for i := range 20 {
		manyKeys = append(manyKeys, 2, 'k', byte('a'+i), 2)
	}
	manyKeys = append(manyKeys, 2, 'k', 'a', 2, 0)

	value65 := frame(concat(appendInt(nil, 65), []byte{0}))

	var tooManyTypes []byte
	for id := int64(firstUserID); id <= firstUserID+MaxTypes; id++ {
		tooManyTypes = append(tooManyTypes, frame(defSlice(id, id, 2))...)
	}

	wide := make([]reflect.StructField, MaxFields+1)
	for i := range wide {
		wide[i] = fieldOf(fmt.Sprintf("F%d", i), reflect.TypeFor[int64]())
	}

	return []rejectCase{
		{"empty body", nil, "truncated"},
		{"map count 2^32-1 (golang/go#79539)", mustBodyWith(t, mapBody{map[string]int64{"a": 1}},
			concat([]byte{1}, appendUint(nil, 0xFFFFFFFF), []byte{1, 'a', 2, 0})...), "length"},
		{"map count 2^63-1", mustBodyWith(t, mapBody{map[string]int64{"a": 1}},
			concat([]byte{1}, appendUint(nil, 1<<63-1), []byte{1, 'a', 2, 0})...), "length"},
		{"map count one more than its pairs", mustBodyWith(t, mapBody{map[string]int64{"a": 1}},
			1, 3, 1, 'a', 2, 0), "length"},
		{"slice count", mustBodyWith(t, struct{ S []int64 }{[]int64{1}},
			concat([]byte{1}, appendUint(nil, 1<<40), []byte{2, 0})...), "length"},
		{"string length", mustBodyWith(t, struct{ S string }{"a"},
			concat([]byte{1}, appendUint(nil, 1<<31), []byte{'a', 0})...), "length"},
		{"byte slice length", mustBodyWith(t, struct{ B []byte }{[]byte{1}},
			concat([]byte{1}, appendUint(nil, 1<<31), []byte{1, 0})...), "length"},
		{"time length", mustBodyWith(t, struct{ T time.Time }{time.Now()},
			concat([]byte{1}, appendUint(nil, 1<<31), []byte{0})...), "length"},
		{"message length", concat(appendUint(nil, 1<<62), []byte{1, 2, 3}), "truncated"},
		{"field list length", concat(frame(concat(appendInt(nil, -65), []byte{3, 1, 1, 1, 'T', 1}, appendInt(nil, 65),
			[]byte{0, 1}, appendUint(nil, 1<<30), []byte{0, 0})), value65), "length"},
		{"1025 fields", mustEncode(t, filled(structOf(wide...), 1)), "length"},
		{"1025 type definitions", tooManyTypes, "type"},
		{"trailing garbage", concat(valid, []byte{0, 1}), "trailing"},
		{"two values", mustEncode(t, value, value), "trailing"},
		{"bytes after the value in its message", mustBodyWith(t, value, 1, 2, 1, 4, 0, 7), "trailing"},
		{"bytes after a type definition in its message", concat(frame(concat(typeDef[w:], []byte{0})), concat(msgs[1:]...)), "trailing"},
		{"33 nested structs", mustEncode(t, filled(structChain(33), 1)), "depth"},
		{"33 levels of structs, slices and maps", mustEncode(t, filled(mixedChain(33), 1)), "depth"},
		{"interface field", mustEncode(t, &struct{ V any }{int64(1)}), "type"},
		{"recursive type", mustEncode(t, &node{Name: "root", Kids: []node{{Name: "leaf"}}}), "type"},
		{"array field", mustEncode(t, &struct{ A [2]int64 }{[2]int64{1, 2}}), "type"},
		{"complex field", mustEncode(t, &struct{ C complex128 }{1i}), "type"},
		{"int map keys", mustEncode(t, &struct{ M map[int64]string }{map[int64]string{1: "a"}}), "type"},
		{"time map keys", mustEncode(t, &struct{ M map[time.Time]int64 }{map[time.Time]int64{{}: 1}}), "type"},
		{"top-level map", mustEncode(t, map[string]int64{"a": 1}), "type"},
		{"top-level int", mustEncode(t, int64(3)), "type"},
		{"undefined value type", frame(concat(appendInt(nil, 99), []byte{0})), "type"},
		{"undefined field type", concat(concat(msgs[:1]...), concat(msgs[2:]...)), "type"},
		{"redefined type", concat(msgs[0], concat(msgs...)), "type"},
		{"reserved type id", concat(frame(defSlice(16, 16, 2)), valid), "type"},
		{"definition of two kinds", concat(frame(concat(appendInt(nil, -65), []byte{2, 1, 2}, appendInt(nil, 65), []byte{0, 1, 4, 0, 1, 1, 2}, appendInt(nil, 65), []byte{0, 0, 0})), value65), "syntax"},
		{"empty definition", concat(frame(concat(appendInt(nil, -65), []byte{0})), value65), "syntax"},
		{"field number out of range", mustBodyWith(t, value, 5, 2, 0), "syntax"},
		{"bool of 2", mustBodyWith(t, struct{ B bool }{true}, 1, 2, 0), "syntax"},
		{"invalid integer", mustBodyWith(t, value, 1, 0x80, 0), "syntax"},
		{"missing struct terminator", mustBodyWith(t, value, 1, 2), "syntax"},
		{"empty message", []byte{0}, "syntax"},
		{"invalid UTF-8", mustBodyWith(t, struct{ S string }{"a"}, 1, 2, 0xff, 0xfe, 0), "utf8"},
		{"duplicate key", mustBodyWith(t, mapBody{map[string]int64{"a": 1}}, 1, 2, 1, 'a', 2, 1, 'a', 4, 0), "duplicate"},
		{"duplicate key in a large map", mustBodyWith(t, mapBody{map[string]int64{"a": 1}}, manyKeys...), "duplicate"},
	}
}

func TestCheckRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range rejectCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkProblem(t, Check(tc.data), tc.reason)
		})
	}
}

// defSlice returns a type definition message's content: id is a slice of
// elem, and the description inside carries commonID (which gob ignores).
func defSlice(id, commonID, elem int64) []byte {
	b := appendInt(nil, -id)
	b = append(b, 2, 1, 2) // SliceT, CommonType, Id
	b = appendInt(b, commonID)
	b = append(b, 0, 1) // end of CommonType, Elem
	b = appendInt(b, elem)
	return append(b, 0, 0)
}

func TestCheckTruncatedAtEveryByte(t *testing.T) {
	t.Parallel()
	bodies := map[string]any{
		"full record":     fullRecord(),
		"schema envelope": filled(envelopeOf(schemaType()), 2),
	}
	for name, v := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := mustEncode(t, v)
			checker := NewChecker(reflect.TypeOf(v).Elem(), Limits{})
			for i := range len(data) {
				for _, check := range []func([]byte) error{Check, checker.Check} {
					if err := check(data[:i]); !errors.Is(err, ErrTruncated) {
						t.Fatalf("Check of the first %d of %d bytes = %v; want ErrTruncated", i, len(data), err)
					}
				}
			}
		})
	}
}

func TestCheckLimits(t *testing.T) {
	t.Parallel()
	data := mustEncode(t, filled(mixedChain(12), 1))
	tests := []struct {
		maxDepth int
		reason   string
	}{
		{0, ""},
		{12, ""},
		{11, "depth"},
		{1, "depth"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.maxDepth), func(t *testing.T) {
			t.Parallel()
			err := NewChecker(nil, Limits{MaxDepth: tc.maxDepth}).Check(data)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Check of 12 levels with MaxDepth %d = %v; want nil", tc.maxDepth, err)
				}
				return
			}
			checkProblem(t, err, tc.reason)
		})
	}
}

func TestMaxBytes(t *testing.T) {
	t.Parallel()
	body := mustEncode(t, fullRecord())
	huge := concat(appendUint(nil, 1<<40), []byte{1, 2, 3})
	tests := []struct {
		name     string
		data     []byte
		maxBytes int
		tooLarge bool
	}{
		{"body at the limit", body, len(body), false},
		{"body one byte over", body, len(body) - 1, true},
		{"declared length over, before its bytes arrive", huge, 1 << 20, true},
		{"no limit", body, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewChecker(nil, Limits{MaxBytes: tc.maxBytes}).NewScanner().Next(tc.data)
			p, _ := problem.As(err)
			if got := p != nil && p.Kind == problem.TooLarge && p.Reason == "length"; got != tc.tooLarge {
				t.Fatalf("Next of %d bytes with MaxBytes %d = %v; want too large: %v", len(tc.data), tc.maxBytes, err, tc.tooLarge)
			}
			if !tc.tooLarge && err != nil {
				t.Fatalf("Next of %d bytes with MaxBytes %d = %v; want nil", len(tc.data), tc.maxBytes, err)
			}
		})
	}
}

// wideType is a struct of 40 strings: 640 bytes in memory, a single zero
// byte on the wire when empty.
func wideType() reflect.Type {
	fields := make([]reflect.StructField, 40)
	for i := range fields {
		fields[i] = fieldOf(fmt.Sprintf("S%d", i), reflect.TypeFor[string]())
	}
	return structOf(fields...)
}

func TestCheckerBoundsAllocation(t *testing.T) {
	t.Parallel()
	wide := wideType()
	sliceRoot := structOf(fieldOf("Items", reflect.SliceOf(wide)))
	mapRoot := structOf(fieldOf("ByKey", reflect.MapOf(reflect.TypeFor[string](), wide)))
	ptrRoot := structOf(fieldOf("Items", reflect.SliceOf(reflect.PointerTo(wide))))

	emptyItems := reflect.New(sliceRoot)
	emptyItems.Elem().Field(0).Set(reflect.MakeSlice(reflect.SliceOf(wide), 5000, 5000))
	emptyValues := reflect.New(mapRoot)
	m := reflect.MakeMap(mapRoot.Field(0).Type)
	for i := range 2000 {
		m.SetMapIndex(reflect.ValueOf(fmt.Sprint(i)), reflect.New(wide).Elem())
	}
	emptyValues.Elem().Field(0).Set(m)
	manyEmpty := mustEncode(t, emptyItems.Interface())
	small := mustEncode(t, filled(sliceRoot, 3))

	tests := []struct {
		name   string
		into   reflect.Type
		data   []byte
		limits Limits
		reason string
	}{
		{"5000 empty 640-byte elements", sliceRoot, manyEmpty, Limits{}, "length"},
		{"the same under a larger budget", sliceRoot, manyEmpty, Limits{MaxAlloc: 16 << 20}, ""},
		{"the same into pointers", ptrRoot, manyEmpty, Limits{}, "length"},
		{"2000 empty 640-byte map values", mapRoot, mustEncode(t, emptyValues.Interface()), Limits{}, "length"},
		{"a few full elements", sliceRoot, small, Limits{}, ""},
		{"a tiny budget", sliceRoot, small, Limits{MaxAlloc: 100}, "length"},
		{"fields the target lacks", structOf(fieldOf("Other", reflect.TypeFor[int64]())), manyEmpty, Limits{}, "unknown_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := Check(tc.data); err != nil {
				t.Fatalf("untyped Check = %v; want nil", err)
			}
			err := NewChecker(tc.into, tc.limits).Check(tc.data)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Check of %d bytes into %v with %+v = %v; want nil", len(tc.data), tc.into, tc.limits, err)
				}
				return
			}
			checkProblem(t, err, tc.reason)
		})
	}
}

// TestAllocationEstimate compares the estimate with what encoding/gob
// really allocates. It does not run in parallel, so that the allocation
// counter sees only the decoder.
func TestAllocationEstimate(t *testing.T) {
	wide := wideType()
	str := reflect.TypeFor[string]()
	tests := []struct {
		name  string
		typ   reflect.Type
		value func() reflect.Value
	}{
		{"slice of 10000 empty structs", structOf(fieldOf("Items", reflect.SliceOf(wide))), func() reflect.Value {
			v := reflect.New(structOf(fieldOf("Items", reflect.SliceOf(wide))))
			v.Elem().Field(0).Set(reflect.MakeSlice(reflect.SliceOf(wide), 10000, 10000))
			return v
		}},
		{"map of 10000 empty structs", structOf(fieldOf("M", reflect.MapOf(str, wide))), func() reflect.Value {
			v := reflect.New(structOf(fieldOf("M", reflect.MapOf(str, wide))))
			m := reflect.MakeMap(reflect.MapOf(str, wide))
			for i := range 10000 {
				m.SetMapIndex(reflect.ValueOf(fmt.Sprint(i)), reflect.New(wide).Elem())
			}
			v.Elem().Field(0).Set(m)
			return v
		}},
		{"filled schema records", structOf(fieldOf("Rs", reflect.SliceOf(schemaType()))), func() reflect.Value {
			return reflect.ValueOf(filled(structOf(fieldOf("Rs", reflect.SliceOf(schemaType()))), 15))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := mustEncode(t, tc.value().Interface())
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if err := gob.NewDecoder(bytes.NewReader(data)).DecodeValue(reflect.New(tc.typ)); err != nil {
				t.Fatalf("decode: %v", err)
			}
			runtime.ReadMemStats(&after)
			actual := int(after.TotalAlloc - before.TotalAlloc)
			checker := func(limit int) error { return NewChecker(tc.typ, Limits{MaxAlloc: limit}).Check(data) }
			if err := checker(actual / 4); err == nil {
				t.Errorf("%d-byte body: estimate below a quarter of the %d bytes gob allocated", len(data), actual)
			}
			if err := checker(actual * 2); err != nil {
				t.Errorf("%d-byte body: estimate above twice the %d bytes gob allocated: %v", len(data), actual, err)
			}
			t.Logf("%d-byte body: gob allocated %d bytes (%.0f per body byte)", len(data), actual, float64(actual)/float64(len(data)))
		})
	}
}

// chunks feeds data to a Scanner step bytes at a time and returns the
// lengths it accepts.
func chunks(t *testing.T, s *Scanner, data []byte, step int) ([]int, error) {
	t.Helper()
	var lengths []int
	start, end := 0, 0
	for {
		n, err := s.Next(data[start:end])
		switch {
		case err == io.EOF && end == len(data):
			return lengths, nil
		case err == io.EOF, errors.Is(err, ErrTruncated):
			if end == len(data) {
				return lengths, err
			}
			end = min(end+step, len(data))
		case err != nil:
			return lengths, err
		default:
			lengths = append(lengths, n)
			start += n
		}
	}
}

func TestScannerStream(t *testing.T) {
	t.Parallel()
	env := envelopeOf(schemaType())
	var stream bytes.Buffer
	enc := gob.NewEncoder(&stream)
	var want []int
	for i := range 30 {
		v := reflect.New(env)
		fill(v.Elem(), i, i%4)
		before := stream.Len()
		if err := enc.Encode(v.Interface()); err != nil {
			t.Fatalf("encode: %v", err)
		}
		want = append(want, stream.Len()-before)
	}
	data := stream.Bytes()
	for _, step := range []int{1, 7, 100, len(data)} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			t.Parallel()
			got, err := chunks(t, NewChecker(env, Limits{}).NewScanner(), data, step)
			if err != nil {
				t.Fatalf("scanning %d bytes %d at a time: %v", len(data), step, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("message sequence lengths = %v; want %v", got, want)
			}
		})
	}
	dec := gob.NewDecoder(bytes.NewReader(data))
	for i := range want {
		if err := dec.DecodeValue(reflect.New(env)); err != nil {
			t.Fatalf("decoding value %d of the accepted stream: %v", i, err)
		}
	}
}

// A hostile value in a sound frame is refused alone: the stream goes on
// after it, at the right offsets.
func TestScannerRefusesHostileValueMidStream(t *testing.T) {
	t.Parallel()
	first := mustEncode(t, mapBody{map[string]int64{"a": 1}})
	msgs := mustSplit(t, first)
	last := msgs[len(msgs)-1]
	_, w, _ := readUint(last)
	_, iw, _ := readUint(last[w:])
	content := concat(last[w:w+iw], []byte{1}, appendUint(nil, 0xFFFFFFFF), []byte{1, 'a', 2, 0})
	hostile := frame(content)
	data := concat(first, hostile, last, hostile)

	s := NewScanner()
	n, err := s.Next(data)
	if err != nil || n != len(first) {
		t.Fatalf("first Next = %d, %v; want %d, nil", n, err, len(first))
	}
	_, err = s.Next(data[n:])
	checkProblem(t, err, "length")
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Len != len(hostile) || ve.Defs != 0 {
		t.Fatalf("error %#v, want a ValueError of %d bytes with no definitions", err, len(hostile))
	}
	wantOff := fmt.Sprintf("at byte %d ", len(first)+1+iw+1)
	if !strings.Contains(err.Error(), wantOff) {
		t.Errorf("error %q does not name the stream offset (%q)", err, wantOff)
	}
	n += ve.Len
	if m, err := s.Next(data[n:]); err != nil || m != len(last) {
		t.Fatalf("Next after the refused value = %d, %v; want the next value, %d bytes", m, err, len(last))
	}
	n += len(last)
	_, err = s.Next(data[n:])
	wantOff = fmt.Sprintf("at byte %d ", n+1+iw+1)
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), wantOff) {
		t.Errorf("the second hostile value: %v, want a ValueError naming %q", err, wantOff)
	}
}

func TestScannerKeepsNoStateWhenTruncated(t *testing.T) {
	t.Parallel()
	data := mustEncode(t, fullRecord(), fullRecord())
	msgs := mustSplit(t, data)
	firstLen := len(data) - len(msgs[len(msgs)-1])
	s := NewScanner()
	if n, err := s.Next(nil); n != 0 || err != io.EOF {
		t.Fatalf("Next(nil) = %d, %v; want 0, io.EOF", n, err)
	}
	for _, cut := range []int{1, len(msgs[0]), firstLen - 1} {
		if _, err := s.Next(data[:cut]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("Next of %d of the first %d bytes = %v; want ErrTruncated", cut, firstLen, err)
		}
	}
	for _, want := range []int{firstLen, len(data) - firstLen} {
		n, err := s.Next(data)
		if err != nil || n != want {
			t.Fatalf("Next = %d, %v; want %d, nil", n, err, want)
		}
		data = data[n:]
	}
}

func benchRecord(b testing.TB) (reflect.Type, []byte) {
	typ := schemaType()
	data := mustEncode(b, filled(typ, 2))
	return typ, data
}

func BenchmarkCheck(b *testing.B) {
	_, data := benchRecord(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckTyped(b *testing.B) {
	typ, data := benchRecord(b)
	c := NewChecker(typ, Limits{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScannerNext checks a value of a stream whose types are known.
func BenchmarkScannerNext(b *testing.B) {
	typ, _ := benchRecord(b)
	v := filled(typ, 2)
	data := mustEncode(b, v, v)
	s := NewChecker(typ, Limits{}).NewScanner()
	n, err := s.Next(data)
	if err != nil {
		b.Fatal(err)
	}
	value := data[n:]
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Next(value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGobDecode is the decoding that Check guards, for comparison.
func BenchmarkGobDecode(b *testing.B) {
	typ, data := benchRecord(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := gob.NewDecoder(bytes.NewReader(data)).DecodeValue(reflect.New(typ)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckerRefusesUnknownFields checks that a typed Checker refuses a
// value that sets a field its target lacks, at any depth, which
// encoding/gob would drop, and accepts one that leaves such a field zero,
// which gob does not send.
func TestCheckerRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	type inner struct{ N int }
	type target struct {
		A    int
		In   inner
		List []inner
	}
	type innerPlus struct{ N, Extra int }
	type sender struct {
		A     int
		In    innerPlus
		List  []innerPlus
		Extra string
		Obj   inner // a struct field goes out even when zero
	}
	tests := []struct {
		name   string
		value  sender
		reason string
	}{
		{"extra fields zero", sender{A: 1, In: innerPlus{N: 2}, List: []innerPlus{{N: 3}}}, ""},
		{"extra top-level field set", sender{A: 1, Extra: "x"}, "unknown_field"},
		{"extra field set in a struct field", sender{In: innerPlus{Extra: 1}}, "unknown_field"},
		{"extra field set in a slice element", sender{List: []innerPlus{{N: 1}, {Extra: 1}}}, "unknown_field"},
		{"extra struct field set", sender{A: 1, Obj: inner{N: 2}}, "unknown_field"},
	}
	c := NewChecker(reflect.TypeFor[target](), Limits{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := mustEncode(t, tc.value)
			err := c.Check(data)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Check = %v; want nil", err)
				}
				var got target
				if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&got); err != nil {
					t.Fatalf("gob decode of an accepted body: %v", err)
				}
				return
			}
			checkProblem(t, err, tc.reason)
		})
	}
}
