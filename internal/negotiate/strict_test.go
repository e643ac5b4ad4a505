package negotiate

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/gobcheck"
	"github.com/ferry-dev/ferry/internal/problem"
)

// testItem and testOrder are written the way Ferry compiles schemas to
// structs: lower-case snake_case names in json, msgpack and cbor tags,
// omitempty and omitzero options, and validate tags.
type testItem struct {
	SKU string `json:"sku" msgpack:"sku" cbor:"sku" validate:"required"`
	Qty int64  `json:"qty" msgpack:"qty" cbor:"qty" validate:"min=1"`
}

type testOrder struct {
	ID        string            `json:"id" msgpack:"id" cbor:"id" validate:"required"`
	Customer  string            `json:"customer_name,omitempty" msgpack:"customer_name,omitempty" cbor:"customer_name,omitempty"`
	Total     float64           `json:"total" msgpack:"total" cbor:"total"`
	Paid      bool              `json:"paid" msgpack:"paid" cbor:"paid"`
	Count     int64             `json:"count" msgpack:"count" cbor:"count"`
	CreatedAt time.Time         `json:"created_at" msgpack:"created_at" cbor:"created_at"`
	Note      *string           `json:"note,omitzero" msgpack:"note,omitempty" cbor:"note,omitempty"`
	Raw       []byte            `json:"raw" msgpack:"raw" cbor:"raw"`
	Items     []testItem        `json:"items" msgpack:"items" cbor:"items" validate:"dive"`
	Tags      map[string]string `json:"tags" msgpack:"tags" cbor:"tags"`
	Shipping  *testItem         `json:"shipping,omitempty" msgpack:"shipping,omitempty" cbor:"shipping,omitempty"`
}

func sampleOrder() testOrder {
	note := "leave at the door"
	return testOrder{
		ID:        "ord-1",
		Customer:  "Zoë",
		Total:     1234.5,
		Paid:      true,
		Count:     1<<53 + 1,
		CreatedAt: nanoTime,
		Note:      &note,
		Raw:       []byte{1, 2, 3},
		Items:     []testItem{{SKU: "a", Qty: 2}, {SKU: "b", Qty: math.MaxInt64}},
		Tags:      map[string]string{"x": "y"},
		Shipping:  &testItem{SKU: "ship", Qty: 1},
	}
}

// testVetter is the gob pre-scan the tests decode gob with.
var testVetter = gobcheck.NewVetter(gobcheck.Limits{})

func allCodecs() []Codec {
	return append(valueCodecs(), NewGobCodec(testVetter))
}

func TestStructRoundTrip(t *testing.T) {
	t.Parallel()
	want := sampleOrder()
	for _, c := range allCodecs() {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			data, err := c.Marshal(want)
			if err != nil {
				t.Fatalf("%s: Marshal error: %v", c.Name(), err)
			}
			var got testOrder
			if err := c.Decode(data, &got); err != nil {
				t.Fatalf("%s: Decode(%q) error: %v", c.Name(), data, err)
			}
			if !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("%s: created_at = %v, want %v", c.Name(), got.CreatedAt, want.CreatedAt)
			}
			got.CreatedAt = want.CreatedAt
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: round trip = %+v, want %+v", c.Name(), got, want)
			}
		})
	}
}

func TestStructThroughModel(t *testing.T) {
	t.Parallel()
	// A record decoded schemaless and encoded again reads back into the
	// struct: what convert does between formats.
	want := sampleOrder()
	for _, c := range valueCodecs() {
		data, err := c.Marshal(want)
		if err != nil {
			t.Fatalf("%s: Marshal error: %v", c.Name(), err)
		}
		var v any
		if err := c.Decode(data, &v); err != nil {
			t.Fatalf("%s: Decode into any error: %v", c.Name(), err)
		}
		again, err := c.Marshal(v)
		if err != nil {
			t.Fatalf("%s: Marshal(%#v) error: %v", c.Name(), v, err)
		}
		var got testOrder
		if err := c.Decode(again, &got); err != nil {
			t.Fatalf("%s: Decode(%q) error: %v", c.Name(), again, err)
		}
		if !got.CreatedAt.Equal(want.CreatedAt) || got.Count != want.Count || got.Items[1].Qty != math.MaxInt64 {
			t.Errorf("%s: through the model = %+v, want %+v", c.Name(), got, want)
		}
	}
}

