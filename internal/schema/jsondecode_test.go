package schema

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/negotiate"
)

// decodeBoth decodes body at v both ways and fails t where DecodeJSON
// takes a body that the general way reads differently. It reports
// whether DecodeJSON took the body.
func decodeBoth(t testing.TB, codec negotiate.Codec, v *Version, body []byte) bool {
	t.Helper()
	fast, ok := v.DecodeJSON(body)
	if !ok {
		return false
	}
	w := v.New()
	if err := codec.Decode(body, w); err != nil {
		t.Fatalf("DecodeJSON took a body the codec refuses (%v):\n%s", err, body)
	}
	want, wantErr := v.Validate(w, false)
	got, gotErr := v.Validate(fast, false)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("Validate after DecodeJSON = %v, after the codec = %v:\n%s", gotErr, wantErr, body)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeJSON read\n%#v\nthe codec reads\n%#v\nfrom\n%s", got, want, body)
	}
	return true
}

// mutations are edits of a JSON record body that the general way mostly
// refuses or reads differently; DecodeJSON must then agree or decline.
var mutations = []func(r *rand.Rand, body []byte) []byte{
	func(_ *rand.Rand, b []byte) []byte { return b },
	func(_ *rand.Rand, b []byte) []byte { // white space everywhere allowed
		v := jsontext.Value(bytes.Clone(b))
		if err := v.Indent(jsontext.WithIndentPrefix("\t"), jsontext.WithIndent(" \t")); err != nil {
			return b
		}
		return bytes.ReplaceAll(v, []byte("\n"), []byte("\r\n"))
	},
	func(r *rand.Rand, b []byte) []byte { return b[:r.Intn(len(b))] },
	func(_ *rand.Rand, b []byte) []byte { return append(bytes.Clone(b), " x"...) },
	func(_ *rand.Rand, b []byte) []byte { return bytes.Replace(b, []byte("{"), []byte(`{"zz":1,`), 1) },
	func(r *rand.Rand, b []byte) []byte { // a member named twice
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			return b
		}
		return append(bytes.Clone(b[:i]), append([]byte(","), b[1:]...)...)
	},
	func(r *rand.Rand, b []byte) []byte { // a value replaced by null
		i := bytes.Index(b, []byte(`":`))
		for range r.Intn(4) {
			if j := bytes.Index(b[i+1:], []byte(`":`)); j >= 0 {
				i += 1 + j
			}
		}
		if i < 0 {
			return b
		}
		end := i + 2
		for end < len(b) && b[end] != ',' && b[end] != '}' {
			end++
		}
		return append(append(bytes.Clone(b[:i+2]), "null"...), b[end:]...)
	},
	func(r *rand.Rand, b []byte) []byte { // one byte changed
		c := bytes.Clone(b)
		c[r.Intn(len(c))] = `"{}[],:0-1.eE\nutf"`[r.Intn(18)]
		return c
	},
}

// TestPropertyDecodeJSON checks DecodeJSON against the codec and Validate
// on random records of random schemas, as written and mutated.
func TestPropertyDecodeJSON(t *testing.T) {
	t.Parallel()
	codec := negotiate.NewJSONCodec()
	taken, asWritten := 0, 0
	for seed := range int64(200) {
		g := &gen{r: rand.New(rand.NewSource(seed))}
		s, def := randomSchema(t, g)
		v, _ := s.Version(1)
		for range 5 {
			body := mustJSON(g.object(def.Fields))
			if decodeBoth(t, codec, v, body) {
				asWritten++
			}
			for _, m := range mutations[1:] {
				if decodeBoth(t, codec, v, m(g.r, body)) {
					taken++
				}
			}
		}
	}
	// Every record the JSON codec writes is well-formed and complete.
	if asWritten != 1000 {
		t.Errorf("DecodeJSON took %d of 1000 records as written, want all", asWritten)
	}
	t.Logf("DecodeJSON took %d of 1000 records as written, %d of %d mutated", asWritten, taken, 1000*(len(mutations)-1))
}

