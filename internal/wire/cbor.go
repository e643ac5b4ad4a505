package wire

import (
	"math"

	"github.com/ferry-dev/ferry/internal/problem"
)

// CheckCBOR reports whether data is exactly one well-formed CBOR data item
// that Ferry can decode safely and keep exactly. See the package
// documentation for what is refused.
//
// Indefinite-length strings, arrays and maps are accepted. Tags do not count
// as nesting levels: the only tags accepted, 0 and 1, wrap a single string or
// number. The text of a tag 0 must be an RFC 3339 date-time with at most
// nine fractional digits and an upper-case "T" and "Z", and the number of a
// tag 1 must fit in 64-bit seconds.
func CheckCBOR(data []byte) error {
	return CheckCBORDepth(data, MaxDepth)
}

// CheckCBORDepth is [CheckCBOR] with nesting bounded by maxDepth rather
// than [MaxDepth].
func CheckCBORDepth(data []byte, maxDepth int) error {
	c := newCBORChecker(data, false, maxDepth)
	if err := c.value(0); err != nil {
		return err
	}
	if c.pos != len(data) {
		return c.trailing()
	}
	return nil
}

// CBORHasNull reports whether a CBOR data item that CheckCBOR accepts
// holds a null anywhere. It is false for data CheckCBOR refuses.
func CBORHasNull(data []byte) bool {
	c := newCBORChecker(data, false, MaxDepth)
	return c.value(0) == nil && c.nulls > 0
}

// NextCBORDepth returns the length of the first CBOR data item in data, which
// may hold more items after it, as in a CBOR sequence (RFC 8742). It checks
// that item as [CheckCBOR] does. If data ends inside the item, including
// inside a length that the item declares, the error wraps [ErrTruncated];
// callers reading a stream then need more data and should bound how much
// they buffer. Offsets in errors count from the start of data.
// Arrays and maps may nest at most maxDepth deep ([CheckCBOR] allows
// [MaxDepth]).
func NextCBORDepth(data []byte, maxDepth int) (n int, err error) {
	c := newCBORChecker(data, true, maxDepth)
	if err := c.value(0); err != nil {
		return 0, err
	}
	return c.pos, nil
}

// selfDescribed is the head of tag 55799, which marks the data item it
// wraps as CBOR and means nothing more (RFC 8949 §3.4.6).
const selfDescribed = "\xd9\xd9\xf7"

// SelfDescribedCBOR returns the length of the self-described CBOR tag
// (55799) that data begins with, or 0. Encoders put the tag in front of a
// data item so that readers can tell CBOR apart from other formats, and it
// changes nothing about the item, so Ferry takes a body or a sequence item
// with it as the item alone. The checks here step over it at the start of
// an item and refuse it anywhere else, like any tag but the date/time
// tags: inside an item, a map key that carries it would compare unequal
// to the same key without it, where decoders take the two as one.
func SelfDescribedCBOR(data []byte) int {
	if len(data) >= len(selfDescribed) && string(data[:len(selfDescribed)]) == selfDescribed {
		return len(selfDescribed)
	}
	return 0
}

// CBOR major types.
const (
	cborUint   = 0
	cborNegint = 1
	cborBytes  = 2
	cborText   = 3
	cborArray  = 4
	cborMap    = 5
	cborTag    = 6
	cborSimple = 7
)

// cborIndefinite is the additional information of an indefinite length, and
// with major type 7, of the break that ends one.
const cborIndefinite = 31

// cborBreak is the byte that ends an indefinite-length item.
const cborBreak = 0xff

// The tags Ferry accepts: date/time as RFC 3339 text and as epoch seconds.
const (
	tagDateTime = 0
	tagEpoch    = 1
)

// cborNames names the major types in details.
var cborNames = [8]string{"unsigned integer", "negative integer", "byte string", "text string", "array", "map", "tag", "simple value"}

// A cborChecker walks one CBOR data item.
type cborChecker struct {
	scanner
}

// newCBORChecker returns a checker of the data item data starts with,
// after a self-described CBOR tag if there is one, nesting at most
// maxDepth deep; with seq set, data may hold more after it.
func newCBORChecker(data []byte, seq bool, maxDepth int) cborChecker {
	return cborChecker{scanner{data: data, pos: SelfDescribedCBOR(data), seq: seq, format: "cbor", maxDepth: maxDepth}}
}

