package handlers_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// TestNullElementsRefused sends a null where an array element or a map
// value must be: no format may turn it into a zero value.
func TestNullElementsRefused(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.SendJSON(t, http.MethodPost, "/v1/schemas", map[string]any{"name": "lists", "version": 1, "fields": map[string]any{
		"words":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		"counts": map[string]any{"type": "map", "values": map[string]any{"type": "int"}},
		"times":  map[string]any{"type": "array", "items": map[string]any{"type": "time"}},
		"nested": map[string]any{"type": "array", "optional": true, "items": map[string]any{"type": "array", "items": map[string]any{"type": "int"}}},
		"groups": map[string]any{"type": "map", "optional": true, "values": map[string]any{"type": "array", "items": map[string]any{"type": "int"}}},
		"blobs":  map[string]any{"type": "array", "optional": true, "items": map[string]any{"type": "bytes"}},
	}}).MustStatus(t, 201)
	bodies := map[string]map[string]any{
		"/v1/records/item/null line":       {"name": "a", "qty": 1, "lines": []any{map[string]any{"sku": "s", "qty": 1}, nil}},
		"/v1/records/item/null attr value": {"name": "a", "qty": 1, "attrs": map[string]any{"k": nil}},
		"/v1/records/lists/null word":      {"words": []any{"a", nil}},
		"/v1/records/lists/null count":     {"counts": map[string]any{"a": 1, "b": nil}},
		"/v1/records/lists/null time":      {"times": []any{nil}},
		"/v1/records/lists/null inner":     {"words": []any{}, "counts": map[string]any{}, "times": []any{}, "nested": []any{nil}},
		"/v1/records/lists/null group":     {"words": []any{}, "counts": map[string]any{}, "times": []any{}, "groups": map[string]any{"g": nil}},
		"/v1/records/lists/null blob":      {"words": []any{}, "counts": map[string]any{}, "times": []any{}, "blobs": []any{nil}},
	}
	// Ferry reads null on a time of a CBOR body as the zero time, which
	// CBOR libraries write as null (see the README's known limits).
	cborZeroTime := "/v1/records/lists/null time"
	i := 0
	for name, body := range bodies {
		for _, f := range []struct {
			contentType string
			encode      func(testing.TB, any) []byte
		}{
			{"application/json", func(tb testing.TB, v any) []byte { return []byte(mustJSONString(tb, v)) }},
			{"application/vnd.msgpack", mustMsgpack},
			{"application/cbor", mustCBOR},
		} {
			i++
			path := fmt.Sprintf("%s-%d", name[:strings.LastIndex(name, "/")+1]+"null", i)
			if name == cborZeroTime && f.contentType == "application/cbor" {
				continue
			}
			t.Run(name+" "+f.contentType, func(t *testing.T) {
				r := s.Send(t, http.MethodPut, path, f.encode(t, body), "Content-Type", f.contentType)
				if r.Status < 400 || r.Status >= 500 {
					t.Fatalf("PUT %s: status %d, want a 4xx\n%s", f.contentType, r.Status, r)
				}
				if strings.HasPrefix(name, "/v1/records/lists/") {
					p := r.Problem(t, 400)
					if detail := str(p, "detail"); !strings.Contains(detail, "got null") {
						t.Errorf("PUT %s: detail %q, want it to say the value is null", f.contentType, detail)
					}
				}
				s.Get(t, path).Problem(t, 404)
			})
		}
	}
}

