package schema

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
)

// fields wraps field definitions into a version-1 definition of schema t.
func fields(js string) string {
	return `{"name":"t","version":1,"fields":{` + js + `}}`
}

func TestRegisterInvalid(t *testing.T) {
	t.Parallel()
	deep := `"v":{"type":"int"}`
	for range 31 {
		deep = `"o":{"type":"object","fields":{` + deep + `}}`
	}
	deeper := `"o":{"type":"object","fields":{` + deep + `}}`
	tests := []struct {
		name string
		def  string
		want []string // substrings of one listed error
	}{
		{"schema name", `{"name":"Order","version":1,"fields":{"x":{"type":"int"}}}`, []string{"name", "^[a-z]"}},
		{"schema name too long", `{"name":"` + strings.Repeat("a", 65) + `","version":1,"fields":{"x":{"type":"int"}}}`, []string{"name"}},
		{"version 0", `{"name":"t","version":0,"fields":{"x":{"type":"int"}}}`, []string{"version"}},
		{"unknown mode", `{"name":"t","version":1,"compatibility":"SOMETIMES","fields":{"x":{"type":"int"}}}`, []string{"compatibility", "SOMETIMES"}},
		{"migrate on v1", `{"name":"t","version":1,"fields":{"x":{"type":"int"}},"migrate":[{"op":"add","field":"x"}]}`, []string{"migrate", "version 1"}},
		{"no fields", fields(``), []string{"no fields"}},
		{"field name upper", fields(`"Qty":{"type":"int"}`), []string{"field 'Qty'", "must match"}},
		{"field name dash", fields(`"a-b":{"type":"int"}`), []string{"field 'a-b'"}},
		{"field name digit", fields(`"1a":{"type":"int"}`), []string{"field '1a'"}},
		{"go name collision", fields(`"a1":{"type":"int"},"a_1":{"type":"int"}`), []string{"'a1'", "'a_1'", "A1"}},
		{"nested go name collision", fields(`"o":{"type":"object","fields":{"b2":{"type":"int"},"b_2":{"type":"int"}}}`), []string{"'o.b_2'", "B2"}},
		{"unknown type", fields(`"x":{"type":"integer"}`), []string{"field 'x'", "unknown type \"integer\""}},
		{"null field", fields(`"x":null`), []string{"field 'x'", "null"}},
		{"items on int", fields(`"x":{"type":"int","items":{"type":"int"}}`), []string{"only an array has items"}},
		{"array without items", fields(`"x":{"type":"array"}`), []string{"needs items"}},
		{"map without values", fields(`"x":{"type":"map"}`), []string{"needs values"}},
		{"object without fields", fields(`"x":{"type":"object"}`), []string{"needs fields"}},
		{"empty object", fields(`"x":{"type":"object","fields":{}}`), []string{"at least one field"}},
		{"optional items", fields(`"x":{"type":"array","items":{"type":"int","optional":true}}`), []string{"x[]", "optional"}},
		{"optional with default", fields(`"x":{"type":"int","optional":true,"default":1}`), []string{"field 'x'", "optional", "default"}},
		{"nesting 33", fields(deeper), []string{"deeper than 32"}},
		{"unknown rule", fields(`"x":{"type":"int","validate":"foo"}`), []string{"field 'x'", "unknown rule 'foo'"}},
		{"unknown rule after dive", fields(`"x":{"type":"array","validate":"dive,foo","items":{"type":"int"}}`), []string{"field 'x'", "unknown rule 'foo'"}},
		{"unknown rule in array element object", fields(`"items":{"type":"array","items":{"type":"object","fields":{"qty":{"type":"int","validate":"min=1,bar"}}}}`), []string{"field 'items[].qty'", "unknown rule 'bar'"}},
		{"unknown rule in items", fields(`"x":{"type":"array","items":{"type":"int","validate":"baz"}}`), []string{"field 'x'", "unknown rule 'baz'"}},
		{"unknown rule in or", fields(`"x":{"type":"string","validate":"email|qux"}`), []string{"unknown rule 'qux'"}},
		{"empty rule part", fields(`"x":{"type":"string","validate":"min=1,,max=2"}`), []string{"field 'x'", "empty part"}},
		{"rule with space", fields(`"x":{"type":"string","validate":"min=1, max=2"}`), []string{"unknown rule ' max'"}},
		{"bad param int", fields(`"x":{"type":"int","validate":"min=abc"}`), []string{"field 'x'", "'min=abc'", "int"}},
		{"bad param on bool", fields(`"x":{"type":"bool","validate":"min=1"}`), []string{"field 'x'", "'min=1'", "bool"}},
		{"bad param after a rule every sample fails", fields(`"x":{"type":"int","validate":"gt=5,lt=x"}`), []string{"field 'x'", "'lt=x'", "int"}},
		{"bad param after a string rule", fields(`"x":{"type":"string","validate":"min=5,max=abc"}`), []string{"field 'x'", "'max=abc'", "string"}},
		{"bad param after isdefault", fields(`"x":{"type":"bytes","validate":"isdefault,gt=0s"}`), []string{"field 'x'", "'gt=0s'", "bytes"}},
		{"bad param after dive and a rule", fields(`"x":{"type":"array","validate":"dive,gt=5,lt=x","items":{"type":"int"}}`), []string{"field 'x'", "'lt=x'"}},
		{"bad param optional", fields(`"x":{"type":"int","optional":true,"validate":"max=1.5"}`), []string{"field 'x'", "'max=1.5'", "optional int"}},
		{"bad param after dive", fields(`"x":{"type":"array","validate":"dive,len=x","items":{"type":"string"}}`), []string{"field 'x'", "len=x"}},
		{"bad param deep in array", fields(`"x":{"type":"array","items":{"type":"object","fields":{"b":{"type":"bool","validate":"gt=1"}}}}`), []string{"field 'x[].b'", "'gt=1'", "bool"}},
		{"email on int", fields(`"x":{"type":"int","validate":"email"}`), []string{"field 'x'", "'email' applies to strings"}},
		{"uuid on int elements", fields(`"x":{"type":"array","validate":"dive,uuid","items":{"type":"int"}}`), []string{"field 'x'", "'uuid' applies to strings, not to int"}},
		{"dive on scalar", fields(`"x":{"type":"int","validate":"dive,min=1"}`), []string{"field 'x'"}},
		{"eqfield missing", fields(`"x":{"type":"int","validate":"eqfield=y"}`), []string{"field 'x'", "eqfield=y", "does not exist"}},
		{"required_with missing", fields(`"x":{"type":"int","validate":"required_with=y z"},"y":{"type":"int"}`), []string{"field 'x'", "required_with=y z"}},
		{"both dive and items rule", fields(`"x":{"type":"array","validate":"dive,min=1","items":{"type":"int","validate":"max=3"}}`), []string{"field 'x'", "not both"}},
		{"backquote in rule", fields("\"x\":{\"type\":\"string\",\"validate\":\"oneof=a`b\"}"), []string{"backquote"}},
		{"default wrong type", fields(`"x":{"type":"int","default":"3"}`), []string{"field 'x'", "default", "integer", "string"}},
		{"default fraction for int", fields(`"x":{"type":"int","default":1.5}`), []string{"field 'x'", "default"}},
		{"default null", fields(`"x":{"type":"string","default":null}`), []string{"field 'x'", "null"}},
		{"default bad time", fields(`"x":{"type":"time","default":"yesterday"}`), []string{"field 'x'", "RFC 3339"}},
		{"default bad base64", fields(`"x":{"type":"bytes","default":"%%%"}`), []string{"field 'x'", "base64"}},
		{"default object missing field", fields(`"x":{"type":"object","default":{},"fields":{"a":{"type":"int"}}}`), []string{"field 'x'", "a is missing"}},
		{"default object unknown field", fields(`"x":{"type":"object","default":{"a":1,"b":2},"fields":{"a":{"type":"int"}}}`), []string{"field 'x'", "unknown field"}},
		{"default breaks rule", fields(`"x":{"type":"string","validate":"len=3","default":"EU"}`), []string{"field 'x'", "\"EU\"", "len=3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry(newMemStore())
			def, err := ParseDefinition([]byte(tc.def), false)
			if err != nil {
				t.Fatalf("ParseDefinition(%s): %v", tc.def, err)
			}
			_, err = r.Register(context.Background(), def, false)
			if !problem.Is(err, problem.Invalid) {
				t.Fatalf("Register(%s) = %v, want a problem.Invalid", tc.def, err)
			}
			if errs := problemLists(err); !containsAll(errs, tc.want...) {
				t.Fatalf("Register(%s) errors = %q, want one containing %q", tc.def, errs, tc.want)
			}
			if _, err := r.Schema("t"); err == nil {
				t.Fatalf("Register(%s) failed but the schema exists", tc.def)
			}
		})
	}
}

