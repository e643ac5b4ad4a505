package handlers_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
)

func mustMsgpack(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		tb.Fatalf("msgpack.Marshal(%v): %v", v, err)
	}
	return b
}

// cborTimeTag0 writes times as tag 0 RFC 3339 text with nanoseconds.
var cborTimeTag0 = func() cbor.EncMode {
	em, err := cbor.EncOptions{Time: cbor.TimeRFC3339Nano, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

func mustCBOR(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := cborTimeTag0.Marshal(v)
	if err != nil {
		tb.Fatalf("cbor.Marshal(%v): %v", v, err)
	}
	return b
}

// convert posts body to /v1/convert (with query q) and returns the response.
func convert(tb testing.TB, s *Server, q string, contentType, accept string, body []byte) *Resp {
	tb.Helper()
	return s.Send(tb, http.MethodPost, "/v1/convert"+q, body, "Content-Type", contentType, "Accept", accept)
}

func TestConvertSchemalessKeepsIntegersExact(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	in := []byte(`{"big":9007199254740993,"min":-9223372036854775808,"max":18446744073709551615,"f":1.5,"s":"x","l":[true,null,"y"],"o":{"k":[]}}`)

	// JSON → msgpack → CBOR → JSON, each step through the service.
	mp := convert(t, s, "", "application/json", "application/vnd.msgpack", in).MustStatus(t, 200)
	if mt, _ := mediaType(t, mp.Header.Get("Content-Type")); mt != "application/vnd.msgpack" {
		t.Errorf("Content-Type %q, want application/vnd.msgpack", mp.Header.Get("Content-Type"))
	}
	var decoded map[string]any
	if err := msgpack.Unmarshal(mp.Body, &decoded); err != nil {
		t.Fatalf("msgpack output does not decode: %v", err)
	}
	if n, ok := toBig(decoded["big"]); !ok || n.String() != "9007199254740993" {
		t.Errorf("msgpack big = %v (%T), want 9007199254740993 exactly", decoded["big"], decoded["big"])
	}
	if n, ok := toBig(decoded["max"]); !ok || n.String() != "18446744073709551615" {
		t.Errorf("msgpack max = %v (%T), want 18446744073709551615", decoded["max"], decoded["max"])
	}
	cb := convert(t, s, "", "application/vnd.msgpack", "application/cbor", mp.Body).MustStatus(t, 200)
	back := convert(t, s, "", "application/cbor", "application/json", cb.Body).MustStatus(t, 200)
	for _, want := range []string{`9007199254740993`, `-9223372036854775808`, `18446744073709551615`, `1.5`} {
		if !bytes.Contains(back.Body, []byte(want)) {
			t.Errorf("JSON→msgpack→CBOR→JSON lost %s: %s", want, back.Body)
		}
	}
	var a, b any
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(back.Body, &b); err != nil {
		t.Fatalf("round trip is not JSON: %v: %s", err, back.Body)
	}
	if ja, jb := mustJSONString(t, a), mustJSONString(t, b); ja != jb {
		t.Errorf("round trip changed the value:\n in  %s\n out %s", ja, jb)
	}
}

func toBig(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x), true
	case uint64:
		return new(big.Int).SetUint64(x), true
	case int8:
		return big.NewInt(int64(x)), true
	case int16:
		return big.NewInt(int64(x)), true
	case int32:
		return big.NewInt(int64(x)), true
	case uint8:
		return big.NewInt(int64(x)), true
	case uint16:
		return big.NewInt(int64(x)), true
	case uint32:
		return big.NewInt(int64(x)), true
	}
	return nil, false
}

