package schema

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

const compatV1 = `"a":{"type":"int"},"b":{"type":"string"},"c":{"type":"string","optional":true},"o":{"type":"object","fields":{"x":{"type":"int"}}}`

func TestCompatibility(t *testing.T) {
	t.Parallel()
	// Each change turns compatV1 into version 2. breaks says which
	// directions it breaks: "up" (BACKWARD), "down" (FORWARD), "all" (a
	// violation in every mode, NONE included) or "" (none).
	changes := []struct {
		name   string
		fields string
		steps  string
		breaks string
		want   string // substring of the violation
	}{
		{"add optional", compatV1 + `,"d":{"type":"int","optional":true}`, `{"op":"add","field":"d"}`, "", ""},
		{"add with step default", compatV1 + `,"d":{"type":"int"}`, `{"op":"add","field":"d","default":1}`, "", ""},
		{"add with field default", compatV1 + `,"d":{"type":"int","default":1}`, `{"op":"add","field":"d"}`, "", ""},
		{"add nested with default", strings.Replace(compatV1, `"x":{"type":"int"}`, `"x":{"type":"int"},"y":{"type":"bool"}`, 1), `{"op":"add","field":"o.y","default":true}`, "", ""},
		{"add without default", compatV1 + `,"d":{"type":"int"}`, `{"op":"add","field":"d"}`, "up", "field 'd': version-1 records may lack it (it is added in version 2 without a default)"},
		{"remove with default", `"b":{"type":"string"},"c":{"type":"string","optional":true},"o":{"type":"object","fields":{"x":{"type":"int"}}}`, `{"op":"remove","field":"a","default":0}`, "", ""},
		{"remove optional", `"a":{"type":"int"},"b":{"type":"string"},"o":{"type":"object","fields":{"x":{"type":"int"}}}`, `{"op":"remove","field":"c"}`, "", ""},
		{"remove without default", `"b":{"type":"string"},"c":{"type":"string","optional":true},"o":{"type":"object","fields":{"x":{"type":"int"}}}`, `{"op":"remove","field":"a"}`, "down", "field 'a': version-2 records may lack it (it is removed in version 2 without a default)"},
		{"rename", `"aa":{"type":"int"},"b":{"type":"string"},"c":{"type":"string","optional":true},"o":{"type":"object","fields":{"x":{"type":"int"}}}`, `{"op":"rename","from":"a","to":"aa"}`, "", ""},
		{"rename out of an object", compatV1 + `,"x":{"type":"int"}`, `{"op":"rename","from":"o.x","to":"x"},{"op":"add","field":"o.x","default":0}`, "", ""},
		{"retype widening", strings.Replace(compatV1, `"a":{"type":"int"}`, `"a":{"type":"float"}`, 1), `{"op":"retype","field":"a","to":"float"}`, "down", "field 'a': the retype int → float in version 2 cannot be undone for every value"},
		{"optional to required", strings.Replace(compatV1, `"c":{"type":"string","optional":true}`, `"c":{"type":"string"}`, 1), ``, "up", "field 'c': version-1 records may lack it (it is optional in version 1)"},
		{"optional to required with default", strings.Replace(compatV1, `"c":{"type":"string","optional":true}`, `"c":{"type":"string","default":"x"}`, 1), ``, "", ""},
		{"required to optional", strings.Replace(compatV1, `"b":{"type":"string"}`, `"b":{"type":"string","optional":true}`, 1), ``, "down", "field 'b': version-2 records may lack it (it is optional in version 2)"},
		{"type change without retype", strings.Replace(compatV1, `"a":{"type":"int"}`, `"a":{"type":"string"}`, 1), ``, "all", "field 'a': its type changes from int to string without a retype step"},
		{"not a widening", strings.Replace(compatV1, `"a":{"type":"int"}`, `"a":{"type":"bool"}`, 1), `{"op":"retype","field":"a","to":"bool"}`, "all", "field 'a': int → bool is not a widening"},
		{"silent add", compatV1 + `,"d":{"type":"int","optional":true}`, ``, "all", "field 'd' is new in version 2 without an add or rename step"},
		{"silent remove", `"b":{"type":"string"},"c":{"type":"string","optional":true},"o":{"type":"object","fields":{"x":{"type":"int"}}}`, ``, "all", "field 'a' of version 1 is not in version 2"},
		{"element type change", compatV1 + `,"l":{"type":"array","items":{"type":"int"}}`, `{"op":"add","field":"l","default":[]}`, "", ""},
	}
	breaksIn := map[string][]string{
		Backward: {"up"}, BackwardTransitive: {"up"},
		Forward: {"down"}, ForwardTransitive: {"down"},
		Full: {"up", "down"}, FullTransitive: {"up", "down"},
		None: nil,
	}
	for _, mode := range modes {
		for _, ch := range changes {
			t.Run(mode+"/"+ch.name, func(t *testing.T) {
				t.Parallel()
				v1 := fmt.Sprintf(`{"name":"t","version":1,"compatibility":%q,"fields":{%s}}`, mode, compatV1)
				v2 := fmt.Sprintf(`{"name":"t","version":2,"fields":{%s},"migrate":[%s]}`, ch.fields, ch.steps)
				r, _ := mustRegister(t, v1)
				_, err := r.Register(context.Background(), mustParse(t, v2), true)
				wantBreak := ch.breaks == "all"
				for _, dir := range breaksIn[mode] {
					wantBreak = wantBreak || dir == ch.breaks
				}
				if !wantBreak {
					if err != nil {
						t.Fatalf("%s, %s: Register = %v %q, want success", mode, ch.name, err, problemLists(err))
					}
					return
				}
				if !problem.Is(err, problem.Conflict) {
					t.Fatalf("%s, %s: Register = %v %q, want a conflict", mode, ch.name, err, problemLists(err))
				}
				if v := problemLists(err); !containsAll(v, ch.want) {
					t.Fatalf("%s, %s: violations %q, want one containing %q", mode, ch.name, v, ch.want)
				}
			})
		}
	}
}

