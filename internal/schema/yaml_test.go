package schema

import (
	"context"
	"strings"
	"testing"
)

func TestYAMLToJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, err string
	}{
		{"YAML 1.1 booleans are strings as keys", "{y: 1, n: 2, on: 3, off: 4, yes: 5, no: 6}", `{"n":2,"no":6,"off":4,"on":3,"y":1,"yes":5}`, ""},
		{"and as values", "[y, on, no, true, False]", `["y","on","no",true,false]`, ""},
		{"numbers keep their digits", "[9007199254740993, -0, 1.5, 0x1f, 0o17, 1e3, +5, 012]", `[9007199254740993,-0,1.5,31,15,1e3,5,12]`, ""},
		{"floats stay floats", "[1.0, .5, +1.5, -2., 1E3]", `[1.0,0.5,1.5,-2.0,1E3]`, ""},
		{"YAML 1.1 integers are 1.2 strings", "[1_000]", `["1_000"]`, ""},
		{"timestamps are strings", "{at: 2024-01-01T00:00:00Z, day: 2024-01-01}", `{"at":"2024-01-01T00:00:00Z","day":"2024-01-01"}`, ""},
		{"null and quoted", `{a: null, b: "null", c: ~, d: '1'}`, `{"a":null,"b":"null","c":null,"d":"1"}`, ""},
		{"nested", "fields:\n  x: {type: int}\n  y: {type: int, validate: min=1}\n", `{"fields":{"x":{"type":"int"},"y":{"type":"int","validate":"min=1"}}}`, ""},
		{"repeated key", "{a: 1, a: 2}", "", "appears twice"},
		{"alias", "a: &x 1\nb: *x\n", "", "aliases"},
		{"two documents", "a: 1\n---\nb: 2\n", "", "one YAML document"},
		{"empty", "", "", "empty"},
		{"infinity", "a: .inf", "", "finite"},
		{"custom tag", "a: !foo 1", "", "not supported"},
		{"custom tag on a map", "a: !foo {type: string}", "", "not supported"},
		{"custom tag on a list", "a: !foo [1]", "", "not supported"},
		{"core tags on collections", "a: !!map {b: !!seq [1]}", `{"a":{"b":[1]}}`, ""},
		{"custom tag on a key", "!foo a: 1", "", "not supported"},
		{"string tag on a key", "!!str a: 1", `{"a":1}`, ""},
		{"key read as a number", "1: a", `{"1":"a"}`, ""},
		{"key that is a map", "? {a: 1}\n: 2\n", "", "plain value"},
		{"broken", "a: [1", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := yamlToJSON([]byte(tc.in))
			if tc.want != "" {
				if err != nil || string(got) != tc.want {
					t.Fatalf("yamlToJSON(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("yamlToJSON(%q) = %s, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
		})
	}
}

// TestParseDefinitionYAMLFieldNames reads a YAML definition whose field
// and step names YAML 1.1 would read as booleans.
func TestParseDefinitionYAMLFieldNames(t *testing.T) {
	t.Parallel()
	def, err := ParseDefinition([]byte("name: point\nversion: 2\nfields:\n  x: {type: int}\n  y: {type: int}\n  on: {type: bool}\nmigrate:\n  - {op: add, field: on, default: false}\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"x", "y", "on"} {
		if def.Fields[f] == nil {
			t.Errorf("fields = %v, want %s", def.Fields, f)
		}
	}
	if len(def.Migrate) != 1 || def.Migrate[0].Field != "on" || string(def.Migrate[0].Default) != "false" {
		t.Errorf("migrate = %+v, want an add of on with default false", def.Migrate)
	}
}

func FuzzYAMLToJSON(f *testing.F) {
	f.Add([]byte("name: t\nversion: 1\nfields:\n  y: {type: int}\n"))
	f.Add([]byte("[1, {a: b}, ~, .nan]"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := yamlToJSON(data)
		if err != nil {
			return
		}
		if _, err := ParseDefinition(out, false); err != nil && !strings.Contains(err.Error(), "not valid") {
			t.Fatalf("ParseDefinition of converted YAML: %v", err)
		}
	})
}

// A float default in YAML is refused on an int field, as it is in JSON:
// 1.0 is not an integer literal in either.
func TestYAMLFloatDefaultOnInt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		yaml string
		ok   bool
	}{
		{"name: d\nversion: 1\nfields:\n  n: {type: int, default: 1.0}\n", false},
		{"name: d\nversion: 1\nfields:\n  n: {type: int, default: 1}\n", true},
		{"name: d\nversion: 1\nfields:\n  n: {type: float, default: 1.0}\n", true},
	} {
		def, err := ParseDefinition([]byte(tc.yaml), true)
		if err == nil {
			_, err = NewRegistry(newMemStore()).Register(context.Background(), def, false)
		}
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.yaml, err, tc.ok)
		}
	}
}
