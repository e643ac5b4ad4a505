package negotiate

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/ferry-dev/ferry/internal/gobcheck"
	"github.com/ferry-dev/ferry/internal/gobenc"
	"github.com/ferry-dev/ferry/internal/problem"
)

// MediaTypeGob is the media type emitted for gob bodies when the client
// named none of its aliases.
const MediaTypeGob = "application/gob"

// A GobCodec reads and writes gob, one gob stream per body. It reads with
// encoding/gob and writes with package gobenc, which gives one value the
// same bytes every time, as an entity tag needs.
//
// gob carries Go types, so only values of struct types (schemas compiled to
// structs) are written and read: schemaless values are refused. A body is
// decoded only after the vetter the codec was built with accepts it, for
// the type it is decoded into; without one, every gob body is refused.
//
// encoding/gob is not hardened against hostile input (a body of some 70
// bytes can exhaust memory, and recover cannot catch that), so the bounded
// pre-scan of package gobcheck is the only way in.
type GobCodec struct {
	vetter *gobcheck.Vetter
	ranges rangeChecker
	plans  *gobenc.Planner
}

// NewGobCodec returns a gob codec that vets bodies with vetter, which may
// be nil to refuse them all.
func NewGobCodec(vetter *gobcheck.Vetter) *GobCodec {
	return &GobCodec{vetter: vetter, ranges: rangeChecker{format: "gob", floats: true}, plans: new(gobenc.Planner)}
}

// Name returns "gob".
func (c *GobCodec) Name() string { return "gob" }

// MediaTypes returns the media types of gob bodies, the one emitted by
// default first.
func (c *GobCodec) MediaTypes() []string { return []string{MediaTypeGob, "application/x-gob"} }

// Encode writes v, a struct or a pointer to one, to w as one gob stream.
// Nothing is written when v cannot be encoded.
func (c *GobCodec) Encode(w io.Writer, v any) error {
	b, err := c.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Marshal returns v, a struct or a pointer to one, as one gob stream.
func (c *GobCodec) Marshal(v any) ([]byte, error) {
	return c.appendTo(gobenc.NewEncoder(c.plans), nil, v)
}

// appendTo checks that gob can carry v and appends it to dst with enc.
func (c *GobCodec) appendTo(enc *gobenc.Encoder, dst []byte, v any) ([]byte, error) {
	if !isStruct(reflect.TypeOf(v)) {
		return dst, problem.New(problem.NotAcceptable, "gob can carry only records of a schema, not a %s", modelKind(v)).
			WithReason("gob_schemaless")
	}
	if err := c.ranges.check(reflect.ValueOf(v)); err != nil {
		return dst, encodeProblem(err, "gob")
	}
	dst, err := enc.Append(dst, v)
	if err != nil {
		return dst, fmt.Errorf("negotiate: encode gob: %w", err)
	}
	return dst, nil
}

// isStruct reports whether t is a struct or a pointer to one.
func isStruct(t reflect.Type) bool {
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && t.Kind() == reflect.Struct
}

// Decode reads the gob stream in data into v, a pointer to a struct, once
// the codec's vetter has accepted it. Decoding into *any is refused: gob
// bodies need a schema.
func (c *GobCodec) Decode(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || !isStruct(t.Elem()) {
		return problem.New(problem.UnsupportedMedia, "gob bodies need a schema").
			WithReason("gob_schemaless")
	}
	if c.vetter == nil {
		return problem.New(problem.UnsupportedMedia, "gob bodies are not accepted by this server").
			WithReason("gob_unchecked")
	}
	if err := c.vetter.Check(t.Elem(), data); err != nil {
		return err
	}
	rd := bytes.NewReader(data)
	// bytes.Reader is an io.ByteReader, so gob reads no further than the
	// messages it needs and what remains is trailing data.
	if err := gob.NewDecoder(rd).Decode(v); err != nil {
		return gobDecodeError(err)
	}
	if rd.Len() > 0 {
		off := len(data) - rd.Len()
		return problem.New(problem.Invalid, "gob: unexpected data at offset %d after the value (%d bytes)", off, rd.Len()).
			WithReason("trailing").With("offset", off)
	}
	return nil
}

// gobDecodeError describes a failure of encoding/gob as a problem.
func gobDecodeError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return problem.New(problem.Invalid, "gob: the body ends inside a value").WithReason("syntax")
	}
	msg := strings.TrimPrefix(err.Error(), "gob: ")
	reason := "syntax"
	if strings.Contains(msg, "type mismatch") || strings.Contains(msg, "wrong type") {
		reason = "type"
	}
	return problem.New(problem.Invalid, "gob: %s", msg).WithReason(reason)
}
