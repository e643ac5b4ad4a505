package schema

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/ferry-dev/ferry/internal/problem"
)

// registerRefused registers def on a fresh registry and returns the errors
// of the problem.Invalid it must fail with.
func registerRefused(t *testing.T, def string) []string {
	t.Helper()
	r := NewRegistry(newMemStore())
	_, err := r.Register(context.Background(), mustParse(t, def), false)
	if !problem.Is(err, problem.Invalid) {
		t.Fatalf("Register(%s) = %v, want a problem.Invalid", def, err)
	}
	return problemLists(err)
}

// registersEach checks, in a subtest each, that every definition of
// fields registers.
func registersEach(t *testing.T, defs []string) {
	t.Helper()
	for _, def := range defs {
		t.Run("accepts "+def, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry(newMemStore())
			if _, err := r.Register(context.Background(), mustParse(t, fields(def)), false); err != nil {
				t.Fatalf("Register(%s) = %v %q, want success", def, err, problemLists(err))
			}
		})
	}
}

// TestRegisterRefusesHostRules checks that the rules that would look at
// the server (its files, sockets, resolver and time zone database) are
// refused wherever they stand, and that the rules on the text alone are
// not.
func TestRegisterRefusesHostRules(t *testing.T) {
	t.Parallel()
	refused := []struct {
		name, def, rule string
	}{
		{"file", `"p":{"type":"string","validate":"file"}`, "file"},
		{"filepath", `"p":{"type":"string","validate":"filepath"}`, "filepath"},
		{"dir", `"p":{"type":"string","validate":"dir"}`, "dir"},
		{"dirpath", `"p":{"type":"string","validate":"dirpath"}`, "dirpath"},
		{"image", `"p":{"type":"string","validate":"image"}`, "image"},
		{"mimetype", `"p":{"type":"string","validate":"mimetype=image/png"}`, "mimetype"},
		{"uds_exists", `"p":{"type":"string","validate":"uds_exists"}`, "uds_exists"},
		{"tcp_addr", `"p":{"type":"string","validate":"tcp_addr"}`, "tcp_addr"},
		{"tcp4_addr", `"p":{"type":"string","validate":"tcp4_addr"}`, "tcp4_addr"},
		{"tcp6_addr", `"p":{"type":"string","validate":"tcp6_addr"}`, "tcp6_addr"},
		{"udp_addr", `"p":{"type":"string","validate":"udp_addr"}`, "udp_addr"},
		{"udp4_addr", `"p":{"type":"string","validate":"udp4_addr"}`, "udp4_addr"},
		{"udp6_addr", `"p":{"type":"string","validate":"udp6_addr"}`, "udp6_addr"},
		{"ip_addr", `"p":{"type":"string","validate":"ip_addr"}`, "ip_addr"},
		{"ip4_addr", `"p":{"type":"string","validate":"ip4_addr"}`, "ip4_addr"},
		{"ip6_addr", `"p":{"type":"string","validate":"ip6_addr"}`, "ip6_addr"},
		{"timezone", `"p":{"type":"string","validate":"timezone"}`, "timezone"},
		{"optional", `"p":{"type":"string","optional":true,"validate":"omitempty,file"}`, "file"},
		{"in an or", `"p":{"type":"string","validate":"email|file"}`, "file"},
		{"after dive", `"p":{"type":"array","validate":"dive,image","items":{"type":"string"}}`, "image"},
		{"in the items", `"p":{"type":"array","items":{"type":"string","validate":"dir"}}`, "dir"},
		{"on map keys", `"p":{"type":"map","validate":"dive,keys,file,endkeys","values":{"type":"int"}}`, "file"},
		{"in a nested object", `"o":{"type":"object","fields":{"p":{"type":"string","validate":"uds_exists"}}}`, "uds_exists"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := registerRefused(t, fields(tc.def))
			if !containsAll(errs, "rule '"+tc.rule+"'", "server's machine, not at the record") {
				t.Fatalf("Register(%s) errors = %q, want one naming rule '%s' and the server's machine", tc.def, errs, tc.rule)
			}
		})
	}

	accepted := []string{
		`"p":{"type":"string","validate":"email"}`,
		`"p":{"type":"string","validate":"url"}`,
		`"p":{"type":"string","validate":"uri"}`,
		`"p":{"type":"string","validate":"hostname"}`,
		`"p":{"type":"string","validate":"fqdn"}`,
		`"p":{"type":"string","validate":"hostname_port"}`,
		`"p":{"type":"string","validate":"ip"}`,
		`"p":{"type":"string","validate":"ipv4"}`,
		`"p":{"type":"string","validate":"ipv6"}`,
		`"p":{"type":"string","validate":"cidr"}`,
		`"p":{"type":"string","validate":"mac"}`,
		`"p":{"type":"string","validate":"uuid"}`,
		`"p":{"type":"string","validate":"datetime=2006-01-02"}`,
	}
	registersEach(t, accepted)
}

