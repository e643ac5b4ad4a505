package handlers

import (
	"net/http"
	"slices"
	"strconv"

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
			addTypedPaths(paths, sc)
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

// addTypedPaths adds the record paths of one schema, typed at its latest
// version.
func addTypedPaths(paths map[string]any, sc *schema.Schema) {
	name := sc.Name()
	ref := map[string]any{"$ref": "#/components/schemas/" + componentName(name, sc.Latest().Number())}
	content := func() map[string]any {
		return map[string]any{
			"application/json":        map[string]any{"schema": ref},
			"application/vnd.msgpack": map[string]any{"schema": ref},
			"application/cbor":        map[string]any{"schema": ref},
		}
	}
	problemRef := map[string]any{"$ref": "#/components/responses/Problem"}
	idParam := map[string]any{
		"name": "id", "in": "path", "required": true,
		"schema": map[string]any{"type": "string", "pattern": `^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$`},
	}
	op := func(id, summary string, withBody bool, okStatus string) map[string]any {
		o := map[string]any{
			"operationId": id,
			"summary":     summary,
			"tags":        []string{name},
			"parameters":  []any{idParam},
			"responses": map[string]any{
				okStatus:  map[string]any{"description": summary, "content": content()},
				"default": problemRef,
			},
		}
		if withBody {
			o["requestBody"] = map[string]any{"required": true, "content": content()}
		}
		return o
	}
	goName := schema.GoName(name)
	paths["/v1/records/"+name+"/{id}"] = map[string]any{
		"get": op("get"+goName, "Read a "+name+" record", false, "200"),
		"put": op("put"+goName, "Create or replace a "+name+" record", true, "200"),
	}
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
