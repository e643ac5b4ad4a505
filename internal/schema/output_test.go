package schema

import (
	"bytes"
	"encoding/gob"
	"go/format"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
)

// OrderClient is what a Go client writes by hand for order version 2, the
// way GoSource prints it.
type OrderClient struct {
	AmountCents int64
	Attrs       map[string]string
	Blob        *[]byte
	Channel     string
	Currency    string
	Customer    string
	Items       []OrderClientItem
	Note        *string
	Paid        bool
	PlacedAt    time.Time
}

type OrderClientItem struct {
	Qty int64
	Sku string
}

func TestGobWithAClientStruct(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, orderV1, orderV2)
	v := s.Latest()
	note := "ring twice"
	client := OrderClient{
		AmountCents: 1 << 60, Attrs: map[string]string{"a": "b"}, Channel: "app", Currency: "USD",
		Customer: "c@d.ef", Items: []OrderClientItem{{Qty: 3, Sku: "x"}}, Note: &note, Paid: true,
		PlacedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	// Client → service: the client's gob decodes into the wire struct.
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(client); err != nil {
		t.Fatal(err)
	}
	w := v.New()
	if err := gob.NewDecoder(&buf).Decode(w); err != nil {
		t.Fatalf("decoding a client's gob into the wire struct: %v", err)
	}
	rec, err := v.Validate(w, true)
	if err != nil {
		t.Fatalf("Validate: %v %v", err, fieldErrs(err))
	}
	got, _ := json.Marshal(rec)
	want, _ := json.Marshal(client)
	wantJSON := strings.NewReplacer(`"AmountCents"`, `"amount_cents"`, `"Attrs"`, `"attrs"`, `"Blob"`, `"blob"`, `"Channel"`, `"channel"`,
		`"Currency"`, `"currency"`, `"Customer"`, `"customer"`, `"Items"`, `"items"`, `"Note"`, `"note"`, `"Paid"`, `"paid"`,
		`"PlacedAt"`, `"placed_at"`, `"Qty"`, `"qty"`, `"Sku"`, `"sku"`).Replace(string(want))
	var a, b any
	_ = json.Unmarshal(got, &a)
	_ = json.Unmarshal([]byte(wantJSON), &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("client gob read as\n%s\nwant\n%s", got, wantJSON)
	}
	// Service → client: the record struct's gob decodes into the client's.
	buf.Reset()
	if err := gob.NewEncoder(&buf).Encode(rec); err != nil {
		t.Fatal(err)
	}
	var back OrderClient
	if err := gob.NewDecoder(&buf).Decode(&back); err != nil {
		t.Fatalf("decoding the service's gob into the client struct: %v", err)
	}
	if !reflect.DeepEqual(back, client) {
		t.Fatalf("client read back %+v, want %+v", back, client)
	}
}

func TestGoSource(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`"o":{"type":"object","description":"An object.\nTwo lines.","fields":{"o":{"type":"object","fields":{"x":{"type":"int"}}}}},"o_o":{"type":"object","fields":{"z":{"type":"bool"}}},"t_o":{"type":"array","items":{"type":"object","fields":{"y":{"type":"string","validate":"oneof=\"a\" b"}}}}`))
	src := s.Latest().GoSource()
	formatted, err := format.Source(src)
	if err != nil {
		t.Fatalf("GoSource is not valid Go: %v\n%s", err, src)
	}
	if !bytes.Equal(formatted, src) {
		t.Fatalf("GoSource is not gofmt'd:\n%s", src)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "t.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for name := range f.Scope.Objects {
		types = append(types, name)
	}
	for _, want := range []string{"T", "TO", "TOO", "TOO2", "TTO"} {
		if f.Scope.Lookup(want) == nil {
			t.Errorf("GoSource declares %v, want a type %s:\n%s", types, want, src)
		}
	}
	for _, want := range []string{"// An object.\n\t// Two lines.\n\tO ", "OO TOO ", "[]TTO `json:\"t_o\"", "TOO2 `json:\"o\"", "validate:\"oneof=\\\"a\\\" b\"`"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("GoSource lacks %q:\n%s", want, src)
		}
	}

	_, order := mustRegister(t, orderV1, orderV2)
	osrc := string(order.Latest().GoSource())
	for _, want := range []string{"package order", "import \"time\"", "type Order struct", "Items       []OrderItems", "Note        *string", "PlacedAt    time.Time"} {
		if !strings.Contains(osrc, want) {
			t.Errorf("order GoSource lacks %q:\n%s", want, osrc)
		}
	}
}