// TestRegisterCrossFieldRules checks that a rule comparing a field with
// another is refused when the other does not exist or the validator
// cannot compare the two, so that it never fails every record.
func TestRegisterCrossFieldRules(t *testing.T) {
	t.Parallel()
	const inner = `"inner":{"type":"object","fields":{"z":{"type":"int"},"t":{"type":"time"}}}`
	refused := []struct {
		name string
		def  string
		want []string // substrings of one listed error
	}{
		{"eqcsfield to nothing", `"o":{"type":"object","fields":{"x":{"type":"int","validate":"eqcsfield=Nope.Z"}}}`, []string{"field 'o.x'", "rule 'eqcsfield=Nope.Z'", "does not exist", "no field 'Nope'"}},
		{"necsfield to nothing", `"x":{"type":"int","validate":"necsfield=nope.z"}`, []string{"field 'x'", "necsfield=nope.z", "does not exist"}},
		{"gtcsfield to nothing", `"x":{"type":"int","validate":"gtcsfield=nope"}`, []string{"field 'x'", "gtcsfield=nope", "does not exist"}},
		{"gtecsfield to nothing", `"x":{"type":"int","validate":"gtecsfield=Nope.Z"}`, []string{"field 'x'", "gtecsfield=Nope.Z", "does not exist"}},
		{"ltcsfield to nothing", `"x":{"type":"int","validate":"ltcsfield=Nope.Z"}`, []string{"field 'x'", "ltcsfield=Nope.Z", "does not exist"}},
		{"ltecsfield to nothing", `"x":{"type":"int","validate":"ltecsfield=Nope.Z"}`, []string{"field 'x'", "ltecsfield=Nope.Z", "does not exist"}},
		{"fieldcontains to nothing", `"x":{"type":"string","validate":"fieldcontains=nope"}`, []string{"field 'x'", "fieldcontains=nope", "does not exist"}},
		{"fieldexcludes to nothing", `"x":{"type":"string","validate":"fieldexcludes=nope"}`, []string{"field 'x'", "fieldexcludes=nope", "does not exist"}},
		{"missing inner field", inner + `,"x":{"type":"int","validate":"eqcsfield=inner.nope"}`, []string{"field 'x'", "eqcsfield=inner.nope", "'inner' has no field 'nope'"}},
		{"through a scalar", `"n":{"type":"int"},"x":{"type":"int","validate":"eqcsfield=n.z"}`, []string{"field 'x'", "eqcsfield=n.z", "'n' is an int"}},
		{"index into an object", inner + `,"x":{"type":"int","validate":"eqcsfield=inner[0].z"}`, []string{"field 'x'", "'inner' is an object, not an array or a map"}},
		{"named as written", `"o":{"type":"object","fields":{"z":{"type":"int","validate":"gtcsfield=amount_due"}}}`, []string{"field 'o.z'", "no field 'amount_due' next to it"}},
		{"index not a number", `"arr":{"type":"array","items":{"type":"int"}},"x":{"type":"int","validate":"eqcsfield=arr[x]"}`, []string{"field 'x'", "[x] is not an index"}},
		{"index empty", `"arr":{"type":"array","items":{"type":"int"}},"x":{"type":"int","validate":"eqcsfield=arr[]"}`, []string{"field 'x'", "[] is not an index"}},
		{"index spaced", `"arr":{"type":"array","items":{"type":"int"}},"x":{"type":"int","validate":"eqcsfield=arr[ 0]"}`, []string{"field 'x'", "is not an index"}},
		{"index in hex", `"arr":{"type":"array","items":{"type":"int"}},"x":{"type":"int","validate":"eqcsfield=arr[0x1]"}`, []string{"field 'x'", "[0x1] is not an index"}},
		{"index too large", `"arr":{"type":"array","items":{"type":"int"}},"x":{"type":"int","validate":"eqcsfield=arr[99999999999999999999]"}`, []string{"field 'x'", "is not an index"}},
		{"index unclosed", `"arr":{"type":"array","items":{"type":"int"}},"x":{"type":"int","validate":"eqcsfield=arr[0"}`, []string{"field 'x'", "not a step"}},
		{"map key empty", `"m":{"type":"map","values":{"type":"int"}},"x":{"type":"int","validate":"eqcsfield=m[]"}`, []string{"field 'x'", "names no key"}},
		{"after dive", `"l":{"type":"array","validate":"dive,ltecsfield=nope","items":{"type":"int"}}`, []string{"field 'l'", "ltecsfield=nope", "does not exist"}},
		{"no field named", `"x":{"type":"int","validate":"eqcsfield"}`, []string{"field 'x'", "rule 'eqcsfield' needs the field"}},
		{"int with a time", `"n":{"type":"int","validate":"gtfield=t"},"t":{"type":"time"}`, []string{"field 'n'", "rule 'gtfield=t'", "compares an int with a time"}},
		{"int with a time across objects", inner + `,"n":{"type":"int","validate":"gtcsfield=inner.t"}`, []string{"field 'n'", "rule 'gtcsfield=inner.t'", "compares an int with a time"}},
		{"string with an int", `"s":{"type":"string","validate":"eqfield=n"},"n":{"type":"int"}`, []string{"field 's'", "eqfield=n", "compares a string with an int"}},
		{"int with a float", `"n":{"type":"int","validate":"ltefield=f"},"f":{"type":"float"}`, []string{"field 'n'", "ltefield=f", "compares an int with a float"}},
		{"elements with a time", `"l":{"type":"array","validate":"dive,ltfield=t","items":{"type":"int"}},"t":{"type":"time"}`, []string{"field 'l'", "ltfield=t", "compares an int with a time"}},
		{"map keys with an int", `"m":{"type":"map","validate":"dive,keys,eqfield=n,endkeys","values":{"type":"int"}},"n":{"type":"int"}`, []string{"field 'm'", "eqfield=n", "compares a string with an int"}},
		{"in an or", `"n":{"type":"int","validate":"eq=0|gtfield=t"},"t":{"type":"time"}`, []string{"field 'n'", "gtfield=t", "compares an int with a time"}},
		{"objects", `"a":{"type":"object","validate":"eqfield=b","fields":{"z":{"type":"int"}}},"b":{"type":"object","fields":{"z":{"type":"int"}}}`, []string{"field 'a'", "eqfield=b", "two values of type object"}},
		{"ordered bools", `"a":{"type":"bool","validate":"gtfield=b"},"b":{"type":"bool"}`, []string{"field 'a'", "gtfield=b", "two values of type bool"}},
		{"ordered arrays on one object", `"a":{"type":"array","validate":"ltfield=b","items":{"type":"int"}},"b":{"type":"array","items":{"type":"int"}}`, []string{"field 'a'", "ltfield=b", "two values of type array"}},
		{"text of ints", `"a":{"type":"int","validate":"fieldcontains=b"},"b":{"type":"int"}`, []string{"field 'a'", "fieldcontains=b", "two values of type int"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if errs := registerRefused(t, fields(tc.def)); !containsAll(errs, tc.want...) {
				t.Fatalf("Register(%s) errors = %q, want one containing %q", tc.def, errs, tc.want)
			}
		})
	}

	accepted := []string{
		inner + `,"x":{"type":"int","validate":"eqcsfield=inner.z"}`,
		inner + `,"x":{"type":"int","validate":"necsfield=Inner.Z"}`,
		inner + `,"x":{"type":"time","validate":"gtcsfield=inner.t"}`,
		inner + `,"x":{"type":"int","validate":"eqfield=inner.z"}`,
		`"start":{"type":"time"},"end":{"type":"time","validate":"gtfield=start"}`,
		`"n":{"type":"int","validate":"ltfield=m"},"m":{"type":"int","optional":true}`,
		`"n":{"type":"int","optional":true,"validate":"ltfield=m"},"m":{"type":"int"}`,
		`"items":{"type":"array","items":{"type":"object","fields":{"q":{"type":"int"}}}},"x":{"type":"int","validate":"ltecsfield=items[0].q"}`,
		`"m":{"type":"map","values":{"type":"string"}},"x":{"type":"string","validate":"eqcsfield=m[k]"}`,
		`"a":{"type":"array","validate":"gtcsfield=b","items":{"type":"int"}},"b":{"type":"array","items":{"type":"string"}}`,
		`"a":{"type":"array","validate":"eqfield=b","items":{"type":"int"}},"b":{"type":"array","items":{"type":"string"}}`,
		`"s":{"type":"string","validate":"fieldcontains=t"},"t":{"type":"string"}`,
		`"l":{"type":"array","validate":"dive,ltefield=max","items":{"type":"int"}},"max":{"type":"int"}`,
		`"m":{"type":"map","validate":"dive,keys,nefield=s,endkeys","values":{"type":"int"}},"s":{"type":"string"}`,
	}
	registersEach(t, accepted)
}