// TestNullOnDefaultedField sends null for fields that have a default but
// are not optional: a default fills in a field left out, and only an
// optional field may be null.
func TestNullOnDefaultedField(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.SendJSON(t, http.MethodPost, "/v1/schemas", map[string]any{"name": "dflt", "version": 1, "fields": map[string]any{
		"n":     map[string]any{"type": "int"},
		"label": map[string]any{"type": "string", "default": "L"},
		"tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "default": []any{}},
		"note":  map[string]any{"type": "string", "optional": true},
		"obj": map[string]any{"type": "object", "optional": true, "fields": map[string]any{
			"b": map[string]any{"type": "string", "default": "x"},
		}},
	}}).MustStatus(t, 201)
	formats := []struct {
		contentType string
		encode      func(testing.TB, any) []byte
	}{
		{"application/json", func(tb testing.TB, v any) []byte { return []byte(mustJSONString(tb, v)) }},
		{"application/vnd.msgpack", mustMsgpack},
		{"application/cbor", mustCBOR},
	}
	for i, f := range formats {
		for j, body := range []map[string]any{
			{"n": 1, "label": nil},
			{"n": 1, "tags": nil},
			{"n": 1, "obj": map[string]any{"b": nil}},
		} {
			path := fmt.Sprintf("/v1/records/dflt/put-%d-%d", i, j)
			p := s.Send(t, http.MethodPut, path, f.encode(t, body), "Content-Type", f.contentType).Problem(t, 422)
			if errs := objects(p, "errors"); len(errs) != 1 || str(errs[0], "rule") != "present" {
				t.Errorf("PUT %s %v: errors %v, want one with rule present", f.contentType, body, p["errors"])
			}
			s.Get(t, path).Problem(t, 404)
		}
		// Left out, the defaults fill in; null on an optional field is absence.
		path := fmt.Sprintf("/v1/records/dflt/ok-%d", i)
		m := s.Send(t, http.MethodPut, path, f.encode(t, map[string]any{"n": 1, "note": nil, "obj": map[string]any{}}), "Content-Type", f.contentType).MustStatus(t, 201).JSON(t)
		if str(m, "label") != "L" || str(m["obj"].(map[string]any), "b") != "x" {
			t.Errorf("PUT %s without defaulted fields: %v, want label L and obj.b x", f.contentType, m)
		}
	}
	s.MustPut(t, "dflt", "p", map[string]any{"n": 1, "label": "Z", "obj": map[string]any{"b": "y"}})
	for _, patch := range []string{`{"label":null}`, `{"tags":null}`, `{"obj":{"b":null}}`} {
		p := s.Send(t, http.MethodPatch, "/v1/records/dflt/p", []byte(patch), "Content-Type", "application/merge-patch+json").Problem(t, 422)
		if errs := objects(p, "errors"); len(errs) != 1 || str(errs[0], "rule") != "present" {
			t.Errorf("PATCH %s: errors %v, want one with rule present", patch, p["errors"])
		}
	}
	m := s.Send(t, http.MethodPatch, "/v1/records/dflt/p", []byte(`{"note":null,"obj":null}`), "Content-Type", "application/merge-patch+json").MustStatus(t, 200).JSON(t)
	if str(m, "label") != "Z" || m["obj"] != nil {
		t.Errorf("PATCH removing optional fields: %v, want label Z kept and no obj", m)
	}
}

