package negotiate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

// MediaTypeCBOR is the media type of CBOR bodies.
const MediaTypeCBOR = "application/cbor"

// A CBORCodec reads and writes CBOR (RFC 8949) with
// github.com/fxamacker/cbor/v2.
//
// Encoding is core deterministic (RFC 8949 §4.2.1: shortest heads and
// floats that keep the value, sorted map keys, no indefinite lengths),
// except that times are tag 0 RFC 3339 text in UTC with nanoseconds, which
// the preset's whole-second epoch would lose. Every body is checked by
// wire.CheckCBOR before the library decodes it; the library then rejects
// duplicate keys, unknown and case-variant field names and invalid UTF-8
// itself. Decoding into *any is done here, into Ferry's schemaless value
// model.
type CBORCodec struct {
	enc cbor.EncMode
	dec cbor.DecMode
	// lenient passes over what makes dec refuse a value, for reading a
	// member out of one that dec refused (see StringMember).
	lenient cbor.DecMode
	shapes  shapeCache
	// ranges locates what the encoder refuses; times finds decoded times
	// that no format could write back.
	ranges rangeChecker
	times  rangeChecker
}

// NewCBORCodec returns a CBOR codec.
func NewCBORCodec() *CBORCodec {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339NanoUTC
	eo.TimeTag = cbor.EncTagRequired
	eo.NaNConvert = cbor.NaNConvertReject
	eo.InfConvert = cbor.InfConvertReject
	eo.NilContainers = cbor.NilContainerAsEmpty
	// The options are fixed, so an error here is a fault in this file.
	enc, err := eo.EncMode()
	if err != nil {
		panic(fmt.Sprintf("negotiate: cbor encoding options: %v", err))
	}
	dec, err := cbor.DecOptions{
		DupMapKey: cbor.DupMapKeyEnforcedAPF,
		TimeTag:   cbor.DecTagOptional,
		// wire.CheckCBOR bounds arrays and maps to wire.MaxDepth; the
		// library counts a time tag as a level too.
		MaxNestedLevels: wire.MaxDepth + 1,
		// Declared lengths are already bounded by the size of the body.
		MaxArrayElements:  1 << 24,
		MaxMapPairs:       1 << 24,
		IndefLength:       cbor.IndefLengthAllowed,
		TagsMd:            cbor.TagsAllowed,
		IntDec:            cbor.IntDecConvertNone,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		TimeTagToAny:      cbor.TimeTagToTime,
		NaN:               cbor.NaNDecodeForbidden,
		Inf:               cbor.InfDecodeForbidden,
		BignumTag:         cbor.BignumTagForbidden,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("negotiate: cbor decoding options: %v", err))
	}
	lenient, err := cbor.DecOptions{
		DupMapKey:       cbor.DupMapKeyQuiet,
		UTF8:            cbor.UTF8DecodeInvalid,
		MaxNestedLevels: 65535,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("negotiate: lenient cbor decoding options: %v", err))
	}
	tags := []string{"cbor", "json"}
	return &CBORCodec{
		enc: enc, dec: dec, lenient: lenient,
		shapes: shapeCache{tags: tags},
		ranges: rangeChecker{format: "cbor", tags: tags, floats: true},
		times:  rangeChecker{format: "cbor", tags: tags},
	}
}

// Name returns "cbor".
func (c *CBORCodec) Name() string { return "cbor" }

// MediaTypes returns the media types of CBOR bodies.
func (c *CBORCodec) MediaTypes() []string { return []string{MediaTypeCBOR} }

