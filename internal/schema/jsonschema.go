package schema

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// JSONSchemaDialect is the $schema of JSONSchema's documents.
const JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// JSONSchema returns a JSON Schema (2020-12) of the version's records as a
// client sends them: a field is required unless it is optional or has a
// default, optional fields may be null, and no other members are allowed.
// The rules that JSON Schema can say are said with its keywords (lengths,
// bounds, enums, formats); each field's rule string is kept as the
// annotation "x-ferry-validate".
func (v *Version) JSONSchema() ([]byte, error) {
	doc := objectSchema(v.c.root)
	doc["$schema"] = JSONSchemaDialect
	doc["title"] = fmt.Sprintf("%s version %d", v.name, v.number)
	if v.def.Description != "" {
		doc["description"] = v.def.Description
	}
	b, err := json.Marshal(doc, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("schema: JSON Schema of %s v%d: %w", v.name, v.number, err)
	}
	return b, nil
}

func objectSchema(n *node) map[string]any {
	props := make(map[string]any, len(n.fields))
	required := []string{}
	for _, f := range n.fields {
		p := nodeSchema(f.node, f.rule)
		if f.def.Description != "" {
			p["description"] = f.def.Description
		}
		if f.def.Validate != "" {
			p["x-ferry-validate"] = f.def.Validate
		}
		if f.hasDefault {
			p["default"] = jsontext.Value(compactRaw(f.def.Default))
		}
		if f.optional {
			p["type"] = []any{p["type"], "null"}
			if c, ok := p["const"]; ok {
				delete(p, "const")
				p["enum"] = []any{c}
			}
			if e, ok := p["enum"].([]any); ok {
				p["enum"] = append(e, nil)
			}
		}
		if !f.optional && !f.hasDefault {
			required = append(required, f.name)
		}
		props[f.name] = p
	}
	return map[string]any{
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}
}

// nodeSchema returns the schema of a value of n under the rule.
func nodeSchema(n *node, rule string) map[string]any {
	own, inner, _ := strings.Cut(rule, ",dive")
	if strings.HasPrefix(rule, "dive") {
		own, inner = "", strings.TrimPrefix(rule, "dive")
	}
	inner = strings.TrimPrefix(inner, ",")
	if strings.HasPrefix(inner, "keys,") {
		_, inner, _ = strings.Cut(inner, "endkeys")
		inner = strings.TrimPrefix(inner, ",")
	}
	var s map[string]any
	switch n.kind {
	case kindString:
		s = map[string]any{"type": "string"}
	case kindInt:
		s = map[string]any{"type": "integer", "format": "int64"}
	case kindFloat:
		s = map[string]any{"type": "number", "format": "double"}
	case kindBool:
		s = map[string]any{"type": "boolean"}
	case kindTime:
		s = map[string]any{"type": "string", "format": "date-time"}
	case kindBytes:
		s = map[string]any{"type": "string", "contentEncoding": "base64"}
	case kindObject:
		s = objectSchema(n)
	case kindArray:
		s = map[string]any{"type": "array", "items": nodeSchema(n.elem, inner)}
	case kindMap:
		s = map[string]any{"type": "object", "additionalProperties": nodeSchema(n.elem, inner)}
	}
	// With omitempty the zero value passes every rule, which keywords
	// cannot say.
	if !hasToken(own, "omitempty") && !hasToken(own, "omitzero") {
		for tok := range strings.SplitSeq(own, ",") {
			ruleKeywords(s, n, tok)
		}
	}
	return s
}

