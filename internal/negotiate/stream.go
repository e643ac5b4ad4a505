package negotiate

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/gobcheck"
	"github.com/ferry-dev/ferry/internal/gobenc"
	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

// Media types of the stream formats.
const (
	MediaTypeJSONLines  = "application/jsonl"
	MediaTypeNDJSON     = "application/x-ndjson"
	MediaTypeJSONSeq    = "application/json-seq"
	MediaTypeCBORSeq    = "application/cbor-seq"
	MediaTypeMsgpackSeq = "application/vnd.msgpack-seq"
	MediaTypeGobStream  = "application/gob-stream"
)

// A StreamCodec reads and writes a sequence of values in one body, as
// export and import do.
type StreamCodec interface {
	// Name is a short name of the format, such as "jsonl" or "cbor-seq".
	Name() string
	// MediaTypes lists the media types of the format, the one emitted by
	// default first.
	MediaTypes() []string
	// NewEncoder returns an encoder writing a stream to w.
	NewEncoder(w io.Writer) StreamEncoder
	// NewDecoder returns a decoder reading a stream from r, holding each
	// value to maxValueBytes (a value over it is a problem.TooLarge error;
	// a bound of 0 or less means 1 MiB). Memory stays within about twice
	// the bound however long the stream is.
	NewDecoder(r io.Reader, maxValueBytes int64) StreamDecoder
}

// A StreamEncoder writes values to a stream. Output is buffered: Flush
// writes it out, and Close flushes and ends the stream without closing the
// underlying writer.
type StreamEncoder interface {
	// Encode writes one value. A value that cannot be encoded is an error
	// and leaves the stream as it was.
	Encode(v any) error
	Flush() error
	Close() error
}

// A StreamDecoder reads values from a stream, one per Decode, into the same
// targets a Codec decodes into, except that a value decoded into *any is
// record data (see DecodeData). Decode returns io.EOF at a clean end of
// the stream. Errors are *problem.Error values whose "index" member is the
// 0-based index of the value at fault.
//
// Each value of an import is an envelope around a record, which adds one
// level of nesting to the record's own: a value decoded into *any, and a
// gob stream's value, may therefore nest one level deeper than a body, so
// that every record a body can hold can be imported.
//
// An error that wraps ErrSkipped concerns that value alone, and the stream
// goes on after it: a value that is framed correctly but cannot be decoded
// (SkippedValue gives it), or a value over the limit in a stream of
// delimited values (JSON Lines, JSON text sequences). Any other error ends the stream, and Decode keeps
// returning it: a framing error, including a JSON line or text that is not
// one JSON value; a read error; a value over the limit in a self-delimiting
// stream (CBOR, MessagePack, gob), whose end cannot be found without
// reading it.
type StreamDecoder interface {
	Decode(v any) error
}

// ErrSkipped is wrapped by the error of a stream value that the decoder
// passed over: the stream goes on after it.
var ErrSkipped = errors.New("negotiate: value skipped")

// envelopeLevels is how many levels of nesting an import envelope adds
// around the record it carries.
const envelopeLevels = 1

// streamBufferSize is how much a stream encoder gathers before writing:
// enough that a long stream costs one write call per many values.
const streamBufferSize = 64 << 10

// defaultMaxValueBytes bounds each value of a stream whose decoder was
// given no bound.
const defaultMaxValueBytes = 1 << 20

// valueLimit is the bound on each value of a stream whose decoder was
// given maxValueBytes: that, or defaultMaxValueBytes for 0 or less.
func valueLimit(maxValueBytes int64) int64 {
	if maxValueBytes <= 0 {
		return defaultMaxValueBytes
	}
	return maxValueBytes
}

// recordSeparator starts every JSON text of a JSON text sequence.
const recordSeparator = 0x1e

// NewJSONLinesCodec returns the JSON Lines (NDJSON) stream codec: one
// compact JSON value per line. Blank lines are skipped when reading, and a
// final line may lack its line feed.
func NewJSONLinesCodec(json *JSONCodec) StreamCodec {
	return &framedCodec{
		name: "jsonl", mediaTypes: []string{MediaTypeJSONLines, MediaTypeNDJSON},
		codec: json, suffix: []byte{'\n'}, framing: framingLines,
	}
}

