package schema

import (
	stdjson "encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/ferry-dev/ferry/internal/problem"
)

const validateSchema = `{"name":"v","version":1,"fields":{
 "customer":{"type":"string","validate":"required,email"},
 "qty":{"type":"int","validate":"min=1"},
 "rate":{"type":"float"},
 "flag":{"type":"bool"},
 "at":{"type":"time"},
 "raw":{"type":"bytes"},
 "note":{"type":"string","optional":true,"validate":"omitempty,min=3"},
 "channel":{"type":"string","default":"web"},
 "addr":{"type":"object","fields":{"zip":{"type":"string","validate":"len=5"},"city":{"type":"string","optional":true}}},
 "items":{"type":"array","validate":"max=3","items":{"type":"object","fields":{
   "sku":{"type":"string","validate":"required"},"qty":{"type":"int","validate":"min=1"}}}},
 "tags":{"type":"array","validate":"dive,uppercase","items":{"type":"string"}},
 "attrs":{"type":"map","values":{"type":"int","validate":"gte=0"}}}}`

const validBody = `{"customer":"a@example.com","qty":2,"rate":1.5,"flag":true,"at":"2024-02-29T12:00:00.000000001+02:00",
 "raw":"AAE=","addr":{"zip":"12345"},"items":[{"sku":"x","qty":1}],"tags":["A"],"attrs":{"k":1}}`

// fe is a short form of a field error for comparisons.
type fe struct{ Field, Rule, Param string }

func fieldErrs(err error) []fe {
	var out []fe
	for _, f := range problemFields(err) {
		out = append(out, fe{f.Field, f.Rule, f.Param})
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, validateSchema)
	v := s.Latest()
	tests := []struct {
		name string
		body string
		want []fe // nil: valid
	}{
		{"valid", validBody, nil},
		{"missing fields", `{"qty":2}`, []fe{
			{"addr", "present", ""}, {"at", "present", ""}, {"attrs", "present", ""}, {"customer", "present", ""},
			{"flag", "present", ""}, {"items", "present", ""}, {"rate", "present", ""}, {"raw", "present", ""}, {"tags", "present", ""}}},
		{"null is absent", `{"customer":null,"qty":2,"rate":1.5,"flag":true,"at":"2024-02-29T12:00:00Z","raw":"","addr":{"zip":"12345"},"items":[],"tags":[],"attrs":{}}`,
			[]fe{{"customer", "present", ""}}},
		{"required forbids zero", `{"customer":"","qty":2,"rate":0,"flag":false,"at":"2024-02-29T12:00:00Z","raw":"","addr":{"zip":"12345"},"items":[],"tags":[],"attrs":{}}`,
			[]fe{{"customer", "required", ""}}},
		{"every failure with its path", `{"customer":"nope","qty":0,"rate":1,"flag":true,"at":"2024-02-29T12:00:00Z","raw":"",
			"note":"ab","addr":{"zip":"1"},"items":[{"qty":5},{"sku":"b","qty":1},{"sku":"","qty":0}],
			"tags":["A","b"],"attrs":{"k":-1}}`, []fe{
			{"items[0].sku", "present", ""},
			{"addr.zip", "len", "5"}, {"attrs[k]", "gte", "0"}, {"customer", "email", ""},
			{"items[2].qty", "min", "1"}, {"items[2].sku", "required", ""},
			{"note", "min", "3"}, {"qty", "min", "1"}, {"tags[1]", "uppercase", ""}}},
		{"a container rule stops its elements' rules", `{"customer":"a@example.com","qty":1,"rate":1,"flag":true,"at":"2024-02-29T12:00:00Z","raw":"",
			"addr":{"zip":"12345"},"items":[{"sku":"a","qty":1},{"sku":"b","qty":1},{"sku":"c","qty":1},{"sku":"","qty":1}],"tags":[],"attrs":{}}`,
			[]fe{{"items", "max", "3"}}},
		{"missing inside nested object", `{"customer":"a@example.com","qty":2,"rate":1.5,"flag":true,"at":"2024-02-29T12:00:00Z","raw":"","addr":{},"items":[],"tags":[],"attrs":{}}`,
			[]fe{{"addr.zip", "present", ""}}},
		// As on any Go struct, omitempty on a pointer skips only nil: on an
		// optional field it means "unless absent".
		{"omitempty on an absent optional field", `{"customer":"a@example.com","qty":2,"rate":1.5,"flag":true,"at":"2024-02-29T12:00:00Z","raw":"","addr":{"zip":"12345"},"items":[],"tags":[],"attrs":{}}`, nil},
		{"omitempty on a present optional field", `{"customer":"a@example.com","qty":2,"rate":1.5,"flag":true,"at":"2024-02-29T12:00:00Z","raw":"","note":"","addr":{"zip":"12345"},"items":[],"tags":[],"attrs":{}}`,
			[]fe{{"note", "min", "3"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := v.New()
			if err := json.Unmarshal([]byte(tc.body), w); err != nil {
				t.Fatalf("decode %s: %v", tc.body, err)
			}
			rec, err := v.Validate(w, false)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate(%s) = %v %v, want valid", tc.body, err, fieldErrs(err))
				}
				if reflect.TypeOf(rec) != reflect.PointerTo(v.Type()) {
					t.Fatalf("Validate returned a %T, want a pointer to Type()", rec)
				}
				return
			}
			if !problem.Is(err, problem.Unprocessable) {
				t.Fatalf("Validate(%s) = %v, want a problem.Unprocessable", tc.body, err)
			}
			got := fieldErrs(err)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Validate(%s) fields =\n%v\nwant\n%v", tc.body, got, tc.want)
			}
			for _, f := range problemFields(err) {
				if f.Message == "" || f.Version != 0 {
					t.Errorf("field error %+v: want a message and no version", f)
				}
			}
		})
	}
}

