package schema

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/ferry-dev/ferry/internal/problem"
)

// recordAt decodes a JSON body at version n of s and validates it.
func recordAt(tb testing.TB, s *Schema, n int, body string) any {
	tb.Helper()
	v, err := s.Version(n)
	if err != nil {
		tb.Fatal(err)
	}
	w := v.New()
	if err := json.Unmarshal([]byte(body), w); err != nil {
		tb.Fatalf("decode %s at v%d: %v", body, n, err)
	}
	rec, err := v.Validate(w, false)
	if err != nil {
		tb.Fatalf("validate %s at v%d: %v %v", body, n, err, fieldErrs(err))
	}
	return rec
}

// viewJSON views d at version n and returns it as JSON.
func viewJSON(tb testing.TB, s *Schema, d *Doc, n int) string {
	tb.Helper()
	rec, err := s.View(d, n)
	if err != nil {
		tb.Fatalf("View(v%d): %v", n, err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func mustWrite(tb testing.TB, s *Schema, rec any, from int, prev *Doc) *Doc {
	tb.Helper()
	d, err := s.Write(rec, from, prev)
	if err != nil {
		tb.Fatalf("Write at v%d: %v %v", from, err, fieldErrs(err))
	}
	return d
}

const orderBodyV1 = `{"customer":"a@b.co","amount":500,"placed_at":"2024-01-02T03:04:05.123456789Z","paid":true,"legacy_code":"L7","items":[{"sku":"s","qty":2}],"attrs":{"k":"v"}}`

func TestConversionsLoseNothing(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, orderV1, orderV2)

	d1 := mustWrite(t, s, recordAt(t, s, 1, orderBodyV1), 1, nil)
	if d1.Version != 2 {
		t.Fatalf("stored at version %d, want the latest, 2", d1.Version)
	}
	wantV2 := `{"amount_cents":500,"attrs":{"k":"v"},"blob":null,"channel":"web","currency":"EUR","customer":"a@b.co","items":[{"qty":2,"sku":"s"}],"note":null,"paid":true,"placed_at":"2024-01-02T03:04:05.123456789Z"}`
	if got := viewJSON(t, s, d1, 2); got != wantV2 {
		t.Errorf("v1 write viewed at v2 =\n%s\nwant\n%s", got, wantV2)
	}
	wantV1 := `{"amount":500,"attrs":{"k":"v"},"blob":null,"customer":"a@b.co","items":[{"qty":2,"sku":"s"}],"legacy_code":"L7","note":null,"paid":true,"placed_at":"2024-01-02T03:04:05.123456789Z"}`
	if got := viewJSON(t, s, d1, 1); got != wantV1 {
		t.Errorf("v1 write viewed at v1 =\n%s\nwant\n%s (the removed legacy_code comes back)", got, wantV1)
	}

	// A v2 client sets what v1 cannot see.
	v2body := strings.Replace(wantV2, `"currency":"EUR"`, `"currency":"USD"`, 1)
	v2body = strings.Replace(v2body, `"channel":"web"`, `"channel":"app"`, 1)
	d2 := mustWrite(t, s, recordAt(t, s, 2, v2body), 2, d1)
	if got := viewJSON(t, s, d2, 1); got != wantV1 {
		t.Errorf("after a v2 write, v1 view =\n%s\nwant\n%s (legacy_code kept)", got, wantV1)
	}

	// A v1 client's PUT changes amount but never resets currency or channel.
	d3 := mustWrite(t, s, recordAt(t, s, 1, strings.Replace(orderBodyV1, `"amount":500`, `"amount":700`, 1)), 1, d2)
	got := viewJSON(t, s, d3, 2)
	want := strings.Replace(v2body, `"amount_cents":500`, `"amount_cents":700`, 1)
	if got != want {
		t.Errorf("after a v1 write, v2 view =\n%s\nwant\n%s", got, want)
	}

	// Without anything kept, the remove step's default serves.
	d4 := mustWrite(t, s, recordAt(t, s, 2, v2body), 2, nil)
	if got := viewJSON(t, s, d4, 1); !strings.Contains(got, `"legacy_code":""`) {
		t.Errorf("v2 write viewed at v1 = %s, want legacy_code from the step default \"\"", got)
	}

	// A v1 write with nothing stored gets the step defaults.
	if got := viewJSON(t, s, d1, 2); !strings.Contains(got, `"currency":"EUR"`) {
		t.Errorf("v1 write without a stored record = %s, want currency EUR", got)
	}
}

const retypeV1 = `{"name":"r","version":1,"fields":{"qty":{"type":"int"},"at":{"type":"time"},"f":{"type":"float"}}}`
const retypeV2 = `{"name":"r","version":2,"fields":{"qty":{"type":"float"},"at":{"type":"string"},"f":{"type":"string"}},
 "migrate":[{"op":"retype","field":"qty","to":"float"},{"op":"retype","field":"at","to":"string"},{"op":"retype","field":"f","to":"string"}]}`

func TestRetype(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, retypeV1, retypeV2)
	big := `{"qty":9007199254740993,"at":"2024-01-02T03:04:05.000000001+01:00","f":0.1}`
	d := mustWrite(t, s, recordAt(t, s, 1, big), 1, nil)
	if got, want := viewJSON(t, s, d, 2), `{"at":"2024-01-02T02:04:05.000000001Z","f":"0.1","qty":9007199254740992}`; got != want {
		t.Errorf("v2 view = %s, want %s", got, want)
	}
	if got, want := viewJSON(t, s, d, 1), `{"at":"2024-01-02T02:04:05.000000001Z","f":0.1,"qty":9007199254740993}`; got != want {
		t.Errorf("v1 view = %s, want %s (the int beyond 2^53 comes back exactly)", got, want)
	}
	// Once a v2 client changes the float, what was kept no longer applies.
	d2 := mustWrite(t, s, recordAt(t, s, 2, `{"qty":5,"at":"2024-01-02T02:04:05.000000001Z","f":"0.1"}`), 2, d)
	if got, want := viewJSON(t, s, d2, 1), `{"at":"2024-01-02T02:04:05.000000001Z","f":0.1,"qty":5}`; got != want {
		t.Errorf("v1 view after a v2 write = %s, want %s", got, want)
	}
	// Nor does it when a later write sets the float the kept int widens
	// to: that is the value the client wrote now.
	d3 := mustWrite(t, s, recordAt(t, s, 2, `{"qty":9007199254740992,"at":"2024-01-02T02:04:05.000000001Z","f":"0.1"}`), 2, d2)
	if got, want := viewJSON(t, s, d3, 1), `{"at":"2024-01-02T02:04:05.000000001Z","f":0.1,"qty":9007199254740992}`; got != want {
		t.Errorf("v1 view after two v2 writes = %s, want %s", got, want)
	}
	// A v2 write that leaves the float as it was keeps the int exactly.
	d4 := mustWrite(t, s, recordAt(t, s, 2, `{"qty":9007199254740992,"at":"2024-01-02T02:04:05.000000001Z","f":"0.5"}`), 2, d)
	if got, want := viewJSON(t, s, d4, 1), `{"at":"2024-01-02T02:04:05.000000001Z","f":0.5,"qty":9007199254740993}`; got != want {
		t.Errorf("v1 view after a v2 write of other fields = %s, want %s", got, want)
	}
	// The same write over the stored bytes, as a PUT makes it.
	stored, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d5, err := s.WriteStored(recordAt(t, s, 2, `{"qty":9007199254740992,"at":"2024-01-02T02:04:05.000000001Z","f":"0.5"}`), 2, stored)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := viewJSON(t, s, d5, 1), `{"at":"2024-01-02T02:04:05.000000001Z","f":0.5,"qty":9007199254740993}`; got != want {
		t.Errorf("v1 view after a stored v2 write of other fields = %s, want %s", got, want)
	}

	// A value written since, which cannot be seen at version 1, is a
	// change: the original of before it does not come back.
	_, s4 := mustRegister(t,
		`{"name":"r","version":1,"fields":{"n":{"type":"int"}}}`,
		`{"name":"r","version":2,"fields":{"n":{"type":"float"}},"migrate":[{"op":"retype","field":"n","to":"float"}]}`,
		`{"name":"r","version":3,"fields":{"n":{"type":"string"}},"migrate":[{"op":"retype","field":"n","to":"string"}]}`)
	r1 := mustWrite(t, s4, recordAt(t, s4, 1, `{"n":9007199254740993}`), 1, nil)
	r2 := mustWrite(t, s4, recordAt(t, s4, 3, `{"n":"abc"}`), 3, r1)
	r3 := mustWrite(t, s4, recordAt(t, s4, 3, `{"n":"9.007199254740992e+15"}`), 3, r2)
	if got, want := viewJSON(t, s4, r3, 1), `{"n":9007199254740992}`; got != want {
		t.Errorf("v1 view after a write v1 could not see and another = %s, want %s", got, want)
	}

	// A field of a later version that cannot go down says nothing of q.
	_, s3 := mustRegister(t,
		`{"name":"q","version":1,"fields":{"q":{"type":"int"},"f":{"type":"float"}}}`,
		`{"name":"q","version":2,"fields":{"q":{"type":"float"},"f":{"type":"float"}},"migrate":[{"op":"retype","field":"q","to":"float"}]}`,
		`{"name":"q","version":3,"fields":{"q":{"type":"float"},"f":{"type":"string"}},"migrate":[{"op":"retype","field":"f","to":"string"}]}`)
	q1 := mustWrite(t, s3, recordAt(t, s3, 1, `{"q":9007199254740993,"f":1.5}`), 1, nil)
	q2 := mustWrite(t, s3, recordAt(t, s3, 3, `{"q":9007199254740992,"f":"n/a"}`), 3, q1)
	q3 := mustWrite(t, s3, recordAt(t, s3, 3, `{"q":9007199254740992,"f":"0.5"}`), 3, q2)
	if got, want := viewJSON(t, s3, q3, 1), `{"f":0.5,"q":9007199254740993}`; got != want {
		t.Errorf("v1 view after a write another field could not go down from = %s, want %s", got, want)
	}

	tests := []struct {
		name, body string
		field      string // "" when the v1 view exists
	}{
		{"integral float", `{"qty":7.0,"at":"2024-01-02T02:04:05Z","f":"1e+21"}`, ""},
		{"fraction", `{"qty":7.5,"at":"2024-01-02T02:04:05Z","f":"1"}`, "qty"},
		{"beyond int64", `{"qty":1e19,"at":"2024-01-02T02:04:05Z","f":"1"}`, "qty"},
		{"negative zero", `{"qty":-0.0,"at":"2024-01-02T02:04:05Z","f":"1"}`, "qty"},
		{"zero", `{"qty":0.0,"at":"2024-01-02T02:04:05Z","f":"1"}`, ""},
		{"not a time", `{"qty":1,"at":"soon","f":"1"}`, "at"},
		{"time not in UTC form", `{"qty":1,"at":"2024-01-02T03:04:05+01:00","f":"1"}`, "at"},
		{"not a float", `{"qty":1,"at":"2024-01-02T02:04:05Z","f":"abc"}`, "f"},
		{"float not as written", `{"qty":1,"at":"2024-01-02T02:04:05Z","f":"1.0"}`, "f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := mustWrite(t, s, recordAt(t, s, 2, tc.body), 2, nil)
			_, err := s.View(d, 1)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("View(%s at v1) = %v, want success", tc.body, err)
				}
				return
			}
			if !problem.Is(err, problem.NotAcceptable) || !strings.Contains(err.Error(), "field '"+tc.field+"'") || !strings.Contains(err.Error(), "version 2") {
				t.Fatalf("View(%s at v1) = %v, want a problem.NotAcceptable naming field %s and the step of version 2", tc.body, err, tc.field)
			}
		})
	}
}

