package schema

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/ferry-dev/ferry/internal/problem"
)

func TestParseDefinition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		yaml    bool
		wantErr string // substring of the single listed error; "" for success
	}{
		{"json", `{"name":"a","version":1,"fields":{"x":{"type":"int"}}}`, false, ""},
		{"yaml", "name: a\nversion: 1\nfields:\n  x: {type: int, default: 3}\n", true, ""},
		{"unknown member", `{"name":"a","version":1,"fields":{},"extra":1}`, false, "extra"},
		{"unknown field member", `{"name":"a","version":1,"fields":{"x":{"type":"int","min":1}}}`, false, "min"},
		{"unknown step member", `{"name":"a","version":2,"fields":{},"migrate":[{"op":"add","field":"x","value":1}]}`, false, "value"},
		{"duplicate member", `{"name":"a","name":"b","version":1,"fields":{}}`, false, "duplicate"},
		{"case variant member", `{"Name":"a","version":1,"fields":{}}`, false, "Name"},
		{"trailing data", `{"name":"a","version":1,"fields":{}} {}`, false, "after"},
		{"wrong type", `{"name":"a","version":"1","fields":{}}`, false, "version"},
		{"not an object", `[1]`, false, "array"},
		{"empty", ``, false, "EOF"},
		{"invalid utf-8", "{\"name\":\"\xff\",\"version\":1,\"fields\":{}}", false, "UTF-8"},
		{"bad yaml", "name: [a\n", true, "YAML"},
		{"yaml duplicate", "name: a\nname: b\n", true, "YAML"},
		{"yaml unknown", "name: a\nversion: 1\nfields: {}\nextra: 1\n", true, "extra"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDefinition([]byte(tc.in), tc.yaml)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseDefinition(%q) = %v, want success", tc.in, err)
				}
				if d.Name != "a" || d.Fields["x"] == nil {
					t.Fatalf("ParseDefinition(%q) = %+v, want name a and field x", tc.in, d)
				}
				return
			}
			if !problem.Is(err, problem.Invalid) {
				t.Fatalf("ParseDefinition(%q) error = %v, want a problem.Invalid", tc.in, err)
			}
			errs := problemLists(err)
			if len(errs) != 1 || !strings.Contains(strings.ToLower(errs[0]), strings.ToLower(tc.wantErr)) {
				t.Fatalf("ParseDefinition(%q) errors = %q, want one containing %q", tc.in, errs, tc.wantErr)
			}
		})
	}
}

// TestDefinitionRoundTrip checks that a registered definition marshals back
// to the shape it was registered with, defaults included.
func TestDefinitionRoundTrip(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, orderV1, orderV2)
	v := s.Latest()
	got, err := json.Marshal(v.Definition(), json.Deterministic(true))
	if err != nil {
		t.Fatal(err)
	}
	want, err := mustParse(t, orderV2).canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Definition() marshals to\n%s\nwant\n%s", got, want)
	}
	if !bytes.Equal(v.DefinitionJSON(), want) {
		t.Fatalf("DefinitionJSON() = %s, want %s", v.DefinitionJSON(), want)
	}
	// A caller changing the copy changes nothing registered.
	d := v.Definition()
	d.Fields["customer"].Type = "int"
	if v.Definition().Fields["customer"].Type != "string" {
		t.Fatal("changing Definition()'s result changed the registered definition")
	}
}

func TestGoName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"id", "Id"},
		{"amount_cents", "AmountCents"},
		{"a1", "A1"},
		{"a_1", "A1"},
		{"a__b", "AB"},
		{"a_", "A"},
		{"placed_at_utc", "PlacedAtUtc"},
		{"x9_y", "X9Y"},
		{"Already", "Already"},
	}
	for _, tc := range tests {
		if got := GoName(tc.in); got != tc.want {
			t.Errorf("GoName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParseDefinition checks that no input makes parsing or registration
// panic, and that whatever registers can be validated, written and viewed.
func FuzzParseDefinition(f *testing.F) {
	seeds := []string{
		orderV1,
		`{"name":"a","version":1,"fields":{"x":{"type":"int","validate":"min=abc"}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"bool","validate":"min=1"}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"array","validate":"dive,foo","items":{"type":"int"}}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"int","validate":"eqfield=y"}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"string","validate":"keys,endkeys"}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"map","validate":"dive,keys,min=1,endkeys,required","values":{"type":"string"}}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"object","fields":{"y":{"type":"time","validate":"required_if=x 1|len=2"}}}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"float","default":1e400}}}`,
		`{"name":"a","version":1,"fields":{"x":{"type":"string","validate":"oneof=a b,unique"}}}`,
		`{"name":"a","version":1,"fields":{"a1":{"type":"int"},"a_1":{"type":"int"}}}`,
		`{"name":"a","version":2,"fields":{"x":{"type":"int"}},"migrate":[{"op":"rename","from":"a.b.c","to":"x"}]}`,
		`{"name":"a","version":2,"fields":{"x":{"type":"object","fields":{"y":{"type":"int"}}}},"migrate":[{"op":"rename","from":"x.y","to":"x.z"},{"op":"retype","field":"x.z","to":"float"},{"op":"remove","field":"x","default":{"y":1}},{"op":"add","field":"x.y"}]}`,
		`{"name":"a","version":3,"fields":{"l":{"type":"array","items":{"type":"int"}}},"migrate":[{"op":"add","field":"l.x","default":1},{"op":"retype","field":"l","to":"string"}]}`,
		"name: a\nversion: 1\nfields:\n  x: {type: object, fields: {y: {type: bytes, default: AAEC}}}\n",
		`{"name":"a","version":1,"fields":{"x":{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"object","fields":{"z":{"type":"int","validate":"dive"}}}}}}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		isYAML := len(data) > 0 && data[0] != '{'
		def, err := ParseDefinition(data, isYAML)
		if err != nil {
			if !problem.Is(err, problem.Invalid) {
				t.Fatalf("ParseDefinition error %v is not a problem.Invalid", err)
			}
			return
		}
		r := NewRegistry(newMemStore())
		if def.Version >= 2 {
			// Register the same fields as version 1 first, so that the
			// steps are checked against a previous version.
			first := def.clone()
			first.Version, first.Migrate = 1, nil
			if _, err := r.Register(context.Background(), first, false); err != nil {
				return
			}
			def.Version = 2
		}
		v, err := r.Register(context.Background(), def, false)
		if err != nil {
			if k := problem.KindOf(err); k != problem.Invalid && k != problem.Conflict {
				t.Fatalf("Register error %v has kind %v, want invalid or conflict", err, k)
			}
			return
		}
		s, _ := r.Schema(def.Name)
		// Whatever registered must validate sample records without panicking.
		for variant := range sampleVariants {
			rec := v.New()
			if _, err := v.Validate(rec, variant == 1); err != nil && !problem.Is(err, problem.Unprocessable) {
				t.Fatalf("Validate of an empty wire struct: %v", err)
			}
		}
		_, _ = v.JSONSchema()
		_ = v.GoSource()
		_ = s.Changelog()
	})
}