// argument reads the argument of the head at start, whose initial byte has
// additional information ai of 24 or more, and moves past the head. With
// additional information 31 (indefinite length) the argument is 0.
func (c *cborChecker) argument(start int, ai byte) (uint64, error) {
	switch {
	case ai <= 27:
		size := 1 << (ai - 24)
		if len(c.data)-start-1 < size {
			major := c.data[start] >> 5
			what := cborNames[major]
			if major == cborSimple && ai > 24 {
				what = "float"
			}
			return 0, c.cutShort(what, start)
		}
		c.pos = start + 1 + size
		return readBigEndian(c.data[start+1 : c.pos]), nil
	case ai == cborIndefinite:
		c.pos = start + 1
		return 0, nil
	}
	return 0, fail(problem.Invalid, "syntax", start,
		"cbor: byte 0x%02x at offset %d uses reserved additional information %d", c.data[start], start, ai)
}

// value checks the data item at the read position and moves past it. level
// is the number of arrays and maps that enclose the item.
func (c *cborChecker) value(level int) error {
	start := c.pos
	if start >= len(c.data) {
		return c.cutShort("data item", start)
	}
	ib := c.data[start]
	major, ai := ib>>5, ib&0x1f
	arg := uint64(ai)
	if ai < 24 {
		c.pos = start + 1
	} else {
		var err error
		if arg, err = c.argument(start, ai); err != nil {
			return err
		}
	}
	switch major {
	case cborUint:
		if ai == cborIndefinite {
			return c.malformed(start)
		}
		return nil
	case cborNegint:
		if ai == cborIndefinite {
			return c.malformed(start)
		}
		if arg > math.MaxInt64 {
			return fail(problem.Unprocessable, "int_range", start,
				"cbor: negative integer at offset %d is below -2^63", start)
		}
		return nil
	case cborBytes, cborText:
		if ai == cborIndefinite {
			return c.chunks(start, major)
		}
		return c.str(start, major, arg)
	case cborArray:
		if level >= c.maxDepth {
			return c.tooDeep("array", start)
		}
		if ai == cborIndefinite {
			for !c.atBreak() {
				if err := c.value(level + 1); err != nil {
					return err
				}
			}
			return c.endBreak("array", start)
		}
		// Every element takes at least one byte.
		if arg > c.remaining() {
			return c.tooLong("array", start, arg, "elements")
		}
		for ; arg > 0; arg-- {
			if err := c.value(level + 1); err != nil {
				return err
			}
		}
		return nil
	case cborMap:
		if level >= c.maxDepth {
			return c.tooDeep("map", start)
		}
		return c.mapItems(start, ai == cborIndefinite, arg, level)
	case cborTag:
		if ai == cborIndefinite {
			return c.malformed(start)
		}
		return c.tag(start, arg)
	}
	return c.simple(start, ai, arg)
}

// malformed reports an initial byte that is not well-formed in the place
// where it appears.
func (c *cborChecker) malformed(start int) error {
	b := c.data[start]
	if b == cborBreak {
		return fail(problem.Invalid, "syntax", start, "cbor: unexpected break at offset %d", start)
	}
	return fail(problem.Invalid, "syntax", start, "cbor: byte 0x%02x at offset %d is not well-formed here", b, start)
}

// str moves past the content of a definite-length string of n bytes whose
// head starts at start, checking that text is UTF-8.
func (c *cborChecker) str(start int, major byte, n uint64) error {
	if n > c.remaining() {
		return c.tooLong(cborNames[major], start, n, "bytes")
	}
	end := c.pos + int(n)
	if major == cborText && !validUTF8(c.data[c.pos:end]) {
		return c.badUTF8("text string", start)
	}
	c.pos = end
	return nil
}

// chunks checks the chunks of the indefinite-length string at start up to
// and including its break. Each chunk must be a definite-length string of
// the same major type; text is checked for UTF-8 chunk by chunk, since
// RFC 8949 does not let a chunk split a character.
func (c *cborChecker) chunks(start int, major byte) error {
	for !c.atBreak() {
		p := c.pos
		if c.data[p]>>5 != major || c.data[p]&0x1f == cborIndefinite {
			return fail(problem.Invalid, "syntax", p,
				"cbor: chunk at offset %d of the indefinite-length %s at offset %d is not a definite-length %s",
				p, cborNames[major], start, cborNames[major])
		}
		n := uint64(c.data[p] & 0x1f)
		c.pos = p + 1
		if n >= 24 {
			var err error
			if n, err = c.argument(p, byte(n)); err != nil {
				return err
			}
		}
		if err := c.str(p, major, n); err != nil {
			return err
		}
	}
	return c.endBreak(cborNames[major], start)
}

