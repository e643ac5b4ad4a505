// Package schema is Ferry's schema engine: it reads schema definitions
// (API.md §2), compiles each version into Go struct types, validates
// records, converts them between versions without losing what a client
// wrote, checks that a new version keeps the schema's compatibility mode,
// describes versions as a changelog, JSON Schema and Go source, and keeps
// the schemas in a Registry backed by a small Store interface. It knows
// nothing of HTTP or of any storage engine.
//
// # Compiled types
//
// Each version compiles (reflect.StructOf) to two struct types with the
// same Go field names (GoName: "amount_cents" → "AmountCents") and the
// same json, msgpack and cbor names:
//
//   - the record struct (Version.Type): int64, float64, string, bool,
//     time.Time, []byte, nested structs, slices and map[string]T, with a
//     pointer for each optional field and the definition's rule in the
//     validate tag. It is what Validate, View and FromMap return, what
//     encoders write, what GoSource prints, and what a Go client's own
//     struct exchanges gob with.
//   - the wire struct (Version.WireType, made by Version.New): every scalar
//     field is a pointer, nested objects are pointers to wire structs, and
//     bytes, arrays and maps are nil until decoded. Decoders (package
//     negotiate) fill it directly; a field they leave nil was absent (or
//     null), which a record struct could not tell from a zero value.
//
// Validate turns a wire struct into a record struct: it reports absent
// fields that are neither optional nor defaulted (rule "present"), fills
// defaults, makes empty rather than nil containers so that every encoder
// writes [] and {}, puts times in UTC and refuses non-finite floats; then
// it runs the validator on the record struct, so rules behave exactly as
// on a hand-written Go struct: `required` forbids the zero value, and the
// rules of an optional field, which start with an implied omitnil, apply
// only when it is there. A gob body (fromGob) has every field present: gob
// leaves zero values off the wire. Every failure is listed, located by
// schema field names ("items[2].qty").
//
// The cost of telling absent from zero is one allocation per present
// scalar field, made by the decoder for its pointer, plus the record
// struct itself; BenchmarkRecordPath compares the whole path with a
// hand-written struct.
//
// Compiled types are cached by a hash of the definition's fields, dry runs
// included, because the runtime never frees a StructOf type.
//
// # Registration
//
// Registry.Register checks a definition in two stages. Faults of the
// definition itself are a problem.Invalid listing "errors": names, Go-name
// collisions, types, nesting, defaults, and rules. Each rule is checked
// against the validator (an unknown rule, even inside array elements, is
// named with its field) and exercised under recover on sample values of
// the field's type, so that a parameter that cannot apply (min=abc on an
// int, min=1 on a bool) is refused at registration and never panics at
// request time. Cross-field rules name fields by their schema names and
// must name fields that exist.
//
// Faults against the schema's history are a problem.Conflict listing
// "violations": a version number that is not next, fields that appear or
// disappear without a step, a type change without a retype, a retype that
// is not a widening, and whatever breaks the compatibility mode. The mode
// is checked by applying the steps symbolically to each field's type and
// "may be absent" state: BACKWARD requires that every record of the
// previous version (of every earlier one, for the _TRANSITIVE forms) can
// be upgraded and has every field the new version requires; FORWARD that
// every record of the new version can be converted down, so a retype,
// which cannot be undone for every value, always breaks it; FULL both;
// NONE neither.
//
// # Conversions
//
// A record is stored as a Doc at the latest version. Writing at an older
// version upgrades the record step by step with the stored Doc as context:
// fields the writer's version cannot see keep their stored values, values
// an upgrade removes (and ints a retype to float cannot hold exactly) are
// kept in the Doc, and the result is validated again at the latest
// version. Viewing at an older version applies the steps backwards, taking
// kept values back; a retype goes back only when the value fits exactly,
// else the view is a problem.NotAcceptable naming the field and the step.
// So writing at version i, reading at j, writing that at j and reading at
// i again gives back what was written at i.
//
// Steps reach into nested objects by dotted paths ("address.zip"), never
// into arrays or maps.
package schema