// TestWriteBelowAValueItsVersionCannotShow checks writes at version 1
// over records holding a value that a retype above cannot bring down to
// version 2: a field version 1 sees is replaced by what the client wrote,
// and a field it does not see keeps its stored value, however many
// versions down the retype is. A view is refused only where the value is
// still there at the version asked for.
func TestWriteBelowAValueItsVersionCannotShow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		defs     []string
		stored   string // written at the latest version
		write    string // at version 1
		latest   string // the latest view after the write
		v1Before bool   // whether the stored record has a version-1 view
	}{
		{
			name: "field version 1 sees",
			defs: []string{
				`{"name":"m","version":1,"fields":{"n":{"type":"int"}}}`,
				`{"name":"m","version":2,"fields":{"n":{"type":"int"},"y":{"type":"string"}},"migrate":[{"op":"add","field":"y","default":"dy"}]}`,
				`{"name":"m","version":3,"fields":{"n":{"type":"float"},"y":{"type":"string"}},"migrate":[{"op":"retype","field":"n","to":"float"}]}`,
			},
			stored: `{"n":7.5,"y":"kept"}`,
			write:  `{"n":8}`,
			latest: `{"n":8,"y":"kept"}`,
		},
		{
			name: "field version 1 does not see",
			defs: []string{
				`{"name":"m","version":1,"fields":{"a":{"type":"int"}}}`,
				`{"name":"m","version":2,"fields":{"a":{"type":"int"},"b":{"type":"int"}},"migrate":[{"op":"add","field":"b","default":0}]}`,
				`{"name":"m","version":3,"fields":{"a":{"type":"int"},"b":{"type":"float"}},"migrate":[{"op":"retype","field":"b","to":"float"}]}`,
			},
			stored:   `{"a":1,"b":7.5}`,
			write:    `{"a":2}`,
			latest:   `{"a":2,"b":7.5}`,
			v1Before: true,
		},
		{
			name: "moved into an object the write leaves out",
			defs: []string{
				`{"name":"m","version":1,"fields":{"a":{"type":"int"},"o":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true}}}}}`,
				`{"name":"m","version":2,"fields":{"a":{"type":"int"},"b":{"type":"int"},"o":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true}}}},"migrate":[{"op":"add","field":"b","default":0}]}`,
				`{"name":"m","version":3,"fields":{"a":{"type":"int"},"o":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true},"b":{"type":"int","optional":true}}}},"migrate":[{"op":"rename","from":"b","to":"o.b"}]}`,
				`{"name":"m","version":4,"fields":{"a":{"type":"int"},"o":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true},"b":{"type":"float","optional":true}}}},"migrate":[{"op":"retype","field":"o.b","to":"float"}]}`,
			},
			stored:   `{"a":1,"o":{"b":7.5}}`,
			write:    `{"a":2,"o":null}`,
			latest:   `{"a":2,"o":null}`,
			v1Before: true,
		},
		{
			name: "an object moved into one the write leaves out",
			defs: []string{
				`{"name":"m","version":1,"fields":{"a":{"type":"int"},"p":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true}}}}}`,
				`{"name":"m","version":2,"fields":{"a":{"type":"int"},"p":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true}}},"o":{"type":"object","optional":true,"fields":{"n":{"type":"int"}}}},"migrate":[{"op":"add","field":"o"}]}`,
				`{"name":"m","version":3,"fields":{"a":{"type":"int"},"p":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true},"o":{"type":"object","optional":true,"fields":{"n":{"type":"int"}}}}}},"migrate":[{"op":"rename","from":"o","to":"p.o"}]}`,
				`{"name":"m","version":4,"fields":{"a":{"type":"int"},"p":{"type":"object","optional":true,"fields":{"x":{"type":"string","optional":true},"o":{"type":"object","optional":true,"fields":{"n":{"type":"float"}}}}}},"migrate":[{"op":"retype","field":"p.o.n","to":"float"}]}`,
			},
			stored:   `{"a":1,"p":{"o":{"n":7.5}}}`,
			write:    `{"a":2,"p":null}`,
			latest:   `{"a":2,"p":null}`,
			v1Before: true,
		},
		{
			name: "renamed and retyped twice",
			defs: []string{
				`{"name":"m","version":1,"fields":{"a":{"type":"int"}}}`,
				`{"name":"m","version":2,"fields":{"a":{"type":"int"},"b":{"type":"int"}},"migrate":[{"op":"add","field":"b","default":0}]}`,
				`{"name":"m","version":3,"fields":{"a":{"type":"int"},"c":{"type":"float"}},"migrate":[{"op":"rename","from":"b","to":"c"},{"op":"retype","field":"c","to":"float"}]}`,
				`{"name":"m","version":4,"fields":{"a":{"type":"int"},"c":{"type":"string"}},"migrate":[{"op":"retype","field":"c","to":"string"}]}`,
			},
			stored:   `{"a":1,"c":"not a number"}`,
			write:    `{"a":2}`,
			latest:   `{"a":2,"c":"not a number"}`,
			v1Before: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, s := mustRegister(t, tc.defs...)
			latest := len(tc.defs)
			d := mustWrite(t, s, recordAt(t, s, latest, tc.stored), latest, nil)
			if _, err := s.View(d, 2); !problem.Is(err, problem.NotAcceptable) {
				t.Fatalf("stored record at v2: %v, want a problem.NotAcceptable", err)
			}
			if _, err := s.View(d, 1); (err == nil) != tc.v1Before {
				t.Errorf("stored record at v1: %v, want a view: %v", err, tc.v1Before)
			}
			w := mustWrite(t, s, recordAt(t, s, 1, tc.write), 1, d)
			if got := viewJSON(t, s, w, latest); got != tc.latest {
				t.Errorf("after the v1 write: %s, want %s", got, tc.latest)
			}
			if got := viewJSON(t, s, w, 1); got != tc.write {
				t.Errorf("after the v1 write, at v1: %s, want %s", got, tc.write)
			}
			for k, x := range w.Kept {
				if firstUnfit(x) != nil {
					t.Errorf("kept %s holds an unfit value", k)
				}
			}
			if _, err := w.MarshalBinary(); err != nil {
				t.Errorf("the written document does not encode: %v", err)
			}
		})
	}
}