// bodies holds one body per format, built from a model value or given
// directly.
type bodies map[string][]byte

// same encodes a model value in every format (JSON with the model's own
// encoder; the tests that need raw JSON give it directly).
func same(v any) bodies {
	b := bodies{}
	for _, c := range valueCodecs() {
		data, err := c.Marshal(v)
		if err != nil {
			panic(err)
		}
		b[c.Name()] = data
	}
	return b
}

func nested(n int, open, leaf string) string { return strings.Repeat(open, n) + leaf }

func TestStrictDecoding(t *testing.T) {
	t.Parallel()
	deepJSON := strings.Repeat("[", 33) + strings.Repeat("]", 33)
	okJSON := strings.Repeat("[", 32) + strings.Repeat("]", 32)
	tests := []struct {
		name   string
		bodies bodies
		// schemaless decodes into *any instead of *testOrder.
		schemaless bool
		kind       problem.Kind
		reason     string
		field      string
	}{
		{
			name:   "unknown field",
			bodies: same(map[string]any{"id": "a", "bogus": int64(1)}),
			kind:   problem.Invalid, reason: "unknown_field",
		},
		{
			name:   "case-variant name",
			bodies: same(map[string]any{"ID": "a"}),
			kind:   problem.Invalid, reason: "unknown_field",
		},
		{
			name:   "case-variant name beside the real one",
			bodies: same(map[string]any{"count": int64(1), "COUNT": int64(2)}),
			kind:   problem.Invalid, reason: "unknown_field",
		},
		{
			name:   "case-variant nested name",
			bodies: same(map[string]any{"items": []any{map[string]any{"sku": "a", "QTY": int64(1)}}}),
			kind:   problem.Invalid, reason: "unknown_field", field: "items[0].QTY",
		},
		{
			name: "duplicate key",
			bodies: bodies{
				"json":    []byte(`{"id":"a","id":"b"}`),
				"msgpack": []byte("\x82\xa2id\xa1a\xa2id\xa1b"),
				"cbor":    []byte("\xa2\x62id\x61a\x62id\x61b"),
			},
			kind: problem.Invalid, reason: "duplicate_key",
		},
		{
			name: "duplicate key schemaless",
			bodies: bodies{
				"json":    []byte(`{"a":1,"a":1}`),
				"msgpack": []byte("\x82\xa1a\x01\xa1a\x01"),
				"cbor":    []byte("\xa2\x61a\x01\x61a\x01"),
			},
			schemaless: true,
			kind:       problem.Invalid, reason: "duplicate_key",
		},
		{
			name: "negative zero and zero are one key",
			bodies: bodies{
				"msgpack": []byte("\x82\xcb\x00\x00\x00\x00\x00\x00\x00\x00\x01\xcb\x80\x00\x00\x00\x00\x00\x00\x00\x02"),
				"cbor":    []byte("\xa2\xf9\x00\x00\x01\xf9\x80\x00\x02"),
			},
			schemaless: true,
			kind:       problem.Invalid, reason: "duplicate_key",
		},
		{
			name: "trailing data",
			bodies: bodies{
				"json":    []byte(`{"id":"a"} {}`),
				"msgpack": []byte("\x81\xa2id\xa1a\xc0"),
				"cbor":    []byte("\xa1\x62id\x61a\xf6"),
			},
			kind: problem.Invalid, reason: "trailing",
		},
		{
			name: "trailing data schemaless",
			bodies: bodies{
				"json":    []byte(`1 2`),
				"msgpack": []byte("\x01\x02"),
				"cbor":    []byte("\x01\x02"),
			},
			schemaless: true,
			kind:       problem.Invalid, reason: "trailing",
		},
		{
			name: "invalid UTF-8",
			bodies: bodies{
				"json":    []byte("{\"id\":\"\xff\"}"),
				"msgpack": []byte("\x81\xa2id\xa1\xff"),
				"cbor":    []byte("\xa1\x62id\x61\xff"),
			},
			kind: problem.Invalid, reason: "utf8",
		},
		{
			name: "too deep",
			bodies: bodies{
				"json":    []byte(deepJSON),
				"msgpack": []byte(nested(33, "\x91", "\xc0")),
				"cbor":    []byte(nested(33, "\x81", "\xf6")),
			},
			schemaless: true,
			kind:       problem.Invalid, reason: "depth",
		},
		{
			name: "truncated",
			bodies: bodies{
				"json":    []byte(`{"id":`),
				"msgpack": []byte("\x81\xa2id"),
				"cbor":    []byte("\xa1\x62id"),
			},
			kind: problem.Invalid, reason: "truncated",
		},
		{
			name: "declared length past the end",
			bodies: bodies{
				"msgpack": []byte("\xdf\xff\xff\xff\xff"),
				"cbor":    []byte("\x9b\x00\x00\x00\x01\x00\x00\x00\x00"),
			},
			schemaless: true,
			kind:       problem.Invalid, reason: "length",
		},
		{
			name:   "wrong type",
			bodies: same(map[string]any{"count": "many"}),
			kind:   problem.Invalid, reason: "type", field: "count",
		},
		{
			name:   "wrong type nested",
			bodies: same(map[string]any{"items": []any{map[string]any{"sku": "a", "qty": int64(1)}, map[string]any{"sku": "b", "qty": "x"}}}),
			kind:   problem.Invalid, reason: "type", field: "items[1].qty",
		},
		{
			name:   "float for an integer",
			bodies: same(map[string]any{"count": 1.5}),
			kind:   problem.Invalid, reason: "type", field: "count",
		},
		{
			name:   "integer over int64",
			bodies: same(map[string]any{"count": uint64(1 << 63)}),
			kind:   problem.Unprocessable, reason: "int_range", field: "count",
		},
		{
			name:   "integer over int64 nested",
			bodies: same(map[string]any{"shipping": map[string]any{"sku": "s", "qty": uint64(math.MaxUint64)}}),
			kind:   problem.Unprocessable, reason: "int_range", field: "shipping.qty",
		},
		{
			name: "integer beyond 64 bits",
			bodies: bodies{
				"json": []byte(`{"n":100000000000000000000000000000}`),
				"cbor": []byte("\x3b\xff\xff\xff\xff\xff\xff\xff\xff"),
			},
			schemaless: true,
			kind:       problem.Unprocessable, reason: "int_range",
		},
		{
			name: "non-finite float",
			bodies: bodies{
				"json":    []byte(`1e400`),
				"msgpack": []byte("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
				"cbor":    []byte("\xf9\x7c\x00"),
			},
			schemaless: true,
			kind:       problem.Unprocessable, reason: "nonfinite",
		},
		{
			name: "empty body",
			bodies: bodies{
				"json":    []byte(""),
				"msgpack": []byte(""),
				"cbor":    []byte(""),
			},
			kind: problem.Invalid,
		},
		{
			name: "bytes map key",
			bodies: bodies{
				"msgpack": []byte("\x81\xc4\x01a\x01"),
				"cbor":    []byte("\xa1\x41a\x01"),
			},
			schemaless: true,
			kind:       problem.Unprocessable, reason: "unsupported_key",
		},
		{
			name:   "not a map",
			bodies: same([]any{int64(1)}),
			kind:   problem.Invalid, reason: "type",
		},
	}
	for _, tc := range tests {
		for _, c := range valueCodecs() {
			body, ok := tc.bodies[c.Name()]
			if !ok {
				continue
			}
			t.Run(tc.name+"/"+c.Name(), func(t *testing.T) {
				t.Parallel()
				var err error
				if tc.schemaless {
					var v any
					err = c.Decode(body, &v)
				} else {
					var v testOrder
					err = c.Decode(body, &v)
				}
				p, ok := problem.As(err)
				if !ok || p.Kind != tc.kind || (tc.reason != "" && p.Reason != tc.reason) {
					t.Fatalf("%s: Decode(%q) error = %v (%#v), want kind %v reason %q", c.Name(), body, err, p, tc.kind, tc.reason)
				}
				if tc.field != "" && p.Extra["field"] != tc.field {
					t.Errorf("%s: Decode(%q) field = %v, want %q (detail %q)", c.Name(), body, p.Extra["field"], tc.field, p.Detail)
				}
				if p.Detail == "" {
					t.Errorf("%s: Decode(%q) error has no detail", c.Name(), body)
				}
			})
		}
	}

	t.Run("depth 32 is fine", func(t *testing.T) {
		t.Parallel()
		for name, body := range (bodies{
			"json":    []byte(okJSON),
			"msgpack": []byte(nested(31, "\x91", "\x90")),
			"cbor":    []byte(nested(31, "\x81", "\x80")),
		}) {
			var v any
			for _, c := range valueCodecs() {
				if c.Name() == name {
					if err := c.Decode(body, &v); err != nil {
						t.Errorf("%s: Decode of 32 levels error: %v", name, err)
					}
				}
			}
		}
	})
}

func TestErrorDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		codec Codec
		body  string
		want  string
	}{
		{NewJSONCodec(), `{"count":"x"}`, `json: field count at offset 9: expected integer, got string`},
		{NewJSONCodec(), `{"QTY":1}`, `json: field QTY at offset 1: unknown field`},
		{NewJSONCodec(), `{"items":[{"QTY":1}]}`, `json: field items[0].QTY at offset 11: unknown field (names are case-sensitive: did you mean "qty"?)`},
		{NewMsgpackCodec(), "\x81\xa5items\x91\x81\xa3QTY\x01", `msgpack: field items[0].QTY at offset 9: unknown field (names are case-sensitive: did you mean "qty"?)`},
		{NewCBORCodec(), "\xa1\x65items\x81\xa1\x63QTY\x01", `cbor: field items[0].QTY at offset 9: unknown field (names are case-sensitive: did you mean "qty"?)`},
		{NewCBORCodec(), "\xa1\x6acreated_at\x61a", `cbor: field created_at at offset 12: "a" is not an RFC 3339 time`},
		{NewJSONCodec(), `{"count":9223372036854775808}`, `json: field count at offset 9: 9223372036854775808 is out of range for int64`},
		{NewMsgpackCodec(), "\x81\xa5count\xa1x", `msgpack: field count at offset 7: expected integer, got string`},
		{NewCBORCodec(), "\xa1\x65count\x61x", `cbor: field count at offset 7: expected integer, got string`},
	}
	for _, tc := range tests {
		var v testOrder
		err := tc.codec.Decode([]byte(tc.body), &v)
		if p, ok := problem.As(err); !ok || p.Detail != tc.want {
			t.Errorf("%s: Decode(%q) error = %v, want detail %q", tc.codec.Name(), tc.body, err, tc.want)
		}
	}
}

