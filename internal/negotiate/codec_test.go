package negotiate

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
)

// valueCodecs are the codecs that carry schemaless values.
func valueCodecs() []Codec {
	return []Codec{NewJSONCodec(), NewMsgpackCodec(), NewCBORCodec()}
}

var (
	nanoTime = time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)
	// offsetTime is the same kind of instant written in another zone; it
	// comes back in UTC.
	offsetTime = time.Date(1969, 7, 20, 20, 17, 40, 1, time.FixedZone("EDT", -4*3600))
)

// modelValues holds every kind of the schemaless model.
var modelValues = []struct {
	name string
	v    any
}{
	{"null", nil},
	{"true", true},
	{"false", false},
	{"zero", int64(0)},
	{"small", int64(7)},
	{"negative", int64(-33)},
	{"int64 max", int64(math.MaxInt64)},
	{"int64 min", int64(math.MinInt64)},
	{"2^53+1", int64(1<<53 + 1)},
	{"-2^53-1", int64(-(1<<53 + 1))},
	{"2^63", uint64(1 << 63)},
	{"uint64 max", uint64(math.MaxUint64)},
	{"float", 3.25},
	{"float integral", 2.0},
	{"float negative zero", math.Copysign(0, -1)},
	{"float tiny", 5e-324},
	{"float small", 1.5e-7},
	{"float huge", math.MaxFloat64},
	{"float 1e21", 1e21},
	{"float pi", math.Pi},
	{"string", "hello"},
	{"string unicode", "grüße, 世界 🚢 \u2028 \"quoted\" \\ \n\t"},
	{"string empty", ""},
	{"bytes", []byte{0, 1, 2, 0xfe, 0xff}},
	{"bytes empty", []byte{}},
	{"time nanoseconds", nanoTime},
	{"time before 1970", offsetTime.UTC()},
	{"time far", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	{"array", []any{int64(1), "two", 3.5, nil, true}},
	{"array empty", []any{}},
	{"map", map[string]any{"a": int64(1), "b": []any{"x"}, "c": map[string]any{"d": nil}}},
	{"map empty", map[string]any{}},
	{"nested", map[string]any{"items": []any{
		map[string]any{"qty": int64(2), "at": nanoTime, "raw": []byte("x"), "big": uint64(math.MaxUint64)},
		[]any{[]any{[]any{}}},
	}}},
}

// nonStringKeys holds maps with keys JSON cannot carry.
var nonStringKeys = []struct {
	name string
	v    any
}{
	{"int keys", map[any]any{int64(1): "one", int64(-2): "minus two"}},
	{"mixed keys", map[any]any{"s": int64(1), int64(2): true, 2.5: nil, true: "t", uint64(math.MaxUint64): "max"}},
	{"time key", map[any]any{nanoTime: "then"}},
	{"nested", map[string]any{"a": []any{map[any]any{int64(3): "x"}}}},
}

func mustRoundTrip(t *testing.T, c Codec, v any) any {
	t.Helper()
	data, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("%s: Marshal(%#v) error: %v", c.Name(), v, err)
	}
	var buf bytes.Buffer
	if err := c.Encode(&buf, v); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("%s: Encode(%#v) = %x, %v; want the bytes of Marshal %x", c.Name(), v, buf.Bytes(), err, data)
	}
	var got any
	if err := c.Decode(data, &got); err != nil {
		t.Fatalf("%s: Decode(Marshal(%#v)) = Decode(%x) error: %v", c.Name(), v, data, err)
	}
	return got
}

// equalModel compares model values: floats by bits (so -0.0 differs from
// 0.0), times as instants, everything else deeply.
func equalModel(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y) && y.Location() == time.UTC
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || y == nil {
			return false
		}
		for i := range x {
			if !equalModel(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || y == nil {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalModel(v, w) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalModel(v, w) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y) && y != nil
	}
	return reflect.DeepEqual(a, b)
}