func mustJSONString(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestConvertSchemalessTimesAndBytes(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	at := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	mpBody := mustMsgpack(t, map[string]any{"at": at, "bin": []byte{0, 1, 2, 255}})
	cborBody := mustCBOR(t, map[string]any{"at": at, "bin": []byte{0, 1, 2, 255}})

	t.Run("msgpack timestamp to JSON", func(t *testing.T) {
		r := convert(t, s, "", "application/vnd.msgpack", "application/json", mpBody).MustStatus(t, 200)
		m := r.JSON(t)
		got, err := time.Parse(time.RFC3339Nano, str(m, "at"))
		if err != nil || !got.Equal(at) {
			t.Errorf("msgpack timestamp → JSON at = %v, want an RFC 3339 string of %s", m["at"], at.Format(time.RFC3339Nano))
		}
		if str(m, "bin") != "AAEC/w==" {
			t.Errorf("msgpack bin → JSON = %v, want standard base64 AAEC/w==", m["bin"])
		}
	})
	t.Run("CBOR tag 0 to msgpack timestamp", func(t *testing.T) {
		r := convert(t, s, "", "application/cbor", "application/vnd.msgpack", cborBody).MustStatus(t, 200)
		var m map[string]any
		if err := msgpack.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		got, ok := m["at"].(time.Time)
		if !ok || !got.Equal(at) {
			t.Errorf("CBOR tag 0 → msgpack at = %v (%T), want the timestamp extension of %s", m["at"], m["at"], at)
		}
		if b, ok := m["bin"].([]byte); !ok || !bytes.Equal(b, []byte{0, 1, 2, 255}) {
			t.Errorf("CBOR bytes → msgpack bin = %v (%T)", m["bin"], m["bin"])
		}
	})
	t.Run("msgpack timestamp to CBOR keeps nanoseconds", func(t *testing.T) {
		r := convert(t, s, "", "application/vnd.msgpack", "application/cbor", mpBody).MustStatus(t, 200)
		var m map[string]any
		if err := cbor.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		got, ok := m["at"].(time.Time)
		if !ok || !got.Equal(at) {
			t.Errorf("msgpack timestamp → CBOR at = %v (%T), want a CBOR time equal to %s", m["at"], m["at"], at)
		}
		if !bytes.Contains(r.Body, []byte{0xc0}) {
			t.Errorf("CBOR output has no tag 0 (RFC 3339 text time): % x", r.Body)
		}
	})
	t.Run("msgpack timestamp survives a round trip", func(t *testing.T) {
		r := convert(t, s, "", "application/vnd.msgpack", "application/vnd.msgpack", mpBody).MustStatus(t, 200)
		var m map[string]any
		if err := msgpack.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		if got, ok := m["at"].(time.Time); !ok || !got.Equal(at) {
			t.Errorf("msgpack → msgpack at = %v, want %s", m["at"], at)
		}
	})
}

func TestConvertSchemalessStatuses(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	nested := func(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }
	msgpackNested := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n-1), 0x90) }
	cborNested := func(n int) []byte { return append(bytes.Repeat([]byte{0x81}, n-1), 0x80) }
	tests := []struct {
		name, contentType, accept string
		body                      []byte
		wantStatus                int
		wantType                  string
	}{
		{"json depth 32", "application/json", "application/json", nested(32), 200, "application/json"},
		{"json depth 33", "application/json", "application/json", nested(33), 400, ""},
		{"msgpack depth 32", "application/vnd.msgpack", "application/json", msgpackNested(32), 200, "application/json"},
		{"msgpack depth 33", "application/vnd.msgpack", "application/json", msgpackNested(33), 400, ""},
		{"cbor depth 32", "application/cbor", "application/json", cborNested(32), 200, "application/json"},
		{"cbor depth 33", "application/cbor", "application/json", cborNested(33), 400, ""},
		{"integer over 64 bits", "application/json", "application/cbor", []byte(`{"n":18446744073709551616}`), 422, ""},
		{"integer under int64", "application/json", "application/cbor", []byte(`{"n":-9223372036854775809}`), 422, ""},
		{"cbor bignum", "application/cbor", "application/json", []byte{0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 422, ""},
		{"non-string key to JSON", "application/vnd.msgpack", "application/json", []byte{0x81, 0x01, 0xa1, 'a'}, 422, ""},
		{"non-string key to CBOR", "application/vnd.msgpack", "application/cbor", []byte{0x81, 0x01, 0xa1, 'a'}, 200, "application/cbor"},
		{"foreign CBOR tag", "application/cbor", "application/json", []byte{0xd8, 0x64, 0x01}, 422, ""},
		{"foreign msgpack extension", "application/vnd.msgpack", "application/json", []byte{0xd4, 0x05, 0x01}, 422, ""},
		{"NaN", "application/vnd.msgpack", "application/json", mustMsgpack(t, math.NaN()), 422, ""},
		{"trailing data", "application/json", "application/cbor", []byte(`{} {}`), 400, ""},
		{"msgpack trailing data", "application/vnd.msgpack", "application/json", []byte{0x80, 0x80}, 400, ""},
		{"duplicate keys", "application/json", "application/cbor", []byte(`{"a":1,"a":2}`), 400, ""},
		{"cbor duplicate keys", "application/cbor", "application/json", []byte{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}, 400, ""},
		{"invalid UTF-8", "application/json", "application/cbor", []byte("{\"a\":\"\xff\"}"), 400, ""},
		{"msgpack invalid UTF-8", "application/vnd.msgpack", "application/json", []byte{0xa1, 0xff}, 400, ""},
		{"empty body", "application/json", "application/cbor", []byte{}, 400, ""},
		{"gob without a schema", "application/gob", "application/json", mustGob(t, gobItem{Name: "x"}), 415, ""},
		{"only gob accepted without a schema", "application/json", "application/gob", []byte(`{"a":1}`), 406, ""},
		{"gob or cbor without a schema", "application/json", "application/gob, application/cbor;q=0.1", []byte(`{"a":1}`), 200, "application/cbor"},
		{"msgpack alias echoed", "application/json", "application/x-msgpack", []byte(`{"a":1}`), 200, "application/x-msgpack"},
		{"default is JSON", "application/cbor", "", []byte{0xa1, 0x61, 'a', 0x01}, 200, "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := convert(t, s, "", tc.contentType, tc.accept, tc.body)
			if r.Status != tc.wantStatus {
				t.Fatalf("convert %s → %s of % x: status %d, want %d\n%s", tc.contentType, tc.accept, head(tc.body), r.Status, tc.wantStatus, r)
			}
			if tc.wantType != "" {
				if mt, _ := mediaType(t, r.Header.Get("Content-Type")); mt != tc.wantType {
					t.Errorf("Content-Type %q, want %s", r.Header.Get("Content-Type"), tc.wantType)
				}
				if !hasVaryNegotiated(r.Header.Values("Vary")) {
					t.Errorf("Vary %q", r.Header.Values("Vary"))
				}
			}
			if tc.wantStatus == 415 || tc.wantStatus == 406 {
				if p := r.JSON(t); !strings.Contains(str(p, "detail"), "schema") {
					t.Errorf("gob refusal detail %q does not say that a schema is needed", p["detail"])
				}
			}
		})
	}
}