// Encode writes v to w as CBOR. Nothing is written when v cannot be
// encoded.
func (c *CBORCodec) Encode(w io.Writer, v any) error {
	b, err := c.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Marshal returns v as CBOR.
func (c *CBORCodec) Marshal(v any) ([]byte, error) {
	b, err := c.enc.Marshal(c.withZeroTimes(v))
	if err == nil {
		return b, nil
	}
	var uv *cbor.UnsupportedValueError
	if errors.As(err, &uv) {
		// The library refused a NaN, an infinity or a time RFC 3339
		// cannot write, without saying where.
		if rerr := c.ranges.check(reflect.ValueOf(v)); rerr != nil {
			return nil, encodeProblem(rerr, "cbor")
		}
	}
	return nil, fmt.Errorf("negotiate: encode cbor: %w", err)
}

// Decode reads the CBOR data item in data into v, which is *any or a
// pointer to a struct (or another type the library can fill).
func (c *CBORCodec) Decode(data []byte, v any) error {
	if p, ok := v.(*any); ok {
		return c.decodePlain(data, p, wire.MaxDepth)
	}
	if err := wire.CheckCBOR(data); err != nil {
		return err
	}
	if b := data[wire.SelfDescribedCBOR(data)]; topLevelNull(b == 0xf6 || b == 0xf7, v) {
		return nullRecord("cbor")
	}
	err := c.dec.Unmarshal(data, v)
	if err == nil {
		// Epoch numbers are decoded into times without a range check.
		if rerr := c.times.check(reflect.ValueOf(v)); rerr != nil {
			return encodeProblem(rerr, "cbor")
		}
		// The library makes a null array element or map value a zero,
		// and reads a tag 0 time into a string field as its text, where
		// it refuses a tag 1 time; the shape check refuses all three. A
		// body with no byte of null, undefined or tag 0 holds none.
		if bytes.IndexByte(data, 0xf6) < 0 && bytes.IndexByte(data, 0xf7) < 0 && bytes.IndexByte(data, 0xc0) < 0 {
			return nil
		}
	}
	// The library's errors name neither the path nor the offset; walking
	// the body against the target's shape finds both.
	if t := reflect.TypeOf(v); t != nil && t.Kind() == reflect.Pointer {
		chk := shapeChecker{r: newCBORReader(data), format: "cbor", untaggedTimes: true}
		if serr := chk.check(c.shapes.of(t.Elem())); serr != nil {
			return asProblem(serr, "cbor")
		}
	}
	if err == nil {
		return nil
	}
	return cborDecodeError(err)
}

// decodePlain reads the CBOR data item in data into *p as plain data,
// nesting at most maxDepth deep.
func (c *CBORCodec) decodePlain(data []byte, p *any, maxDepth int) error {
	return decodePlainItems(data, p, maxDepth, wire.CheckCBORDepth, newCBORReader, "cbor")
}

// cborDecodeError classifies a library error the shape check did not
// explain.
func cborDecodeError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "cbor: ")
	var (
		typ     *cbor.UnmarshalTypeError
		dup     *cbor.DupMapKeyError
		unknown *cbor.UnknownFieldError
		depth   *cbor.MaxNestedLevelError
		syn     *cbor.SyntaxError
		sem     *cbor.SemanticError
		inv     *cbor.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &inv):
		return fmt.Errorf("negotiate: decode cbor: %w", err)
	case errors.As(err, &typ):
		if strings.Contains(msg, "overflows") {
			return problem.New(problem.Unprocessable, "cbor: %s", msg).WithReason("int_range")
		}
		return problem.New(problem.Invalid, "cbor: %s", msg).WithReason("type")
	case errors.As(err, &dup):
		return problem.New(problem.Invalid, "cbor: %s", msg).WithReason("duplicate_key")
	case errors.As(err, &unknown):
		return problem.New(problem.Invalid, "cbor: %s", msg).WithReason("unknown_field")
	case errors.As(err, &depth):
		return problem.New(problem.Invalid, "cbor: %s", msg).WithReason("depth")
	case errors.As(err, &syn), errors.As(err, &sem):
		return problem.New(problem.Invalid, "cbor: %s", msg).WithReason("syntax")
	}
	return problem.New(problem.Invalid, "cbor: %s", msg).WithReason("syntax")
}