// jsonView returns what a schemaless value reads back as from JSON, which
// has no times or bytes: JSON strings stay strings.
func jsonView(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = jsonView(el)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			out[k] = jsonView(el)
		}
		return out
	}
	return v
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range valueCodecs() {
		for _, tc := range modelValues {
			t.Run(c.Name()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				want := tc.v
				if c.Name() == "json" {
					want = jsonView(want)
				}
				if got := mustRoundTrip(t, c, tc.v); !equalModel(want, got) {
					t.Errorf("%s round trip of %#v = %#v, want %#v", c.Name(), tc.v, got, want)
				}
			})
		}
	}
}

func TestBinaryNonStringKeys(t *testing.T) {
	t.Parallel()
	for _, c := range []Codec{NewMsgpackCodec(), NewCBORCodec()} {
		for _, tc := range nonStringKeys {
			t.Run(c.Name()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				if got := mustRoundTrip(t, c, tc.v); !equalModel(tc.v, got) {
					t.Errorf("%s round trip of %#v = %#v", c.Name(), tc.v, got)
				}
			})
		}
	}
}

func TestJSONRefusesNonStringKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"top", map[any]any{int64(1): "x"}, "json cannot hold a map key of type int at $"},
		{"nested", map[string]any{"a": map[string]any{"b": map[any]any{int64(1): "x"}}}, "json cannot hold a map key of type int at $.a.b"},
		{"in array", map[string]any{"a": []any{nil, map[any]any{true: "x"}}}, "json cannot hold a map key of type bool at $.a[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			err := NewJSONCodec().Encode(&buf, tc.v)
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.Unprocessable || p.Detail != tc.want {
				t.Fatalf("Encode(%#v) error = %v, want unprocessable %q", tc.v, err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode(%#v) wrote %q before failing", tc.v, buf.Bytes())
			}
		})
	}
}

func TestMapKeysConvertToStrings(t *testing.T) {
	t.Parallel()
	// A map[any]any whose keys are all strings is written and read back as
	// a map[string]any.
	v := map[any]any{"b": int64(1), "a": int64(2)}
	want := map[string]any{"b": int64(1), "a": int64(2)}
	for _, c := range valueCodecs() {
		if got := mustRoundTrip(t, c, v); !equalModel(want, got) {
			t.Errorf("%s round trip of %#v = %#v, want %#v", c.Name(), v, got, want)
		}
	}
}

func TestCrossFormat(t *testing.T) {
	t.Parallel()
	codecs := valueCodecs()
	byName := map[string]Codec{}
	for _, c := range codecs {
		byName[c.Name()] = c
	}
	chains := [][]string{
		{"json", "msgpack", "cbor", "json"},
		{"cbor", "msgpack", "json", "cbor"},
		{"msgpack", "json", "cbor", "msgpack"},
		{"msgpack", "cbor", "msgpack"},
		{"cbor", "msgpack", "cbor"},
	}
	for _, chain := range chains {
		for _, tc := range modelValues {
			t.Run(strings.Join(chain, ">")+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				v := tc.v
				for _, name := range chain {
					v = mustRoundTrip(t, byName[name], v)
				}
				// Times and bytes become strings in JSON and stay strings.
				want := tc.v
				if slices.Contains(chain, "json") {
					want = jsonView(want)
				}
				if !equalModel(want, v) {
					t.Errorf("%v of %#v = %#v, want %#v", chain, tc.v, v, want)
				}
			})
		}
	}
}