// TestUnfitValuesNamedAsSeen checks that a refusal for a value a version
// cannot show names the field as a client of that version does, and that
// a merge base holds a zero value where the patch replaces it.
func TestUnfitValuesNamedAsSeen(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t,
		`{"name":"m","version":1,"fields":{"x":{"type":"int"},"o":{"type":"string"}}}`,
		`{"name":"m","version":2,"fields":{"y":{"type":"float"},"o":{"type":"string"}},"migrate":[{"op":"rename","from":"x","to":"y"},{"op":"retype","field":"y","to":"float"}]}`)
	d := mustWrite(t, s, recordAt(t, s, 2, `{"y":1.5,"o":"o"}`), 2, nil)
	_, err := s.View(d, 1)
	if !problem.Is(err, problem.NotAcceptable) || !strings.Contains(err.Error(), "field 'x' (named 'y' in version 2)") {
		t.Errorf("View at v1: %v, want a problem.NotAcceptable naming x, as y in version 2", err)
	}
	_, err = s.MergeBase(d, 1, func(path []string) bool { return false })
	if !problem.Is(err, problem.Conflict) || !strings.Contains(err.Error(), "field 'x'") {
		t.Errorf("MergeBase at v1 of a patch leaving x: %v, want a problem.Conflict naming x", err)
	}
	base, err := s.MergeBase(d, 1, func(path []string) bool { return slices.Equal(path, []string{"x"}) })
	if err != nil {
		t.Fatalf("MergeBase at v1 of a patch replacing x: %v", err)
	}
	if b, _ := json.Marshal(base); string(b) != `{"o":"o","x":0}` {
		t.Errorf("MergeBase at v1 of a patch replacing x = %s, want x zero", b)
	}
}