// ruleKeywords adds the JSON Schema keywords that say what one validator
// rule says. Rules JSON Schema cannot say are left to the annotation.
func ruleKeywords(s map[string]any, n *node, tok string) {
	if strings.Contains(tok, "|") {
		return
	}
	k := n.kind
	name, param, _ := strings.Cut(tok, "=")
	param = ruleParam(param)
	num, isNum := jsonNumber(param)
	count, isCount := strconv.ParseUint(param, 10, 31)
	lengthKey := func(minOrMax string) string {
		switch k {
		case kindString:
			return minOrMax + "Length"
		case kindArray:
			return minOrMax + "Items"
		case kindMap:
			return minOrMax + "Properties"
		}
		return ""
	}
	numeric := k == kindInt || k == kindFloat
	switch name {
	case "required":
		// The zero value fails, whatever the type.
		switch k {
		case kindString, kindBytes:
			s["minLength"] = 1
		case kindArray, kindMap:
			s[lengthKey("min")] = 1
		case kindInt, kindFloat:
			s["not"] = map[string]any{"const": 0}
		case kindBool:
			s["const"] = true
		case kindTime:
			s["not"] = map[string]any{"const": "0001-01-01T00:00:00Z"}
		}
	case "min", "gte", "max", "lte", "gt", "lt", "len":
		switch {
		case numeric && isNum:
			key := map[string]string{"min": "minimum", "gte": "minimum", "max": "maximum", "lte": "maximum",
				"gt": "exclusiveMinimum", "lt": "exclusiveMaximum", "len": "const"}[name]
			s[key] = num
		case lengthKey("min") != "" && isCount == nil:
			switch name {
			case "min", "gte":
				s[lengthKey("min")] = count
			case "max", "lte":
				s[lengthKey("max")] = count
			case "gt":
				s[lengthKey("min")] = count + 1
			case "lt":
				if count > 0 {
					s[lengthKey("max")] = count - 1
				}
			case "len":
				s[lengthKey("min")], s[lengthKey("max")] = count, count
			}
		}
	case "eq":
		if numeric && isNum {
			s["const"] = num
		} else if k == kindString {
			s["const"] = param
		}
	case "oneof":
		var enum []any
		for _, w := range oneofValues(param) {
			if numeric {
				n, ok := jsonNumber(w)
				if !ok {
					return
				}
				enum = append(enum, n)
			} else {
				enum = append(enum, w)
			}
		}
		if k == kindString || numeric {
			s["enum"] = enum
		}
	case "unique":
		// The validator compares an optional member by its pointer, so
		// objects holding one are never the same to it.
		if k == kindArray && param == "" && !holdsOptional(n.elem) {
			s["uniqueItems"] = true
		}
	default:
		if k != kindString {
			return
		}
		if f, ok := stringFormats[name]; ok {
			s["format"] = f
		} else if p, ok := stringPatterns[name]; ok {
			s["pattern"] = p
		}
	}
}

var stringFormats = map[string]string{
	"email": "email", "url": "uri", "uri": "uri", "http_url": "uri", "https_url": "uri",
	"uuid": "uuid", "uuid4": "uuid", "uuid_rfc4122": "uuid", "uuid4_rfc4122": "uuid",
	"hostname": "hostname", "hostname_rfc1123": "hostname", "fqdn": "hostname",
	"ipv4": "ipv4", "ipv6": "ipv6",
}

var stringPatterns = map[string]string{
	"alpha":     "^[a-zA-Z]+$",
	"alphanum":  "^[a-zA-Z0-9]+$",
	"numeric":   "^[-+]?[0-9]+(?:\\.[0-9]+)?$",
	"lowercase": "^[^A-Z]+$",
	"uppercase": "^[^a-z]+$",
}

// jsonNumber returns a rule parameter as a JSON number, keeping its digits.
func jsonNumber(s string) (jsontext.Value, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	v := jsontext.Value(s)
	if !v.IsValid() {
		return jsontext.Value(strconv.FormatFloat(f, 'g', -1, 64)), true
	}
	return v, true
}

// holdsOptional reports whether n is an object with an optional member at
// any depth of its objects.
func holdsOptional(n *node) bool {
	if n == nil || n.kind != kindObject {
		return false
	}
	for _, f := range n.fields {
		if f.optional || holdsOptional(f.node) {
			return true
		}
	}
	return false
}