func TestJSONExactIntegers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{"9007199254740993", int64(9007199254740993)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", uint64(1 << 63)},
		{"18446744073709551615", uint64(math.MaxUint64)},
		{"-0", math.Copysign(0, -1)},
		{"1.0", 1.0},
		{"1e2", 100.0},
		{"-0.0", math.Copysign(0, -1)},
		{`"9007199254740993"`, "9007199254740993"},
		{`"2024-02-29T23:59:58Z"`, "2024-02-29T23:59:58Z"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var got any
			if err := NewJSONCodec().Decode([]byte(tc.in), &got); err != nil || !equalModel(tc.want, got) {
				t.Errorf("Decode(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestDecodeData checks that record data keeps the number literals no
// 64-bit number holds as written, for a reader that knows each field's
// type, where plain Decode settles them: -0 as the float -0, and an
// integer beyond 64 bits as a 422.
func TestDecodeData(t *testing.T) {
	t.Parallel()
	c := NewJSONCodec()
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"-0", stdjson.Number("-0")},
		{"18446744073709551616", stdjson.Number("18446744073709551616")},
		{"-9223372036854775809", stdjson.Number("-9223372036854775809")},
		{"-0.0", math.Copysign(0, -1)},
		{"7", int64(7)},
		{`{"a":[1,-0]}`, map[string]any{"a": []any{int64(1), stdjson.Number("-0")}}},
	} {
		var got any
		if err := DecodeData(c, []byte(tc.in), &got); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DecodeData(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	var v any
	err := c.Decode([]byte(`{"a":18446744073709551616}`), &v)
	if p, ok := problem.As(err); !ok || p.Kind != problem.Unprocessable || p.Reason != "int_range" {
		t.Errorf("Decode of an integer beyond 64 bits = %v, want a 422 int_range", err)
	}
}

func TestEncodeNonFinite(t *testing.T) {
	t.Parallel()
	type withFloat struct {
		Price float64 `json:"price" msgpack:"price" cbor:"price"`
	}
	values := []struct {
		name string
		v    any
	}{
		{"NaN", math.NaN()},
		{"+Inf in map", map[string]any{"a": math.Inf(1)}},
		{"-Inf in array", []any{1.0, math.Inf(-1)}},
		{"struct", withFloat{Price: math.NaN()}},
		{"struct pointer", &withFloat{Price: math.Inf(1)}},
	}
	for _, c := range append(valueCodecs(), NewGobCodec(nil)) {
		for _, tc := range values {
			if _, ok := c.(*GobCodec); ok && !isStruct(reflect.TypeOf(tc.v)) {
				continue
			}
			t.Run(c.Name()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				err := c.Encode(&buf, tc.v)
				p, ok := problem.As(err)
				if !ok || p.Kind != problem.Unprocessable || p.Reason != "nonfinite" {
					t.Fatalf("%s: Encode(%v) error = %v, want unprocessable nonfinite", c.Name(), tc.v, err)
				}
				if buf.Len() != 0 {
					t.Errorf("%s: Encode(%v) wrote %x before failing", c.Name(), tc.v, buf.Bytes())
				}
			})
		}
	}
}

func TestPrettyJSON(t *testing.T) {
	t.Parallel()
	c := NewJSONCodec()
	p := Pretty(c)
	got, err := p.Marshal(map[string]any{"b": []any{int64(1)}, "a": "x"})
	want := "{\n  \"a\": \"x\",\n  \"b\": [\n    1\n  ]\n}"
	if err != nil || string(got) != want {
		t.Errorf("pretty Marshal = %q, %v; want %q", got, err, want)
	}
	compact, err := c.Marshal(map[string]any{"b": []any{int64(1)}, "a": "x"})
	if err != nil || string(compact) != `{"a":"x","b":[1]}` {
		t.Errorf("Marshal = %q, %v; want %q", compact, err, `{"a":"x","b":[1]}`)
	}
	if Pretty(NewCBORCodec()).Name() != "cbor" {
		t.Errorf("Pretty(cbor) is not the cbor codec")
	}
}

func TestEncodingIsDeterministic(t *testing.T) {
	t.Parallel()
	v := map[string]any{}
	for _, k := range strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m") {
		v[k] = map[any]any{int64(len(k)): k, k: int64(1), 1.5: k}
	}
	for _, c := range []Codec{NewMsgpackCodec(), NewCBORCodec()} {
		first, err := c.Marshal(v)
		if err != nil {
			t.Fatalf("%s: Marshal error: %v", c.Name(), err)
		}
		for range 20 {
			again, _ := c.Marshal(v)
			if !bytes.Equal(first, again) {
				t.Fatalf("%s: Marshal of one map gave %x and then %x", c.Name(), first, again)
			}
		}
	}
}

func TestEncodedForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		codec Codec
		v     any
		want  string
	}{
		{NewJSONCodec(), []byte("hi?"), `"aGk/"`},
		{NewJSONCodec(), offsetTime, `"1969-07-21T00:17:40.000000001Z"`},
		{NewJSONCodec(), 2.0, `2.0`},
		{NewJSONCodec(), 1e-7, `1e-7`},
		{NewJSONCodec(), "<&>", `"<&>"`},
		// Compact integers; time as the timestamp extension (fixext 8 here).
		{NewMsgpackCodec(), int64(1), "\x01"},
		{NewMsgpackCodec(), int64(-1), "\xff"},
		{NewMsgpackCodec(), int64(200), "\xcc\xc8"},
		{NewMsgpackCodec(), time.Unix(1, 5).UTC(), "\xd7\xff\x00\x00\x00\x14\x00\x00\x00\x01"},
		{NewMsgpackCodec(), map[string]any{"b": int64(1), "a": int64(2)}, "\x82\xa1a\x02\xa1b\x01"},
		// Shortest floats, tag 0 times with nanoseconds, sorted keys.
		{NewCBORCodec(), 1.5, "\xf9\x3e\x00"},
		{NewCBORCodec(), time.Unix(0, 1).UTC(), "\xc0\x78\x1e1970-01-01T00:00:00.000000001Z"},
		{NewCBORCodec(), map[string]any{"bb": int64(1), "a": int64(2)}, "\xa2\x61a\x02\x62bb\x01"},
	}
	for _, tc := range tests {
		got, err := tc.codec.Marshal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: Marshal(%#v) = %q, %v; want %q", tc.codec.Name(), tc.v, got, err, tc.want)
		}
	}
}