func TestNestedPaths(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"p","version":1,"fields":{"zip":{"type":"string"},"address":{"type":"object","optional":true,"fields":{"street":{"type":"string"},"old":{"type":"int"}}}}}`
	v2 := `{"name":"p","version":2,"fields":{"address":{"type":"object","optional":true,"fields":{"street":{"type":"string"},"zip":{"type":"string"},"country":{"type":"string"}}}},
	 "migrate":[{"op":"rename","from":"zip","to":"address.zip"},{"op":"add","field":"address.country","default":"NL"},{"op":"remove","field":"address.old","default":0}]}`
	_, s := mustRegister(t, v1, v2)
	d := mustWrite(t, s, recordAt(t, s, 1, `{"zip":"1234AB","address":{"street":"Dam","old":3}}`), 1, nil)
	if got, want := viewJSON(t, s, d, 2), `{"address":{"country":"NL","street":"Dam","zip":"1234AB"}}`; got != want {
		t.Errorf("v2 view = %s, want %s", got, want)
	}
	if got, want := viewJSON(t, s, d, 1), `{"address":{"old":3,"street":"Dam"},"zip":"1234AB"}`; got != want {
		t.Errorf("v1 view = %s, want %s", got, want)
	}
	// Renamed into an object the record lacks: kept, and back at v1.
	d = mustWrite(t, s, recordAt(t, s, 1, `{"zip":"9999ZZ","address":null}`), 1, nil)
	if got, want := viewJSON(t, s, d, 2), `{"address":null}`; got != want {
		t.Errorf("v2 view = %s, want %s", got, want)
	}
	if got, want := viewJSON(t, s, d, 1), `{"address":null,"zip":"9999ZZ"}`; got != want {
		t.Errorf("v1 view = %s, want %s (zip kept)", got, want)
	}
}

func TestWriteValidatesAtLatest(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"w","version":1,"fields":{"code":{"type":"string"}}}`
	v2 := `{"name":"w","version":2,"compatibility":"BACKWARD","fields":{"sku":{"type":"string","validate":"required"}},"migrate":[{"op":"rename","from":"code","to":"sku"}]}`
	_, s := mustRegister(t, v1, v2)
	_, err := s.Write(recordAt(t, s, 1, `{"code":""}`), 1, nil)
	fields := problemFields(err)
	if !problem.Is(err, problem.Unprocessable) || len(fields) != 1 || fields[0].Field != "sku" || fields[0].Rule != "required" || fields[0].Version != 2 {
		t.Fatalf("Write(code \"\" at v1) = %v %+v, want sku required at version 2", err, fields)
	}
}

