package negotiate

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

// MediaTypeJSON is the media type of JSON bodies.
const MediaTypeJSON = "application/json"

// A JSONCodec reads and writes JSON (RFC 8259) with
// github.com/go-json-experiment/json.
//
// Decoding into a struct rejects unknown and case-variant member names,
// duplicate names, invalid UTF-8, trailing data and null for a scalar that
// is not behind a pointer, such as an array element or a map value. Decoding into *any
// builds Ferry's schemaless value model with exact integers. Encoding writes
// times as RFC 3339 in UTC with nanoseconds, bytes as standard base64, map
// members in sorted order, and floats so that they read back as floats.
type JSONCodec struct {
	indent  bool
	opts    json.Options // for encoding
	decOpts json.Options
	// nullOpts are decOpts refusing null for bare scalars, for bodies
	// that hold a null: the check costs every value a call.
	nullOpts json.Options
	// pretty is the indenting variant, or nil on that variant itself.
	pretty *JSONCodec
	bufs   *sync.Pool // of *jsonState
}

// jsonState is the reusable per-call state of a JSONCodec.
type jsonState struct {
	buf bytes.Buffer
	enc *jsontext.Encoder
	dec *jsontext.Decoder
}

// NewJSONCodec returns a JSON codec that writes compact JSON.
func NewJSONCodec() *JSONCodec {
	bufs := &sync.Pool{New: func() any {
		return &jsonState{enc: jsontext.NewEncoder(io.Discard), dec: jsontext.NewDecoder(eofReader{})}
	}}
	base := json.JoinOptions(
		json.Deterministic(true),
		json.FormatNilSliceAsNull(false),
		json.FormatNilMapAsNull(false),
		json.WithMarshalers(json.MarshalToFunc(writeJSONTime)),
	)
	exactTimes := json.UnmarshalFromFunc(readJSONTime)
	c := &JSONCodec{
		opts: base,
		decOpts: json.JoinOptions(
			json.RejectUnknownMembers(true),
			json.MatchCaseInsensitiveNames(false),
			jsontext.AllowDuplicateNames(false),
			jsontext.AllowInvalidUTF8(false),
			json.WithUnmarshalers(exactTimes),
		),
		bufs: bufs,
	}
	// The unmarshalers replace decOpts' own, which they therefore repeat.
	c.nullOpts = json.JoinOptions(c.decOpts, json.WithUnmarshalers(json.JoinUnmarshalers(
		refuseNull[string](), refuseNull[bool](), refuseNull[int64](),
		refuseNull[float64](), refuseNull[time.Time](), exactTimes,
	)))
	c.pretty = &JSONCodec{
		indent:   true,
		opts:     json.JoinOptions(base, jsontext.Multiline(true), jsontext.WithIndent("  ")),
		decOpts:  c.decOpts,
		nullOpts: c.nullOpts,
		bufs:     bufs,
	}
	return c
}

// Name returns "json".
func (c *JSONCodec) Name() string { return "json" }

// MediaTypes returns the media types of JSON bodies.
func (c *JSONCodec) MediaTypes() []string { return []string{MediaTypeJSON} }

// Pretty returns the variant of c that indents its output by two spaces.
func (c *JSONCodec) Pretty() Codec {
	if c.pretty == nil {
		return c
	}
	return c.pretty
}

// Encode writes v to w as JSON. Nothing is written when v cannot be
// encoded.
func (c *JSONCodec) Encode(w io.Writer, v any) error {
	st := c.bufs.Get().(*jsonState)
	defer c.put(st)
	if err := c.encode(st, v); err != nil {
		return err
	}
	_, err := w.Write(st.buf.Bytes())
	return err
}

// Marshal returns v as JSON.
func (c *JSONCodec) Marshal(v any) ([]byte, error) {
	st := c.bufs.Get().(*jsonState)
	defer c.put(st)
	if err := c.encode(st, v); err != nil {
		return nil, err
	}
	return bytes.Clone(st.buf.Bytes()), nil
}

// maxPooledBuffer keeps one very large body from pinning its buffer in the
// pool.
const maxPooledBuffer = 1 << 20

func (c *JSONCodec) put(st *jsonState) {
	if st.buf.Cap() > maxPooledBuffer {
		st.buf = bytes.Buffer{}
	}
	st.enc.Reset(io.Discard)
	st.dec.Reset(eofReader{})
	c.bufs.Put(st)
}