// TestRegisterListsEveryError checks that one registration reports all
// faults at once.
func TestRegisterListsEveryError(t *testing.T) {
	t.Parallel()
	r := NewRegistry(newMemStore())
	def := mustParse(t, fields(`"a":{"type":"int","validate":"foo"},"b":{"type":"nope"},"C":{"type":"int"}`))
	_, err := r.Register(context.Background(), def, false)
	errs := problemLists(err)
	for _, want := range []string{"unknown rule 'foo'", "unknown type \"nope\"", "field 'C'"} {
		if !containsAll(errs, want) {
			t.Errorf("errors = %q, want one containing %q", errs, want)
		}
	}
}

func TestRegisterAcceptsRules(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, def string }{
		{"cross-field by schema name", `"password":{"type":"string"},"confirm":{"type":"string","validate":"eqfield=password"}`},
		{"cross-field by Go name", `"password":{"type":"string"},"confirm":{"type":"string","validate":"eqfield=Password"}`},
		{"required_if", `"status":{"type":"string"},"paid_at":{"type":"time","optional":true,"validate":"required_if=status paid"}`},
		{"map keys", `"m":{"type":"map","validate":"dive,keys,min=1,endkeys,required","values":{"type":"string"}}`},
		{"nested arrays", `"m":{"type":"array","items":{"type":"array","items":{"type":"int","validate":"min=1"}}}`},
		{"aliases and or", `"c":{"type":"string","validate":"omitempty,iscolor|email"}`},
		{"time rules", `"t":{"type":"time","validate":"required"}`},
		{"unique by field", `"l":{"type":"array","validate":"unique=sku","items":{"type":"object","fields":{"sku":{"type":"string"}}}}`},
		{"int64 default beyond 2^53", `"n":{"type":"int","default":9007199254740993}`},
		{"two bounds", `"n":{"type":"int","validate":"gt=5,lt=10"},"s":{"type":"string","validate":"required,min=2,max=8,alphanum"}`},
		{"bounds on elements and the container", `"l":{"type":"array","validate":"min=1,max=100,dive,gt=5,lt=10","items":{"type":"int"}}`},
		{"map keys and values", `"m":{"type":"map","validate":"max=3,dive,keys,min=1,max=5,endkeys,required,min=2","values":{"type":"string"}}`},
		{"omitempty then bounds", `"s":{"type":"string","optional":true,"validate":"omitempty,min=3,max=5"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry(newMemStore())
			if _, err := r.Register(context.Background(), mustParse(t, fields(tc.def)), false); err != nil {
				t.Fatalf("Register(%s) = %v %q, want success", tc.def, err, problemLists(err))
			}
		})
	}
}

func TestCompiledType(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`
		"id":{"type":"string"},
		"amount_cents":{"type":"int","validate":"gte=0"},
		"rate":{"type":"float"},
		"ok":{"type":"bool"},
		"at":{"type":"time"},
		"raw":{"type":"bytes"},
		"note":{"type":"string","optional":true},
		"addr":{"type":"object","fields":{"zip":{"type":"string"}}},
		"maybe":{"type":"object","optional":true,"fields":{"z":{"type":"int"}}},
		"tags":{"type":"array","items":{"type":"string"}},
		"attrs":{"type":"map","values":{"type":"int"}}`))
	v := s.Latest()
	typ := v.Type()
	want := []struct {
		goName string
		typ    string
		tag    string
	}{
		{"Addr", "struct { Zip string \"json:\\\"zip\\\" msgpack:\\\"zip\\\" cbor:\\\"zip\\\" validate:\\\"-\\\"\" }", `json:"addr" msgpack:"addr" cbor:"addr" validate:"-"`},
		{"AmountCents", "int64", `json:"amount_cents" msgpack:"amount_cents" cbor:"amount_cents" validate:"gte=0"`},
		{"At", "time.Time", `json:"at" msgpack:"at" cbor:"at" validate:"-"`},
		{"Attrs", "map[string]int64", `json:"attrs" msgpack:"attrs" cbor:"attrs" validate:"-"`},
		{"Id", "string", `json:"id" msgpack:"id" cbor:"id" validate:"-"`},
		{"Maybe", "*struct { Z int64 \"json:\\\"z\\\" msgpack:\\\"z\\\" cbor:\\\"z\\\" validate:\\\"-\\\"\" }", `json:"maybe" msgpack:"maybe" cbor:"maybe" validate:"-"`},
		{"Note", "*string", `json:"note" msgpack:"note" cbor:"note" validate:"-"`},
		{"Ok", "bool", `json:"ok" msgpack:"ok" cbor:"ok" validate:"-"`},
		{"Rate", "float64", `json:"rate" msgpack:"rate" cbor:"rate" validate:"-"`},
		{"Raw", "[]uint8", `json:"raw" msgpack:"raw" cbor:"raw" validate:"-"`},
		{"Tags", "[]string", `json:"tags" msgpack:"tags" cbor:"tags" validate:"-"`},
	}
	if typ.NumField() != len(want) {
		t.Fatalf("Type() has %d fields, want %d", typ.NumField(), len(want))
	}
	for i, w := range want {
		f := typ.Field(i)
		if f.Name != w.goName || f.Type.String() != w.typ || string(f.Tag) != w.tag {
			t.Errorf("field %d = %s %s `%s`, want %s %s `%s`", i, f.Name, f.Type, f.Tag, w.goName, w.typ, w.tag)
		}
	}
	// The wire struct has the same names with pointers for every scalar.
	wt := v.WireType()
	for name, want := range map[string]string{"Id": "*string", "AmountCents": "*int64", "At": "*time.Time", "Raw": "[]uint8", "Tags": "[]string", "Note": "*string"} {
		f, _ := wt.FieldByName(name)
		if f.Type.String() != want {
			t.Errorf("wire field %s has type %s, want %s", name, f.Type, want)
		}
	}
	if got := reflect.TypeOf(v.New()); got != reflect.PointerTo(wt) {
		t.Errorf("New() is a %v, want a pointer to the wire struct", got)
	}
}

// TestTypeCache checks that registering the same fields again, dry runs
// included, compiles no new type.
func TestTypeCache(t *testing.T) {
	t.Parallel()
	r := NewRegistry(newMemStore())
	def := fields(`"x":{"type":"int","validate":"min=1"},"o":{"type":"object","fields":{"y":{"type":"string"}}}`)
	var types []reflect.Type
	for i := range 5 {
		d := mustParse(t, def)
		d.Name = fmt.Sprintf("t%d", i)
		v, err := r.Register(context.Background(), d, i%2 == 0)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, v.Type())
	}
	for i, typ := range types {
		if typ != types[0] {
			t.Errorf("registration %d compiled type %v, want the cached %v", i, typ, types[0])
		}
	}
	if n := len(r.types); n != 1 {
		t.Errorf("the cache holds %d compilations, want 1", n)
	}
}

func TestRegisterConflict(t *testing.T) {
	t.Parallel()
	base := `{"name":"t","version":1,"compatibility":"FULL","fields":{"x":{"type":"int"}}}`
	tests := []struct {
		name string
		def  string
		want []string
	}{
		{"first version not 1", `{"name":"u","version":2,"fields":{"x":{"type":"int"}}}`, []string{"version 2 is not next", "first version is 1"}},
		{"skips a version", `{"name":"t","version":3,"fields":{"x":{"type":"int"}}}`, []string{"version 3 is not next", "latest version of 't' is 1"}},
		{"same version again", base, []string{"version 1 is not next"}},
		{"mode differs", `{"name":"t","version":2,"compatibility":"NONE","fields":{"x":{"type":"int"}}}`, []string{"NONE", "FULL"}},
		{"field appears", `{"name":"t","version":2,"fields":{"x":{"type":"int"},"y":{"type":"int","optional":true}}}`, []string{"field 'y' is new in version 2"}},
		{"field disappears", `{"name":"t","version":2,"fields":{"y":{"type":"int","optional":true}},"migrate":[{"op":"add","field":"y"}]}`, []string{"field 'x' of version 1 is not in version 2"}},
		{"type changes", `{"name":"t","version":2,"fields":{"x":{"type":"string"}}}`, []string{"field 'x'", "int to string without a retype"}},
		{"not a widening", `{"name":"t","version":2,"fields":{"x":{"type":"bool"}},"migrate":[{"op":"retype","field":"x","to":"bool"}]}`, []string{"field 'x': int → bool is not a widening"}},
		{"not a widening after a retype", `{"name":"t","version":2,"fields":{"x":{"type":"string"}},"migrate":[{"op":"retype","field":"x","to":"string"},{"op":"retype","field":"x","to":"float"}]}`, []string{"field 'x': string → float is not a widening"}},
		{"rename missing", `{"name":"t","version":2,"fields":{"x":{"type":"int"},"z":{"type":"int"}},"migrate":[{"op":"rename","from":"y","to":"z"}]}`, []string{"rename y → z", "no field 'y'"}},
		{"add existing", `{"name":"t","version":2,"fields":{"x":{"type":"int"}},"migrate":[{"op":"add","field":"x","default":1}]}`, []string{"'x' already exists"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := mustRegister(t, base)
			_, err := r.Register(context.Background(), mustParse(t, tc.def), false)
			if !problem.Is(err, problem.Conflict) {
				t.Fatalf("Register(%s) = %v, want a problem.Conflict", tc.def, err)
			}
			if v := problemLists(err); !containsAll(v, tc.want...) {
				t.Fatalf("Register(%s) violations = %q, want one containing %q", tc.def, v, tc.want)
			}
			if v := problemLists(err); strings.HasPrefix(tc.name, "not a widening") && strings.Contains(strings.Join(v, "\n"), "without a retype step") {
				t.Errorf("a retype that is not a widening is also said to lack a step: %q", v)
			}
		})
	}
}

func TestStepPathsIntoContainers(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"t","version":1,"fields":{"items":{"type":"array","items":{"type":"object","fields":{"sku":{"type":"string"}}}},"m":{"type":"map","values":{"type":"object","fields":{"a":{"type":"int"}}}}}}`
	tests := []struct{ name, steps string }{
		{"rename into array", `[{"op":"rename","from":"items.sku","to":"items.code"}]`},
		{"add into map", `[{"op":"add","field":"m.b","default":1}]`},
		{"bad path", `[{"op":"remove","field":"items..sku"}]`},
		{"unknown op", `[{"op":"drop","field":"items"}]`},
		{"retype to object", `[{"op":"retype","field":"items","to":"object"}]`},
		{"rename with default", `[{"op":"rename","from":"items","to":"list","default":1}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := mustRegister(t, v1)
			def := mustParse(t, `{"name":"t","version":2,"fields":{"items":{"type":"array","items":{"type":"object","fields":{"sku":{"type":"string"}}}},"m":{"type":"map","values":{"type":"object","fields":{"a":{"type":"int"}}}}},"migrate":`+tc.steps+`}`)
			_, err := r.Register(context.Background(), def, false)
			if !problem.Is(err, problem.Invalid) {
				t.Fatalf("Register with steps %s = %v %q, want a problem.Invalid", tc.steps, err, problemLists(err))
			}
		})
	}
}

func TestChangelog(t *testing.T) {
	t.Parallel()
	v3 := `{"name":"order","version":3,"fields":{
 "customer":{"type":"string","validate":"required,email"},
 "amount_cents":{"type":"float","validate":"gte=0"},
 "currency":{"type":"string","validate":"len=3","default":"EUR"},
 "placed_at":{"type":"time"},
 "paid":{"type":"bool"},
 "note":{"type":"string"},
 "channel":{"type":"string","default":"web"},
 "items":{"type":"array","validate":"max=50,dive","items":{"type":"object","fields":{
   "sku":{"type":"string","validate":"required"},"qty":{"type":"int","validate":"min=1"}}}},
 "attrs":{"type":"map","values":{"type":"string"}},
 "blob":{"type":"bytes","optional":true}},
 "migrate":[{"op":"retype","field":"amount_cents","to":"float"}]}`
	r, _ := mustRegister(t, orderV1, orderV2)
	if err := r.SetCompatibility(context.Background(), "order", None); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(context.Background(), mustParse(t, v3), false); err != nil {
		t.Fatalf("Register v3: %v %q", err, problemLists(err))
	}
	s, _ := r.Schema("order")
	got := s.Changelog()
	want := []ChangelogEntry{
		{1, []string{"created"}},
		{2, []string{"renamed amount to amount_cents", `added currency (default "EUR")`, `added channel (default "web")`, "removed legacy_code"}},
		{3, []string{"changed amount_cents from int to float", "gave currency the default \"EUR\"", `changed the rule of items from "max=100,dive" to "max=50,dive"`, "made note required"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Changelog() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	r := NewRegistry(st)
	v, err := r.Register(context.Background(), mustParse(t, orderV1), true)
	if err != nil || v == nil || v.Number() != 1 {
		t.Fatalf("dry run = %v, %v; want version 1", v, err)
	}
	if _, err := r.Schema("order"); !problem.Is(err, problem.NotFound) {
		t.Fatalf("after a dry run Schema = %v, want not found", err)
	}
	if st.puts != 0 {
		t.Fatalf("a dry run stored %d versions", st.puts)
	}
	_, err = r.Register(context.Background(), mustParse(t, orderV2), true)
	if !problem.Is(err, problem.Conflict) {
		t.Fatalf("dry run of v2 before v1 = %v, want conflict", err)
	}
}

func TestDeprecate(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	r := NewRegistry(st)
	now := time.Date(2026, 5, 4, 3, 2, 1, 999, time.UTC)
	r.now = func() time.Time { return now }
	ctx := context.Background()
	for _, d := range []string{orderV1, orderV2} {
		if _, err := r.Register(ctx, mustParse(t, d), false); err != nil {
			t.Fatal(err)
		}
	}
	sunset := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	v, err := r.Deprecate(ctx, "order", 1, true, &sunset)
	if err != nil {
		t.Fatal(err)
	}
	at, ok := v.Deprecated()
	if !ok || !at.Equal(now.Truncate(time.Second)) {
		t.Fatalf("Deprecated() = %v, %v; want %v, true", at, ok, now.Truncate(time.Second))
	}
	if got, ok := v.Sunset(); !ok || !got.Equal(sunset) {
		t.Fatalf("Sunset() = %v, %v; want %v", got, ok, sunset)
	}
	// Marking again keeps the first time.
	now = now.Add(time.Hour)
	v, _ = r.Deprecate(ctx, "order", 1, true, nil)
	if at2, _ := v.Deprecated(); !at2.Equal(at) {
		t.Fatalf("deprecating again moved the time from %v to %v", at, at2)
	}
	if _, ok := v.Sunset(); ok {
		t.Fatal("a nil sunset did not clear the sunset")
	}
	// It persists.
	r2 := NewRegistry(st)
	if err := r2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	s2, _ := r2.Schema("order")
	v1, _ := s2.Version(1)
	if at2, ok := v1.Deprecated(); !ok || !at2.Equal(at) {
		t.Fatalf("after Load, Deprecated() = %v, %v; want %v", at2, ok, at)
	}
	if _, ok := s2.Latest().Deprecated(); ok {
		t.Fatal("version 2 is deprecated after Load")
	}
	v, _ = r.Deprecate(ctx, "order", 1, false, &sunset)
	if _, ok := v.Deprecated(); ok {
		t.Fatal("deprecated false did not clear it")
	}
	if _, err := r.Deprecate(ctx, "order", 3, true, nil); !problem.Is(err, problem.NotFound) {
		t.Fatalf("Deprecate of version 3 = %v, want not found", err)
	}
}

// TestStepDefaultKeepsRule refuses an add or remove step whose default
// fails the rule of the field it fills: every converted record would fail.
func TestStepDefaultKeepsRule(t *testing.T) {
	t.Parallel()
	base := `{"name":"t","version":1,"fields":{"a":{"type":"int"},"b":{"type":"int","validate":"min=10"}}}`
	tests := []struct {
		name, def string
		ok        bool
	}{
		{"add default fails the new rule",
			`{"name":"t","version":2,"fields":{"a":{"type":"int"},"b":{"type":"int","validate":"min=10"},"c":{"type":"int","validate":"min=5"}},"migrate":[{"op":"add","field":"c","default":1}]}`, false},
		{"add default keeps the new rule",
			`{"name":"t","version":2,"fields":{"a":{"type":"int"},"b":{"type":"int","validate":"min=10"},"c":{"type":"int","validate":"min=5"}},"migrate":[{"op":"add","field":"c","default":7}]}`, true},
		{"add default fails an email rule",
			`{"name":"t","version":2,"fields":{"a":{"type":"int"},"b":{"type":"int","validate":"min=10"},"d":{"type":"string","validate":"email"}},"migrate":[{"op":"add","field":"d","default":"notanemail"}]}`, false},
		{"remove default fails the old rule",
			`{"name":"t","version":2,"fields":{"a":{"type":"int"}},"migrate":[{"op":"remove","field":"b","default":3}]}`, false},
		{"remove default keeps the old rule",
			`{"name":"t","version":2,"fields":{"a":{"type":"int"}},"migrate":[{"op":"remove","field":"b","default":12}]}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := mustRegister(t, base)
			_, err := r.Register(context.Background(), mustParse(t, tc.def), false)
			if tc.ok {
				if err != nil {
					t.Fatalf("Register = %v, want it registered", err)
				}
				return
			}
			if !problem.Is(err, problem.Invalid) || !containsAll(problemLists(err), "fails the rule") {
				t.Fatalf("Register = %v (%q), want a problem.Invalid naming the rule the default fails", err, problemLists(err))
			}
		})
	}
}

