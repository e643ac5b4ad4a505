package schema

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/problem"
)

// A Definition is one version of a schema as a client writes it: the JSON
// document of API.md §2, or YAML of the same shape. It marshals back to the
// same shape with github.com/go-json-experiment/json or encoding/json.
type Definition struct {
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Description string `json:"description,omitempty"`
	// Compatibility sets the schema's mode when version 1 is registered; in
	// later versions it is either empty or equal to the current mode.
	Compatibility string            `json:"compatibility,omitempty"`
	Fields        map[string]*Field `json:"fields"`
	// Migrate lists the steps from the previous version (versions ≥ 2).
	Migrate []Step `json:"migrate,omitempty"`
}

// A Field declares one named value of a record or of a nested object.
type Field struct {
	// Type is one of string, int, float, bool, time, bytes, object, array
	// and map.
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// Validate is a go-playground/validator rule string. Cross-field rules
	// (eqfield, required_with, …) name other fields by their schema names.
	Validate string `json:"validate,omitempty"`
	// Optional fields may be absent or null; they are pointers in Go.
	Optional bool `json:"optional,omitzero"`
	// Default is the JSON value filled in when a body lacks the field.
	Default jsontext.Value `json:"default,omitzero"`
	// Items is the element of an array.
	Items *Field `json:"items,omitempty"`
	// Values is the value of a map (whose keys are strings).
	Values *Field `json:"values,omitempty"`
	// Fields are the members of an object.
	Fields map[string]*Field `json:"fields,omitempty"`
}

// A Step is one migration step from the previous version of a schema.
// Paths may be dotted ("address.zip") to reach into nested objects.
type Step struct {
	// Op is rename (From, To), add (Field, Default), remove (Field,
	// Default) or retype (Field, To naming the new type).
	Op    string `json:"op"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	Field string `json:"field,omitempty"`
	// Default is, for add, the value given to records of the previous
	// version and, for remove, the value used going back down when the
	// record kept none.
	Default jsontext.Value `json:"default,omitzero"`
}

// The step operations.
const (
	OpRename = "rename"
	OpAdd    = "add"
	OpRemove = "remove"
	OpRetype = "retype"
)

// ParseDefinition reads a definition from JSON, or from YAML when isYAML is
// set. It is strict: unknown members, duplicate names and trailing data are
// refused with a problem.Invalid error listing "errors". It checks only the
// syntax; Registry.Register checks the meaning.
func ParseDefinition(data []byte, isYAML bool) (*Definition, error) {
	if isYAML {
		j, err := yamlToJSON(data)
		if err != nil {
			return nil, invalidDefinition("the definition is not valid YAML: " + trimLibPrefix(err.Error()))
		}
		data = j
	}
	var def Definition
	if err := json.Unmarshal(data, &def, json.RejectUnknownMembers(true)); err != nil {
		return nil, invalidDefinition("the definition is not valid: " + trimLibPrefix(err.Error()))
	}
	return &def, nil
}

func invalidDefinition(msg string) *problem.Error {
	return problem.New(problem.Invalid, "%s", msg).With("errors", []string{msg})
}

// trimLibPrefix drops the "json: " or "yaml: " prefix that libraries put on
// their messages, which would read oddly inside a sentence.
func trimLibPrefix(s string) string {
	for _, p := range []string{"json: ", "jsontext: ", "yaml: ", "error converting YAML to JSON: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// canonical returns the definition as compact JSON with members in a fixed
// order and default values compacted, so that two definitions that say the
// same thing in the same words compare equal byte for byte.
func (d *Definition) canonical() ([]byte, error) {
	c := d.clone()
	c.walkDefaults(func(v *jsontext.Value) { _ = v.Compact() })
	b, err := json.Marshal(c, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("schema: marshal definition %s v%d: %w", d.Name, d.Version, err)
	}
	return b, nil
}

// clone returns a deep copy, so that a registered definition cannot be
// changed through a pointer the caller kept.
func (d *Definition) clone() *Definition {
	c := *d
	c.Fields = cloneFields(d.Fields)
	if d.Migrate != nil {
		c.Migrate = make([]Step, len(d.Migrate))
		for i, s := range d.Migrate {
			s.Default = s.Default.Clone()
			c.Migrate[i] = s
		}
	}
	return &c
}

func cloneFields(fs map[string]*Field) map[string]*Field {
	if fs == nil {
		return nil
	}
	c := make(map[string]*Field, len(fs))
	for k, f := range fs {
		c[k] = f.clone()
	}
	return c
}

func (f *Field) clone() *Field {
	if f == nil {
		return nil
	}
	c := *f
	c.Default = f.Default.Clone()
	c.Items = f.Items.clone()
	c.Values = f.Values.clone()
	c.Fields = cloneFields(f.Fields)
	return &c
}

func (d *Definition) walkDefaults(fn func(*jsontext.Value)) {
	var walk func(f *Field)
	walk = func(f *Field) {
		if f == nil {
			return
		}
		if f.Default != nil {
			fn(&f.Default)
		}
		walk(f.Items)
		walk(f.Values)
		for _, c := range f.Fields {
			walk(c)
		}
	}
	for _, f := range d.Fields {
		walk(f)
	}
	for i := range d.Migrate {
		if d.Migrate[i].Default != nil {
			fn(&d.Migrate[i].Default)
		}
	}
}

// describeDifference names the first top-level members in which two
// canonical definitions differ, for a start-up error that says why.
func describeDifference(a, b *Definition) string {
	var diffs []string
	if a.Description != b.Description {
		diffs = append(diffs, "description")
	}
	if a.Compatibility != b.Compatibility {
		diffs = append(diffs, "compatibility")
	}
	for _, name := range sortedKeys(a.Fields) {
		if _, ok := b.Fields[name]; !ok {
			diffs = append(diffs, "field '"+name+"' is only in the file")
		}
	}
	for _, name := range sortedKeys(b.Fields) {
		fa, ok := a.Fields[name]
		if !ok {
			diffs = append(diffs, "field '"+name+"' is missing from the file")
			continue
		}
		ja, _ := json.Marshal(fa, json.Deterministic(true))
		jb, _ := json.Marshal(b.Fields[name], json.Deterministic(true))
		if !bytes.Equal(ja, jb) {
			diffs = append(diffs, "field '"+name+"' differs")
		}
	}
	ma, _ := json.Marshal(a.Migrate)
	mb, _ := json.Marshal(b.Migrate)
	if !bytes.Equal(ma, mb) {
		diffs = append(diffs, "migrate differs")
	}
	if len(diffs) == 0 {
		return "the definitions differ"
	}
	return strings.Join(diffs, "; ")
}