func TestValidateFills(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, validateSchema)
	v := s.Latest()
	w := v.New()
	if err := json.Unmarshal([]byte(validBody), w); err != nil {
		t.Fatal(err)
	}
	rec, err := v.Validate(w, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v.ToMap(rec)
	if err != nil {
		t.Fatal(err)
	}
	if m["channel"] != "web" {
		t.Errorf("channel = %v, want the default web", m["channel"])
	}
	at := m["at"].(time.Time)
	if at.Location() != time.UTC || !at.Equal(time.Date(2024, 2, 29, 10, 0, 0, 1, time.UTC)) {
		t.Errorf("at = %v, want 2024-02-29T10:00:00.000000001Z in UTC", at)
	}
	if _, ok := m["note"]; ok {
		t.Errorf("absent optional note is in the map: %v", m["note"])
	}
	out, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"addr":{"city":null,"zip":"12345"},"at":"2024-02-29T10:00:00.000000001Z","attrs":{"k":1},"channel":"web","customer":"a@example.com","flag":true,"items":[{"qty":1,"sku":"x"}],"note":null,"qty":2,"rate":1.5,"raw":"AAE=","tags":["A"]}`
	if string(out) != want {
		t.Errorf("encoded record =\n%s\nwant\n%s", out, want)
	}
}

// TestValidateGob checks that, from gob, every field counts as present
// with its zero value and containers come out empty, never null.
func TestValidateGob(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, validateSchema)
	v := s.Latest()
	_, err := v.Validate(v.New(), true)
	if !problem.Is(err, problem.Unprocessable) {
		t.Fatalf("Validate(empty, gob) = %v, want rule failures only", err)
	}
	for _, f := range problemFields(err) {
		if f.Rule == "present" {
			t.Fatalf("Validate(empty, gob) reports %+v: gob fields are always present", f)
		}
	}
	// A plain record struct, as gob decodes into, with nil containers.
	p := reflect.New(v.Type())
	p.Elem().FieldByName("Customer").SetString("a@example.com")
	p.Elem().FieldByName("Qty").SetInt(1)
	p.Elem().FieldByName("Addr").FieldByName("Zip").SetString("12345")
	rec, err := v.Validate(p.Interface(), true)
	if err != nil {
		t.Fatalf("Validate(plain, gob) = %v %v", err, fieldErrs(err))
	}
	out, _ := json.Marshal(rec)
	want := `{"addr":{"city":null,"zip":"12345"},"at":"0001-01-01T00:00:00Z","attrs":{},"channel":"","customer":"a@example.com","flag":false,"items":[],"note":null,"qty":1,"rate":0,"raw":"","tags":[]}`
	if string(out) != want {
		t.Errorf("gob record =\n%s\nwant\n%s", out, want)
	}
}

func TestValidateFinite(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`"f":{"type":"float"},"l":{"type":"array","items":{"type":"float"}}`))
	v := s.Latest()
	w := reflect.New(v.WireType())
	nan := math.NaN()
	w.Elem().Field(0).Set(reflect.ValueOf(&nan))
	w.Elem().Field(1).Set(reflect.ValueOf([]float64{1, math.Inf(1)}))
	_, err := v.Validate(w.Interface(), false)
	want := []fe{{"f", "finite", ""}, {"l[1]", "finite", ""}}
	if got := fieldErrs(err); !slices.Equal(got, want) {
		t.Fatalf("Validate(NaN, [1, +Inf]) fields = %v, want %v", got, want)
	}
}

func TestValidateCrossField(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`"password":{"type":"string"},"confirm_password":{"type":"string","validate":"eqfield=password"}`))
	v := s.Latest()
	w := v.New()
	_ = json.Unmarshal([]byte(`{"password":"a","confirm_password":"b"}`), w)
	_, err := v.Validate(w, false)
	want := []fe{{"confirm_password", "eqfield", "password"}}
	if got := fieldErrs(err); !slices.Equal(got, want) {
		t.Fatalf("fields = %v, want %v (param in schema names)", got, want)
	}
}

func TestValidateWrongType(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, validateSchema)
	if _, err := s.Latest().Validate(&struct{}{}, false); err == nil || problem.KindOf(err) != problem.Internal {
		t.Fatalf("Validate(foreign struct) = %v, want an internal error", err)
	}
	if _, err := s.Latest().Validate(nil, false); err == nil {
		t.Fatal("Validate(nil) succeeded")
	}
}

func TestFromMap(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, validateSchema)
	v := s.Latest()
	var base map[string]any
	dec := stdjson.NewDecoder(strings.NewReader(validBody))
	dec.UseNumber()
	if err := dec.Decode(&base); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		patch map[string]any
		kind  problem.Kind // 0 (Internal) means success
		want  string       // substring of the first error or field
	}{
		{"as decoded from JSON", nil, problem.Internal, ""},
		{"unknown field", map[string]any{"extra": 1}, problem.Invalid, "field 'extra': unknown field"},
		{"wrong type", map[string]any{"qty": "2"}, problem.Invalid, "field 'qty': want an integer, got a string"},
		{"fraction for int", map[string]any{"qty": 2.5}, problem.Invalid, "field 'qty'"},
		{"whole float for int", map[string]any{"qty": 2.0}, problem.Invalid, "field 'qty': want an integer, got a number"},
		{"exponent for int", map[string]any{"qty": stdjson.Number("2e0")}, problem.Invalid, "field 'qty'"},
		{"bad time", map[string]any{"at": "tomorrow"}, problem.Invalid, "field 'at'"},
		{"time finer than nanoseconds", map[string]any{"at": "2026-01-01T00:00:00.1234567891Z"}, problem.Invalid, "field 'at'"},
		{"bad bytes", map[string]any{"raw": "***"}, problem.Invalid, "field 'raw'"},
		{"nested wrong type", map[string]any{"items": []any{map[string]any{"sku": 1, "qty": 1}}}, problem.Invalid, "field 'items[0].sku'"},
		{"null on a required field", map[string]any{"customer": nil}, problem.Unprocessable, "customer"},
		{"rule", map[string]any{"qty": int64(0)}, problem.Unprocessable, "qty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := deepCopy(base).(map[string]any)
			for k, x := range tc.patch {
				m[k] = x
			}
			rec, err := v.FromMap(m, false)
			if tc.kind == problem.Internal {
				if err != nil {
					t.Fatalf("FromMap = %v %v", err, problemLists(err))
				}
				back, _ := v.ToMap(rec)
				if back["qty"] != int64(2) || back["channel"] != "web" {
					t.Fatalf("FromMap then ToMap = %v, want qty 2 and channel web", back)
				}
				return
			}
			if problem.KindOf(err) != tc.kind {
				t.Fatalf("FromMap(%v) = %v, want kind %v", tc.patch, err, tc.kind)
			}
			var got []string
			got = append(got, problemLists(err)...)
			for _, f := range problemFields(err) {
				got = append(got, f.Field, f.Message)
				if tc.kind == problem.Invalid && f.Rule == "" {
					t.Errorf("FromMap(%v): field error %+v has no rule", tc.patch, f)
				}
			}
			if !containsAll(got, tc.want) {
				t.Fatalf("FromMap(%v) reports %q, want one containing %q", tc.patch, got, tc.want)
			}
		})
	}
}

func TestRuleMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule, param string
		k           reflect.Kind
		want        string
	}{
		{"min", "1", reflect.Int64, "qty must be at least 1"},
		{"min", "3", reflect.String, "qty must be at least 3 characters"},
		{"max", "100", reflect.Slice, "qty must be at most 100 items"},
		{"len", "3", reflect.String, "qty must be exactly 3 characters"},
		{"required", "", reflect.String, "qty is required and must not be empty or zero"},
		{"oneof", "a b", reflect.String, "qty must be one of a, b"},
		{"oneof", "'a b' c", reflect.String, `qty must be one of "a b", c`},
		{"oneof", "'a b'c 'd'", reflect.String, `qty must be one of "a b", c, d`},
		{"oneof", "'' x", reflect.String, `qty must be one of "", x`},
		{"oneof", "it's", reflect.String, "qty must be one of its"},
		{"oneof", "a,b c", reflect.String, `qty must be one of "a,b", c`},
		{"oneof", "'1' 2", reflect.Int64, "qty must be one of 1, 2"},
		{"email", "", reflect.String, "qty must be an email address"},
		{"lte", "", reflect.Struct, "qty must not be in the future"},
		{"max", "", reflect.Struct, "qty must not be in the future"},
		{"lt", "", reflect.Struct, "qty must be in the past"},
		{"present", "", reflect.Invalid, "qty failed the 'present' rule"},
		{"weird", "x", reflect.String, "qty failed the 'weird=x' rule"},
	}
	for _, tc := range tests {
		if got := ruleMessage("qty", tc.rule, tc.param, tc.k); got != tc.want {
			t.Errorf("ruleMessage(qty, %s, %s, %v) = %q, want %q", tc.rule, tc.param, tc.k, got, tc.want)
		}
	}
}

// TestValidateNestedEmpty checks that containers inside containers come
// out empty rather than nil, as fields do, so that no encoder writes null;
// and that null sent for one is refused, as for a scalar element, except
// from gob, which cannot tell null from empty.
func TestValidateNestedEmpty(t *testing.T) {
	t.Parallel()
	// n makes the wire struct differ from the record struct.
	_, s := mustRegister(t, fields(`"n":{"type":"int"},"l":{"type":"array","items":{"type":"array","items":{"type":"int"}}},"b":{"type":"map","values":{"type":"bytes"}}`))
	v := s.Latest()
	w := v.New()
	if err := json.Unmarshal([]byte(`{"n":1,"l":[null,[1]],"b":{"k":null}}`), w); err != nil {
		t.Fatal(err)
	}
	_, err := v.Validate(w, false)
	if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || len(p.Fields) != 2 || p.Fields[0].Field != "b[k]" || p.Fields[1].Field != "l[0]" {
		t.Errorf("Validate of null elements = %v %v, want a problem.Invalid naming l[0] and b[k]", err, problemLists(err))
	}
	for _, body := range []string{`{"n":1,"l":[[],[1]],"b":{"k":""}}`, `{"n":1,"l":[null,[1]],"b":{"k":null}}`} {
		fromGob := strings.Contains(body, "null")
		w := v.New()
		if err := json.Unmarshal([]byte(body), w); err != nil {
			t.Fatal(err)
		}
		rec, err := v.Validate(w, fromGob)
		if err != nil {
			t.Fatal(err)
		}
		r := reflect.ValueOf(rec).Elem()
		if inner := r.FieldByName("L").Index(0); inner.IsNil() {
			t.Errorf("fromGob %v: l[0] is nil, want empty", fromGob)
		}
		if b := r.FieldByName("B").MapIndex(reflect.ValueOf("k")); b.IsNil() {
			t.Errorf("fromGob %v: b[k] is nil, want empty", fromGob)
		}
	}
	// The same from a record struct, as gob decodes into.
	p := reflect.New(v.Type())
	p.Elem().FieldByName("L").Set(reflect.ValueOf([][]int64{nil}))
	p.Elem().FieldByName("B").Set(reflect.ValueOf(map[string][]byte{"k": nil}))
	rec, err := v.Validate(p.Interface(), true)
	if err != nil {
		t.Fatal(err)
	}
	if rec != p.Interface() {
		t.Error("Validate of a record struct did not complete it in place")
	}
	r := reflect.ValueOf(rec).Elem()
	if r.FieldByName("L").Index(0).IsNil() || r.FieldByName("B").MapIndex(reflect.ValueOf("k")).IsNil() {
		t.Error("a record struct kept nil containers inside containers")
	}
}

// TestValidateRequiredOptional checks that `required` on an optional field
// forbids a present zero value, as it does on a field that is not
// optional, and still lets the field be absent or null.
func TestValidateRequiredOptional(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`
		"s":{"type":"string","optional":true,"validate":"required"},
		"n":{"type":"int","optional":true,"validate":"required"},
		"f":{"type":"float","optional":true,"validate":"required"},
		"b":{"type":"bool","optional":true,"validate":"required"},
		"t":{"type":"time","optional":true,"validate":"required"},
		"o":{"type":"object","optional":true,"validate":"required","fields":{"a":{"type":"int"}}},
		"m":{"type":"string","optional":true,"validate":"required,min=3"},
		"e":{"type":"string","optional":true,"validate":"omitempty,required"},
		"x":{"type":"string","optional":true,"validate":"required|email"},
		"l":{"type":"array","optional":true,"items":{"type":"object","fields":{"v":{"type":"string","optional":true,"validate":"required"}}}}`))
	v := s.Latest()
	tests := []struct {
		name string
		body string
		want []fe // nil: valid
	}{
		{"absent", `{}`, nil},
		{"null", `{"s":null,"n":null,"f":null,"b":null,"t":null,"o":null,"m":null,"e":null,"x":null,"l":null}`, nil},
		{"values", `{"s":"a","n":-1,"f":0.5,"b":true,"t":"2024-02-29T12:00:00Z","o":{"a":1},"m":"abc","e":"a","x":"a","l":[{"v":"a"},{}]}`, nil},
		{"empty string", `{"s":""}`, []fe{{"s", "required", ""}}},
		{"zero int", `{"n":0}`, []fe{{"n", "required", ""}}},
		{"zero float", `{"f":0}`, []fe{{"f", "required", ""}}},
		{"false", `{"b":false}`, []fe{{"b", "required", ""}}},
		{"zero time", `{"t":"0001-01-01T00:00:00Z"}`, []fe{{"t", "required", ""}}},
		{"zero object", `{"o":{"a":0}}`, []fe{{"o", "required", ""}}},
		{"required before another rule", `{"m":""}`, []fe{{"m", "required", ""}}},
		{"omitempty skips only absence", `{"e":""}`, []fe{{"e", "required", ""}}},
		{"in an or", `{"x":""}`, []fe{{"x", "required|email", ""}}},
		{"inside array elements", `{"l":[{"v":"a"},{"v":""}]}`, []fe{{"l[1].v", "required", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := v.New()
			if err := json.Unmarshal([]byte(tc.body), w); err != nil {
				t.Fatalf("decode %s: %v", tc.body, err)
			}
			_, err := v.Validate(w, false)
			if got := fieldErrs(err); !slices.Equal(got, tc.want) {
				t.Fatalf("Validate(%s) fields = %v (%v), want %v", tc.body, got, err, tc.want)
			}
			for _, f := range problemFields(err) {
				if f.Rule == "required" && !strings.HasSuffix(f.Message, " is required and must not be empty or zero") {
					t.Errorf("Validate(%s): message %q, want it to say the field is required", tc.body, f.Message)
				}
			}
		})
	}
	// Ferry's name for the rule is its own: definitions cannot use it, and
	// it stays out of what a client reads.
	if errs := registerRefused(t, fields(`"s":{"type":"string","validate":"`+requiredValueTag+`"}`)); !containsAll(errs, "unknown rule '"+requiredValueTag+"'") {
		t.Errorf("a rule named %s: errors = %q, want it unknown", requiredValueTag, errs)
	}
	if src := string(v.GoSource()); strings.Contains(src, requiredValueTag) || !strings.Contains(src, `validate:"omitnil,required"`) {
		t.Errorf("GoSource names the rule other than the definition does:\n%s", src)
	}
}

// A conditional requirement on an optional field asks for the field when
// its condition holds, as on a hand-written struct: the omitnil that lets
// the field be absent comes after it.
func TestValidateConditionalRequiredOptional(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`
		"status":  {"type":"string"},
		"paid_at": {"type":"time","optional":true,"validate":"required_if=status paid"},
		"note":    {"type":"string","optional":true,"validate":"required_without=ref,min=2"},
		"ref":     {"type":"string","optional":true},
		"tags":    {"type":"array","optional":true,"validate":"required_unless=status open,dive,min=1","items":{"type":"string"}}`))
	v := s.Latest()
	tests := []struct {
		body string
		want []fe
	}{
		{`{"status":"open","ref":"r"}`, nil},
		{`{"status":"paid","paid_at":"2024-01-01T00:00:00Z","ref":"r","tags":["a"]}`, nil},
		{`{"status":"paid","ref":"r","tags":["a"]}`, []fe{{"paid_at", "required_if", "status paid"}}},
		{`{"status":"open"}`, []fe{{"note", "required_without", "ref"}}},
		{`{"status":"open","note":"x"}`, []fe{{"note", "min", "2"}}},
		{`{"status":"open","note":"xy"}`, nil},
		{`{"status":"shipped","ref":"r","paid_at":"2024-01-01T00:00:00Z"}`, []fe{{"tags", "required_unless", "status open"}}},
		{`{"status":"shipped","ref":"r","tags":[""]}`, []fe{{"tags[0]", "min", "1"}}},
	}
	for _, tc := range tests {
		checkFailures(t, v, tc.body, tc.want)
	}
}

// `required` on an array, a map or bytes asks that it not be empty, as the
// published JSON Schema and the failure's message say: a record holds []
// and {} rather than nil, which is all the validator's own rule asks.
func TestValidateRequiredContainers(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`
		"l": {"type":"array","validate":"required","items":{"type":"int"}},
		"m": {"type":"map","validate":"required","values":{"type":"string"}},
		"b": {"type":"bytes","validate":"required"},
		"o": {"type":"array","optional":true,"validate":"required,dive,min=1","items":{"type":"int"}},
		"dl": {"type":"array","optional":true,"validate":"dive,required","items":{"type":"array","items":{"type":"int"}}},
		"dm": {"type":"map","optional":true,"validate":"dive,keys,required,endkeys,required","values":{"type":"bytes"}}`))
	v := s.Latest()
	tests := []struct {
		body string
		want []fe
	}{
		{`{"l":[1],"m":{"k":"v"},"b":"AA=="}`, nil},
		{`{"l":[1],"m":{"k":"v"},"b":"AA==","dl":[[1]],"dm":{"k":"AA=="}}`, nil},
		{`{"l":[1],"m":{"k":"v"},"b":"AA==","dl":[[1],[]],"dm":{"k":""}}`, []fe{{"dl[1]", "required", ""}, {"dm[k]", "required", ""}}},
		{`{"l":[1],"m":{"k":"v"},"b":"AA==","o":[2]}`, nil},
		{`{"l":[],"m":{},"b":""}`, []fe{{"b", "required", ""}, {"l", "required", ""}, {"m", "required", ""}}},
		// An optional container that is empty is absent, as gob sends it.
		{`{"l":[1],"m":{"k":"v"},"b":"AA==","o":[]}`, nil},
		{`{"l":[1],"m":{"k":"v"},"b":"AA==","o":[0]}`, []fe{{"o[0]", "min", "1"}}},
	}
	for _, tc := range tests {
		checkFailures(t, v, tc.body, tc.want)
	}
}

// checkFailures validates the JSON body at v and checks the failures it
// lists (nil: valid).
func checkFailures(t *testing.T, v *Version, body string, want []fe) {
	t.Helper()
	w := v.New()
	if err := json.Unmarshal([]byte(body), w); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	_, err := v.Validate(w, false)
	if got := fieldErrs(err); !slices.Equal(got, want) {
		t.Errorf("Validate(%s) fields = %v (%v), want %v", body, got, err, want)
	}
}