// encode writes v into st.buf, without the newline the encoder puts after
// a top-level value.
func (c *JSONCodec) encode(st *jsonState, v any) error {
	st.buf.Reset()
	st.enc.Reset(&st.buf, c.opts)
	if err := writeJSON(st.enc, v); err != nil {
		return jsonEncodeError(err)
	}
	if n := st.buf.Len(); n > 0 && st.buf.Bytes()[n-1] == '\n' {
		st.buf.Truncate(n - 1)
	}
	return nil
}

// writeJSON writes a value of the schemaless model itself, so that map keys
// are checked and located and floats keep their kind; anything else (a
// struct compiled from a schema) goes to the library.
func writeJSON(e *jsontext.Encoder, v any) error {
	switch x := v.(type) {
	case nil:
		return e.WriteToken(jsontext.Null)
	case bool:
		return e.WriteToken(jsontext.Bool(x))
	case int64:
		return e.WriteToken(jsontext.Int(x))
	case int:
		return e.WriteToken(jsontext.Int(int64(x)))
	case uint64:
		return e.WriteToken(jsontext.Uint(x))
	case float64:
		if !isFinite(x) {
			return nonFinite("json", x)
		}
		var scratch [32]byte
		return e.WriteValue(appendJSONFloat(scratch[:0], x))
	case string:
		return e.WriteToken(jsontext.String(x))
	case []byte:
		return e.WriteToken(jsontext.String(base64.StdEncoding.EncodeToString(x)))
	case time.Time:
		return writeJSONTime(e, x)
	case []any:
		if err := e.WriteToken(jsontext.BeginArray); err != nil {
			return err
		}
		for i, el := range x {
			if err := writeJSON(e, el); err != nil {
				return atPath(err, indexSegment(i))
			}
		}
		return e.WriteToken(jsontext.EndArray)
	case map[string]any:
		if err := e.WriteToken(jsontext.BeginObject); err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if err := e.WriteToken(jsontext.String(k)); err != nil {
				return err
			}
			if err := writeJSON(e, x[k]); err != nil {
				return atPath(err, keySegment(k))
			}
		}
		return e.WriteToken(jsontext.EndObject)
	case map[any]any:
		strs := make(map[string]any, len(x))
		for k, el := range x {
			s, ok := k.(string)
			if !ok {
				return &valueError{kind: problem.Unprocessable, reason: "unsupported_key",
					msg: fmt.Sprintf("json cannot hold a map key of type %s", modelKind(k))}
			}
			strs[s] = el
		}
		return writeJSON(e, strs)
	}
	return json.MarshalEncode(e, v)
}

// atPath adds a path segment to a valueError.
func atPath(err error, segment string) error {
	if ve, ok := err.(*valueError); ok {
		return ve.at(segment)
	}
	return err
}

// writeJSONTime writes t as an RFC 3339 string in UTC with as many
// fractional digits as it needs.
func writeJSONTime(e *jsontext.Encoder, t time.Time) error {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return &valueError{kind: problem.Unprocessable, reason: "time",
			msg: fmt.Sprintf("the time %s is outside the years RFC 3339 can write", t)}
	}
	var scratch [48]byte
	b := append(scratch[:0], '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return e.WriteValue(append(b, '"'))
}

// jsonEncodeError classifies an encoding failure: a value JSON cannot hold
// is the client's (422); anything else is Ferry's.
func jsonEncodeError(err error) error {
	var ve *valueError
	if errors.As(err, &ve) {
		return ve.problem()
	}
	var se *json.SemanticError
	if errors.As(err, &se) && se.GoType != nil && (se.GoType.Kind() == reflect.Float64 || se.GoType.Kind() == reflect.Float32) {
		path := "$" + strings.ReplaceAll(string(se.JSONPointer), "/", ".")
		return problem.New(problem.Unprocessable, "json cannot hold a non-finite float at %s", path).
			WithReason("nonfinite").With("path", path)
	}
	return fmt.Errorf("negotiate: encode json: %w", err)
}

