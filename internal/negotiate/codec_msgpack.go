package negotiate

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

// MediaTypeMsgpack is the media type emitted for MessagePack bodies when
// the client named none of its aliases.
const MediaTypeMsgpack = "application/vnd.msgpack"

// A MsgpackCodec reads and writes MessagePack with
// github.com/vmihailenco/msgpack/v5.
//
// Every body is checked by wire.CheckMsgpack and, for a struct target,
// against the struct's shape before the library sees it: the library
// accepts unknown keys only when told, and silently wraps integers above
// math.MaxInt64 into int64 fields. Decoding into *any is done here, into
// Ferry's schemaless value model. Encoding sorts map keys, writes integers
// in their shortest form and times as the timestamp extension (-1).
type MsgpackCodec struct {
	shapes shapeCache
	ranges rangeChecker
	states sync.Pool // of *msgpackState
	// sorted holds the types whose maps the library writes through
	// encodeSortedMap (a set of reflect.Type).
	sorted sync.Map
}

// msgpackState is the reusable per-call state of a MsgpackCodec.
type msgpackState struct {
	buf bytes.Buffer
	rd  bytes.Reader
	enc *msgpack.Encoder
	dec *msgpack.Decoder
}

// NewMsgpackCodec returns a MessagePack codec.
func NewMsgpackCodec() *MsgpackCodec {
	c := &MsgpackCodec{
		shapes: shapeCache{tags: []string{"msgpack"}},
		ranges: rangeChecker{format: "msgpack", tags: []string{"msgpack"}, floats: true},
	}
	c.states.New = func() any {
		st := &msgpackState{}
		st.enc = msgpack.NewEncoder(&st.buf)
		st.enc.SetSortMapKeys(true)
		st.enc.UseCompactInts(true)
		st.dec = msgpack.NewDecoder(&st.rd)
		st.dec.DisallowUnknownFields(true)
		return st
	}
	return c
}

// Name returns "msgpack".
func (c *MsgpackCodec) Name() string { return "msgpack" }

// MediaTypes returns the media types of MessagePack bodies, the one emitted
// by default first.
func (c *MsgpackCodec) MediaTypes() []string {
	return []string{MediaTypeMsgpack, "application/msgpack", "application/x-msgpack"}
}

func (c *MsgpackCodec) get() *msgpackState { return c.states.Get().(*msgpackState) }

func (c *MsgpackCodec) put(st *msgpackState) {
	if st.buf.Cap() > maxPooledBuffer {
		st.buf = bytes.Buffer{}
		st.enc.ResetWriter(&st.buf)
	}
	st.rd.Reset(nil)
	c.states.Put(st)
}

// Encode writes v to w as MessagePack. Nothing is written when v cannot be
// encoded.
func (c *MsgpackCodec) Encode(w io.Writer, v any) error {
	st := c.get()
	defer c.put(st)
	if err := c.encode(st, v); err != nil {
		return err
	}
	_, err := w.Write(st.buf.Bytes())
	return err
}

// Marshal returns v as MessagePack.
func (c *MsgpackCodec) Marshal(v any) ([]byte, error) {
	st := c.get()
	defer c.put(st)
	if err := c.encode(st, v); err != nil {
		return nil, err
	}
	return bytes.Clone(st.buf.Bytes()), nil
}

func (c *MsgpackCodec) encode(st *msgpackState, v any) error {
	st.buf.Reset()
	if err := c.write(st.enc, v); err != nil {
		return encodeProblem(err, "msgpack")
	}
	return nil
}

// write encodes a value of the schemaless model itself, so that floats are
// checked and the keys of every map are sorted; anything else (a struct
// compiled from a schema) goes to the library once its floats are checked.
func (c *MsgpackCodec) write(e *msgpack.Encoder, v any) error {
	switch x := v.(type) {
	case nil:
		return e.EncodeNil()
	case bool:
		return e.EncodeBool(x)
	case int64:
		return e.EncodeInt(x)
	case int:
		return e.EncodeInt(int64(x))
	case uint64:
		return e.EncodeUint(x)
	case float64:
		if !isFinite(x) {
			return nonFinite("msgpack", x)
		}
		return e.EncodeFloat64(x)
	case string:
		return e.EncodeString(x)
	case []byte:
		if x == nil {
			x = []byte{}
		}
		return e.EncodeBytes(x)
	case time.Time:
		if !timeInRange(x) {
			return timeOutOfRange("msgpack", x)
		}
		return e.EncodeTime(x)
	case []any:
		if err := e.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for i, el := range x {
			if err := c.write(e, el); err != nil {
				return atPath(err, indexSegment(i))
			}
		}
		return nil
	case map[string]any:
		if err := e.EncodeMapLen(len(x)); err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if err := e.EncodeString(k); err != nil {
				return err
			}
			if err := c.write(e, x[k]); err != nil {
				return atPath(err, keySegment(k))
			}
		}
		return nil
	case map[any]any:
		if err := e.EncodeMapLen(len(x)); err != nil {
			return err
		}
		for _, k := range slices.SortedFunc(maps.Keys(x), compareKeys) {
			if err := c.write(e, k); err != nil {
				return err
			}
			if err := c.write(e, x[k]); err != nil {
				return atPath(err, keySegment(k))
			}
		}
		return nil
	}
	if err := c.ranges.check(reflect.ValueOf(v)); err != nil {
		return err
	}
	c.sortMaps(reflect.TypeOf(v))
	return e.Encode(v)
}

