package schema

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/ferry-dev/ferry/internal/problem"
)

// A Schema is a snapshot of a named schema: its versions and mode. A
// registration, a mode change or a deprecation makes a new snapshot, so a
// Schema never changes under its holder.
type Schema struct {
	name          string
	compatibility string
	versions      []*Version
}

// Name returns the schema's name.
func (s *Schema) Name() string { return s.name }

// Compatibility returns the schema's compatibility mode.
func (s *Schema) Compatibility() string { return s.compatibility }

// Latest returns the newest version.
func (s *Schema) Latest() *Version { return s.versions[len(s.versions)-1] }

// Versions returns the version numbers, ascending.
func (s *Schema) Versions() []int {
	out := make([]int, len(s.versions))
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// Has reports whether the schema has version n.
func (s *Schema) Has(n int) bool { return n >= 1 && n <= len(s.versions) }

// Version returns version n, or a problem.NotFound error carrying
// "versions" (the numbers there are), which a caller answering a media
// type parameter turns into a 415 or a 406.
func (s *Schema) Version(n int) (*Version, error) {
	if !s.Has(n) {
		return nil, problem.New(problem.NotFound, "schema '%s' has no version %d", s.name, n).With("versions", s.Versions())
	}
	return s.versions[n-1], nil
}

// All returns every version, oldest first.
func (s *Schema) All() []*Version { return slices.Clone(s.versions) }

// A ChangelogEntry says in words what changed in one version.
type ChangelogEntry struct {
	Version int      `json:"version"`
	Changes []string `json:"changes"`
}

// Changelog returns what changed in each version, derived from its
// migration steps and from how the fields it kept changed, oldest first
// ("created" for version 1).
func (s *Schema) Changelog() []ChangelogEntry {
	out := make([]ChangelogEntry, len(s.versions))
	for i, v := range s.versions {
		out[i] = ChangelogEntry{Version: v.number, Changes: slices.Clone(v.changes)}
	}
	return out
}

// A Version is one compiled version of a schema. Its record struct (Type)
// has the Go names and the json, msgpack, cbor and validate tags of the
// definition; its wire struct (New) is what decoders fill.
type Version struct {
	name      string
	number    int
	def       *Definition
	canonical []byte
	c         *compiled
	steps     []*step
	changes   []string
	valid     *validator.Validate

	deprecatedAt time.Time
	sunset       time.Time
	registeredAt time.Time
}

// Schema returns the name of the version's schema.
func (v *Version) Schema() string { return v.name }

// Number returns the version number.
func (v *Version) Number() int { return v.number }

// Definition returns a copy of the definition as registered.
func (v *Version) Definition() *Definition { return v.def.clone() }

// DefinitionJSON returns the definition as stored: compact JSON with
// members in a fixed order.
func (v *Version) DefinitionJSON() []byte { return slices.Clone(v.canonical) }

// Type returns the record struct: a field per schema field in name order,
// a pointer for an optional field, a nested struct for an object, a slice
// for an array, a map[string]T for a map; int is int64, float float64,
// time time.Time, bytes []byte. View and Validate return pointers to it,
// and a Go client's struct with the same names reads and writes its gob.
func (v *Version) Type() reflect.Type { return v.c.root.plain }

// WireType returns the struct that New makes. It has the fields and names
// of Type, but every scalar field is a pointer, so that a decoder leaves
// an absent field nil, and nested objects are wire structs too.
func (v *Version) WireType() reflect.Type { return v.c.root.wire }

// New returns a pointer to a new zero wire struct, for a decoder to fill
// and Validate to check.
func (v *Version) New() any { return reflect.New(v.c.root.wire).Interface() }

// Registered returns when the version was registered, to the second: no
// record has been shown at it before then. It is the zero time for a
// version registered by a build that did not keep it.
func (v *Version) Registered() time.Time { return v.registeredAt }

// Deprecated returns when the version was deprecated, if it is.
func (v *Version) Deprecated() (at time.Time, ok bool) {
	return v.deprecatedAt, !v.deprecatedAt.IsZero()
}

// Sunset returns the version's sunset, if it has one.
func (v *Version) Sunset() (time.Time, bool) { return v.sunset, !v.sunset.IsZero() }

// Validate checks a decoded record and returns it as a pointer to a record
// struct (Type). decoded is a pointer to a wire struct (from New), a
// pointer to a record struct, which is checked and completed in place, or
// what DecodeJSON returned.
//
// From a wire struct, a field that is absent (or null) and neither
// optional nor defaulted is a failure with rule "present"; a default fills
// in an absent field. With fromGob, every field counts as present (gob
// leaves zero values off the wire) and an optional field is absent only
// when nil. Either way, arrays, maps and bytes of non-optional fields come
// out empty rather than nil, times in UTC, and a non-finite float is a
// failure with rule "finite". Then the definition's rules run on the
// record struct, so `required` forbids the zero value as it does for any
// Go struct.
//
// Failures are a problem.Unprocessable error listing every one in Fields,
// located by schema field names ("items[2].qty").
func (v *Version) Validate(decoded any, fromGob bool) (any, error) {
	if c, ok := decoded.(*completeRecord); ok {
		if c.root != v.c.root {
			return nil, fmt.Errorf("schema: validate %s v%d: the record was decoded at another version", v.name, v.number)
		}
		if err := v.check(c.rec, nil, 0); err != nil {
			return nil, err
		}
		return c.rec.Interface(), nil
	}
	rv := reflect.ValueOf(decoded)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("schema: validate %s v%d: want a non-nil pointer, got %T", v.name, v.number, decoded)
	}
	root := v.c.root
	fl := filler{fromGob: fromGob}
	var rec reflect.Value
	switch rv.Type().Elem() {
	case root.wire:
		rec = reflect.New(root.plain)
		fl.wireObject(root, rv.Elem(), rec.Elem())
	case root.plain:
		rec = rv
		fl.plainObject(root, rec.Elem())
	default:
		return nil, fmt.Errorf("schema: validate %s v%d: %T is not a record of this version", v.name, v.number, decoded)
	}
	if err := v.malformed(&fl); err != nil {
		return nil, err
	}
	if err := v.check(rec, fl.missing, 0); err != nil {
		return nil, err
	}
	return rec.Interface(), nil
}

