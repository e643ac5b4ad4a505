package negotiate

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

// The MessagePack and CBOR bodies that reach the code in this file have been
// checked by package wire: they are well formed, their declared lengths fit,
// they nest at most wire.MaxDepth deep (a stream's envelopes one level
// more), their strings are UTF-8 and their map keys are unique and scalar.
// The readers here still bound every access, so that a disagreement with
// wire is an error and never a panic.

// An itemKind is the kind of one value read from a binary body, in terms of
// Ferry's value model.
type itemKind uint8

const (
	itemNull   itemKind = iota
	itemBool            // b
	itemInt             // i: any integer that fits in an int64
	itemUint            // u: an unsigned integer above math.MaxInt64
	itemFloat           // f
	itemString          // raw holds the UTF-8 text
	itemBytes           // raw holds the bytes
	itemArray           // n elements, or -1 up to a break
	itemMap             // n pairs, or -1 up to a break
	itemTime            // t, in UTC
)

// kindNames names the kinds in client-facing details.
var kindNames = [...]string{
	itemNull:   "null",
	itemBool:   "boolean",
	itemInt:    "integer",
	itemUint:   "integer",
	itemFloat:  "float",
	itemString: "string",
	itemBytes:  "bytes",
	itemArray:  "array",
	itemMap:    "map",
	itemTime:   "time",
}

// An item is one value, or the head of one array or map, read from a body.
// Readers set only the fields the kind uses, so that reading an item costs
// no more than its kind needs.
type item struct {
	kind itemKind
	// off is the byte offset where the item starts.
	off int
	b   bool
	i   int64
	u   uint64
	f   float64
	// raw aliases the body, except for CBOR strings sent in chunks.
	raw []byte
	n   int
	t   time.Time
}

// An itemReader reads the items of one MessagePack or CBOR body in order.
// It is one concrete type for both formats, rather than an interface, so
// that the items callers pass to it stay on their stacks.
type itemReader struct {
	data []byte
	pos  int
	cbor bool
}

func newMsgpackReader(data []byte) *itemReader { return &itemReader{data: data} }
func newCBORReader(data []byte) *itemReader {
	return &itemReader{data: data, pos: wire.SelfDescribedCBOR(data), cbor: true}
}

func (r *itemReader) format() string {
	if r.cbor {
		return "cbor"
	}
	return "msgpack"
}

// next reads the next item into it, setting the fields its kind uses. For
// arrays and maps it reads only the head; the elements follow.
func (r *itemReader) next(it *item) error {
	if r.cbor {
		return r.nextCBOR(it)
	}
	return r.nextMsgpack(it)
}

// hasEntry reports whether the array or map whose head is it has an entry
// at index i: below its count, or, when its length is indefinite, before
// its break.
func (r *itemReader) hasEntry(it *item, i int) (bool, error) {
	if it.n >= 0 {
		return i < it.n, nil
	}
	return r.more()
}

// more reports whether the indefinite-length CBOR array or map being read
// has another element, and moves past its break when it has not.
// MessagePack has no indefinite lengths.
func (r *itemReader) more() (bool, error) {
	if !r.cbor || r.pos >= len(r.data) {
		return false, malformed(r.format(), r.pos)
	}
	if r.data[r.pos] == 0xff {
		r.pos++
		return false, nil
	}
	return true, nil
}

func malformed(format string, off int) *problem.Error {
	return problem.New(problem.Invalid, "%s: malformed value at offset %d", format, off).
		WithReason("syntax").With("offset", off)
}

// take returns the next n bytes and moves past them.
func (r *itemReader) take(n uint64) ([]byte, bool) {
	if n > uint64(len(r.data)-r.pos) {
		return nil, false
	}
	b := r.data[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, true
}

// uintN reads a big-endian unsigned integer of size bytes.
func (r *itemReader) uintN(size int) (uint64, bool) {
	b, ok := r.take(uint64(size))
	if !ok {
		return 0, false
	}
	switch size {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), true
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), true
	}
	return binary.BigEndian.Uint64(b), true
}