func TestViewMissingValue(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"m","version":1,"fields":{"a":{"type":"int"},"b":{"type":"string"}}}`
	v2 := `{"name":"m","version":2,"compatibility":"BACKWARD","fields":{"a":{"type":"int"}},"migrate":[{"op":"remove","field":"b"}]}`
	_, s := mustRegister(t, v1, v2)
	d := mustWrite(t, s, recordAt(t, s, 2, `{"a":1}`), 2, nil)
	_, err := s.View(d, 1)
	if !problem.Is(err, problem.NotAcceptable) || !strings.Contains(err.Error(), "b is missing") {
		t.Fatalf("View at v1 of a record without b = %v, want a problem.NotAcceptable about b", err)
	}
	if _, err := s.View(d, 3); !problem.Is(err, problem.NotFound) {
		t.Fatalf("View at v3 = %v, want not found", err)
	}
}

func TestUpgrade(t *testing.T) {
	t.Parallel()
	r, s1 := mustRegister(t, orderV1)
	d := mustWrite(t, s1, recordAt(t, s1, 1, orderBodyV1), 1, nil)
	if _, err := r.Register(t.Context(), mustParse(t, orderV2), false); err != nil {
		t.Fatal(err)
	}
	s2, _ := r.Schema("order")
	up, err := s2.Upgrade(d)
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 2 || up.Data["currency"] != "EUR" || up.Kept["2.3"] != "L7" {
		t.Fatalf("Upgrade = %+v, want version 2, currency EUR and legacy_code kept", up)
	}
	if d.Version != 1 || d.Data["amount"] != int64(500) {
		t.Fatalf("Upgrade changed its argument: %+v", d)
	}
	if same, _ := s2.Upgrade(up); same != up {
		t.Fatal("Upgrade of a latest document made a new one")
	}
	// Reading and writing an old document upgrades it first.
	if got := viewJSON(t, s2, d, 1); !strings.Contains(got, `"legacy_code":"L7"`) {
		t.Errorf("v1 view of the old document = %s", got)
	}
	d2 := mustWrite(t, s2, recordAt(t, s2, 1, orderBodyV1), 1, d)
	if d2.Version != 2 {
		t.Errorf("write over an old document stored version %d", d2.Version)
	}
}

func TestDocBinary(t *testing.T) {
	t.Parallel()
	d := &Doc{
		Version: 3,
		Data: map[string]any{
			"max":   int64(math.MaxInt64),
			"min":   int64(math.MinInt64),
			"neg0":  math.Copysign(0, -1),
			"f":     0.1,
			"whole": 7.0,
			"t":     time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
			"zero":  time.Time{},
			"nil":   nil,
			"b":     []byte{0, 1, 255},
			"empty": []byte{},
			"s":     "héllo\x00",
			"yes":   true,
			"arr":   []any{int64(1), "x", []any{}},
			"obj":   map[string]any{"n": map[string]any{}},
		},
		Kept: map[string]any{"2.0": "old"},
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Doc
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, d) {
		t.Fatalf("round trip =\n%#v\nwant\n%#v", got, *d)
	}
	if math.Signbit(got.Data["neg0"].(float64)) != true {
		t.Error("-0 lost its sign")
	}
	if _, ok := got.Data["whole"].(float64); !ok {
		t.Errorf("7.0 came back as %T, want float64", got.Data["whole"])
	}
	b2, _ := got.MarshalBinary()
	if string(b2) != string(b) {
		t.Error("encoding is not deterministic")
	}
	if err := got.UnmarshalBinary(b[:len(b)-1]); err == nil {
		t.Error("a truncated document decoded")
	}
}

// WriteStored must give the same document as Write with the stored
// document decoded, whichever shortcut it takes.
func TestWriteStoredMatchesWrite(t *testing.T) {
	t.Parallel()
	_, s1 := mustRegister(t, orderV1)
	stored1 := mustWrite(t, s1, recordAt(t, s1, 1, orderBodyV1), 1, nil) // stored at v1, before v2 exists
	_, s := mustRegister(t, orderV1, orderV2)
	d1 := mustWrite(t, s, recordAt(t, s, 1, orderBodyV1), 1, nil)
	v2body := `{"amount_cents":9,"attrs":{},"channel":"app","currency":"USD","customer":"x@y.co","items":[],"paid":false,"placed_at":"2025-01-01T00:00:00Z"}`
	tests := []struct {
		name  string
		from  int
		body  string
		prev  *Doc
		check string // a fragment the v1 view must show
	}{
		{"latest over latest keeps what was kept", 2, v2body, d1, `"legacy_code":"L7"`},
		{"latest over an older latest keeps what the upgrade removes", 2, v2body, stored1, `"legacy_code":"L7"`},
		{"older over latest", 1, strings.Replace(orderBodyV1, `"amount":500`, `"amount":1`, 1), d1, `"amount":1`},
		{"nothing stored", 2, v2body, nil, `"legacy_code":""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := mustWrite(t, s, recordAt(t, s, tc.from, tc.body), tc.from, tc.prev)
			var stored []byte
			if tc.prev != nil {
				var err error
				if stored, err = tc.prev.MarshalBinary(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.WriteStored(recordAt(t, s, tc.from, tc.body), tc.from, stored)
			if err != nil {
				t.Fatalf("WriteStored: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("WriteStored = %+v\nWrite       = %+v", got, want)
			}
			if v1 := viewJSON(t, s, got, 1); !strings.Contains(v1, tc.check) {
				t.Errorf("v1 view %s lacks %s", v1, tc.check)
			}
		})
	}
}