// Decode reads the JSON value in data into v, which is *any or a pointer to
// a struct (or another type the JSON library can fill). Into *any, -0 is
// the float -0 and an integer beyond 64 bits is a problem.Unprocessable
// error; see DecodeData for record data.
func (c *JSONCodec) Decode(data []byte, v any) error {
	if p, ok := v.(*any); ok {
		return c.decodePlain(data, p, false, wire.MaxDepth)
	}
	if err := wire.CheckJSON(data); err != nil {
		return err
	}
	if topLevelNull(bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("null")), v) {
		return nullRecord("json")
	}
	opts := c.decOpts
	if bytes.Contains(data, []byte("null")) {
		opts = c.nullOpts
	}
	if err := json.Unmarshal(data, v, opts); err != nil {
		return jsonDecodeError(err, reflect.TypeOf(v))
	}
	return nil
}

// errNull is the error of a null where a bare scalar must be.
var errNull = errors.New("got null")

// refuseNull refuses null for a bare T: an array element or a map value.
// A record's scalar fields are pointers, where null is absence, and
// encoding/json's rules would quietly make a bare null a zero.
func refuseNull[T any]() *json.Unmarshalers {
	return json.UnmarshalFromFunc(func(dec *jsontext.Decoder, _ *T) error {
		if dec.PeekKind() == 'n' {
			return errNull
		}
		return errors.ErrUnsupported
	})
}

// readJSONTime reads a time as the RFC 3339 text that every format
// takes: the library's own parser also takes more than nine fractional
// digits and drops the rest, which would store a time other than the one
// sent.
func readJSONTime(dec *jsontext.Decoder, t *time.Time) error {
	if dec.PeekKind() != '"' {
		return errors.ErrUnsupported
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	text, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return err
	}
	if !wire.ValidRFC3339(text) {
		return fmt.Errorf("%q is not an RFC 3339 date-time (at most nine fractional digits, years 0000 to 9999)", problem.Excerpt(string(text), 40))
	}
	parsed, err := time.Parse(time.RFC3339Nano, string(text))
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 date-time: %w", problem.Excerpt(string(text), 40), err)
	}
	*t = parsed
	return nil
}

// topLevelNull reports whether a body that is null is being decoded into a
// struct: the libraries leave the struct untouched, which would read as a
// record with every field absent rather than as no record at all.
func topLevelNull(isNull bool, v any) bool {
	if !isNull {
		return false
	}
	t := reflect.TypeOf(v)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct
}

func nullRecord(format string) error {
	return problem.New(problem.Invalid, "%s: the body is null; a record is a map of its fields", format).WithReason("type")
}

// DecodeData decodes data with c into *v as record data: plain data that
// a reader who knows each field's type fills a record from. From JSON, the
// two number literals that no 64-bit number holds as written, -0 and
// integers beyond 64 bits, stay json.Number (encoding/json's) for that
// reader to settle: a float field takes either as the float it is (a
// JSON encoder writes 1e20 as 100000000000000000000), an int field
// refuses the second as out of range. Other formats hold every number as
// written, and decode as Decode into *any does.
func DecodeData(c Codec, data []byte, v *any) error {
	return decodeData(c, data, v, wire.MaxDepth)
}

// decodeData is DecodeData with arrays and maps nesting at most maxDepth
// deep rather than wire.MaxDepth.
func decodeData(c Codec, data []byte, v *any, maxDepth int) error {
	switch c := c.(type) {
	case *JSONCodec:
		return c.decodePlain(data, v, true, maxDepth)
	case *CBORCodec:
		return c.decodePlain(data, v, maxDepth)
	case *MsgpackCodec:
		return c.decodePlain(data, v, maxDepth)
	}
	return c.Decode(data, v)
}

func (c *JSONCodec) decodePlain(data []byte, p *any, literals bool, maxDepth int) error {
	if err := wire.CheckJSONDepth(data, maxDepth); err != nil {
		return err
	}
	st := c.bufs.Get().(*jsonState)
	defer c.put(st)
	st.dec.Reset(bytes.NewBuffer(data))
	x, err := readJSON(st.dec, 0, maxDepth, literals)
	if err != nil {
		return jsonDecodeError(err, nil)
	}
	if err := jsonEnd(st.dec); err != nil {
		return err
	}
	*p = x
	return nil
}