// TestRemoveAfterRetypeDefault registers a version that retypes a field
// and then removes it, with a default: the default is checked against the
// rule the field had, read as the type it had, and never makes
// registration fail with anything but a problem.
func TestRemoveAfterRetypeDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, v1, v2 string
		ok           bool
	}{
		{"no rule, a whole default", `"n":{"type":"int"}`, `{"op":"retype","field":"n","to":"float"},{"op":"remove","field":"n","default":3}`, true},
		{"no rule, a fraction", `"n":{"type":"int"}`, `{"op":"retype","field":"n","to":"float"},{"op":"remove","field":"n","default":1.5}`, true},
		{"a rule the default keeps", `"n":{"type":"int","validate":"min=1"}`, `{"op":"retype","field":"n","to":"float"},{"op":"remove","field":"n","default":3}`, true},
		{"a rule the default breaks", `"n":{"type":"int","validate":"min=5"}`, `{"op":"retype","field":"n","to":"float"},{"op":"remove","field":"n","default":3}`, false},
		{"a rule, a default of another type", `"n":{"type":"int","validate":"min=1"}`, `{"op":"retype","field":"n","to":"string"},{"op":"remove","field":"n","default":"x"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry(newMemStore())
			if _, err := r.Register(context.Background(), mustParse(t, `{"name":"rr","version":1,"fields":{`+tc.v1+`,"k":{"type":"int"}}}`), false); err != nil {
				t.Fatal(err)
			}
			_, err := r.Register(context.Background(), mustParse(t, `{"name":"rr","version":2,"compatibility":"BACKWARD","fields":{"k":{"type":"int"}},"migrate":[`+tc.v2+`]}`), false)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Register = %v %q, want success", err, problemLists(err))
			case !tc.ok && (err == nil || problem.KindOf(err) == problem.Internal):
				t.Fatalf("Register = %v, want a problem", err)
			}
		})
	}
}

// TestDefaultMisfitMessages checks how a default that does not fit is
// worded: a field names itself once, and a value with no name of its own
// (the default itself, not a member of it) is not given an empty one.
func TestDefaultMisfitMessages(t *testing.T) {
	t.Parallel()
	const v1 = `{"name":"t","version":1,"fields":{"a":{"type":"int","validate":"min=0"},"r":{"type":"int"}}}`
	tests := []struct {
		name string
		defs []string
		want string
	}{
		{"wrong type", []string{fields(`"s":{"type":"int","default":"3"}`)},
			"field 's': the default does not fit: want an integer, got a string"},
		{"fraction for an int", []string{fields(`"s":{"type":"int","default":1.5}`)},
			"field 's': the default does not fit: want an integer, got a number"},
		{"out of range", []string{fields(`"s":{"type":"int","default":9223372036854775808}`)},
			"field 's': the default does not fit: the value is out of range for a 64-bit integer: 9223372036854775808"},
		{"object for an array", []string{fields(`"s":{"type":"array","items":{"type":"int"},"default":{}}`)},
			"field 's': the default does not fit: want an array, got an object"},
		{"number for a time", []string{fields(`"s":{"type":"time","default":3}`)},
			"field 's': the default does not fit: want a time (RFC 3339), got a number"},
		{"member of an object", []string{fields(`"s":{"type":"object","fields":{"a":{"type":"int"}},"default":{"a":"x"}}`)},
			"field 's': the default does not fit: field 'a': want an integer, got a string"},
		{"member out of range", []string{fields(`"s":{"type":"object","fields":{"a":{"type":"int"}},"default":{"a":9223372036854775808}}`)},
			"field 's': the default does not fit: a is out of range for a 64-bit integer: 9223372036854775808"},
		{"add step", []string{v1, `{"name":"t","version":2,"fields":{"a":{"type":"int","validate":"min=0"},"r":{"type":"int"},"b":{"type":"int"}},"migrate":[{"op":"add","field":"b","default":"x"}]}`},
			"step 1 (add b): the default does not fit: want an integer, got a string"},
		{"remove step after a retype", []string{v1, `{"name":"t","version":2,"fields":{"r":{"type":"int"}},"migrate":[{"op":"retype","field":"a","to":"float"},{"op":"remove","field":"a","default":1.5}]}`},
			"step 2 (remove a): the default 1.5 does not fit field 'a' as version 1 has it: want an integer, got a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry(newMemStore())
			var err error
			for _, def := range tc.defs {
				if _, err = r.Register(context.Background(), mustParse(t, def), false); err != nil {
					break
				}
			}
			if errs := problemLists(err); !slices.Contains(errs, tc.want) {
				t.Fatalf("Register(%s) errors = %q, want %q", tc.defs[len(tc.defs)-1], errs, tc.want)
			}
		})
	}
}