func TestGobCodec(t *testing.T) {
	t.Parallel()
	order := sampleOrder()
	data, err := NewGobCodec(nil).Marshal(order)
	if err != nil {
		t.Fatalf("Marshal error: %v", err)
	}
	t.Run("schemaless refused", func(t *testing.T) {
		t.Parallel()
		var v any
		if err := NewGobCodec(testVetter).Decode(data, &v); !problem.Is(err, problem.UnsupportedMedia) {
			t.Errorf("Decode into any error = %v, want unsupported media", err)
		}
		if _, err := NewGobCodec(testVetter).Marshal(map[string]any{"a": int64(1)}); !problem.Is(err, problem.NotAcceptable) {
			t.Errorf("Marshal of a map error = %v, want not acceptable", err)
		}
	})
	t.Run("no check refuses", func(t *testing.T) {
		t.Parallel()
		var v testOrder
		if err := NewGobCodec(nil).Decode(data, &v); !problem.Is(err, problem.UnsupportedMedia) {
			t.Errorf("Decode without a check error = %v, want unsupported media", err)
		}
	})
	t.Run("check decides", func(t *testing.T) {
		t.Parallel()
		var v testOrder
		tight := gobcheck.NewVetter(gobcheck.Limits{MaxBytes: 16})
		if err := NewGobCodec(tight).Decode(data, &v); err == nil {
			t.Errorf("Decode of a %d-byte body under a 16-byte limit succeeded, want the vetter's refusal", len(data))
		}
	})
	t.Run("trailing", func(t *testing.T) {
		t.Parallel()
		var v testOrder
		body := append(bytes.Clone(data), 0x01)
		err := NewGobCodec(testVetter).Decode(body, &v)
		if p, ok := problem.As(err); !ok || p.Reason != "trailing" {
			t.Errorf("Decode with trailing data error = %v, want reason trailing", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		t.Parallel()
		var v testOrder
		if err := NewGobCodec(testVetter).Decode([]byte("\x03\xff\xff\xff"), &v); !problem.Is(err, problem.Invalid) {
			t.Errorf("Decode of garbage error = %v, want invalid", err)
		}
	})
	t.Run("one stream per body", func(t *testing.T) {
		t.Parallel()
		// Each body carries its own type description, so two bodies of the
		// same type decode independently.
		var a, b testOrder
		c := NewGobCodec(testVetter)
		if err := c.Decode(data, &a); err != nil {
			t.Fatal(err)
		}
		if err := c.Decode(data, &b); err != nil || b.ID != order.ID {
			t.Errorf("second Decode = %+v, %v", b, err)
		}
		var direct testOrder
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&direct); err != nil || direct.ID != order.ID {
			t.Errorf("encoding/gob reads the body as %+v, %v", direct, err)
		}
	})
}

// TestJSONTimesExact checks that a JSON time is read exactly or refused:
// the library's own parser would drop fractional digits past the ninth.
func TestJSONTimesExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want time.Time // zero: refused
	}{
		{"2024-02-29T23:59:58.123456789Z", time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)},
		{"2024-02-29T23:59:58.5+01:00", time.Date(2024, 2, 29, 22, 59, 58, 500000000, time.UTC)},
		{`2024-02-29T23:59:58\u002e5Z`, time.Date(2024, 2, 29, 23, 59, 58, 500000000, time.UTC)},
		{"2024-02-29T23:59:58.1234567891Z", time.Time{}},
		{"2024-02-29T23:59:58.Z", time.Time{}},
		{"2024-02-30T00:00:00Z", time.Time{}},
		{"2024-02-29t23:59:58z", time.Time{}},
	}
	for _, c := range []Codec{NewJSONCodec(), NewJSONCodec().Pretty()} {
		for _, tc := range tests {
			for _, body := range []string{`{"created_at":"` + tc.text + `"}`, `{"created_at":"` + tc.text + `","note":null}`} {
				var v testOrder
				err := c.Decode([]byte(body), &v)
				switch {
				case tc.want.IsZero() && !problem.Is(err, problem.Invalid):
					t.Errorf("Decode(%s) = %v, %v; want it refused", body, v.CreatedAt, err)
				case !tc.want.IsZero() && (err != nil || !v.CreatedAt.Equal(tc.want)):
					t.Errorf("Decode(%s) = %v, %v; want %v", body, v.CreatedAt, err, tc.want)
				}
			}
		}
	}
}

