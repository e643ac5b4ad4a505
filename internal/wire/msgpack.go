package wire

import (
	"encoding/binary"
	"math"

	"github.com/ferry-dev/ferry/internal/problem"
)

// CheckMsgpack reports whether data is exactly one well-formed MessagePack
// value that Ferry can decode safely and keep exactly. See the package
// documentation for what is refused.
func CheckMsgpack(data []byte) error {
	return CheckMsgpackDepth(data, MaxDepth)
}

// CheckMsgpackDepth is [CheckMsgpack] with nesting bounded by maxDepth
// rather than [MaxDepth].
func CheckMsgpackDepth(data []byte, maxDepth int) error {
	c := msgpackChecker{scanner{data: data, format: "msgpack", maxDepth: maxDepth}}
	if err := c.value(0); err != nil {
		return err
	}
	if c.pos != len(data) {
		return c.trailing()
	}
	return nil
}

// MsgpackHasNil reports whether a MessagePack value that CheckMsgpack
// accepts holds a nil anywhere: as itself, an array element or a map value.
// It is false for data CheckMsgpack refuses.
func MsgpackHasNil(data []byte) bool {
	c := msgpackChecker{scanner{data: data, format: "msgpack", maxDepth: MaxDepth}}
	return c.value(0) == nil && c.nulls > 0
}

// NextMsgpackDepth returns the length of the first MessagePack value in data,
// which may hold more values after it, as in a MessagePack sequence. It
// checks that value as [CheckMsgpack] does. If data ends inside the value,
// including inside a length that the value declares, the error wraps
// [ErrTruncated]; callers reading a stream then need more data and should
// bound how much they buffer. Offsets in errors count from the start of
// data.
// Arrays and maps may nest at most maxDepth deep ([CheckMsgpack] allows
// [MaxDepth]).
func NextMsgpackDepth(data []byte, maxDepth int) (n int, err error) {
	c := msgpackChecker{scanner{data: data, seq: true, format: "msgpack", maxDepth: maxDepth}}
	if err := c.value(0); err != nil {
		return 0, err
	}
	return c.pos, nil
}

// msgpackTimestamp is the extension type of the MessagePack timestamp.
const msgpackTimestamp = -1

// A msgpackChecker walks one MessagePack value.
type msgpackChecker struct {
	scanner
}

// value checks the value at the read position and moves past it. level is
// the number of arrays and maps that enclose the value.
func (c *msgpackChecker) value(level int) error {
	start := c.pos
	if start >= len(c.data) {
		return c.cutShort("value", start)
	}
	b := c.data[start]
	switch {
	case b <= 0x7f || b >= 0xe0: // positive and negative fixint
		c.pos++
		return nil
	case b <= 0x8f:
		c.pos++
		return c.mapItems(start, uint64(b&0x0f), level)
	case b <= 0x9f:
		c.pos++
		return c.arrayItems(start, uint64(b&0x0f), level)
	case b <= 0xbf:
		c.pos++
		return c.str(start, uint64(b&0x1f))
	}
	switch b {
	case 0xc0: // nil
		c.nulls++
		c.pos++
		return nil
	case 0xc2, 0xc3: // false, true
		c.pos++
		return nil
	case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
		n, err := c.length(start, 1<<(b-0xc4))
		if err != nil {
			return err
		}
		return c.skip(start, "bin", n)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		n, err := c.length(start, 1<<(b-0xc7))
		if err != nil {
			return err
		}
		return c.ext(start, n)
	case 0xca: // float 32
		if err := c.fixed(start, 4); err != nil {
			return err
		}
		if binary.BigEndian.Uint32(c.data[start+1:])>>23&0xff == 0xff {
			return c.nonFinite(start)
		}
		return nil
	case 0xcb: // float 64
		if err := c.fixed(start, 8); err != nil {
			return err
		}
		if binary.BigEndian.Uint64(c.data[start+1:])>>52&0x7ff == 0x7ff {
			return c.nonFinite(start)
		}
		return nil
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8, 16, 32, 64
		return c.fixed(start, 1<<(b-0xcc))
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8, 16, 32, 64
		return c.fixed(start, 1<<(b-0xd0))
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		c.pos++
		return c.ext(start, 1<<(b-0xd4))
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		n, err := c.length(start, 1<<(b-0xd9))
		if err != nil {
			return err
		}
		return c.str(start, n)
	case 0xdc, 0xdd: // array 16, 32
		n, err := c.length(start, 2<<(b-0xdc))
		if err != nil {
			return err
		}
		return c.arrayItems(start, n, level)
	case 0xde, 0xdf: // map 16, 32
		n, err := c.length(start, 2<<(b-0xde))
		if err != nil {
			return err
		}
		return c.mapItems(start, n, level)
	}
	return fail(problem.Invalid, "syntax", start, "msgpack: byte 0x%02x at offset %d is not a valid type", b, start)
}