// NewJSONSeqCodec returns the JSON text sequence stream codec (RFC 7464):
// each JSON text is preceded by RS (0x1E) and followed by a line feed.
func NewJSONSeqCodec(json *JSONCodec) StreamCodec {
	return &framedCodec{
		name: "json-seq", mediaTypes: []string{MediaTypeJSONSeq},
		codec: json, prefix: []byte{recordSeparator}, suffix: []byte{'\n'}, framing: framingJSONSeq,
	}
}

// NewCBORSeqCodec returns the CBOR sequence stream codec (RFC 8742):
// concatenated CBOR data items.
func NewCBORSeqCodec(cbor *CBORCodec) StreamCodec {
	return &framedCodec{
		name: "cbor-seq", mediaTypes: []string{MediaTypeCBORSeq},
		codec: cbor, framing: framingSelfDelimited, next: wire.NextCBORDepth, extent: wire.CBORExtent,
	}
}

// NewMsgpackSeqCodec returns the MessagePack sequence stream codec:
// concatenated MessagePack values.
func NewMsgpackSeqCodec(msgpack *MsgpackCodec) StreamCodec {
	return &framedCodec{
		name: "msgpack-seq", mediaTypes: []string{MediaTypeMsgpackSeq},
		codec: msgpack, framing: framingSelfDelimited, next: wire.NextMsgpackDepth, extent: wire.MsgpackExtent,
	}
}

type framing uint8

const (
	framingLines framing = iota
	framingJSONSeq
	framingSelfDelimited
)

// A framedCodec is a stream of one codec's values, delimited by a prefix
// and suffix (JSON Lines, JSON text sequences) or by the values themselves
// (CBOR and MessagePack sequences).
type framedCodec struct {
	name           string
	mediaTypes     []string
	codec          Codec
	prefix, suffix []byte
	framing        framing
	// next checks and measures the first value of self-delimited data,
	// nesting at most maxDepth deep; extent measures a well-formed one
	// that next refuses for what it holds.
	next   func(data []byte, maxDepth int) (int, error)
	extent func(data []byte) (int, error)
}

// Name returns the stream format's short name.
func (c *framedCodec) Name() string { return c.name }

// MediaTypes returns the stream format's media types.
func (c *framedCodec) MediaTypes() []string { return c.mediaTypes }

// NewEncoder returns an encoder writing values to w, framed. Encoders of
// JSON texts are RawJSONEncoders too.
func (c *framedCodec) NewEncoder(w io.Writer) StreamEncoder {
	fe := &framedEncoder{w: bufio.NewWriterSize(w, streamBufferSize), codec: c.codec, prefix: c.prefix, suffix: c.suffix}
	if _, ok := c.codec.(*JSONCodec); ok {
		return &jsonFramedEncoder{fe}
	}
	return fe
}

// A RawJSONEncoder is a StreamEncoder of JSON texts that also takes values
// already encoded: the way to stream data that is not a Go value without
// building one.
type RawJSONEncoder interface {
	StreamEncoder
	// EncodeRaw writes one value: what appendValue appends to the buffer
	// it is given, which must be what the JSON codec writes, compact and
	// on one line. When appendValue returns an error, nothing of the value
	// reaches the stream and the error is returned as it is.
	EncodeRaw(appendValue func(dst []byte) ([]byte, error)) error
}

// jsonFramedEncoder is a framedEncoder of JSON texts.
type jsonFramedEncoder struct {
	*framedEncoder
}

// EncodeRaw writes the value appendValue appends, with its framing.
func (e *jsonFramedEncoder) EncodeRaw(appendValue func(dst []byte) ([]byte, error)) error {
	if e.closed {
		return errEncoderClosed
	}
	value, err := appendValue(e.raw[:0])
	if cap(value) <= maxPooledBuffer {
		e.raw = value[:0]
	}
	if err != nil {
		return err
	}
	return e.frame(value)
}