// malformed is the error of values of the wrong type that fl found (a
// problem.Invalid listing them), or nil when it found none.
func (v *Version) malformed(fl *filler) error {
	if len(fl.malformed) == 0 {
		return nil
	}
	detail := "the record does not fit " + v.name + " version " + fmt.Sprint(v.number) + ": " + fl.malformed[0].Message
	p := problem.New(problem.Invalid, "%s", detail).WithReason("schema")
	p.Fields = fl.malformed
	return p
}

// check runs the rules on the record struct rec and reports them with
// the failures found before. version, when not 0, marks failures found
// after an upgrade.
func (v *Version) check(rec reflect.Value, failures []problem.FieldError, version int) error {
	ruleErrs, err := v.runRules(rec)
	if err != nil {
		return err
	}
	for _, fe := range ruleErrs {
		if !coveredBy(failures, fe.Field) {
			failures = append(failures, fe)
		}
	}
	return v.failed(failures, version)
}

// failed is the error of a record with failures, or nil when it has none.
func (v *Version) failed(failures []problem.FieldError, version int) error {
	if len(failures) == 0 {
		return nil
	}
	for i := range failures {
		failures[i].Version = version
	}
	detail := fmt.Sprintf("the record does not satisfy %s version %d: %s", v.name, v.number, failures[0].Message)
	if len(failures) > 1 {
		detail += fmt.Sprintf(" (and %d more)", len(failures)-1)
	}
	return &problem.Error{Kind: problem.Unprocessable, Detail: detail, Reason: "validation", Fields: failures}
}

// coveredBy reports whether a rule failure at path concerns a field
// already reported missing or holding a value the record could not take
// (an integer out of range), or something inside it: the rule then saw
// the zero left in its place, and its failure would be false.
func coveredBy(failures []problem.FieldError, path string) bool {
	for _, f := range failures {
		if path == f.Field || len(path) > len(f.Field) && path[:len(f.Field)] == f.Field && (path[len(f.Field)] == '.' || path[len(f.Field)] == '[') {
			return true
		}
	}
	return false
}

// runRules runs the validator. The rules were exercised at registration,
// so a panic here is a fault of the service, not of the record.
func (v *Version) runRules(rec reflect.Value) (out []problem.FieldError, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("schema: rules of %s v%d panicked: %v", v.name, v.number, r)
		}
	}()
	verr := v.valid.Struct(rec.Interface())
	if verr == nil {
		return nil, nil
	}
	var ves validator.ValidationErrors
	if !errors.As(verr, &ves) {
		return nil, fmt.Errorf("schema: rules of %s v%d: %w", v.name, v.number, verr)
	}
	out = make([]problem.FieldError, len(ves))
	for i, fe := range ves {
		param := fe.Param()
		if p, ok := v.c.params[param]; ok {
			param = p
		}
		rule := definitionTag(fe.Tag())
		path := v.c.root.schemaPath(fe.StructNamespace())
		out[i] = problem.FieldError{
			Field:   path,
			Rule:    rule,
			Param:   param,
			Message: ruleMessage(path, rule, param, fe.Kind()),
		}
	}
	return out, nil
}

// ToMap returns a record (a pointer to a record struct of this version) in
// plain form: map[string]any for objects and maps, []any for arrays,
// string, int64, float64, bool, time.Time and []byte for the rest; an
// absent optional field has no key. The result shares nothing mutable
// with the record, so a JSON merge patch may be applied to it.
func (v *Version) ToMap(rec any) (map[string]any, error) {
	rv := reflect.ValueOf(rec)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Type().Elem() != v.c.root.plain {
		return nil, fmt.Errorf("schema: to map %s v%d: %T is not a record of this version", v.name, v.number, rec)
	}
	return toPlain(v.c.root, rv.Elem()).(map[string]any), nil
}

// FromMap builds a record of this version from plain form (ToMap's, or
// what a JSON decoder makes of a record: exact integers (int64 or an
// integer json.Number) for int fields, float64 or json.Number for
// numbers, RFC 3339 strings for times, standard base64 strings for bytes)
// and validates it as Validate does a wire struct. Unknown fields and
// values of the wrong type are a problem.Invalid error listing "errors";
// absent or null fields that must be present, and failed rules, are a
// problem.Unprocessable error. With cbor set, values are read as the
// CBOR decoder reads them: null on a time field that is not optional is
// the zero time, as CBOR writes it, and a number on a time field is
// seconds since the Unix epoch.
func (v *Version) FromMap(m map[string]any, cbor bool) (any, error) {
	rec := reflect.New(v.c.root.plain)
	fl := filler{cbor: cbor}
	fl.mapObject(v.c.root, m, rec.Elem())
	if err := v.malformed(&fl); err != nil {
		return nil, err
	}
	if err := v.check(rec, fl.missing, 0); err != nil {
		return nil, err
	}
	return rec.Interface(), nil
}