// An integer above math.MaxInt64 reads into a float field as the float
// nearest to it, wherever the float is, as JSON and CBOR read it: the
// MessagePack library alone would wrap it through int64 into a negative
// number. The caller's body is left as it was.
func TestMsgpackWideUintIntoFloat(t *testing.T) {
	type rec struct {
		F float64            `msgpack:"f"`
		P *float64           `msgpack:"p"`
		L []float64          `msgpack:"l"`
		M map[string]float64 `msgpack:"m"`
		I int64              `msgpack:"i"`
	}
	u64 := func(u uint64) []byte { return binary.BigEndian.AppendUint64([]byte{0xcf}, u) }
	var body []byte
	body = append(body, 0x85)
	body = append(append(body, 0xa1, 'f'), u64(math.MaxUint64)...)
	body = append(append(body, 0xa1, 'p'), u64(1<<63)...)
	body = append(append(append(body, 0xa1, 'l', 0x92), u64(1<<63+1<<11)...), 0x01)
	body = append(append(body, 0xa1, 'm', 0x81, 0xa1, 'k'), u64(math.MaxUint64)...)
	body = append(append(body, 0xa1, 'i'), u64(7)...)
	sent := bytes.Clone(body)
	var got rec
	if err := NewMsgpackCodec().Decode(body, &got); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got.F != 0x1p64 || got.P == nil || *got.P != 0x1p63 || !slices.Equal(got.L, []float64{0x1p63 + 0x1p11, 1}) ||
		got.M["k"] != 0x1p64 || got.I != 7 {
		t.Errorf("decoded %+v (p %v), want f 2^64, p 2^63, l [2^63+2^11 1], m.k 2^64, i 7", got, got.P)
	}
	if !bytes.Equal(body, sent) {
		t.Errorf("Decode changed the caller's body")
	}
}