// NewDecoder returns a decoder reading framed values from r.
func (c *framedCodec) NewDecoder(r io.Reader, maxValueBytes int64) StreamDecoder {
	limit := int(min(valueLimit(maxValueBytes), int64(maxInt-16)))
	// A value's framing (RS, CR, LF) may come on top of the value itself.
	win := newWindow(r, limit+len(c.prefix)+2)
	win.eager = c.framing != framingSelfDelimited
	return &framedDecoder{c: c, win: win, limit: limit}
}

const maxInt = int(^uint(0) >> 1)

var errEncoderClosed = errors.New("negotiate: stream encoder is closed")

type framedEncoder struct {
	w              *bufio.Writer
	codec          Codec
	prefix, suffix []byte
	value          bytes.Buffer
	raw            []byte // the buffer of EncodeRaw
	closed         bool
}

// Encode writes v with its framing.
func (e *framedEncoder) Encode(v any) error {
	if e.closed {
		return errEncoderClosed
	}
	e.value.Reset()
	if err := e.codec.Encode(&e.value, v); err != nil {
		return err
	}
	return e.frame(e.value.Bytes())
}

// frame writes one encoded value with its framing.
func (e *framedEncoder) frame(value []byte) error {
	e.w.Write(e.prefix)
	e.w.Write(value)
	_, err := e.w.Write(e.suffix)
	return err
}

// Flush writes out the buffered values.
func (e *framedEncoder) Flush() error { return e.w.Flush() }

// Close flushes and ends the stream; the underlying writer stays open.
func (e *framedEncoder) Close() error {
	e.closed = true
	return e.w.Flush()
}

type framedDecoder struct {
	c     *framedCodec
	win   *window
	limit int
	index int
	// scanned counts the bytes after the start of the window already
	// searched for a delimiter.
	scanned int
	// err ends the stream.
	err error
}

// Decode reads the next value into v.
func (d *framedDecoder) Decode(v any) error {
	if d.err != nil {
		return d.err
	}
	for {
		var value []byte
		var ok bool
		var err error
		switch d.c.framing {
		case framingLines:
			value, ok, err = d.line()
		case framingJSONSeq:
			value, ok, err = d.jsonText()
		default:
			value, ok, err = d.selfDelimited()
		}
		if errors.Is(err, ErrSkipped) {
			d.index++
			return err
		}
		if err != nil {
			d.err = err
			return err
		}
		if !ok {
			continue
		}
		i := d.index
		d.index++
		if err := d.decodeValue(value, v); err != nil {
			return d.valueError(value, atIndex(err, i))
		}
		return nil
	}
}

// decodeValue decodes one value of the stream into v, into *any as record
// data in an envelope.
func (d *framedDecoder) decodeValue(value []byte, v any) error {
	if p, ok := v.(*any); ok {
		return decodeData(d.c.codec, value, p, wire.MaxDepth+envelopeLevels)
	}
	return d.c.codec.Decode(value, v)
}

// valueError marks the decoding error of a framed value as one the stream
// goes on after, unless the value, a JSON line or text, is not one JSON
// value, which is a framing error: the decoder may have stopped at a rule
// of decoding (a repeated member, a number out of range) before it reached
// the bytes that break the syntax. The syntax check stops at 10,000 levels
// of nesting, so a value nested deeper, which decoding refuses anyway, is
// taken for a broken one. A CBOR or MessagePack value reaches decoding
// only once it is known to be well-formed, so what decoding finds is the
// value's own.
func (d *framedDecoder) valueError(value []byte, err error) error {
	p, ok := err.(*problem.Error)
	if !ok {
		return err
	}
	if d.c.framing == framingLines && !jsontext.Value(value).IsValid(jsontext.AllowDuplicateNames(true)) {
		// A line that is not one JSON value may be part of a value
		// written across lines, so where the next value starts is not
		// known. In a JSON text sequence the record separator says
		// where, and a text that does not parse is rejected alone
		// (RFC 7464 §2.3).
		d.err = p
		return p
	}
	return skippedValue(p, value)
}

// skippedValue marks the error of one value as one the stream goes on
// after, keeping a copy of the value, which the stream's buffer will
// overwrite.
func skippedValue(err error, value []byte) error {
	p, ok := err.(*problem.Error)
	if !ok {
		return err
	}
	p.Err = errors.Join(p.Err, &skippedError{value: bytes.Clone(value)})
	return p
}

