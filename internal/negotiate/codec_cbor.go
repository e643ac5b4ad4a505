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
	enc    cbor.EncMode
	dec    cbor.DecMode
	shapes shapeCache
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
	tags := []string{"cbor", "json"}
	return &CBORCodec{
		enc: enc, dec: dec,
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
	if err := wire.CheckCBOR(data); err != nil {
		return err
	}
	if p, ok := v.(*any); ok {
		x, err := decodeItems(newCBORReader(data), "cbor")
		if err != nil {
			return err
		}
		*p = x
		return nil
	}
	if topLevelNull(data[0] == 0xf6 || data[0] == 0xf7, v) {
		return nullRecord("cbor")
	}
	err := c.dec.Unmarshal(data, v)
	if err == nil {
		// Epoch numbers are decoded into times without a range check.
		if rerr := c.times.check(reflect.ValueOf(v)); rerr != nil {
			return encodeProblem(rerr, "cbor")
		}
		// The library makes a null array element or map value a zero;
		// the shape check refuses it. A body with no byte of null or
		// undefined holds neither.
		if bytes.IndexByte(data, 0xf6) < 0 && bytes.IndexByte(data, 0xf7) < 0 {
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
// items. The copy encodes as v would: structs become maps keyed by the
// names the library gives their fields, and core deterministic encoding
// sorts struct fields and map keys alike.
func (c *CBORCodec) withZeroTimes(v any) any {
	rv := reflect.ValueOf(v)
	if !c.times.holdsZeroTime(rv) {
		return v
	}
	return c.tagZeroTimes(rv)
}

// tagZeroTimes returns v as schemaless data, its zero times as tag 0.
func (c *CBORCodec) tagZeroTimes(v reflect.Value) any {
	if v.Type() == timeType {
		if t := v.Interface().(time.Time); t.IsZero() {
			return cbor.Tag{Number: 0, Content: t.UTC().Format(time.RFC3339Nano)}
		}
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return c.tagZeroTimes(v.Elem())
	case reflect.Struct:
		out := make(map[string]any, v.NumField())
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Tag.Get("cbor") == "-" {
				continue
			}
			out[c.times.fieldName(f)] = c.tagZeroTimes(v.Field(i))
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface() // a byte string
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = c.tagZeroTimes(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[any]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			out[c.tagZeroTimes(it.Key())] = c.tagZeroTimes(it.Value())
		}
		return out
	}
	return v.Interface()
}