func head(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

func TestConvertPretty(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, itemV1)
	in := []byte(`{"a":{"b":[1,2]}}`)
	flat := convert(t, s, "", "application/json", "application/json", in).MustStatus(t, 200)
	pretty := convert(t, s, "?pretty=true", "application/json", "application/json", in).MustStatus(t, 200)
	if bytes.Contains(flat.Body, []byte("\n")) {
		t.Errorf("without pretty: %q, want one line", flat.Body)
	}
	if !bytes.Contains(pretty.Body, []byte("\n  ")) {
		t.Errorf("?pretty=true: %q, want indented JSON", pretty.Body)
	}
	var a, b any
	_ = json.Unmarshal(flat.Body, &a)
	_ = json.Unmarshal(pretty.Body, &b)
	if mustJSONString(t, a) != mustJSONString(t, b) {
		t.Errorf("pretty and flat differ in value: %s vs %s", flat.Body, pretty.Body)
	}
	rec, _ := json.Marshal(sample("p", 1))
	r := convert(t, s, "?schema=item&pretty=true", "application/json", "application/json", rec).MustStatus(t, 200)
	if !bytes.Contains(r.Body, []byte("\n  ")) {
		t.Errorf("?schema=item&pretty=true: %q, want indented JSON", r.Body)
	}
	s.Send(t, http.MethodPost, "/v1/convert?pretty=maybe", in, "Content-Type", "application/json").Problem(t, 400)
}