// The library writes every zero time.Time as null, tag or no tag
// required, so the instant 0001-01-01T00:00:00Z would come back as null:
// no time at all for an optional field, and a null where the format says
// tag 0 for any other. withZeroTimes returns v as it is when it holds no
// zero time, else a schemaless copy of it that has them as explicit tag 0
// items. The copy encodes as v would: structs become maps keyed and
// pruned as the library names and omits their fields, and core
// deterministic encoding sorts struct fields and map keys alike. A value
// the copy cannot mirror (an embedded struct, a field option other than
// omitempty and omitzero) is left to the library, nulls and all.
func (c *CBORCodec) withZeroTimes(v any) any {
	rv := reflect.ValueOf(v)
	if !c.times.holdsZeroTime(rv) {
		return v
	}
	if out, ok := tagZeroTimes(rv); ok {
		return out
	}
	return v
}

// tagZeroTimes returns v as schemaless data, its zero times as tag 0, or
// false when the copy would not encode as v does.
func tagZeroTimes(v reflect.Value) (any, bool) {
	if v.Type() == timeType {
		if t := v.Interface().(time.Time); t.IsZero() {
			return cbor.Tag{Number: 0, Content: t.UTC().Format(time.RFC3339Nano)}, true
		}
		return v.Interface(), true
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil, true
		}
		return tagZeroTimes(v.Elem())
	case reflect.Struct:
		out := make(map[string]any, v.NumField())
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Name == "_" && strings.Contains(f.Tag.Get("cbor"), "toarray") {
				return nil, false // the library writes the struct as an array
			}
			if !f.IsExported() {
				continue
			}
			name, omit, ok := cborField(f, v.Field(i))
			if !ok {
				return nil, false
			}
			if omit {
				continue
			}
			x, ok := tagZeroTimes(v.Field(i))
			if !ok {
				return nil, false
			}
			out[name] = x
		}
		return out, true
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface(), true // a byte string
		}
		out := make([]any, v.Len())
		for i := range out {
			x, ok := tagZeroTimes(v.Index(i))
			if !ok {
				return nil, false
			}
			out[i] = x
		}
		return out, true
	case reflect.Map:
		out := make(map[any]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			key, ok := tagZeroTimes(it.Key())
			if !ok || !isScalarKey(key) {
				return nil, false
			}
			x, ok := tagZeroTimes(it.Value())
			if !ok {
				return nil, false
			}
			out[key] = x
		}
		return out, true
	}
	return v.Interface(), true
}

// cborField returns the key the library writes struct field f under and
// whether it leaves the field, holding v, out: its cbor tag, else its
// json tag, names it, "-" drops it, omitempty and omitzero drop it when
// empty or zero. It reports false for what the copy does not mirror: an
// embedded struct, another option, omitempty on a struct.
func cborField(f reflect.StructField, v reflect.Value) (name string, omit, ok bool) {
	if f.Anonymous {
		return "", false, false
	}
	tag, tagged := f.Tag.Lookup("cbor")
	if !tagged {
		tag = f.Tag.Get("json")
	}
	if tag == "-" {
		return "", true, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		switch {
		case opt == "omitzero":
			omit = omit || v.IsZero()
		case opt == "omitempty" && v.Kind() != reflect.Struct:
			omit = omit || isEmpty(v)
		default:
			return "", false, false
		}
	}
	return name, omit, true
}

// isScalarKey reports whether key, from the copy of a map key, is a
// scalar or a tag of one, which hashes as the library's own key would.
func isScalarKey(key any) bool {
	switch k := key.(type) {
	case nil, string, bool, time.Time:
		return true
	case cbor.Tag:
		return isScalarKey(k.Content)
	}
	return isNumberKind(reflect.TypeOf(key).Kind())
}

// isEmpty reports whether omitempty leaves v out: false, 0, "", nil, or
// an empty array, slice or map.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return v.IsZero()
}