// TestCBORZeroTimeRoundTrip exports a record whose time fields hold the
// zero time as CBOR, and imports it back.
func TestCBORZeroTimeRoundTrip(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"zt","version":1,"fields":{
		"at":  {"type":"time","default":"2020-01-01T00:00:00Z"},
		"due": {"type":"time"},
		"ts":  {"type":"array","items":{"type":"time"}},
		"m":   {"type":"map","values":{"type":"time"}}}}`)
	zero := "0001-01-01T00:00:00Z"
	s.MustPut(t, "zt", "z", map[string]any{"at": zero, "due": zero, "ts": []any{zero, "2024-01-01T00:00:00Z"}, "m": map[string]any{"k": zero}})
	stream := s.Get(t, "/v1/records/zt/_export", "Accept", "application/cbor-seq").MustStatus(t, 200).Body
	m := s.Send(t, http.MethodPost, "/v1/records/zt/_import", stream, "Content-Type", "application/cbor-seq").MustStatus(t, 200).JSON(t)
	if num(t, m, "accepted") != 1 {
		t.Fatalf("import of a CBOR export: %v, want it accepted", m)
	}
	got := s.Get(t, "/v1/records/zt/z").MustStatus(t, 200).JSON(t)
	ts, _ := got["ts"].([]any)
	m2, _ := got["m"].(map[string]any)
	if str(got, "at") != zero || str(got, "due") != zero || len(ts) != 2 || ts[0] != zero || m2["k"] != zero {
		t.Errorf("after the round trip: %v, want every zero time kept", got)
	}
}

// TestEmptyElementsKept sends empty arrays, maps and bytes as array
// elements and map values in every format: they are empty, not null, and
// come back as sent.
func TestEmptyElementsKept(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"e","version":1,"fields":{
	  "nested":{"type":"array","items":{"type":"array","items":{"type":"int"}}},
	  "groups":{"type":"map","values":{"type":"map","values":{"type":"int"}}},
	  "blobs":{"type":"array","items":{"type":"bytes"}}}}`)
	body := map[string]any{"nested": []any{[]any{}}, "groups": map[string]any{"g": map[string]any{}}, "blobs": []any{[]byte{}}}
	want := `{"blobs":[""],"groups":{"g":{}},"nested":[[]]}`
	for _, f := range []struct {
		contentType string
		encode      func(testing.TB, any) []byte
	}{
		{"application/json", func(tb testing.TB, v any) []byte {
			return []byte(`{"nested":[[]],"groups":{"g":{}},"blobs":[""]}`)
		}},
		{"application/vnd.msgpack", mustMsgpack},
		{"application/cbor", mustCBOR},
	} {
		path := "/v1/records/e/" + strings.ReplaceAll(f.contentType, "/", "-")
		s.Send(t, http.MethodPut, path, f.encode(t, body), "Content-Type", f.contentType).MustStatus(t, http.StatusCreated)
		if got := string(s.Get(t, path).MustStatus(t, http.StatusOK).Body); got != want {
			t.Errorf("%s: read back %s, want %s", f.contentType, got, want)
		}
	}
}