// TestValidateCrossStructField checks that the paths that registration
// accepts are the ones the validator follows.
func TestValidateCrossStructField(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, fields(`
		"inner":{"type":"object","fields":{"z":{"type":"int"}}},
		"items":{"type":"array","items":{"type":"object","fields":{"q":{"type":"int"}}}},
		"a":{"type":"int","validate":"eqcsfield=inner.z"},
		"b":{"type":"int","validate":"ltecsfield=items[0].q"},
		"c":{"type":"int","validate":"eqfield=Inner.Z"}`))
	v := s.Latest()
	tests := []struct {
		name string
		body string
		want []fe
	}{
		{"holds", `{"inner":{"z":2},"items":[{"q":5}],"a":2,"b":5,"c":2}`, nil},
		{"fails", `{"inner":{"z":2},"items":[{"q":5}],"a":3,"b":6,"c":1}`, []fe{{"a", "eqcsfield", "inner.z"}, {"b", "ltecsfield", "items[0].q"}, {"c", "eqfield", "inner.z"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := v.New()
			if err := json.Unmarshal([]byte(tc.body), w); err != nil {
				t.Fatal(err)
			}
			_, err := v.Validate(w, false)
			if got := fieldErrs(err); !slices.Equal(got, tc.want) {
				t.Fatalf("Validate(%s) fields = %v (%v), want %v", tc.body, got, err, tc.want)
			}
		})
	}
}