func (r *itemReader) nextMsgpack(it *item) error {
	off := r.pos
	if off >= len(r.data) {
		return malformed("msgpack", off)
	}
	c := r.data[off]
	r.pos++
	it.off = off
	switch {
	case c <= 0x7f:
		it.kind, it.i = itemInt, int64(c)
		return nil
	case c >= 0xe0:
		it.kind, it.i = itemInt, int64(int8(c))
		return nil
	case c <= 0x8f:
		it.kind, it.n = itemMap, int(c&0x0f)
		return nil
	case c <= 0x9f:
		it.kind, it.n = itemArray, int(c&0x0f)
		return nil
	case c <= 0xbf:
		return r.str(it, itemString, uint64(c&0x1f))
	}
	var ok bool
	switch c {
	case 0xc0:
		it.kind = itemNull
		return nil
	case 0xc2, 0xc3:
		it.kind, it.b = itemBool, c == 0xc3
		return nil
	case 0xc4, 0xc5, 0xc6:
		var n uint64
		if n, ok = r.uintN(1 << (c - 0xc4)); ok {
			return r.str(it, itemBytes, n)
		}
	case 0xc7, 0xc8, 0xc9:
		var n uint64
		if n, ok = r.uintN(1 << (c - 0xc7)); ok {
			return r.ext(it, n)
		}
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return r.ext(it, 1<<(c-0xd4))
	case 0xca:
		var bits uint64
		if bits, ok = r.uintN(4); ok {
			it.kind, it.f = itemFloat, float64(math.Float32frombits(uint32(bits)))
			return nil
		}
	case 0xcb:
		var bits uint64
		if bits, ok = r.uintN(8); ok {
			it.kind, it.f = itemFloat, math.Float64frombits(bits)
			return nil
		}
	case 0xcc, 0xcd, 0xce, 0xcf:
		var u uint64
		if u, ok = r.uintN(1 << (c - 0xcc)); ok {
			if u > math.MaxInt64 {
				it.kind, it.u = itemUint, u
			} else {
				it.kind, it.i = itemInt, int64(u)
			}
			return nil
		}
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		var u uint64
		if u, ok = r.uintN(size); ok {
			shift := 64 - 8*size
			it.kind, it.i = itemInt, int64(u<<shift)>>shift
			return nil
		}
	case 0xd9, 0xda, 0xdb:
		var n uint64
		if n, ok = r.uintN(1 << (c - 0xd9)); ok {
			return r.str(it, itemString, n)
		}
	case 0xdc, 0xdd:
		var n uint64
		if n, ok = r.uintN(2 << (c - 0xdc)); ok && n <= uint64(len(r.data)-r.pos) {
			it.kind, it.n = itemArray, int(n)
			return nil
		}
	case 0xde, 0xdf:
		var n uint64
		if n, ok = r.uintN(2 << (c - 0xde)); ok && n <= uint64(len(r.data)-r.pos) {
			it.kind, it.n = itemMap, int(n)
			return nil
		}
	}
	return malformed("msgpack", off)
}

func (r *itemReader) str(it *item, kind itemKind, n uint64) error {
	b, ok := r.take(n)
	if !ok {
		return malformed("msgpack", it.off)
	}
	it.kind, it.raw = kind, b
	return nil
}

// ext reads an extension of n data bytes; only the timestamp (-1) is one of
// Ferry's values.
func (r *itemReader) ext(it *item, n uint64) error {
	typ, ok := r.take(1)
	if !ok || int8(typ[0]) != -1 {
		return malformed("msgpack", it.off)
	}
	b, ok := r.take(n)
	if !ok {
		return malformed("msgpack", it.off)
	}
	var sec int64
	var nsec uint32
	switch n {
	case 4:
		sec = int64(binary.BigEndian.Uint32(b))
	case 8:
		v := binary.BigEndian.Uint64(b)
		nsec, sec = uint32(v>>34), int64(v&(1<<34-1))
	case 12:
		nsec, sec = binary.BigEndian.Uint32(b), int64(binary.BigEndian.Uint64(b[4:]))
	default:
		return malformed("msgpack", it.off)
	}
	if nsec > 999_999_999 {
		return problem.New(problem.Unprocessable, "msgpack: timestamp at offset %d has %d nanoseconds", it.off, nsec).
			WithReason("time").With("offset", it.off)
	}
	it.kind, it.t = itemTime, time.Unix(sec, int64(nsec)).UTC()
	return checkTime(it, "msgpack")
}

// checkTime refuses a time outside the years RFC 3339 can write, which
// JSON and CBOR could not carry.
func checkTime(it *item, format string) error {
	if !timeInRange(it.t) {
		return problem.New(problem.Unprocessable, "%s: time at offset %d is outside the years 0000 to 9999", format, it.off).
			WithReason("time").With("offset", it.off)
	}
	return nil
}

// head reads the head of the item at the read position. indefinite is set
// for additional information 31.
func (r *itemReader) head() (major byte, arg uint64, indefinite, ok bool) {
	if r.pos >= len(r.data) {
		return 0, 0, false, false
	}
	ib := r.data[r.pos]
	r.pos++
	major, ai := ib>>5, ib&0x1f
	switch {
	case ai < 24:
		return major, uint64(ai), false, true
	case ai <= 27:
		size := 1 << (ai - 24)
		if len(r.data)-r.pos < size {
			return 0, 0, false, false
		}
		b := r.data[r.pos : r.pos+size]
		r.pos += size
		switch size {
		case 1:
			arg = uint64(b[0])
		case 2:
			arg = uint64(binary.BigEndian.Uint16(b))
		case 4:
			arg = uint64(binary.BigEndian.Uint32(b))
		default:
			arg = binary.BigEndian.Uint64(b)
		}
		return major, arg, false, true
	case ai == 31:
		return major, 0, true, true
	}
	return 0, 0, false, false
}