// fixed moves past a head at start followed by size bytes of payload.
func (c *msgpackChecker) fixed(start, size int) error {
	if len(c.data)-start-1 < size {
		return c.cutShort(msgpackName(c.data[start]), start)
	}
	c.pos = start + 1 + size
	return nil
}

// length reads the big-endian length of size bytes that follows the type
// byte at start and moves past it.
func (c *msgpackChecker) length(start, size int) (uint64, error) {
	if err := c.fixed(start, size); err != nil {
		return 0, err
	}
	return readBigEndian(c.data[start+1 : start+1+size]), nil
}

// skip moves past n bytes of payload belonging to the value at start.
func (c *msgpackChecker) skip(start int, what string, n uint64) error {
	if n > c.remaining() {
		return c.tooLong(what, start, n, "bytes")
	}
	c.pos += int(n)
	return nil
}

// str moves past a string of n bytes, checking that it is UTF-8.
func (c *msgpackChecker) str(start int, n uint64) error {
	if n > c.remaining() {
		return c.tooLong("str", start, n, "bytes")
	}
	end := c.pos + int(n)
	if !validUTF8(c.data[c.pos:end]) {
		return c.badUTF8("str", start)
	}
	c.pos = end
	return nil
}

// ext checks an extension with n bytes of data, whose type byte is at the
// read position. Only timestamps are accepted, in the three forms the
// MessagePack specification defines.
func (c *msgpackChecker) ext(start int, n uint64) error {
	if c.pos >= len(c.data) {
		return c.cutShort("ext", start)
	}
	typ := int8(c.data[c.pos])
	c.pos++
	if n > c.remaining() {
		return c.tooLong("ext", start, n, "bytes")
	}
	if typ != msgpackTimestamp {
		return fail(problem.Unprocessable, "unsupported_ext", start,
			"msgpack: extension type %d at offset %d is not supported; only timestamps (type -1) are", typ, start)
	}
	p := c.data[c.pos : c.pos+int(n)]
	var nsec uint64
	switch {
	case c.data[start] == 0xd6: // 32-bit seconds
	case c.data[start] == 0xd7: // 30-bit nanoseconds, 34-bit seconds
		nsec = binary.BigEndian.Uint64(p) >> 34
	case c.data[start] == 0xc7 && n == 12: // 32-bit nanoseconds, 64-bit seconds
		nsec = uint64(binary.BigEndian.Uint32(p))
	default:
		return fail(problem.Unprocessable, "time", start,
			"msgpack: timestamp at offset %d has %d bytes; it must be a fixext 4, a fixext 8 or an ext 8 of 12 bytes", start, n)
	}
	if nsec >= 1e9 {
		return fail(problem.Unprocessable, "time", start,
			"msgpack: timestamp at offset %d has %d nanoseconds; at most 999999999 are allowed", start, nsec)
	}
	c.pos += int(n)
	return nil
}

// arrayItems checks the n elements of the array at start.
func (c *msgpackChecker) arrayItems(start int, n uint64, level int) error {
	if level >= c.maxDepth {
		return c.tooDeep("array", start)
	}
	// Every element takes at least one byte.
	if n > c.remaining() {
		return c.tooLong("array", start, n, "elements")
	}
	for ; n > 0; n-- {
		if err := c.value(level + 1); err != nil {
			return err
		}
	}
	return nil
}

