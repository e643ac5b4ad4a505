package handlers_test

import (
	"bytes"
	"encoding/gob"
	"mime"
	"strings"
	"testing"
	"time"
)

// itemV1 is the schema most tests use: every field type, optional and
// defaulted fields, and nested rules.
const itemV1 = `{
  "name": "item",
  "version": 1,
  "description": "A stock item",
  "fields": {
    "name":      {"type": "string", "validate": "required"},
    "qty":       {"type": "int", "validate": "min=1"},
    "price":     {"type": "float", "optional": true},
    "placed_at": {"type": "time", "optional": true},
    "note":      {"type": "string", "optional": true},
    "blob":      {"type": "bytes", "optional": true},
    "paid":      {"type": "bool", "default": false},
    "lines":     {"type": "array", "validate": "max=100,dive", "default": [],
                  "items": {"type": "object", "fields": {
                     "sku": {"type": "string", "validate": "required"},
                     "qty": {"type": "int", "validate": "min=1"}}}},
    "attrs":     {"type": "map", "values": {"type": "string"}, "default": {}}
  }
}`

// itemV2 renames qty to quantity and adds sku.
const itemV2 = `{
  "name": "item",
  "version": 2,
  "fields": {
    "name":      {"type": "string", "validate": "required"},
    "quantity":  {"type": "int", "validate": "min=1"},
    "sku":       {"type": "string", "default": "none"},
    "price":     {"type": "float", "optional": true},
    "placed_at": {"type": "time", "optional": true},
    "note":      {"type": "string", "optional": true},
    "blob":      {"type": "bytes", "optional": true},
    "paid":      {"type": "bool", "default": false},
    "lines":     {"type": "array", "validate": "max=100,dive", "default": [],
                  "items": {"type": "object", "fields": {
                     "sku": {"type": "string", "validate": "required"},
                     "qty": {"type": "int", "validate": "min=1"}}}},
    "attrs":     {"type": "map", "values": {"type": "string"}, "default": {}}
  },
  "migrate": [
    {"op": "rename", "from": "qty", "to": "quantity"},
    {"op": "add", "field": "sku", "default": "none"}
  ]
}`

// counterV1 is a schema with one integer, for concurrency tests.
const counterV1 = `{"name": "counter", "version": 1, "fields": {"n": {"type": "int"}}}`

// sampleTime has nanoseconds, which every format must keep.
const sampleTime = "2024-01-02T03:04:05.123456789Z"

// sample returns a valid version-1 item.
func sample(name string, qty int) map[string]any {
	return map[string]any{
		"name":      name,
		"qty":       qty,
		"placed_at": sampleTime,
		"blob":      "AAEC",
		"lines":     []any{map[string]any{"sku": "a", "qty": 1}},
		"attrs":     map[string]any{"k": "v"},
	}
}

// newItemServer starts a server with itemV1 registered.
func newItemServer(tb testing.TB, opts ...ServerOption) *Server {
	tb.Helper()
	s := MustServer(tb, opts...)
	s.MustRegister(tb, itemV1)
	return s
}

// gobLine and gobItem are what a Go client of item version 1 declares, by
// the field-name rule of API.md §2.
type gobLine struct {
	Qty int64
	Sku string
}

type gobItem struct {
	Attrs    map[string]string
	Blob     *[]byte
	Lines    []gobLine
	Name     string
	Note     *string
	Paid     bool
	PlacedAt *time.Time
	Price    *float64
	Qty      int64
}

// gobEnvelope is an export envelope of item version 1 as gob carries it.
type gobEnvelope struct {
	Id        string
	Revision  int64
	Version   int64
	UpdatedAt time.Time
	Data      gobItem
}

func mustGob(tb testing.TB, v any) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		tb.Fatalf("gob encode %T: %v", v, err)
	}
	return buf.Bytes()
}

func mustUngob(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		tb.Fatalf("gob decode into %T: %v", v, err)
	}
}

// mediaType splits a Content-Type into its essence and parameters.
func mediaType(tb testing.TB, ct string) (string, map[string]string) {
	tb.Helper()
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		tb.Fatalf("Content-Type %q does not parse: %v", ct, err)
	}
	return mt, params
}

// hasVaryNegotiated reports whether a Vary header names Accept and
// Accept-Encoding.
func hasVaryNegotiated(vary []string) bool {
	seen := map[string]bool{}
	for _, v := range vary {
		for _, f := range strings.Split(v, ",") {
			seen[strings.ToLower(strings.TrimSpace(f))] = true
		}
	}
	return seen["accept"] && seen["accept-encoding"]
}

// registerNum registers schema num: n an int at version 1, retyped to a
// float at version 2, so that a record holding 7.5 cannot be shown at
// version 1.
func registerNum(t *testing.T, s *Server) {
	t.Helper()
	s.MustRegister(t, `{"name":"num","version":1,"fields":{"n":{"type":"int"}}}`)
	s.MustRegister(t, `{"name":"num","version":2,"fields":{"n":{"type":"float"}},"migrate":[{"op":"retype","field":"n","to":"float"}]}`)
}