func TestConvertWithSchema(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, itemV1)
	v1, _ := json.Marshal(sample("conv", 4))
	at, _ := time.Parse(time.RFC3339Nano, sampleTime)

	t.Run("JSON to gob", func(t *testing.T) {
		t.Parallel()
		for _, accept := range []string{"application/gob", "application/x-gob"} {
			r := convert(t, s, "?schema=item", "application/json", accept, v1).MustStatus(t, 200)
			mt, p := mediaType(t, r.Header.Get("Content-Type"))
			if mt != accept || p["schema"] != "item" || p["version"] != "1" {
				t.Errorf("Accept %s: Content-Type %q, want %s; schema=item; version=1", accept, r.Header.Get("Content-Type"), accept)
			}
			var it gobItem
			mustUngob(t, r.Body, &it)
			if it.Name != "conv" || it.Qty != 4 || it.PlacedAt == nil || !it.PlacedAt.Equal(at) || len(it.Lines) != 1 || it.Attrs["k"] != "v" {
				t.Errorf("gob output = %+v, want the record with placed_at %s to the nanosecond", it, sampleTime)
			}
		}
	})
	t.Run("gob to JSON and CBOR", func(t *testing.T) {
		t.Parallel()
		note := "from go"
		in := mustGob(t, gobItem{Name: "gobbed", Qty: 9, PlacedAt: &at, Note: &note, Lines: []gobLine{{Qty: 2, Sku: "s"}}})
		r := convert(t, s, "?schema=item", "application/gob", "application/json", in).MustStatus(t, 200)
		if _, p := mediaType(t, r.Header.Get("Content-Type")); p["schema"] != "item" || p["version"] != "1" {
			t.Errorf("Content-Type %q, want schema=item; version=1", r.Header.Get("Content-Type"))
		}
		m := r.JSON(t)
		if str(m, "name") != "gobbed" || num(t, m, "qty") != 9 || str(m, "placed_at") != sampleTime || str(m, "note") != note {
			t.Errorf("gob → JSON = %v", m)
		}
		if _, ok := m["attrs"].(map[string]any); !ok {
			t.Errorf("gob → JSON attrs = %v, want {} (maps are never null)", m["attrs"])
		}
		if l, ok := m["lines"].([]any); !ok || len(l) != 1 {
			t.Errorf("gob → JSON lines = %v", m["lines"])
		}
		c := convert(t, s, "?schema=item", "application/gob", "application/cbor", in).MustStatus(t, 200)
		var cm map[string]any
		if err := cbor.Unmarshal(c.Body, &cm); err != nil {
			t.Fatal(err)
		}
		if got, ok := cm["placed_at"].(time.Time); !ok || !got.Equal(at) {
			t.Errorf("gob → CBOR placed_at = %v (%T), want %s", cm["placed_at"], cm["placed_at"], sampleTime)
		}
	})
	t.Run("gob missing required field", func(t *testing.T) {
		t.Parallel()
		in := mustGob(t, gobItem{Qty: 9}) // Name is "" and gob omits it
		p := convert(t, s, "?schema=item", "application/gob", "application/json", in).Problem(t, 422)
		if !hasFieldError(p, "name", "required") {
			t.Errorf("gob without name: errors %v, want name/required", p["errors"])
		}
	})
	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		bad, _ := json.Marshal(sample("", 0))
		p := convert(t, s, "?schema=item", "application/json", "application/cbor", bad).Problem(t, 422)
		if !hasFieldError(p, "name", "required") || !hasFieldError(p, "qty", "min") {
			t.Errorf("errors = %v, want name/required and qty/min", p["errors"])
		}
		convert(t, s, "?schema=item", "application/json", "application/cbor", []byte(`{"name":"x","qty":1,"extra":1}`)).Problem(t, 400)
		convert(t, s, "?schema=nope", "application/json", "application/cbor", v1).Problem(t, 404)
		convert(t, s, "?schema=item", "application/json; version=3", "application/cbor", v1).Problem(t, 415)
		convert(t, s, "?schema=item", "application/json", "application/cbor; version=3", v1).Problem(t, 406)
	})
}