// addDocSeeds registers the order schema, versions 1 and 2, and seeds f
// with a stored document of it, that document cut in half, and a map
// claiming more bytes than there are.
func addDocSeeds(f *testing.F) *Schema {
	_, s := mustRegister(f, orderV1, orderV2)
	d := mustWrite(f, s, recordAt(f, s, 1, orderBodyV1), 1, nil)
	good, err := d.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0x83, 0x01, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return s
}

// FuzzDecodeDoc holds the stored-document decoder to never panic or
// over-allocate on damaged bytes, and to give back exactly what the
// encoder wrote.
func FuzzDecodeDoc(f *testing.F) {
	addDocSeeds(f)
	f.Add([]byte{0x83, 0x01, 0xa1, 0x61, 0x61, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var doc Doc
		if err := doc.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := doc.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode of a decoded document: %v", err)
		}
		var back Doc
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("decode of a re-encoded document: %v", err)
		}
		if !reflect.DeepEqual(doc, back) {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", doc, back)
		}
	})
}

// TestMoveIntoNewObject moves top-level fields into an object that the
// version adds, and in a third version out of it again before removing
// it: the add's default need not hold what the renames bring, and records
// go up and down losslessly.
func TestMoveIntoNewObject(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"pt","version":1,"fields":{"x":{"type":"int"},"y":{"type":"int"},"label":{"type":"string"}}}`
	v2 := `{"name":"pt","version":2,"fields":{"label":{"type":"string"},"pos":{"type":"object","fields":{"x":{"type":"int"},"y":{"type":"int"},"z":{"type":"int"}}}},
	 "migrate":[{"op":"add","field":"pos","default":{}},{"op":"rename","from":"x","to":"pos.x"},{"op":"rename","from":"y","to":"pos.y"},{"op":"add","field":"pos.z","default":0}]}`
	v3 := `{"name":"pt","version":3,"fields":{"label":{"type":"string"},"px":{"type":"int"},"py":{"type":"int"}},
	 "migrate":[{"op":"rename","from":"pos.x","to":"px"},{"op":"rename","from":"pos.y","to":"py"},{"op":"remove","field":"pos","default":{"z":0}}]}`
	// Each step can be undone, so the strictest mode takes the chain too.
	full := strings.Replace(v1, `"version":1,`, `"version":1,"compatibility":"FULL_TRANSITIVE",`, 1)
	_, s := mustRegister(t, full, v2, v3)
	d := mustWrite(t, s, recordAt(t, s, 1, `{"x":1,"y":2,"label":"a"}`), 1, nil)
	for n, want := range map[int]string{
		1: `{"label":"a","x":1,"y":2}`,
		2: `{"label":"a","pos":{"x":1,"y":2,"z":0}}`,
		3: `{"label":"a","px":1,"py":2}`,
	} {
		if got := viewJSON(t, s, d, n); got != want {
			t.Errorf("v%d view = %s, want %s", n, got, want)
		}
	}
	// Written at version 2 with a z version 1 cannot see: back at 2 after
	// a version-1 write, and at 1 without pos.
	d = mustWrite(t, s, recordAt(t, s, 2, `{"label":"b","pos":{"x":3,"y":4,"z":5}}`), 2, nil)
	if got, want := viewJSON(t, s, d, 1), `{"label":"b","x":3,"y":4}`; got != want {
		t.Errorf("v1 view = %s, want %s", got, want)
	}
	d = mustWrite(t, s, recordAt(t, s, 1, `{"x":7,"y":8,"label":"c"}`), 1, d)
	if got, want := viewJSON(t, s, d, 2), `{"label":"c","pos":{"x":7,"y":8,"z":5}}`; got != want {
		t.Errorf("v2 view after a v1 write = %s, want %s", got, want)
	}
}

// TestAddedObjectDefaultStillChecked keeps refusing a default that lacks
// a required member no step provides.
func TestAddedObjectDefaultStillChecked(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"pq","version":1,"fields":{"x":{"type":"int"}}}`
	v2 := `{"name":"pq","version":2,"fields":{"pos":{"type":"object","fields":{"x":{"type":"int"},"w":{"type":"int"}}}},
	 "migrate":[{"op":"add","field":"pos","default":{}},{"op":"rename","from":"x","to":"pos.x"}]}`
	r, _ := mustRegister(t, v1)
	def := mustParse(t, v2)
	_, err := r.Register(context.Background(), def, false)
	if err == nil || !strings.Contains(fmt.Sprint(err, problemLists(err)), "w") {
		t.Errorf("Register with a default lacking w = %v %v, want it refused naming w", err, problemLists(err))
	}
}

