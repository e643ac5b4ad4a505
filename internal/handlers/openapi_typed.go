package handlers

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/schema"
)

// typedOpenAPI serves the API description plus, for every registered
// schema version, a typed component and typed record paths, so that SDK
// generators produce a struct per version.
func (d *schemaDeps) typedOpenAPI() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := acceptJSON(r); err != nil {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(d.docs.json, &doc); err != nil {
			return problem.Wrap(problem.Internal, err, "openapi document")
		}
		components := childMap(doc, "components")
		schemas := childMap(components, "schemas")
		paths := childMap(doc, "paths")
		for _, sc := range d.registry.Schemas() {
			for _, v := range sc.All() {
				schemas[componentName(sc.Name(), v.Number())] = openAPIObject(v.Definition().Fields)
			}
			addTypedPaths(doc, paths, sc)
		}
		return writeJSON(w, r, http.StatusOK, doc)
	})
}

func componentName(schemaName string, version int) string {
	return schemaName + "_v" + strconv.Itoa(version)
}

func childMap(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// genericRecordPath is the generic path whose operations the typed paths copy.
const genericRecordPath = "/v1/records/{schema}/{id}"

// addTypedPaths adds the record path of one schema: a copy of the generic
// record path's operations, with their statuses, headers and parameters,
// whose records are typed at the schema's latest version and whose
// operation ids and tags name the schema.
func addTypedPaths(doc, paths map[string]any, sc *schema.Schema) {
	base, ok := paths[genericRecordPath].(map[string]any)
	if !ok {
		return
	}
	name := sc.Name()
	ref := map[string]any{"$ref": "#/components/schemas/" + componentName(name, sc.Latest().Number())}
	content := func() map[string]any {
		return map[string]any{
			"application/json":        map[string]any{"schema": ref},
			"application/vnd.msgpack": map[string]any{"schema": ref},
			"application/cbor":        map[string]any{"schema": ref},
		}
	}
	item := map[string]any{}
	for key, v := range base {
		if key == "parameters" {
			// The schema is part of the path now; the id stays.
			var params []any
			for _, p := range asSlice(v) {
				if m, _ := p.(map[string]any); m["$ref"] != "#/components/parameters/RecordSchemaPath" {
					params = append(params, p)
				}
			}
			item[key] = params
			continue
		}
		op, ok := v.(map[string]any)
		if !ok {
			continue
		}
		op = maps.Clone(op)
		op["operationId"] = key + schema.GoName(name)
		op["tags"] = []string{name}
		if key == "put" {
			op["requestBody"] = map[string]any{"required": true, "content": content()}
		}
		responses := maps.Clone(asMap(op["responses"]))
		for status, resp := range responses {
			r := resolveResponse(doc, resp)
			if _, hasBody := r["content"]; hasBody && status[0] == '2' {
				r = maps.Clone(r)
				r["content"] = content()
				responses[status] = r
			}
		}
		op["responses"] = responses
		item[key] = op
	}
	paths["/v1/records/"+name+"/{id}"] = item
}

// resolveResponse returns the response object resp stands for, following
// a reference into the document's components.
func resolveResponse(doc map[string]any, resp any) map[string]any {
	r := asMap(resp)
	ref, ok := r["$ref"].(string)
	if !ok {
		return r
	}
	name, ok := strings.CutPrefix(ref, "#/components/responses/")
	if !ok {
		return r
	}
	return asMap(asMap(asMap(doc["components"])["responses"])[name])
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// openAPIObject renders schema fields as an OpenAPI 3.0 object schema.
// OpenAPI 3.0 is not JSON Schema 2020-12 (nullable instead of type
// arrays), so this is a generator of its own.
func openAPIObject(fields map[string]*schema.Field) map[string]any {
	props := map[string]any{}
	required := []string{}
	for name, f := range fields {
		props[name] = openAPIField(f)
		if !f.Optional && len(f.Default) == 0 {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		// In name order, so that the document is the same bytes on every
		// request, and its ETag-less caches and digests agree.
		slices.Sort(required)
		out["required"] = required
	}
	return out
}

func openAPIField(f *schema.Field) map[string]any {
	var out map[string]any
	switch f.Type {
	case "string":
		out = map[string]any{"type": "string"}
	case "int":
		out = map[string]any{"type": "integer", "format": "int64"}
	case "float":
		out = map[string]any{"type": "number", "format": "double"}
	case "bool":
		out = map[string]any{"type": "boolean"}
	case "time":
		out = map[string]any{"type": "string", "format": "date-time"}
	case "bytes":
		out = map[string]any{"type": "string", "format": "byte"}
	case "object":
		out = openAPIObject(f.Fields)
	case "array":
		out = map[string]any{"type": "array", "items": openAPIField(f.Items)}
	case "map":
		out = map[string]any{"type": "object", "additionalProperties": openAPIField(f.Values)}
	default:
		out = map[string]any{}
	}
	if f.Description != "" {
		out["description"] = f.Description
	}
	if f.Optional {
		out["nullable"] = true
	}
	return out
}