// A CBOR time is not text: tag 0 on a string field is refused as tag 1
// is, wherever the field is, while a time field takes either.
func TestCBORTimeIsNotAString(t *testing.T) {
	type rec struct {
		S string            `cbor:"s"`
		L []string          `cbor:"l"`
		M map[string]string `cbor:"m"`
		T *time.Time        `cbor:"t"`
	}
	tag0 := append([]byte{0xc0, 0x74}, "2026-01-01T00:00:00Z"...)
	tag1 := []byte{0xc1, 0x05}
	text := append([]byte{0x74}, "2026-01-01T00:00:00Z"...)
	body := func(s, l, m, tm []byte) []byte {
		b := append([]byte{0xa4, 0x61, 's'}, s...)
		b = append(append(b, 0x61, 'l', 0x81), l...)
		b = append(append(b, 0x61, 'm', 0xa1, 0x61, 'k'), m...)
		return append(append(b, 0x61, 't'), tm...)
	}
	c := NewCBORCodec()
	for name, b := range map[string][]byte{
		"tag 0 on a string":          body(tag0, text, text, tag0),
		"tag 1 on a string":          body(tag1, text, text, tag0),
		"tag 0 on an array's string": body(text, tag0, text, tag1),
		"tag 0 on a map's string":    body(text, text, tag0, tag0),
	} {
		var got rec
		err := c.Decode(b, &got)
		if !problem.Is(err, problem.Invalid) || !strings.Contains(err.Error(), "got time") {
			t.Errorf("%s: Decode = %v, want a 400 saying it got a time", name, err)
		}
	}
	var got rec
	if err := c.Decode(body(text, text, text, tag0), &got); err != nil || got.S != "2026-01-01T00:00:00Z" || got.T == nil {
		t.Errorf("text on strings, tag 0 on the time: %+v, %v", got, err)
	}
}