// mapItems checks the n key-value pairs of the map at start.
func (c *msgpackChecker) mapItems(start int, n uint64, level int) error {
	if level >= c.maxDepth {
		return c.tooDeep("map", start)
	}
	// Every key and every value takes at least one byte.
	if n > c.remaining()/2 {
		return c.tooLong("map", start, n, "entries")
	}
	var keys keyList
	for ; n > 0; n-- {
		keyStart := c.pos
		k := keys.slot()
		if err := c.key(k); err != nil {
			return err
		}
		if keys.commit(c.data) {
			return c.duplicate(start, k, keyStart)
		}
		if err := c.value(level + 1); err != nil {
			return err
		}
	}
	return nil
}

// key checks the map key at the read position, moves past it and sets k to
// how it compares with other keys.
func (c *msgpackChecker) key(k *keyRef) error {
	start := c.pos
	if start >= len(c.data) {
		return c.cutShort("map key", start)
	}
	b := c.data[start]
	switch {
	case b >= 0xa0 && b <= 0xbf: // fixstr, the usual key
		c.pos++
		if err := c.str(start, uint64(b&0x1f)); err != nil {
			return err
		}
		*k = bytesKey(c.data, classStr, start+1, c.pos)
		return nil
	case b >= 0x80 && b <= 0x8f, b == 0xde, b == 0xdf:
		return c.containerKey("a map", start)
	case b >= 0x90 && b <= 0x9f, b == 0xdc, b == 0xdd:
		return c.containerKey("an array", start)
	}
	// The key is a scalar, so this does not recurse.
	if err := c.value(0); err != nil {
		return err
	}
	*k = c.scalarKey(start)
	return nil
}

// scalarKey returns the key of the scalar from start to the read position,
// which has been checked.
func (c *msgpackChecker) scalarKey(start int) keyRef {
	b := c.data[start]
	p := c.data[start+1 : c.pos]
	switch {
	case b <= 0x7f:
		return keyRef{class: classInt, val: uint64(b)}
	case b >= 0xe0:
		return keyRef{class: classNeg, val: uint64(int64(int8(b)))}
	}
	switch b {
	case 0xd9, 0xda, 0xdb:
		return bytesKey(c.data, classStr, start+1+1<<(b-0xd9), c.pos)
	case 0xc4, 0xc5, 0xc6:
		return bytesKey(c.data, classBin, start+1+1<<(b-0xc4), c.pos)
	case 0xcc:
		return keyRef{class: classInt, val: uint64(p[0])}
	case 0xcd:
		return keyRef{class: classInt, val: uint64(binary.BigEndian.Uint16(p))}
	case 0xce:
		return keyRef{class: classInt, val: uint64(binary.BigEndian.Uint32(p))}
	case 0xcf:
		return keyRef{class: classInt, val: binary.BigEndian.Uint64(p)}
	case 0xd0:
		return intKey(int64(int8(p[0])))
	case 0xd1:
		return intKey(int64(int16(binary.BigEndian.Uint16(p))))
	case 0xd2:
		return intKey(int64(int32(binary.BigEndian.Uint32(p))))
	case 0xd3:
		return intKey(int64(binary.BigEndian.Uint64(p)))
	case 0xca:
		return floatKey(float64(math.Float32frombits(binary.BigEndian.Uint32(p))))
	case 0xcb:
		return floatKey(math.Float64frombits(binary.BigEndian.Uint64(p)))
	}
	return bytesKey(c.data, classRaw, start, c.pos)
}

// intKey returns the key of a signed integer, equal to the key of an
// unsigned integer of the same value.
func intKey(v int64) keyRef {
	if v < 0 {
		return keyRef{class: classNeg, val: uint64(v)}
	}
	return keyRef{class: classInt, val: uint64(v)}
}

// msgpackName names the kind of value whose type byte is b, for details.
func msgpackName(b byte) string {
	switch {
	case b <= 0x7f || b >= 0xe0 || b >= 0xcc && b <= 0xd3:
		return "integer"
	case b <= 0x8f || b == 0xde || b == 0xdf:
		return "map"
	case b <= 0x9f || b == 0xdc || b == 0xdd:
		return "array"
	case b <= 0xbf || b >= 0xd9 && b <= 0xdb:
		return "str"
	case b >= 0xc4 && b <= 0xc6:
		return "bin"
	case b == 0xca || b == 0xcb:
		return "float"
	}
	return "ext"
}
