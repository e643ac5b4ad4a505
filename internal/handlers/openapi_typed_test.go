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