// cborTimes is a record with times at every depth a schema can put them.
type cborTimes struct {
	At    time.Time            `cbor:"at"`
	Opt   *time.Time           `cbor:"opt"`
	Unset *time.Time           `cbor:"unset"`
	Name  string               `cbor:"name"`
	Raw   []byte               `cbor:"raw"`
	Items []cborTimesItem      `cbor:"items"`
	Empty []string             `cbor:"empty"`
	Times map[string]time.Time `cbor:"times"`
	Price float64              `cbor:"price"`
	// Tag options the copy must mirror.
	Cursor  string `cbor:"cursor,omitempty"`
	Count   int64  `cbor:"count,omitzero"`
	Skipped string `cbor:"-"`
	Dash    string `cbor:"-,"`
	ByJSON  string `json:"by_json"`
	Untaged bool
	hidden  int
}

type cborTimesItem struct {
	When *time.Time `cbor:"when"`
	Qty  int64      `cbor:"qty"`
}

func TestCBORZeroTimeInStruct(t *testing.T) {
	t.Parallel()
	c := NewCBORCodec()
	record := func(at time.Time) cborTimes {
		return cborTimes{At: at, Opt: &at, Name: "n", Raw: []byte{1, 2},
			Items: []cborTimesItem{{When: &at, Qty: 3}, {Qty: 4}}, Times: map[string]time.Time{"k": at}, Price: 1.5}
	}

	// The schemaless copy that carries zero times encodes as the library
	// encodes the struct itself.
	set := record(time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC))
	for _, rec := range []cborTimes{set, func() cborTimes {
		r := set
		r.Cursor, r.Count, r.Skipped, r.Dash, r.ByJSON, r.Untaged, r.hidden = "c", 2, "s", "d", "j", true, 1
		return r
	}()} {
		direct, err := c.enc.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		cp, ok := tagZeroTimes(reflect.ValueOf(rec))
		viaCopy, err := c.enc.Marshal(cp)
		if !ok || err != nil || !bytes.Equal(viaCopy, direct) {
			t.Fatalf("copy of %+v (%v) encodes as %x, %v; want the struct's own %x", rec, ok, viaCopy, err, direct)
		}
	}

	zero := time.Time{}
	data, err := c.Marshal(record(zero))
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := c.Decode(data, &got); err != nil {
		t.Fatalf("Decode(%x): %v", data, err)
	}
	want := map[string]any{"at": zero, "opt": zero, "unset": nil, "name": "n", "raw": []byte{1, 2},
		"items": []any{map[string]any{"when": zero, "qty": int64(3)}, map[string]any{"when": nil, "qty": int64(4)}},
		"empty": []any{}, "times": map[string]any{"k": zero}, "price": 1.5, "-": "", "by_json": "", "Untaged": false}
	if !equalModel(want, got) {
		t.Errorf("zero times encoded as %x, read back as %#v; want tag 0 times: %#v", data, got, want)
	}

	// What the copy cannot mirror is left to the library as it is.
	type embedded struct{ cborTimesItem }
	type asArray struct {
		_  struct{}  `cbor:",toarray"`
		At time.Time `cbor:"at"`
	}
	for _, v := range []any{embedded{cborTimesItem{When: &zero}}, asArray{At: zero}} {
		want, err := c.enc.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Marshal(v); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Marshal(%+v) = %x, %v; want the library's own %x", v, got, err, want)
		}
	}
}