// A skippedError is ErrSkipped with the value skipped.
type skippedError struct{ value []byte }

func (s *skippedError) Error() string        { return ErrSkipped.Error() }
func (s *skippedError) Is(target error) bool { return target == ErrSkipped }

// SkippedValue returns the value whose error err is, when the stream went
// on after a value it could not decode, so that the caller can say which
// value it was (see StringMember); nil otherwise.
func SkippedValue(err error) []byte {
	var s *skippedError
	if errors.As(err, &s) {
		return s.value
	}
	return nil
}

// line returns the next line. ok is false for a blank line, which is
// skipped.
func (d *framedDecoder) line() (value []byte, ok bool, err error) {
	for {
		data := d.win.bytes()
		if i := bytes.IndexByte(data[d.scanned:], '\n'); i >= 0 {
			n := d.scanned + i
			d.win.consume(n + 1)
			d.scanned = 0
			return d.element(bytes.TrimSuffix(data[:n], []byte{'\r'}))
		}
		d.scanned = len(data)
		if len(data) > d.limit+1 {
			return nil, false, d.skip(d.scanned, '\n', true)
		}
		if err := d.win.fill(); err != nil {
			if err != io.EOF {
				return nil, false, err
			}
			// The last line need not end with a line feed.
			data = d.win.bytes()
			d.win.consume(len(data))
			d.scanned = 0
			if len(bytes.TrimSpace(data)) == 0 {
				return nil, false, io.EOF
			}
			return d.element(bytes.TrimSuffix(data, []byte{'\r'}))
		}
	}
}

// jsonText returns the next JSON text of a JSON text sequence. ok is false
// for an empty element (consecutive RS bytes), which is skipped.
func (d *framedDecoder) jsonText() (value []byte, ok bool, err error) {
	for {
		data := d.win.bytes()
		if len(data) > 0 {
			from := separatorLen(data)
			if i := bytes.IndexByte(data[from+d.scanned:], recordSeparator); i >= 0 {
				n := from + d.scanned + i
				d.scanned = 0
				return d.seqText(data[:n])
			}
			d.scanned = len(data) - from
			if len(data) > d.limit+2 {
				return nil, false, d.skip(len(data), recordSeparator, false)
			}
		}
		if err := d.win.fill(); err != nil {
			if err != io.EOF {
				return nil, false, err
			}
			data = d.win.bytes()
			if len(data) == 0 {
				return nil, false, io.EOF
			}
			d.scanned = 0
			return d.seqText(data)
		}
	}
}

// seqText consumes elem, the window's next text of a JSON text sequence
// with its record separator. Bytes with no separator before them, at the
// start of a stream, are rejected alone: the next separator still says
// where the next text starts.
func (d *framedDecoder) seqText(elem []byte) ([]byte, bool, error) {
	off := d.win.off
	d.win.consume(len(elem))
	if separatorLen(elem) == 0 {
		return nil, false, skippedValue(d.framingError("expected a record separator (0x1E) at offset %d", off), elem)
	}
	return d.seqElement(elem[1:])
}

// separatorLen is 1 when data starts with a record separator, else 0.
func separatorLen(data []byte) int {
	if len(data) > 0 && data[0] == recordSeparator {
		return 1
	}
	return 0
}

// seqElement checks one element of a JSON text sequence: RFC 7464 ends
// every text with a line feed, and a text without one may be truncated.
func (d *framedDecoder) seqElement(elem []byte) ([]byte, bool, error) {
	if len(bytes.TrimSpace(elem)) == 0 {
		return nil, false, nil
	}
	if elem[len(elem)-1] != '\n' {
		// The next record separator still marks where the next text
		// starts, so this one is rejected alone (RFC 7464 §2.3).
		return nil, false, skippedValue(d.framingError("the JSON text does not end with a line feed and may be truncated"), elem)
	}
	// The line feed is framing, as it is in JSON Lines: not held to the limit.
	return d.element(elem[:len(elem)-1])
}