// TestWriteBelowMoveClearsMovedField writes at the version before a move
// into a new object, leaving out an optional field that moves: the write
// clears it, as it does for any field its version can see.
func TestWriteBelowMoveClearsMovedField(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"mb","version":1,"fields":{"a":{"type":"int"},"b":{"type":"string","optional":true}}}`
	v2 := `{"name":"mb","version":2,"fields":{"box":{"type":"object","fields":{"a":{"type":"int"},"b":{"type":"string","optional":true},"c":{"type":"int"}}}},
	 "migrate":[{"op":"add","field":"box","default":{"c":1}},{"op":"rename","from":"a","to":"box.a"},{"op":"rename","from":"b","to":"box.b"}]}`
	_, s := mustRegister(t, v1, v2)
	d := mustWrite(t, s, recordAt(t, s, 2, `{"box":{"a":1,"b":"hello","c":9}}`), 2, nil)
	d = mustWrite(t, s, recordAt(t, s, 1, `{"a":2,"b":null}`), 1, d)
	if got, want := viewJSON(t, s, d, 2), `{"box":{"a":2,"b":null,"c":9}}`; got != want {
		t.Errorf("v2 view after a v1 write without b = %s, want %s (b cleared, c kept)", got, want)
	}
	if got, want := viewJSON(t, s, d, 1), `{"a":2,"b":null}`; got != want {
		t.Errorf("v1 view = %s, want %s", got, want)
	}
}

// TestRenameIntoUndeclaredMember names the rename when it moves a field
// to a place the new version does not declare.
func TestRenameIntoUndeclaredMember(t *testing.T) {
	t.Parallel()
	r, _ := mustRegister(t, `{"name":"ru","version":1,"fields":{"b":{"type":"string"}}}`)
	def := mustParse(t, `{"name":"ru","version":2,"fields":{"box":{"type":"object","fields":{"keep":{"type":"string"}}}},
	 "migrate":[{"op":"add","field":"box","default":{"keep":"k"}},{"op":"rename","from":"b","to":"box.zz"}]}`)
	_, err := r.Register(context.Background(), def, false)
	if got := fmt.Sprint(problemLists(err)); !strings.Contains(got, "field 'box.zz', where a rename moves 'b', is not in version 2") {
		t.Errorf("Register = %v %s, want the rename named", err, got)
	}
}

// TestRenameBeforeItsAdd blames a rename into an object that a later step
// adds, not the add's default.
func TestRenameBeforeItsAdd(t *testing.T) {
	t.Parallel()
	r, _ := mustRegister(t, `{"name":"rb","version":1,"fields":{"a":{"type":"int"}}}`)
	def := mustParse(t, `{"name":"rb","version":2,"fields":{"box":{"type":"object","fields":{"a":{"type":"int"}}}},
	 "migrate":[{"op":"rename","from":"a","to":"box.a"},{"op":"add","field":"box","default":{}}]}`)
	_, err := r.Register(context.Background(), def, false)
	got := fmt.Sprint(err, problemLists(err))
	if !strings.Contains(got, "step 1 (rename a → box.a): it moves a field into 'box', which step 2 (add box) adds after it; put the add first") ||
		strings.Contains(got, "does not fit") {
		t.Errorf("Register = %s, want the order blamed, not the default", got)
	}
}

// TestWriteKeepsValueHiddenByAbsentObject moves a field out of an optional
// object that a record lacks: the versions with the object cannot show the
// value, and a write at any of them, or below, keeps it.
func TestWriteKeepsValueHiddenByAbsentObject(t *testing.T) {
	t.Parallel()
	v1 := `{"name":"mh","version":1,"fields":{"k":{"type":"string"}}}`
	v2 := `{"name":"mh","version":2,"fields":{"k":{"type":"string"},"o":{"type":"object","optional":true,"fields":{"a":{"type":"int","optional":true},"b":{"type":"string","optional":true}}}},
	 "migrate":[{"op":"add","field":"o"}]}`
	v3 := `{"name":"mh","version":3,"fields":{"k":{"type":"string"},"a":{"type":"int","optional":true},"o":{"type":"object","optional":true,"fields":{"b":{"type":"string","optional":true}}}},
	 "migrate":[{"op":"rename","from":"o.a","to":"a"}]}`
	_, s := mustRegister(t, v1, v2, v3)
	stored := mustWrite(t, s, recordAt(t, s, 3, `{"k":"x","a":5}`), 3, nil)
	for _, w := range []struct {
		version int
		body    string
	}{{1, `{"k":"y"}`}, {2, `{"k":"y","o":null}`}} {
		d := mustWrite(t, s, recordAt(t, s, w.version, w.body), w.version, stored)
		if got, want := viewJSON(t, s, d, 3), `{"a":5,"k":"y","o":null}`; got != want {
			t.Errorf("v3 view after a v%d write = %s, want %s", w.version, got, want)
		}
	}
	// A version-2 write that gives o decides a: o.a absent clears it.
	d := mustWrite(t, s, recordAt(t, s, 2, `{"k":"z","o":{"b":"B"}}`), 2, stored)
	if got, want := viewJSON(t, s, d, 3), `{"a":null,"k":"z","o":{"b":"B"}}`; got != want {
		t.Errorf("v3 view after a v2 write with o = %s, want %s", got, want)
	}
	if len(d.Kept) != 0 {
		t.Errorf("kept after the v2 write with o = %v, want nothing", d.Kept)
	}
}