// TestRegisterRefusesTimeBounds checks that the bounds that compare a time
// with the current one, whatever their parameter, are refused on times
// and still accepted elsewhere.
func TestRegisterRefusesTimeBounds(t *testing.T) {
	t.Parallel()
	refused := []struct {
		name, def, rule string
	}{
		{"gt", `"t":{"type":"time","validate":"gt=5"}`, "gt=5"},
		{"gt alone", `"t":{"type":"time","validate":"gt"}`, "gt"},
		{"gte", `"t":{"type":"time","validate":"gte=2020-01-01T00:00:00Z"}`, "gte=2020-01-01T00:00:00Z"},
		{"gte alone", `"t":{"type":"time","validate":"gte"}`, "gte"},
		{"lt", `"t":{"type":"time","validate":"lt=5"}`, "lt=5"},
		{"lte", `"t":{"type":"time","validate":"lte=1"}`, "lte=1"},
		{"min", `"t":{"type":"time","validate":"min=1"}`, "min=1"},
		{"min alone", `"t":{"type":"time","validate":"min"}`, "min"},
		{"max", `"t":{"type":"time","validate":"max=1"}`, "max=1"},
		{"after required", `"t":{"type":"time","validate":"required,gt=5"}`, "gt=5"},
		{"in an or", `"t":{"type":"time","validate":"isdefault|gt"}`, "gt"},
		{"optional", `"t":{"type":"time","optional":true,"validate":"lt=5"}`, "lt=5"},
		{"after dive", `"l":{"type":"array","validate":"dive,gte=1","items":{"type":"time"}}`, "gte=1"},
		{"in the items", `"l":{"type":"array","items":{"type":"time","validate":"max=3"}}`, "max=3"},
		{"map values", `"m":{"type":"map","validate":"dive,gte","values":{"type":"time"}}`, "gte"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := registerRefused(t, fields(tc.def))
			if !containsAll(errs, "rule '"+tc.rule+"'", "as time passes") {
				t.Fatalf("Register(%s) errors = %q, want one naming rule '%s' and saying why", tc.def, errs, tc.rule)
			}
		})
	}

	accepted := []string{
		`"t":{"type":"time","validate":"required"}`,
		// In the past stays true once it holds.
		`"t":{"type":"time","validate":"lt"}`,
		`"t":{"type":"time","validate":"lte"}`,
		`"t":{"type":"time","optional":true,"validate":"max"}`,
		`"m":{"type":"map","validate":"dive,lte","values":{"type":"time"}}`,
		`"s":{"type":"time"},"t":{"type":"time","validate":"gtfield=s"}`,
		`"l":{"type":"array","validate":"min=1,max=3","items":{"type":"time"}}`,
		`"m":{"type":"map","validate":"dive,keys,min=1,endkeys","values":{"type":"time"}}`,
		`"n":{"type":"int","validate":"gt=5,lte=10"}`,
	}
	registersEach(t, accepted)
}

