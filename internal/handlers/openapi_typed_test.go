package handlers_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The typed document is what users feed to SDK generators: it must be a
// valid OpenAPI document with a component per registered schema version.
func TestTypedOpenAPIDocument(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	r := s.Get(t, "/v1/openapi.json").MustStatus(t, 200)
	// The same bytes every time: generators and caches compare them.
	for range 5 {
		if again := s.Get(t, "/v1/openapi.json").MustStatus(t, 200); !bytes.Equal(again.Body, r.Body) {
			t.Fatalf("/v1/openapi.json differs between two requests")
		}
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("load /v1/openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("/v1/openapi.json does not validate: %v", err)
	}
	var components []string
	for name := range doc.Components.Schemas {
		if strings.HasPrefix(name, "item_v") {
			components = append(components, name)
		}
	}
	if len(components) == 0 {
		t.Fatalf("no item_vN component among %d schemas", len(doc.Components.Schemas))
	}
	item := doc.Paths.Find("/v1/records/item/{id}")
	if item == nil || item.Get == nil || item.Put == nil {
		t.Fatalf("typed path /v1/records/item/{id} with get and put is missing")
	}
	ref := item.Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Ref
	if !strings.HasPrefix(ref, "#/components/schemas/item_v") {
		t.Errorf("typed GET response schema ref = %q, want an item_vN component", ref)
	}
	// Every status of the generic record path, so that generated clients
	// know a create (201), a minimal write (204) and a 304.
	for _, tc := range []struct {
		op       *openapi3.Operation
		statuses []int
		typed    []int
	}{
		{item.Get, []int{200, 304, 404, 406, 412}, []int{200}},
		{item.Put, []int{200, 201, 204, 412, 422, 428}, []int{200, 201}},
		{item.Patch, []int{200, 204, 404}, []int{200}},
		{item.Delete, []int{204, 404}, nil},
		{item.Head, []int{200, 304}, nil},
	} {
		if tc.op == nil {
			t.Fatalf("typed path lacks an operation: get %v put %v patch %v delete %v head %v", item.Get != nil, item.Put != nil, item.Patch != nil, item.Delete != nil, item.Head != nil)
		}
		for _, status := range tc.statuses {
			if tc.op.Responses.Status(status) == nil {
				t.Errorf("%s lacks status %d", tc.op.OperationID, status)
			}
		}
		for _, status := range tc.typed {
			mt := tc.op.Responses.Status(status).Value.Content.Get("application/json")
			if mt == nil || !strings.HasPrefix(mt.Schema.Ref, "#/components/schemas/item_v") {
				t.Errorf("%s %d is not typed", tc.op.OperationID, status)
			}
		}
	}
	if item.Put.OperationID != "putItem" || item.Put.Tags[0] != "item" {
		t.Errorf("typed PUT is %q tagged %v, want putItem tagged item", item.Put.OperationID, item.Put.Tags)
	}
	for _, p := range append(item.Parameters, item.Get.Parameters...) {
		if p.Value.Name == "schema" {
			t.Error("typed path still takes a schema parameter")
		}
	}
}

// The reference page is served from the binary and lists the routes.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	r := s.Get(t, "/docs").MustStatus(t, 200)
	page := string(r.Body)
	for _, want := range []string{"<html", "/v1/records/{schema}/{id}", "/v1/convert", "openapi.yaml"} {
		if !strings.Contains(page, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
}