func (d *framedDecoder) element(value []byte) ([]byte, bool, error) {
	if len(bytes.TrimSpace(value)) == 0 {
		return nil, false, nil
	}
	if len(value) > d.limit {
		// The window holds all of it and the caller has consumed it.
		return nil, false, d.tooLarge(ErrSkipped)
	}
	return value, true, nil
}

// skip discards an element of a delimited stream that is larger than the
// limit, without holding it: the stream up to the next delim (searched for
// from offset from of the window), and the delim too when through is set,
// or up to the stream's end. It returns the element's error, which wraps
// ErrSkipped when the stream goes on after it.
func (d *framedDecoder) skip(from int, delim byte, through bool) error {
	d.scanned = 0
	for {
		data := d.win.bytes()
		if i := bytes.IndexByte(data[from:], delim); i >= 0 {
			n := from + i
			if through {
				n++
			}
			d.win.consume(n)
			return d.tooLarge(ErrSkipped)
		}
		d.win.consume(len(data))
		from = 0
		if err := d.win.fill(); err != nil {
			if err != io.EOF {
				return err
			}
			return d.tooLarge(ErrSkipped)
		}
	}
}

// selfDelimited returns the next CBOR or MessagePack value, reading until
// the window holds all of it.
func (d *framedDecoder) selfDelimited() (value []byte, ok bool, err error) {
	for {
		data := d.win.bytes()
		if len(data) > 0 {
			n, err := d.c.next(data, wire.MaxDepth+envelopeLevels)
			if err == nil {
				if n > d.limit {
					return nil, false, d.tooLarge(nil)
				}
				d.win.consume(n)
				return data[:n], true, nil
			}
			if !errors.Is(err, wire.ErrTruncated) {
				// A well-formed value refused for what it holds (a
				// NaN, a foreign tag, a repeated key) is rejected
				// alone; only a malformed one hides where the next
				// value starts.
				m, merr := d.c.extent(data)
				switch {
				case merr == nil && m <= d.limit:
					d.win.consume(m)
					return nil, false, skippedValue(atIndex(err, d.index), data[:m])
				case merr == nil:
					return nil, false, d.tooLarge(nil)
				case !errors.Is(merr, wire.ErrTruncated):
					// Malformed, or nested past what the walk follows:
					// where the next value starts is not known.
					return nil, false, atIndex(merr, d.index)
				}
			}
			if len(data) >= d.limit {
				return nil, false, d.tooLarge(nil)
			}
		}
		if err := d.win.fill(); err != nil {
			if err != io.EOF {
				return nil, false, err
			}
			if len(d.win.bytes()) == 0 {
				return nil, false, io.EOF
			}
			return nil, false, d.framingError("the stream ends inside the value")
		}
	}
}

// tooLarge reports the current value as larger than the limit; cause is
// ErrSkipped when the stream goes on after it, else nil.
func (d *framedDecoder) tooLarge(cause error) error {
	p := problem.New(problem.TooLarge, "%s: value %d is larger than the limit of %d bytes", d.c.name, d.index, d.limit).
		WithReason("size").With("index", d.index).With("limit", d.limit)
	p.Err = cause
	return p
}

func (d *framedDecoder) framingError(format string, args ...any) error {
	return problem.New(problem.Invalid, "%s: value %d: %s", d.c.name, d.index, fmt.Sprintf(format, args...)).
		WithReason("framing").With("index", d.index)
}

// atIndex prefixes the detail of a value's error with the value's index.
func atIndex(err error, index int) error {
	p, ok := err.(*problem.Error)
	if !ok {
		return err
	}
	p.Detail = fmt.Sprintf("value %d: %s", index, p.Detail)
	return p.With("index", index)
}

// A window buffers a stream so that one whole value can be looked at, in
// memory bounded by the largest value allowed (plus its framing).
type window struct {
	r          io.Reader
	buf        []byte
	start, end int // the unread bytes are buf[start:end]
	bound      int
	// off is the offset in the stream of buf[start].
	off int64
	// err is the first read error, io.EOF at the end of the stream.
	err error
	// eager makes fill return once a read brings bytes, rather than when
	// the buffer is full, so that values already whole are decoded while
	// a slow stream sends the rest. It suits framings whose scan goes on
	// where it stopped; a self-delimited value is scanned again from its
	// start after each fill, so those fill the buffer.
	eager bool
}