func TestJSONSchema(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, orderV1, orderV2)
	b, err := s.Latest().JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JSONSchema is not JSON: %v", err)
	}
	get := func(path ...string) any {
		var cur any = doc
		for _, p := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[p]
		}
		return cur
	}
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"$schema"}, "https://json-schema.org/draft/2020-12/schema"},
		{[]string{"type"}, "object"},
		{[]string{"additionalProperties"}, false},
		{[]string{"required"}, []any{"amount_cents", "attrs", "currency", "customer", "items", "paid", "placed_at"}},
		{[]string{"properties", "customer", "format"}, "email"},
		{[]string{"properties", "customer", "minLength"}, 1.0},
		{[]string{"properties", "amount_cents", "type"}, "integer"},
		{[]string{"properties", "amount_cents", "minimum"}, 0.0},
		{[]string{"properties", "currency", "minLength"}, 3.0},
		{[]string{"properties", "currency", "maxLength"}, 3.0},
		{[]string{"properties", "channel", "default"}, "web"},
		{[]string{"properties", "note", "type"}, []any{"string", "null"}},
		{[]string{"properties", "blob", "contentEncoding"}, "base64"},
		{[]string{"properties", "placed_at", "format"}, "date-time"},
		{[]string{"properties", "items", "maxItems"}, 100.0},
		{[]string{"properties", "items", "items", "properties", "qty", "minimum"}, 1.0},
		{[]string{"properties", "items", "items", "required"}, []any{"qty", "sku"}},
		{[]string{"properties", "attrs", "additionalProperties", "type"}, "string"},
		{[]string{"properties", "items", "x-ferry-validate"}, "max=100,dive"},
	}
	for _, c := range checks {
		if got := get(c.path...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("JSONSchema %v = %#v, want %#v", c.path, got, c.want)
		}
	}
}

func TestGoPackage(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"order", "order"},
		{"line_item", "lineitem"},
		{"func", "funcschema"},
		{"type", "typeschema"},
		{"go_to", "gotoschema"},
		{"map", "mapschema"},
		{"main", "mainschema"}, // package main needs a func main to build
		{"ma_in", "mainschema"},
		{"string", "string"}, // predeclared, not a keyword: a valid package name
	}
	for _, tc := range tests {
		pkg := goPackage(tc.name)
		if pkg != tc.want {
			t.Errorf("goPackage(%q) = %q, want %q", tc.name, pkg, tc.want)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "p.go", "package "+pkg+"\n", 0); err != nil {
			t.Errorf("package %s does not parse: %v", pkg, err)
		}
	}
}

// The JSON Schema says what the server enforces of required, unique and
// the case rules.
func TestJSONSchemaAgreesWithRules(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`
		"i": {"type":"int","validate":"required"},
		"b": {"type":"bool","optional":true,"validate":"required"},
		"y": {"type":"bytes","validate":"required"},
		"t": {"type":"time","validate":"required"},
		"u": {"type":"array","validate":"unique","items":{"type":"int"}},
		"uo": {"type":"array","validate":"unique","items":{"type":"object","fields":{"x":{"type":"int","optional":true}}}},
		"lc": {"type":"string","validate":"lowercase"}`))
	b, err := s.Latest().JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.Properties
	for _, c := range []struct {
		field, key string
		want       any
	}{
		{"i", "not", map[string]any{"const": float64(0)}},
		{"b", "enum", []any{true, nil}}, // optional: null too
		{"y", "minLength", float64(1)},
		{"t", "not", map[string]any{"const": "0001-01-01T00:00:00Z"}},
		{"u", "uniqueItems", true},
		{"uo", "uniqueItems", nil},
		{"lc", "pattern", "^[^A-Z]+$"},
	} {
		if got := p[c.field][c.key]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s.%s = %v, want %v (%v)", c.field, c.key, got, c.want, p[c.field])
		}
	}
}