func TestDecodeJSONDeclines(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, `{"name":"d","version":1,"fields":{
		"s":{"type":"string"},"i":{"type":"int"},"f":{"type":"float"},"b":{"type":"bool"},
		"t":{"type":"time","optional":true},"y":{"type":"bytes","optional":true},
		"o":{"type":"object","optional":true,"fields":{"k":{"type":"int"}}},
		"a":{"type":"array","optional":true,"items":{"type":"int"}},
		"m":{"type":"map","optional":true,"values":{"type":"int"}}}}`)
	v := s.Latest()
	const base = `"s":"x","i":1,"f":1.5,"b":true`
	for _, body := range []string{
		`{` + base + `,"i":2}`,
		`{` + base + `,"S":"x"}`,
		`{` + base + `,"z":1}`,
		`{"s":"x","i":1,"f":1.5}`,
		`{"s":"x","i":null,"f":1.5,"b":true}`,
		`{"s":"x","i":1.0,"f":1.5,"b":true}`,
		`{"s":"x","i":01,"f":1.5,"b":true}`,
		`{"s":"x","i":1e2,"f":1.5,"b":true}`,
		`{"s":"x","i":9223372036854775808,"f":1.5,"b":true}`,
		`{"s":"x","i":1,"f":1e400,"b":true}`,
		`{"s":"x","i":1,"f":.5,"b":true}`,
		`{"s":"x","i":1,"f":1.5,"b":"true"}`,
		`{"s":"\ud800","i":1,"f":1.5,"b":true}`,
		"{\"s\":\"\xff\",\"i\":1,\"f\":1.5,\"b\":true}",
		"{\"s\":\"a\tb\",\"i\":1,\"f\":1.5,\"b\":true}",
		`{` + base + `,"t":"2026-11-30 17:45:12Z"}`,
		`{` + base + `,"t":"2026-11-30T24:00:00Z"}`,
		`{` + base + `,"y":"AQI"}`,
		`{` + base + `,"y":"AQ\nI="}`,
		`{` + base + `,"o":{}}`,
		`{` + base + `,"a":[1,null]}`,
		`{` + base + `,"a":[1,]}`,
		`{` + base + `,"m":{"k":1,"k":2}}`,
		`{` + base + `,"m":{"k":null}}`,
		`{` + base + `}x`,
		`{` + base + `,}`,
		`{"s" "x"}`,
		`null`,
		`[]`,
		"\ufeff{" + base + `}`,
		``,
	} {
		if rec, ok := v.DecodeJSON([]byte(body)); ok {
			t.Errorf("DecodeJSON(%s) = %+v, want it declined", body, rec)
		}
	}
	for _, body := range []string{
		`{` + base + `}`,
		` {` + base + `,"t":null,"o":null} `,
		`{` + base + `,"t":"2026-11-30T17:45:12.5+01:00","y":"AQI=","o":{"k":-0},"a":[],"m":{"\u00e9":1}}`,
		`{"s":"tab\t\"q\" \u00e9 \ud83d\ude00","i":-9223372036854775808,"f":-1E-3,"b":false}`,
	} {
		if !decodeBoth(t, negotiate.NewJSONCodec(), v, []byte(body)) {
			t.Errorf("DecodeJSON(%s) declined, want it taken", body)
		}
	}
}

// TestDecodeJSONWideObject covers objects of more than 64 fields, whose
// members are tracked apart from the common case.
func TestDecodeJSONWideObject(t *testing.T) {
	t.Parallel()
	var def, body strings.Builder
	def.WriteString(`{"name":"wide","version":1,"fields":{`)
	body.WriteString(`{`)
	for i := range 70 {
		if i > 0 {
			def.WriteString(",")
			body.WriteString(",")
		}
		fmt.Fprintf(&def, `"f%02d":{"type":"int"}`, i)
		fmt.Fprintf(&body, `"f%02d":%d`, i, i)
	}
	def.WriteString(`}}`)
	_, s := mustRegister(t, def.String())
	v := s.Latest()
	codec := negotiate.NewJSONCodec()
	complete := body.String() + "}"
	if !decodeBoth(t, codec, v, []byte(complete)) {
		t.Errorf("DecodeJSON declined a complete record of 70 fields")
	}
	for _, declined := range []string{
		body.String() + `,"f66":1}`,                            // repeated
		strings.Replace(complete, `"f66":66,`, ``, 1),          // missing
		strings.Replace(complete, `"f66":66`, `"f66":null`, 1), // null for a required field
	} {
		if _, ok := v.DecodeJSON([]byte(declined)); ok {
			t.Errorf("DecodeJSON took %s", declined)
		}
	}
}

// TestDecodeJSONDepth: nesting beyond the codec's limit is left to the
// codec, which refuses it.
func TestDecodeJSONDepth(t *testing.T) {
	t.Parallel()
	var def strings.Builder
	def.WriteString(`{"name":"deep","version":1,"fields":{"a":`)
	for range maxDepth - 1 {
		def.WriteString(`{"type":"array","items":`)
	}
	def.WriteString(`{"type":"int"}` + strings.Repeat("}", maxDepth-1) + `}}`)
	_, s := mustRegister(t, def.String())
	body := `{"a":` + strings.Repeat("[", maxDepth-1) + "1" + strings.Repeat("]", maxDepth-1) + "}"
	if !decodeBoth(t, negotiate.NewJSONCodec(), s.Latest(), []byte(body)) {
		t.Errorf("DecodeJSON declined a record %d levels deep", maxDepth)
	}
}

// FuzzDecodeJSON holds DecodeJSON to read every body it takes exactly as
// the codec and Validate do.
func FuzzDecodeJSON(f *testing.F) {
	_, s := mustRegister(f, orderV1, orderV2)
	f.Add([]byte(`{"amount_cents":500,"attrs":{"k":"v"},"blob":null,"channel":"web","currency":"EUR","customer":"a@b.co","items":[{"qty":2,"sku":"s"}],"note":null,"paid":true,"placed_at":"2024-01-02T03:04:05.123456789Z"}`))
	f.Add([]byte(`{"customer":"a@b.c","amount_cents":1,"currency":"EUR","placed_at":"2026-11-30T17:45:12Z","paid":true,"items":[],"attrs":{},"blob":"AQI="}`))
	f.Add([]byte(`{"customer":"a\u0040b.c","amount_cents":-0,"currency":"EU","placed_at":"2026-11-30T17:45:12-00:30","paid":false,"note":"n","items":[{"sku":"x","qty":0}],"attrs":{"k":"\ud83d\ude00"}}`))
	codec := negotiate.NewJSONCodec()
	v := s.Latest()
	f.Fuzz(func(t *testing.T, body []byte) {
		decodeBoth(t, codec, v, body)
	})
}