func (r *itemReader) nextCBOR(it *item) error {
	off := r.pos
	it.off = off
	major, arg, indefinite, ok := r.head()
	if !ok {
		return malformed("cbor", off)
	}
	switch major {
	case 0:
		if indefinite {
			break
		}
		if arg > math.MaxInt64 {
			it.kind, it.u = itemUint, arg
		} else {
			it.kind, it.i = itemInt, int64(arg)
		}
		return nil
	case 1:
		if indefinite {
			break
		}
		if arg > math.MaxInt64 {
			return problem.New(problem.Unprocessable, "cbor: negative integer at offset %d is below -2^63", off).
				WithReason("int_range").With("offset", off)
		}
		it.kind, it.i = itemInt, -1-int64(arg)
		return nil
	case 2, 3:
		it.kind = itemBytes
		if major == 3 {
			it.kind = itemString
		}
		if indefinite {
			return r.chunks(it, major)
		}
		if arg > uint64(len(r.data)-r.pos) {
			break
		}
		it.raw = r.data[r.pos : r.pos+int(arg)]
		r.pos += int(arg)
		return nil
	case 4, 5:
		it.kind, it.n = itemArray, -1
		if major == 5 {
			it.kind = itemMap
		}
		if !indefinite {
			if arg > uint64(len(r.data)-r.pos) {
				break
			}
			it.n = int(arg)
		}
		return nil
	case 6:
		if indefinite || (arg != 0 && arg != 1) {
			break
		}
		return r.time(it, arg)
	case 7:
		return r.simple(it, arg, indefinite)
	}
	return malformed("cbor", off)
}

// chunks joins the chunks of an indefinite-length string.
func (r *itemReader) chunks(it *item, major byte) error {
	buf := []byte{}
	for {
		more, err := r.more()
		if err != nil {
			return err
		}
		if !more {
			it.raw = buf
			return nil
		}
		start := r.pos
		m, n, indefinite, ok := r.head()
		if !ok || m != major || indefinite || n > uint64(len(r.data)-r.pos) {
			return malformed("cbor", start)
		}
		buf = append(buf, r.data[r.pos:r.pos+int(n)]...)
		r.pos += int(n)
	}
}

func (r *itemReader) simple(it *item, arg uint64, indefinite bool) error {
	if indefinite {
		return malformed("cbor", it.off)
	}
	switch ai := r.data[it.off] & 0x1f; {
	case ai == 20 || ai == 21:
		it.kind, it.b = itemBool, ai == 21
	case ai == 22:
		it.kind = itemNull
	case ai == 25:
		it.kind, it.f = itemFloat, float16ToFloat64(uint16(arg))
	case ai == 26:
		it.kind, it.f = itemFloat, float64(math.Float32frombits(uint32(arg)))
	case ai == 27:
		it.kind, it.f = itemFloat, math.Float64frombits(arg)
	default:
		return problem.New(problem.Unprocessable, "cbor: simple value at offset %d is not supported", it.off).
			WithReason("unsupported_value").With("offset", it.off)
	}
	return nil
}

// time reads the content of tag 0 (RFC 3339 text) or tag 1 (epoch seconds).
func (r *itemReader) time(it *item, tag uint64) error {
	var content item
	if err := r.nextCBOR(&content); err != nil {
		return err
	}
	bad := func() error {
		return problem.New(problem.Unprocessable, "cbor: tag %d at offset %d does not hold a time Ferry can read", tag, it.off).
			WithReason("time").With("offset", it.off)
	}
	it.kind = itemTime
	switch {
	case tag == 0 && content.kind == itemString:
		t, err := time.Parse(time.RFC3339Nano, string(content.raw))
		if err != nil {
			return bad()
		}
		it.t = t.UTC()
	case tag == 1 && content.kind == itemInt:
		it.t = time.Unix(content.i, 0).UTC()
	case tag == 1 && content.kind == itemFloat:
		sec, frac := math.Modf(content.f)
		if math.IsNaN(sec) || sec < math.MinInt64 || sec >= math.MaxInt64 {
			return bad()
		}
		it.t = time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	default:
		return bad()
	}
	return checkTime(it, "cbor")
}

// float16ToFloat64 converts an IEEE 754 half-precision value.
func float16ToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 0x1f:
		if mant == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(mant+1024, exp-25)
}