func TestZeroTime(t *testing.T) {
	t.Parallel()
	zero := time.Time{}
	v := map[string]any{"t": zero, "a": []any{zero}, "k": map[any]any{zero: int64(1)}}
	for _, c := range []Codec{NewMsgpackCodec(), NewCBORCodec()} {
		if got := mustRoundTrip(t, c, v); !equalModel(v, got) {
			t.Errorf("%s round trip of %#v = %#v", c.Name(), v, got)
		}
	}
}

// TestCBORSelfDescribed checks that a body that starts with the
// self-described CBOR tag reads as the item it wraps, errors keeping the
// offsets of the body as sent.
func TestCBORSelfDescribed(t *testing.T) {
	t.Parallel()
	c := NewCBORCodec()
	type rec struct {
		Name string `cbor:"name"`
		Qty  int64  `cbor:"qty"`
	}
	tagged := func(b []byte) []byte { return append([]byte{0xd9, 0xd9, 0xf7}, b...) }
	plain, err := c.Marshal(rec{Name: "n", Qty: 3})
	if err != nil {
		t.Fatal(err)
	}

	var got rec
	if err := c.Decode(tagged(plain), &got); err != nil || got != (rec{Name: "n", Qty: 3}) {
		t.Errorf("Decode into a struct = %+v, %v; want {n 3}", got, err)
	}
	var model any
	if err := c.Decode(tagged(plain), &model); err != nil || !equalModel(map[string]any{"name": "n", "qty": int64(3)}, model) {
		t.Errorf("Decode into any = %#v, %v", model, err)
	}

	// Refusals match those of the untagged body, three bytes further on.
	for _, body := range [][]byte{
		{0xf6},                                 // null
		{0xa1, 0x64, 'n', 'a', 'm', 'e', 0x01}, // a number where a string goes
		{0xa1, 0x63, 'q', 't', 'y', 0xc2, 0x41, 0x01}, // a bignum
	} {
		want := c.Decode(body, &rec{})
		err := c.Decode(tagged(body), &rec{})
		wp, _ := problem.As(want)
		gp, ok := problem.As(err)
		if want == nil || !ok || gp.Kind != wp.Kind || gp.Reason != wp.Reason {
			t.Errorf("Decode(%x) = %v, want the refusal of the untagged body: %v", tagged(body), err, want)
			continue
		}
		if off, ok := wp.Extra["offset"].(int); ok && gp.Extra["offset"] != off+3 {
			t.Errorf("Decode(%x) names offset %v, want %d", tagged(body), gp.Extra["offset"], off+3)
		}
	}
}