// readJSON reads one JSON value into the schemaless model, with literals
// as DecodeData keeps them when literals is set, refusing arrays and
// objects nested deeper than maxDepth.
func readJSON(d *jsontext.Decoder, depth, maxDepth int, literals bool) (any, error) {
	switch d.PeekKind() {
	case '[', '{':
		if depth >= maxDepth {
			off := d.InputOffset()
			return nil, problem.New(problem.Invalid, "json: value at offset %d is nested deeper than %d levels", off, maxDepth).
				WithReason("depth").With("offset", off)
		}
	}
	tok, err := d.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case 'f', 't':
		return tok.Bool(), nil
	case '"':
		return tok.String(), nil
	case '0':
		raw := tok.String()
		return jsonNumber(raw, d.InputOffset()-int64(len(raw)), literals)
	case '[':
		a := []any{}
		for d.PeekKind() != ']' {
			v, err := readJSON(d, depth+1, maxDepth, literals)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		return a, nil
	case '{':
		m := map[string]any{}
		for d.PeekKind() != '}' {
			name, err := d.ReadToken()
			if err != nil {
				return nil, err
			}
			// The token is valid only until the next read.
			key := name.String()
			v, err := readJSON(d, depth+1, maxDepth, literals)
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("negotiate: unexpected json token %v", tok)
}

// jsonNumber converts a JSON number literal: an integer literal to int64,
// or to uint64 above math.MaxInt64, and anything else to float64. The
// literals none of them holds as written, -0 and integers beyond 64 bits,
// stay json.Number with literals set; without, -0 is the float -0 and an
// integer beyond 64 bits an error.
func jsonNumber(raw string, off int64, literals bool) (any, error) {
	if !strings.ContainsAny(raw, ".eE") {
		if raw == "-0" {
			if literals {
				return stdjson.Number(raw), nil
			}
			return math.Copysign(0, -1), nil
		}
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return n, nil
		}
		if raw[0] != '-' {
			if u, err := strconv.ParseUint(raw, 10, 64); err == nil {
				return u, nil
			}
		}
		if literals {
			return stdjson.Number(raw), nil
		}
		return nil, problem.New(problem.Unprocessable, "json: integer %s at offset %d does not fit in 64 bits", raw, off).
			WithReason("int_range").With("offset", off)
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return nil, problem.New(problem.Unprocessable, "json: number %s at offset %d is out of range for a 64-bit float", raw, off).
			WithReason("nonfinite").With("offset", off)
	}
	return f, nil
}

// jsonEnd checks that nothing but whitespace follows the value.
func jsonEnd(d *jsontext.Decoder) error {
	off := d.InputOffset()
	if _, err := d.ReadToken(); err == io.EOF {
		return nil
	}
	return problem.New(problem.Invalid, "json: unexpected data after the value at offset %d", off).
		WithReason("trailing").With("offset", off)
}

// jsonDecodeError turns an error of the JSON library into a located
// *problem.Error. target is the type decoded into, used to name fields.
func jsonDecodeError(err error, target reflect.Type) error {
	if _, ok := err.(*problem.Error); ok {
		return err
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return jsonSyntaxError(syn)
	}
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		return jsonSemanticError(sem, target)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return problem.New(problem.Invalid, "json: the body ends inside a value").WithReason("truncated")
	}
	return fmt.Errorf("negotiate: decode json: %w", err)
}

func jsonSyntaxError(e *jsontext.SyntacticError) error {
	off := e.ByteOffset
	reason, what := "syntax", ""
	switch {
	case errors.Is(e.Err, jsontext.ErrDuplicateName):
		return problem.New(problem.Invalid, "json: duplicate member name %q in %s at offset %d", e.JSONPointer.LastToken(), jsonPlace(e.JSONPointer.Parent()), off).
			WithReason("duplicate_key").With("offset", off)
	case errors.Is(e.Err, io.ErrUnexpectedEOF):
		reason, what = "truncated", "the body ends inside a value"
	case e.Err != nil && e.Err.Error() == "invalid UTF-8":
		reason, what = "utf8", "invalid UTF-8 in a string"
	case e.Err != nil && strings.Contains(e.Err.Error(), "after top-level value"):
		reason, what = "trailing", "unexpected data after the value"
	case e.Err != nil:
		what = e.Err.Error()
	default:
		what = "syntax error"
	}
	return problem.New(problem.Invalid, "json: %s at offset %d", what, off).WithReason(reason).With("offset", off)
}