// TestOptionalContainersShownEmpty writes records that lack optional
// arrays and maps, or send them as null, at every depth: every read, in
// every format, and the write's own response show them as [] and {},
// never null, and a merge patch of another field leaves them absent.
func TestOptionalContainersShownEmpty(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"opt","version":1,"fields":{
	  "tags":{"type":"array","optional":true,"validate":"min=1","items":{"type":"string"}},
	  "attrs":{"type":"map","optional":true,"values":{"type":"int"}},
	  "note":{"type":"string","optional":true},
	  "lines":{"type":"array","items":{"type":"object","fields":{
	    "codes":{"type":"array","optional":true,"items":{"type":"int"}}}}},
	  "inner":{"type":"object","optional":true,"fields":{
	    "flags":{"type":"map","optional":true,"values":{"type":"bool"}}}}}}`)
	want := `{"attrs":{},"inner":{"flags":{}},"lines":[{"codes":[]}],"note":null,"tags":[]}`
	for i, body := range []string{
		`{"lines":[{}],"inner":{}}`,
		`{"tags":null,"attrs":null,"lines":[{"codes":null}],"inner":{"flags":null}}`,
	} {
		path := fmt.Sprint("/v1/records/opt/r", i)
		put := s.Send(t, http.MethodPut, path, []byte(body), "Content-Type", "application/json")
		put.MustStatus(t, http.StatusCreated)
		if got := string(put.Body); got != want {
			t.Errorf("PUT %s answered %s, want %s", body, got, want)
		}
		if got := string(s.Get(t, path).MustStatus(t, http.StatusOK).Body); got != want {
			t.Errorf("GET after PUT %s = %s, want %s", body, got, want)
		}
		for _, accept := range []string{"application/vnd.msgpack", "application/cbor"} {
			r := s.Get(t, path, "Accept", accept).MustStatus(t, http.StatusOK)
			v, err := decodeAs(accept, r.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSONString(t, v); got != want {
				t.Errorf("GET %s after PUT %s = %s, want %s", accept, body, got, want)
			}
		}
	}
	conv := s.Send(t, http.MethodPost, "/v1/convert?schema=opt", []byte(`{"lines":[{}],"inner":{}}`), "Content-Type", "application/json").MustStatus(t, http.StatusOK)
	if got := string(conv.Body); got != want {
		t.Errorf("convert answered %s, want %s", got, want)
	}
	// Shown empty is not stored empty: tags stays absent through a patch
	// of another field, so its rule (min=1), which an empty array breaks,
	// does not start to apply; and an empty optional array or map sent
	// reads as absent, so what a client read it can write back, in every
	// format, and an export imports back.
	s.Send(t, http.MethodPatch, "/v1/records/opt/r0", []byte(`{"note":"n"}`), "Content-Type", "application/merge-patch+json").MustStatus(t, http.StatusOK)
	s.Send(t, http.MethodPatch, "/v1/records/opt/r0", []byte(`{"tags":[]}`), "Content-Type", "application/merge-patch+json").MustStatus(t, http.StatusOK)
	for _, format := range []string{"application/json", "application/vnd.msgpack", "application/cbor", "application/gob"} {
		read := s.Get(t, "/v1/records/opt/r1", "Accept", format).MustStatus(t, http.StatusOK)
		s.Send(t, http.MethodPut, "/v1/records/opt/r1", read.Body, "Content-Type", read.Header.Get("Content-Type")).MustStatus(t, http.StatusOK)
	}
	if got := string(s.Get(t, "/v1/records/opt/r1").MustStatus(t, http.StatusOK).Body); got != want {
		t.Errorf("after writing back what was read: %s, want %s", got, want)
	}
	export := s.Get(t, "/v1/records/opt/_export", "Accept", "application/jsonl").MustStatus(t, http.StatusOK)
	imported := s.Send(t, http.MethodPost, "/v1/records/opt/_import", export.Body, "Content-Type", "application/jsonl").MustStatus(t, http.StatusOK).JSON(t)
	if num(t, imported, "accepted") != 2 || num(t, imported, "rejected") != 0 {
		t.Errorf("an export imported back: %v, want both records accepted", imported)
	}
}

// TestCBORZeroTimeRoundTrips reads a record holding the zero time as CBOR,
// where it is tag 0 text like any other time (an optional one included),
// and writes that body back: the record comes back as it was. A client's
// CBOR library may write the zero time as null, so null on a time field of
// a CBOR body is the zero time too.
func TestCBORZeroTimeRoundTrips(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"zt","version":1,"fields":{
	  "t":{"type":"time"},"ts":{"type":"array","items":{"type":"time"}},
	  "note":{"type":"string","optional":true},"n":{"type":"int"},
	  "lines":{"type":"array","items":{"type":"object","fields":{"at":{"type":"time"}}}},
	  "byk":{"type":"map","values":{"type":"object","fields":{"at":{"type":"time"}}}},
	  "o":{"type":"object","optional":true,"fields":{"at":{"type":"time","default":"2020-01-01T00:00:00Z"}}},
	  "ot":{"type":"time","optional":true}}}`)
	body := `{"byk":{"k":{"at":"0001-01-01T00:00:00Z"}},"lines":[{"at":"2024-01-02T03:04:05Z"},{"at":"0001-01-01T00:00:00Z"}],` +
		`"n":1,"note":null,"o":{"at":"0001-01-01T00:00:00Z"},"ot":"0001-01-01T00:00:00Z","t":"0001-01-01T00:00:00Z","ts":["0001-01-01T00:00:00Z","2024-01-02T03:04:05Z"]}`
	s.Send(t, http.MethodPut, "/v1/records/zt/a", []byte(body), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	read := s.Get(t, "/v1/records/zt/a", "Accept", "application/cbor").MustStatus(t, http.StatusOK)
	var doc map[string]any
	if err := cbor.Unmarshal(read.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"t", "ot"} {
		if _, ok := doc[k].(time.Time); !ok {
			t.Errorf("CBOR read %x: %s is %#v, want the zero time as tag 0", read.Body, k, doc[k])
		}
	}
	// A page of such records is the page it would be otherwise: the last
	// one has no next_cursor.
	var page map[string]any
	if err := cbor.Unmarshal(s.Get(t, "/v1/records/zt", "Accept", "application/cbor").MustStatus(t, http.StatusOK).Body, &page); err != nil {
		t.Fatal(err)
	}
	if _, ok := page["next_cursor"]; ok || len(page) != 1 {
		t.Errorf("CBOR page of one record with zero times: members %v, want only items", slices.Collect(maps.Keys(page)))
	}
	s.Send(t, http.MethodPut, "/v1/records/zt/a", read.Body, "Content-Type", "application/cbor").MustStatus(t, http.StatusOK)
	s.Send(t, http.MethodPost, "/v1/convert?schema=zt", read.Body, "Content-Type", "application/cbor").MustStatus(t, http.StatusOK)
	if got := string(s.Get(t, "/v1/records/zt/a").MustStatus(t, http.StatusOK).Body); got != body {
		t.Errorf("after a CBOR round trip: %s, want %s", got, body)
	}
	// A field left out is still missing, and a null where no time is
	// goes on being refused.
	empty := map[string]any{"ts": []any{}, "lines": []any{}, "byk": map[string]any{}}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range empty {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	s.Send(t, http.MethodPut, "/v1/records/zt/b", mustCBOR(t, with("n", 1)), "Content-Type", "application/cbor").Problem(t, http.StatusUnprocessableEntity)
	s.Send(t, http.MethodPut, "/v1/records/zt/b", mustCBOR(t, with("n", nil, "t", nil)), "Content-Type", "application/cbor").Problem(t, http.StatusUnprocessableEntity)
	s.Send(t, http.MethodPut, "/v1/records/zt/b", mustCBOR(t, with("n", 1, "t", nil, "b", "AAEC")), "Content-Type", "application/cbor").Problem(t, http.StatusBadRequest)
}

// TestCBORSelfDescribedTag sends bodies and sequence items that start with
// the self-described CBOR tag (55799), as some encoders write them: each
// reads as the item it wraps.
func TestCBORSelfDescribedTag(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"sd","version":1,"fields":{"n":{"type":"int"},"at":{"type":"time"}}}`)
	tagged := func(v any) []byte { return append([]byte{0xd9, 0xd9, 0xf7}, mustCBOR(t, v)...) }
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

	s.Send(t, http.MethodPut, "/v1/records/sd/a", tagged(map[string]any{"n": 1, "at": at}),
		"Content-Type", "application/cbor").MustStatus(t, 201)
	if got := s.Get(t, "/v1/records/sd/a").MustStatus(t, 200).JSON(t); num(t, got, "n") != 1 || str(got, "at") != at.Format(time.RFC3339Nano) {
		t.Errorf("record written with the tag reads %v", got)
	}

	var stream []byte
	for _, id := range []string{"b", "c"} {
		stream = append(stream, tagged(map[string]any{"id": id, "data": map[string]any{"n": 2, "at": at}})...)
	}
	m := s.Send(t, http.MethodPost, "/v1/records/sd/_import", stream, "Content-Type", "application/cbor-seq").MustStatus(t, 200).JSON(t)
	if num(t, m, "accepted") != 2 {
		t.Errorf("import of tagged sequence items: %v, want both accepted", m)
	}

	out := convert(t, s, "", "application/cbor", "application/json", tagged(map[string]any{"k": "v"})).MustStatus(t, 200)
	if string(bytes.TrimSpace(out.Body)) != `{"k":"v"}` {
		t.Errorf("conversion of a tagged body = %s", out.Body)
	}

	// Inside a body the tag stays refused, as a decoder would take a
	// tagged key and the same key untagged as one.
	inner := []byte{0xa1, 0x61, 'n', 0xd9, 0xd9, 0xf7, 0x01}
	p := s.Send(t, http.MethodPut, "/v1/records/sd/d", inner, "Content-Type", "application/cbor").Problem(t, 422)
	if !strings.Contains(str(p, "detail"), "tag 55799 at offset 3") {
		t.Errorf("tag inside the body: %v, want it refused at offset 3", p)
	}
}