// atBreak reports whether the items of an indefinite-length item have
// ended: at a break, or at the end of the data, which endBreak reports.
func (c *cborChecker) atBreak() bool {
	return c.pos >= len(c.data) || c.data[c.pos] == cborBreak
}

// endBreak moves past the break ending the indefinite-length item at start,
// or reports that the data ended before it.
func (c *cborChecker) endBreak(what string, start int) error {
	if c.pos >= len(c.data) {
		return c.cutShort("indefinite-length "+what, start)
	}
	c.pos++
	return nil
}

// mapItems checks the entries of the map at start: arg pairs, or pairs up
// to a break when indefinite.
func (c *cborChecker) mapItems(start int, indefinite bool, arg uint64, level int) error {
	// Every key and every value takes at least one byte.
	if !indefinite && arg > c.remaining()/2 {
		return c.tooLong("map", start, arg, "entries")
	}
	var keys keyList
	for {
		if indefinite {
			if c.atBreak() {
				return c.endBreak("map", start)
			}
		} else {
			if arg == 0 {
				return nil
			}
			arg--
		}
		keyStart := c.pos
		k := keys.slot()
		if err := c.key(k); err != nil {
			return err
		}
		if keys.commit(c.data) {
			return c.duplicate(start, k, keyStart)
		}
		if indefinite && c.pos < len(c.data) && c.data[c.pos] == cborBreak {
			return fail(problem.Invalid, "syntax", c.pos,
				"cbor: break at offset %d ends the map at offset %d after a key without a value", c.pos, start)
		}
		if err := c.value(level + 1); err != nil {
			return err
		}
	}
}

// key checks the map key at the read position, moves past it and sets k to
// how it compares with other keys.
func (c *cborChecker) key(k *keyRef) error {
	start := c.pos
	if start >= len(c.data) {
		return c.cutShort("map key", start)
	}
	ib := c.data[start]
	if ib>>5 == cborText && ib&0x1f < 24 { // a short text, the usual key
		p := start + 1
		c.pos = p
		if err := c.str(start, cborText, uint64(ib&0x1f)); err != nil {
			return err
		}
		*k = bytesKey(c.data, classStr, p, c.pos)
		return nil
	}
	switch ib >> 5 {
	case cborArray:
		return c.containerKey("an array", start)
	case cborMap:
		return c.containerKey("a map", start)
	}
	// The key is a scalar or an accepted tag wrapping one, so this does not
	// recurse further.
	if err := c.value(0); err != nil {
		return err
	}
	*k = c.scalarKey(start)
	return nil
}

// scalarKey returns the key of the data item from start to the read
// position, which has been checked and is not an array or map.
func (c *cborChecker) scalarKey(start int) keyRef {
	ib := c.data[start]
	arg, head := cborArgument(c.data, start)
	switch ib >> 5 {
	case cborUint:
		return keyRef{class: classInt, val: arg}
	case cborNegint:
		// -1-arg, as the bits of an int64; arg is at most 2^63-1.
		return keyRef{class: classNeg, val: ^arg}
	case cborBytes, cborText:
		class := classBin
		if ib>>5 == cborText {
			class = classStr
		}
		if ib&0x1f == cborIndefinite {
			// The chunks, without the leading head and trailing break.
			return chunkedKey(c.data, class, start+1, c.pos-1)
		}
		return bytesKey(c.data, class, start+head, start+head+int(arg))
	}
	switch ib {
	case 0xf9:
		return floatKey(float16(uint16(arg)))
	case 0xfa:
		return floatKey(float64(math.Float32frombits(uint32(arg))))
	case 0xfb:
		return floatKey(math.Float64frombits(arg))
	}
	return bytesKey(c.data, classRaw, start, c.pos)
}