func TestConvertBetweenVersions(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, itemV1)
	s.MustRegister(t, itemV2)
	v1, _ := json.Marshal(sample("ver", 6))
	up := convert(t, s, "?schema=item", "application/json; version=1", "application/json; version=2", v1).MustStatus(t, 200)
	if _, p := mediaType(t, up.Header.Get("Content-Type")); p["version"] != "2" || p["schema"] != "item" {
		t.Errorf("v1 → v2: Content-Type %q, want schema=item; version=2", up.Header.Get("Content-Type"))
	}
	m := up.JSON(t)
	if num(t, m, "quantity") != 6 || str(m, "sku") != "none" || m["qty"] != nil {
		t.Errorf("v1 → v2 = %v, want quantity 6, sku none", m)
	}
	v2 := []byte(`{"name":"ver","quantity":8,"sku":"S","lines":[],"attrs":{}}`)
	down := convert(t, s, "?schema=item", "application/json; version=2", "application/cbor; version=1", v2).MustStatus(t, 200)
	if mt, p := mediaType(t, down.Header.Get("Content-Type")); mt != "application/cbor" || p["version"] != "1" {
		t.Errorf("v2 → v1: Content-Type %q", down.Header.Get("Content-Type"))
	}
	var dm map[string]any
	if err := cbor.Unmarshal(down.Body, &dm); err != nil {
		t.Fatal(err)
	}
	if n, _ := toBig(dm["qty"]); n == nil || n.Int64() != 8 || dm["sku"] != nil {
		t.Errorf("v2 → v1 = %v, want qty 8 and no sku", dm)
	}
	// A conversion is no write: with no version asked, it answers at the
	// latest, as a read does.
	latest := convert(t, s, "?schema=item", "application/json; version=1", "application/json", v1).MustStatus(t, 200)
	if _, p := mediaType(t, latest.Header.Get("Content-Type")); p["version"] != "2" {
		t.Errorf("v1 body, no Accept version: Content-Type %q, want version=2 (the latest)", latest.Header.Get("Content-Type"))
	}
	if m := latest.JSON(t); num(t, m, "quantity") != 6 {
		t.Errorf("v1 body, no Accept version = %v, want quantity 6 (the latest version's name)", m)
	}
	// Gob in at version 1, out at version 2.
	g := mustGob(t, gobItem{Name: "g", Qty: 3})
	r := convert(t, s, "?schema=item", "application/gob; version=1", "application/json; version=2", g).MustStatus(t, 200)
	if m := r.JSON(t); num(t, m, "quantity") != 3 {
		t.Errorf("gob v1 → JSON v2 = %v, want quantity 3", m)
	}
}

// hasFieldError reports whether a problem lists an error for field with rule.
func hasFieldError(p map[string]any, field, rule string) bool {
	for _, e := range objects(p, "errors") {
		if str(e, "field") == field && str(e, "rule") == rule {
			return true
		}
	}
	return false
}