// initialWindow is the first size of a window's buffer.
const initialWindow = 64 << 10

func newWindow(r io.Reader, bound int) *window {
	return &window{r: r, buf: make([]byte, min(bound, initialWindow)), bound: bound}
}

func (w *window) bytes() []byte { return w.buf[w.start:w.end] }

func (w *window) consume(n int) {
	w.start += n
	w.off += int64(n)
}

// fill reads more of the stream into the window: it moves the unread bytes
// to the front, grows the buffer (up to the bound) when they fill it, and
// reads until the buffer is full, so that a value is measured again only
// when the window has doubled. It returns io.EOF when nothing more can be
// read, and a problem.Invalid error wrapping any other read error.
func (w *window) fill() error {
	if w.err != nil {
		return w.err
	}
	if w.start > 0 {
		n := copy(w.buf, w.buf[w.start:w.end])
		w.start, w.end = 0, n
	}
	if w.end == len(w.buf) {
		if len(w.buf) >= w.bound {
			// Callers check their limit before asking for more.
			return problem.New(problem.TooLarge, "stream value is larger than the limit of %d bytes", w.bound).WithReason("size").With("limit", w.bound)
		}
		grown := make([]byte, min(2*len(w.buf), w.bound))
		copy(grown, w.buf[:w.end])
		w.buf = grown
	}
	read := 0
	for w.end < len(w.buf) {
		n, err := w.r.Read(w.buf[w.end:])
		w.end += n
		read += n
		if err != nil {
			var p *problem.Error
			switch {
			case err == io.EOF:
				w.err = io.EOF
			case errors.As(err, &p):
				// Already a client's fault, such as a body over a limit.
				w.err = p
			default:
				w.err = ReadFailed(err)
			}
			break
		}
		if n == 0 || w.eager {
			break
		}
	}
	if read > 0 {
		return nil
	}
	return w.err
}

// NewGobStreamCodec returns the gob stream codec: one gob Encoder writing
// many values, so that each type is described once. Its decoder reads what
// the gob codec's vetter has checked, and refuses every stream when that
// codec has no vetter.
func NewGobStreamCodec(gob *GobCodec) StreamCodec {
	return &gobStreamCodec{gob: gob}
}

type gobStreamCodec struct{ gob *GobCodec }

// Name returns "gob-stream".
func (c *gobStreamCodec) Name() string { return "gob-stream" }

// MediaTypes returns the media types of gob streams.
func (c *gobStreamCodec) MediaTypes() []string {
	return []string{MediaTypeGobStream, "application/x-gob-stream"}
}

// NewEncoder returns an encoder writing one gob stream to w.
func (c *gobStreamCodec) NewEncoder(w io.Writer) StreamEncoder {
	bw := bufio.NewWriterSize(w, streamBufferSize)
	return &gobStreamEncoder{gob: c.gob, w: bw, enc: gobenc.NewEncoder(c.gob.plans)}
}

// NewDecoder returns a decoder of one gob stream of many values, each held
// to maxValueBytes. Every message sequence (the type definitions a value
// needs, then the value) is vetted by package gobcheck against the type it
// is decoded into before encoding/gob sees any of it.
func (c *gobStreamCodec) NewDecoder(r io.Reader, maxValueBytes int64) StreamDecoder {
	return &gobStreamDecoder{gob: c.gob, r: r, max: valueLimit(maxValueBytes)}
}

type gobStreamEncoder struct {
	gob    *GobCodec
	w      *bufio.Writer
	enc    *gobenc.Encoder
	closed bool
}

// Encode writes v, a struct or a pointer to one, to the gob stream. The
// messages are appended to the writer's own buffer where they fit, so they
// are not copied again.
func (e *gobStreamEncoder) Encode(v any) error {
	if e.closed {
		return errEncoderClosed
	}
	b, err := e.gob.appendTo(e.enc, e.w.AvailableBuffer(), v)
	if err != nil {
		return err
	}
	_, err = e.w.Write(b)
	return err
}