func TestCompatibilityTransitive(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"t","version":1,"compatibility":"NONE","fields":{"a":{"type":"int"}}}`
	addX := `{"name":"t","version":2,"fields":{"a":{"type":"int"},"x":{"type":"int"}},"migrate":[{"op":"add","field":"x"}]}`
	keep := `{"name":"t","version":3,"fields":{"a":{"type":"int"},"x":{"type":"int"}}}`
	dropX := `{"name":"t","version":3,"fields":{"a":{"type":"int"}},"migrate":[{"op":"remove","field":"x","default":0}]}`
	retype := `{"name":"t","version":2,"fields":{"a":{"type":"float"}},"migrate":[{"op":"retype","field":"a","to":"float"}]}`
	keepFloat := `{"name":"t","version":3,"fields":{"a":{"type":"float"}}}`
	tests := []struct {
		name    string
		v2, v3  string
		mode    string
		wantErr string
	}{
		{"backward ignores older", addX, keep, Backward, ""},
		{"transitive sees version 1", addX, keep, BackwardTransitive, "version-1 records may lack it (it is added in version 2 without a default)"},
		{"a later remove cancels the add", addX, dropX, BackwardTransitive, ""},
		{"forward ignores older", retype, keepFloat, Forward, ""},
		{"forward transitive sees the retype", retype, keepFloat, ForwardTransitive, "the retype int → float in version 2 cannot be undone"},
		{"full transitive", addX, keep, FullTransitive, "version-1 records may lack it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := mustRegister(t, v1, tc.v2)
			if err := r.SetCompatibility(context.Background(), "t", tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := r.Register(context.Background(), mustParse(t, tc.v3), false)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Register v3 under %s = %v %q, want success", tc.mode, err, problemLists(err))
				}
				return
			}
			if v := problemLists(err); !problem.Is(err, problem.Conflict) || !containsAll(v, tc.wantErr) {
				t.Fatalf("Register v3 under %s = %v %q, want a conflict containing %q", tc.mode, err, v, tc.wantErr)
			}
		})
	}
}

func TestSetCompatibility(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	r := NewRegistry(st)
	ctx := context.Background()
	if _, err := r.Register(ctx, mustParse(t, orderV1), false); err != nil {
		t.Fatal(err)
	}
	s, _ := r.Schema("order")
	if s.Compatibility() != Backward {
		t.Fatalf("default mode = %s, want BACKWARD", s.Compatibility())
	}
	if err := r.SetCompatibility(ctx, "order", "SOMETIMES"); !problem.Is(err, problem.Invalid) {
		t.Fatalf("SetCompatibility(SOMETIMES) = %v, want invalid", err)
	}
	if err := r.SetCompatibility(ctx, "nope", Full); !problem.Is(err, problem.NotFound) {
		t.Fatalf("SetCompatibility(nope) = %v, want not found", err)
	}
	if err := r.SetCompatibility(ctx, "order", Full); err != nil {
		t.Fatal(err)
	}
	if s.Compatibility() != Backward {
		t.Fatal("a snapshot changed under its holder")
	}
	r2 := NewRegistry(st)
	if err := r2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	s2, _ := r2.Schema("order")
	if s2.Compatibility() != Full {
		t.Fatalf("after Load mode = %s, want FULL", s2.Compatibility())
	}
	// The order v2 definition removes legacy_code with a default and adds
	// defaulted fields, but retypes nothing: FULL accepts it.
	if _, err := r2.Register(ctx, mustParse(t, orderV2), false); err != nil {
		t.Fatalf("Register(order v2) under FULL = %v %q", err, problemLists(err))
	}
}