// tag checks a tag numbered num whose head started at start and whose
// content is at the read position.
func (c *cborChecker) tag(start int, num uint64) error {
	if num != tagDateTime && num != tagEpoch {
		return fail(problem.Unprocessable, "unsupported_tag", start,
			"cbor: tag %d at offset %d is not supported; only tags 0 and 1 (date/time) are, and 55799 (self-described CBOR) in front of a body or a sequence item", num, start)
	}
	content := c.pos
	if content >= len(c.data) {
		return c.cutShort("tag", start)
	}
	ib := c.data[content]
	if num == tagDateTime {
		if ib>>5 != cborText {
			return fail(problem.Unprocessable, "time", start,
				"cbor: tag 0 at offset %d must wrap a text string, found %s", start, cborNames[ib>>5])
		}
		// Text is a scalar, so this does not recurse further.
		if err := c.value(0); err != nil {
			return err
		}
		var buf [maxRFC3339]byte
		if !ValidRFC3339(c.text(content, buf[:0])) {
			return fail(problem.Unprocessable, "time", start,
				"cbor: tag 0 at offset %d wraps text that is not an RFC 3339 date-time", start)
		}
		return nil
	}
	if ib>>5 != cborUint && ib>>5 != cborNegint && (ib < 0xf9 || ib > 0xfb) {
		return fail(problem.Unprocessable, "time", start,
			"cbor: tag 1 at offset %d must wrap an integer or a float", start)
	}
	// Numbers are scalars, so this does not recurse further.
	if err := c.value(0); err != nil {
		return err
	}
	arg, _ := cborArgument(c.data, content)
	var ok bool
	switch ib {
	case 0xf9: // float 16: every finite value is in range
		ok = true
	case 0xfa:
		ok = epochInRange(float64(math.Float32frombits(uint32(arg))))
	case 0xfb:
		ok = epochInRange(math.Float64frombits(arg))
	default: // integers; negative ones below -2^63 were refused already
		ok = arg <= math.MaxInt64
	}
	if !ok {
		return fail(problem.Unprocessable, "time", start,
			"cbor: tag 1 at offset %d holds seconds that do not fit in 64 bits", start)
	}
	return nil
}

// epochInRange reports whether the whole seconds of f fit in an int64.
func epochInRange(f float64) bool {
	return f >= math.MinInt64 && f < math.MaxInt64
}

// text returns the content of the checked text string at start: the string
// itself when it has a definite length, else its chunks gathered in buf, or
// nil if they do not fit in buf's capacity.
func (c *cborChecker) text(start int, buf []byte) []byte {
	if c.data[start]&0x1f != cborIndefinite {
		n, head := cborArgument(c.data, start)
		return c.data[start+head : start+head+int(n)]
	}
	it := chunkIter{data: c.data, pos: start + 1, end: c.pos - 1}
	for b, ok := it.next(); ok; b, ok = it.next() {
		if len(buf)+len(b) > cap(buf) {
			return nil
		}
		buf = append(buf, b...)
	}
	return buf
}

// simple checks a major type 7 item: false, true, null and finite floats
// are accepted.
func (c *cborChecker) simple(start int, ai byte, arg uint64) error {
	switch ai {
	case 20, 21: // false, true
		return nil
	case 22: // null
		c.nulls++
		return nil
	case 24:
		if arg < 32 {
			return fail(problem.Invalid, "syntax", start,
				"cbor: simple value %d at offset %d is not well-formed in two bytes", arg, start)
		}
	case 25:
		if arg>>10&0x1f == 0x1f {
			return c.nonFinite(start)
		}
		return nil
	case 26:
		if arg>>23&0xff == 0xff {
			return c.nonFinite(start)
		}
		return nil
	case 27:
		if arg>>52&0x7ff == 0x7ff {
			return c.nonFinite(start)
		}
		return nil
	case cborIndefinite:
		return c.malformed(start)
	}
	if ai == 23 {
		return fail(problem.Unprocessable, "unsupported_value", start,
			"cbor: undefined at offset %d is not supported", start)
	}
	return fail(problem.Unprocessable, "unsupported_value", start,
		"cbor: simple value %d at offset %d is not supported", arg, start)
}

// cborArgument returns the argument of the well-formed head at start and the
// length of the head. An indefinite length gives 0.
func cborArgument(data []byte, start int) (arg uint64, headLen int) {
	ai := data[start] & 0x1f
	switch {
	case ai >= 24 && ai <= 27:
		size := 1 << (ai - 24)
		return readBigEndian(data[start+1 : start+1+size]), 1 + size
	case ai == cborIndefinite:
		return 0, 1
	}
	return uint64(ai), 1
}

// float16 returns the value of a finite IEEE 754 half-precision float.
func float16(bits uint16) float64 {
	exp := int(bits >> 10 & 0x1f)
	mant := float64(bits & 0x3ff)
	var f float64
	if exp == 0 {
		f = math.Ldexp(mant, -24) // subnormal
	} else {
		f = math.Ldexp(mant+0x400, exp-25)
	}
	if bits&0x8000 != 0 {
		return -f
	}
	return f
}