// TestOneofValues checks that the JSON Schema's enum of a oneof rule lists
// the values the validator accepts: single quotes hold a value with
// spaces, and 0x2C stands for a comma.
func TestOneofValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		def  string // the field v
		want []any  // the enum of v
		// in and out are values of v the validator accepts and refuses.
		in, out []any
	}{
		{"plain", `{"type":"string","validate":"oneof=a b"}`, []any{"a", "b"}, []any{"a", "b"}, []any{"a b", ""}},
		{"quoted with a space", `{"type":"string","validate":"oneof='a b' c"}`, []any{"a b", "c"}, []any{"a b", "c"}, []any{"'a", "b'", "a"}},
		{"quoted then joined", `{"type":"string","validate":"oneof='a b'c"}`, []any{"a b", "c"}, []any{"a b", "c"}, []any{"a bc"}},
		{"empty quotes", `{"type":"string","validate":"oneof='' x"}`, []any{"", "x"}, []any{"", "x"}, []any{"''"}},
		{"quote inside a word", `{"type":"string","validate":"oneof=it's"}`, []any{"its"}, []any{"its"}, []any{"it's"}},
		{"encoded comma", `{"type":"string","validate":"oneof=a0x2Cb c"}`, []any{"a,b", "c"}, []any{"a,b", "c"}, []any{"a0x2Cb"}},
		{"quoted numbers", `{"type":"int","validate":"oneof='1' 2"}`, []any{1.0, 2.0}, []any{int64(1), int64(2)}, []any{int64(3)}},
		{"optional", `{"type":"string","optional":true,"validate":"oneof='a b'"}`, []any{"a b", nil}, []any{"a b"}, []any{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, s := mustRegister(t, fields(`"v":`+tc.def))
			v := s.Latest()
			b, err := v.JSONSchema()
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Properties map[string]struct {
					Enum []any `json:"enum"`
				} `json:"properties"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if got := doc.Properties["v"].Enum; !slices.Equal(got, tc.want) {
				t.Errorf("JSON Schema of %s: enum %#v, want %#v", tc.def, got, tc.want)
			}
			for _, x := range append(slices.Clone(tc.in), tc.out...) {
				_, err := v.FromMap(map[string]any{"v": x}, false)
				if want := slices.Contains(tc.in, x); (err == nil) != want {
					t.Errorf("%s: validating %#v = %v, want valid %v", tc.def, x, err, want)
				}
			}
		})
	}
}

// A rule the validator cannot apply is refused in the terms of the
// definition, not of Go's internals.
func TestRuleRefusalsNameNoInternals(t *testing.T) {
	t.Parallel()
	for _, def := range []string{
		`"q":{"type":"string"},"s":{"type":"string","validate":"required_if=q"}`,
		`"l":{"type":"array","validate":"unique","items":{"type":"object","fields":{"s":{"type":"array","items":{"type":"int"}}}}}`,
	} {
		errs := registerRefused(t, fields(def))
		for _, e := range errs {
			if strings.Contains(e, "Bad param") || strings.Contains(e, "reflect") || strings.Contains(e, "unhashable") || strings.Contains(e, "struct {") {
				t.Errorf("Register(%s): %q names Go internals", def, e)
			}
		}
		if len(errs) == 0 {
			t.Errorf("Register(%s) was not refused", def)
		}
	}
}

// Rules that would fail every record of a type are refused on it: the
// validator reads text rules off a number's description, and validateFn
// calls a method no record has.
func TestRegisterRefusesRulesThatAlwaysFail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ def, want string }{
		{`"n":{"type":"int","validate":"cron"}`, "applies to strings"},
		{`"n":{"type":"int","validate":"credit_card"}`, "applies to strings"},
		{`"n":{"type":"float","validate":"isbn"}`, "applies to strings"},
		{`"n":{"type":"int","validate":"alphaspace"}`, "applies to strings"},
		{`"n":{"type":"time","validate":"alphanumspace"}`, "applies to strings"},
		{`"n":{"type":"int","validate":"cidrv4"}`, "applies to strings"},
		{`"n":{"type":"bool","validate":"iso3166_2"}`, "applies to strings"},
		{`"n":{"type":"int","validate":"boolean"}`, "applies to strings and booleans"},
		{`"n":{"type":"bytes","validate":"boolean"}`, "applies to strings and booleans"},
		{`"s":{"type":"string","validate":"validateFn"}`, "calls a method"},
		{`"o":{"type":"object","validate":"validateFn","fields":{"a":{"type":"int"}}}`, "calls a method"},
	} {
		if errs := registerRefused(t, fields(tc.def)); !containsAll(errs, tc.want) {
			t.Errorf("Register(%s) errors = %q, want one saying it %s", tc.def, errs, tc.want)
		}
	}
	mustRegister(t, fields(`"s":{"type":"string","validate":"cron"},"c":{"type":"string","validate":"credit_card"},"b":{"type":"bool","validate":"boolean"},"t":{"type":"string","validate":"boolean"}`))
}