// jsonPlace names the object a JSON pointer points at.
func jsonPlace(p jsontext.Pointer) string {
	if p == "" {
		return "the body"
	}
	return "object " + string(p)
}

func jsonSemanticError(e *json.SemanticError, target reflect.Type) error {
	ptr := e.JSONPointer
	if errors.Is(e.Err, json.ErrUnknownName) {
		rev, parent := pointerSegments(ptr.Parent(), target)
		fe := newUnknownField(ptr.LastToken(), int(e.ByteOffset), jsonFieldNames(parent))
		fe.rev = append(fe.rev, rev...)
		return fe.problem("json")
	}
	rev, _ := pointerSegments(ptr, target)
	fe := &fieldError{kind: problem.Invalid, reason: "type", off: int(e.ByteOffset), rev: rev}
	got := jsonKindName(e.JSONKind)
	if len(e.JSONValue) > 0 && len(e.JSONValue) <= 40 {
		got += " " + string(e.JSONValue)
	}
	if errors.Is(e.Err, errNull) {
		// Refused on a peek, before the decoder read the value's kind.
		got = "null"
	}
	gt := e.GoType
	switch {
	case gt == nil && e.Err != nil:
		fe.msg = e.Err.Error()
	case gt == nil:
		fe.msg = "expected another type, got " + got
	case e.Err != nil && errors.Is(e.Err, strconv.ErrRange) && isNumberKind(gt.Kind()):
		fe.kind, fe.reason = problem.Unprocessable, "int_range"
		fe.msg = fmt.Sprintf("%s is out of range for %s", e.JSONValue, gt)
	case gt == timeType && len(e.JSONValue) > 0:
		fe.msg = fmt.Sprintf("%s is not an RFC 3339 time", e.JSONValue)
	case gt == timeType && e.JSONKind == '"':
		fe.msg = "the string is not an RFC 3339 time"
	case gt.Kind() == reflect.Slice && gt.Elem().Kind() == reflect.Uint8 && e.JSONKind == '"':
		fe.msg = "expected standard base64, got a string that is not"
	default:
		fe.msg = fmt.Sprintf("expected %s, got %s", jsonExpected(gt), got)
	}
	return fe.problem("json")
}

func isNumberKind(k reflect.Kind) bool {
	return (k >= reflect.Int && k <= reflect.Uint64) || k == reflect.Float32 || k == reflect.Float64
}

func jsonKindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{', '}':
		return "object"
	case '[', ']':
		return "array"
	}
	return "value"
}

// jsonExpected names what a Go type takes in JSON.
func jsonExpected(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "RFC 3339 time string"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "base64 string"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "value"
}

// pointerSegments converts a JSON pointer within a value of type t into
// field path segments, innermost first, telling array indices from member
// names by the type. It also returns the type the pointer ends at, or nil.
func pointerSegments(ptr jsontext.Pointer, t reflect.Type) ([]string, reflect.Type) {
	var segs []string
	for tok := range ptr.Tokens() {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t == nil:
			segs = append(segs, keySegment(tok))
		case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
			segs = append(segs, "["+tok+"]")
			t = t.Elem()
		case t.Kind() == reflect.Map:
			// A record's map key, as the schema's paths write it.
			segs = append(segs, "["+tok+"]")
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			segs = append(segs, keySegment(tok))
			t = jsonFieldType(t, tok)
		default:
			segs = append(segs, keySegment(tok))
			t = nil
		}
	}
	slices.Reverse(segs)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return segs, t
}

// jsonName returns the JSON member name of a struct field.
func jsonName(f reflect.StructField) string {
	if v, ok := f.Tag.Lookup("json"); ok {
		if name, _, _ := strings.Cut(v, ","); name != "" {
			return name
		}
	}
	return f.Name
}

func jsonFieldType(t reflect.Type, name string) reflect.Type {
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && jsonName(f) == name {
			return f.Type
		}
	}
	return nil
}

// jsonFieldNames returns the member names of the fields of t, if t is a
// struct.
func jsonFieldNames(t reflect.Type) []string {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			names = append(names, jsonName(f))
		}
	}
	return names
}

// eofReader is an empty reader that pooled decoders are reset to, so that
// they do not keep the last body alive.
type eofReader struct{}

// Read reports the end of the stream.
func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