// Flush writes out the buffered values.
func (e *gobStreamEncoder) Flush() error { return e.w.Flush() }

// Close flushes and ends the stream; the underlying writer stays open.
func (e *gobStreamEncoder) Close() error {
	e.closed = true
	return e.w.Flush()
}

// A gobStreamDecoder feeds a gob.Decoder only the bytes the scanner has
// accepted, so encoding/gob never reads a byte that was not vetted.
type gobStreamDecoder struct {
	gob     *GobCodec
	r       io.Reader
	max     int64
	into    reflect.Type
	scanner *gobcheck.Scanner
	pending []byte       // read from r, not yet vetted
	vetted  bytes.Buffer // vetted, for dec to read
	dec     *gob.Decoder
	eof     bool
	err     error // sticky: a gob stream cannot resume after a fault
}

// Decode reads the next value into v, a pointer to a struct of the same
// type on every call. It returns io.EOF at a clean end of the stream.
func (d *gobStreamDecoder) Decode(v any) error {
	if d.err != nil {
		return d.err
	}
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || !isStruct(t.Elem()) {
		return problem.New(problem.UnsupportedMedia, "gob streams need a schema").WithReason("gob_schemaless")
	}
	if d.gob.vetter == nil {
		d.err = problem.New(problem.UnsupportedMedia, "gob streams are not accepted by this server").WithReason("gob_unchecked")
		return d.err
	}
	if d.scanner == nil {
		d.into = t.Elem()
		d.scanner = d.gob.vetter.Checker(d.into).NewScannerDeeper(envelopeLevels)
		d.dec = gob.NewDecoder(&d.vetted)
	} else if t.Elem() != d.into {
		return fmt.Errorf("negotiate: gob stream decoded into %s after %s", t.Elem(), d.into)
	}
	n, err := d.next()
	var refused *gobcheck.ValueError
	if errors.As(err, &refused) {
		// The value alone is refused. The decoder still reads the type
		// definitions before it, which later values may use.
		d.vetted.Write(d.pending[:refused.Defs])
		d.pending = d.pending[refused.Len:]
		return skippedValue(refused.Err, nil)
	}
	if err != nil {
		d.err = err
		return err
	}
	d.vetted.Write(d.pending[:n])
	d.pending = d.pending[n:]
	if err := d.dec.Decode(v); err != nil {
		d.err = gobDecodeError(err)
		return d.err
	}
	return nil
}

// next finds the length of the next vetted message sequence, reading more
// of the stream while the scanner says it is cut short.
func (d *gobStreamDecoder) next() (int, error) {
	for {
		if len(d.pending) > 0 {
			n, err := d.scanner.Next(d.pending)
			if err == nil {
				return n, nil
			}
			if !errors.Is(err, gobcheck.ErrTruncated) {
				return 0, err
			}
		}
		if d.eof {
			if len(d.pending) == 0 {
				return 0, io.EOF
			}
			return 0, problem.New(problem.Invalid, "gob stream: the stream ends inside a value").WithReason("truncated")
		}
		if int64(len(d.pending)) >= d.max {
			return 0, problem.New(problem.TooLarge, "gob stream: a value is larger than %d bytes", d.max).WithReason("size").With("limit", d.max)
		}
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
}

// fill reads more of the stream, never holding more than max bytes.
func (d *gobStreamDecoder) fill() error {
	room := max(d.max-int64(len(d.pending)), 1)
	chunk := min(room, 64<<10)
	if cap(d.pending)-len(d.pending) < int(chunk) {
		grown := make([]byte, len(d.pending), len(d.pending)+int(chunk))
		copy(grown, d.pending)
		d.pending = grown
	}
	n, err := d.r.Read(d.pending[len(d.pending) : len(d.pending)+int(chunk)])
	d.pending = d.pending[:len(d.pending)+n]
	var p *problem.Error
	switch {
	case err == nil:
		return nil
	case err == io.EOF:
		d.eof = true
		return nil
	case errors.As(err, &p):
		// Already a client's fault, such as a body over a limit.
		return p
	}
	return ReadFailed(err)
}