// sortMaps has the library write every map with string keys that a value
// of type t can hold in the order of its keys: its own SetSortMapKeys
// sorts only maps of strings, booleans and empty interfaces, and writes
// the others, such as a schema's map of ints or of objects, in Go's
// random order, which a strong entity tag cannot name. The library keeps
// a struct's field encoders from the first time it meets the struct, so
// this runs before a type is first encoded or decoded.
func (c *MsgpackCodec) sortMaps(t reflect.Type) {
	if t == nil {
		return
	}
	if _, done := c.sorted.Load(t); done {
		return
	}
	// t is marked only once every map in it is registered, so that no
	// other call can encode a t before.
	registerSortedMaps(t, make(map[reflect.Type]bool))
	c.sorted.Store(t, true)
}

func registerSortedMaps(t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		registerSortedMaps(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			msgpack.Register(reflect.Zero(t).Interface(), encodeSortedMap, nil)
		}
		registerSortedMaps(t.Key(), seen)
		registerSortedMaps(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			registerSortedMaps(t.Field(i).Type, seen)
		}
	}
}

// encodeSortedMap writes a map with string keys in the order of its keys.
func encodeSortedMap(e *msgpack.Encoder, v reflect.Value) error {
	if v.IsNil() {
		return e.EncodeNil()
	}
	if err := e.EncodeMapLen(v.Len()); err != nil {
		return err
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		if err := e.EncodeString(k.String()); err != nil {
			return err
		}
		if err := e.EncodeValue(v.MapIndex(k)); err != nil {
			return err
		}
	}
	return nil
}

// Decode reads the MessagePack value in data into v, which is *any or a
// pointer to a struct (or another type the library can fill).
func (c *MsgpackCodec) Decode(data []byte, v any) error {
	if p, ok := v.(*any); ok {
		return c.decodePlain(data, p, wire.MaxDepth)
	}
	if err := wire.CheckMsgpack(data); err != nil {
		return err
	}
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("negotiate: msgpack: decode into non-pointer %T", v)
	}
	if topLevelNull(data[0] == 0xc0, v) {
		return nullRecord("msgpack")
	}
	chk := shapeChecker{r: newMsgpackReader(data), format: "msgpack"}
	if err := chk.check(c.shapes.of(t.Elem())); err != nil {
		return asProblem(err, "msgpack")
	}
	if len(chk.wideUints) > 0 {
		data = floatWideUints(data, chk.wideUints)
	}
	c.sortMaps(t)
	st := c.get()
	defer c.put(st)
	st.rd.Reset(data)
	st.dec.ResetReader(&st.rd)
	if err := st.dec.Decode(v); err != nil {
		return msgpackError(err)
	}
	return nil
}

// decodePlain reads the MessagePack value in data into *p as plain data,
// nesting at most maxDepth deep.
func (c *MsgpackCodec) decodePlain(data []byte, p *any, maxDepth int) error {
	return decodePlainItems(data, p, maxDepth, wire.CheckMsgpackDepth, newMsgpackReader, "msgpack")
}

// floatWideUints returns a copy of data with each uint 64 at the offsets
// (integers above math.MaxInt64, in float fields) written as the float 64
// nearest to it, as a JSON or CBOR body's integer reads into a float. The
// library reads a float field's integers through int64, which would wrap
// these into negative numbers. Both forms take nine bytes, so no other
// offset moves.
func floatWideUints(data []byte, offsets []int) []byte {
	data = bytes.Clone(data)
	for _, off := range offsets {
		item := data[off : off+9]
		if item[0] != msgpcode.Uint64 {
			panic(fmt.Sprintf("negotiate: msgpack: no uint 64 at offset %d", off))
		}
		f := float64(binary.BigEndian.Uint64(item[1:]))
		item[0] = msgpcode.Double
		binary.BigEndian.PutUint64(item[1:], math.Float64bits(f))
	}
	return data
}

// msgpackError classifies what the library still refuses after the checks.
func msgpackError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "msgpack: ")
	reason := "type"
	if strings.HasPrefix(msg, "unknown field") {
		reason = "unknown_field"
	}
	return problem.New(problem.Invalid, "msgpack: %s", msg).WithReason(reason)
}
