package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
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
	}}).MustStatus(t, 201)
	bodies := map[string]map[string]any{
		"/v1/records/item/null line":       {"name": "a", "qty": 1, "lines": []any{map[string]any{"sku": "s", "qty": 1}, nil}},
		"/v1/records/item/null attr value": {"name": "a", "qty": 1, "attrs": map[string]any{"k": nil}},
		"/v1/records/lists/null word":      {"words": []any{"a", nil}},
		"/v1/records/lists/null count":     {"counts": map[string]any{"a": 1, "b": nil}},
		"/v1/records/lists/null time":      {"times": []any{nil}},
	}
	// CBOR writes the zero time as null (see the README's known limits),
	// so it reads null as the zero time too.
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
