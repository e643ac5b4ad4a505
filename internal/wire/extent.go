package wire

import (
	"math"

	"github.com/ferry-dev/ferry/internal/problem"
)

// CBORExtent returns the length of the first CBOR data item in data when it
// is well-formed (RFC 8949 Appendix C), whatever it holds: unlike
// [NextCBORDepth], it accepts any nesting depth, tag, simple value, float, map
// key and string content, nesting up to [MaxExtentDepth]. A stream reader
// uses it to step over an item that NextCBOR refused for what it holds,
// rather than for its structure. If data ends inside the item, the error
// wraps [ErrTruncated]. It walks the item without recursion.
func CBORExtent(data []byte) (int, error) {
	var open openItems
	pos := 0
	for {
		if pos >= len(data) {
			return 0, truncated(pos, "cbor: the data ends at offset %d, inside the data item", pos)
		}
		start := pos
		ib := data[pos]
		major, ai := ib>>5, ib&0x1f
		if top := open.top(); top != nil && top.indefinite {
			if ib == cborBreak {
				if top.items%2 == 1 && top.isMap {
					return 0, extentSyntax(start, "cbor: break at offset %d ends a map after a key without a value", start)
				}
				open.pop()
				pos++
				if open.itemEnded() {
					return pos, nil
				}
				continue
			}
			if top.chunksOf >= 0 && (int8(major) != top.chunksOf || ai == cborIndefinite) {
				return 0, extentSyntax(start, "cbor: chunk at offset %d of an indefinite-length string is not a definite-length string of its type", start)
			}
		}
		arg := uint64(ai)
		pos++
		switch {
		case ai < 24:
		case ai <= 27:
			size := 1 << (ai - 24)
			if len(data)-pos < size {
				return 0, truncated(start, "cbor: the data ends inside the head at offset %d", start)
			}
			arg = readBigEndian(data[pos : pos+size])
			pos += size
			if major == cborSimple && ai == 24 && arg < 32 {
				return 0, extentSyntax(start, "cbor: simple value %d at offset %d is not well-formed in two bytes", arg, start)
			}
		case ai == cborIndefinite:
			if major < cborBytes || major == cborTag || major == cborSimple {
				return 0, extentSyntax(start, "cbor: byte 0x%02x at offset %d is not well-formed here", ib, start)
			}
		default:
			return 0, extentSyntax(start, "cbor: byte 0x%02x at offset %d uses reserved additional information %d", ib, start, ai)
		}
		switch major {
		case cborBytes, cborText:
			if ai == cborIndefinite {
				if err := open.push(openItem{indefinite: true, chunksOf: int8(major)}, start, "cbor"); err != nil {
					return 0, err
				}
				continue
			}
			if arg > uint64(len(data)-pos) {
				return 0, truncated(start, "cbor: the data ends inside the %s at offset %d", cborNames[major], start)
			}
			pos += int(arg)
		case cborArray, cborMap:
			isMap := major == cborMap
			if ai == cborIndefinite {
				if err := open.push(openItem{indefinite: true, isMap: isMap, chunksOf: -1}, start, "cbor"); err != nil {
					return 0, err
				}
				continue
			}
			if isMap {
				if arg > math.MaxUint64/2 {
					return 0, truncated(start, "cbor: the data ends inside the map at offset %d", start)
				}
				arg *= 2
			}
			// Every item takes at least one byte.
			if arg > uint64(len(data)-pos) {
				return 0, truncated(start, "cbor: the data ends inside the %s at offset %d", cborNames[major], start)
			}
			if arg > 0 {
				if err := open.push(openItem{remaining: arg, chunksOf: -1}, start, "cbor"); err != nil {
					return 0, err
				}
				continue
			}
		case cborTag:
			if err := open.push(openItem{remaining: 1, chunksOf: -1}, start, "cbor"); err != nil {
				return 0, err
			}
			continue
		}
		if open.itemEnded() {
			return pos, nil
		}
	}
}

// MsgpackExtent returns the length of the first MessagePack value in data
// when it is well-formed, whatever it holds: unlike [NextMsgpackDepth], it
// accepts any extension, float, map key and string content, nesting up to
// [MaxExtentDepth]. If data ends inside the value, the error wraps
// [ErrTruncated]. It walks the value without recursion.
func MsgpackExtent(data []byte) (int, error) {
	var open openItems
	pos := 0
	for {
		if pos >= len(data) {
			return 0, truncated(pos, "msgpack: the data ends at offset %d, inside the value", pos)
		}
		start := pos
		b := data[pos]
		pos++
		// A value is its first byte, then size bytes of length when
		// counted, then skip bytes of content (plus the length, for
		// strings, binaries and extensions); arrays and maps are then
		// followed by items values (two per map entry).
		var size int
		var skip, items uint64
		var counted, isItems bool
		switch {
		case b <= 0x7f || b >= 0xe0, b == 0xc0, b == 0xc2, b == 0xc3:
		case b >= 0x80 && b <= 0x8f:
			items, isItems = 2*uint64(b&0x0f), true
		case b >= 0x90 && b <= 0x9f:
			items, isItems = uint64(b&0x0f), true
		case b >= 0xa0 && b <= 0xbf:
			skip = uint64(b & 0x1f)
		case b == 0xc1:
			return 0, extentSyntax(start, "msgpack: byte 0xc1 at offset %d is never used", start)
		case b >= 0xc4 && b <= 0xc6: // bin 8, 16, 32
			size, counted = 1<<(b-0xc4), true
		case b >= 0xc7 && b <= 0xc9: // ext 8, 16, 32: then the type
			size, counted, skip = 1<<(b-0xc7), true, 1
		case b == 0xca:
			skip = 4
		case b == 0xcb:
			skip = 8
		case b >= 0xcc && b <= 0xcf: // uint 8 to 64
			skip = 1 << (b - 0xcc)
		case b >= 0xd0 && b <= 0xd3: // int 8 to 64
			skip = 1 << (b - 0xd0)
		case b >= 0xd4 && b <= 0xd8: // fixext 1 to 16, after the type
			skip = 1 + 1<<(b-0xd4)
		case b >= 0xd9 && b <= 0xdb: // str 8, 16, 32
			size, counted = 1<<(b-0xd9), true
		case b == 0xdc || b == 0xdd: // array 16, 32
			size, counted, isItems = 2<<(b-0xdc), true, true
		default: // 0xde, 0xdf: map 16, 32
			size, counted, isItems = 2<<(b-0xde), true, true
		}
		if counted {
			if len(data)-pos < size {
				return 0, truncated(start, "msgpack: the data ends inside the head at offset %d", start)
			}
			n := readBigEndian(data[pos : pos+size])
			pos += size
			switch {
			case !isItems:
				skip += n
			case b == 0xde || b == 0xdf:
				items = 2 * n
			default:
				items = n
			}
		}
		// Every item takes at least one byte.
		if skip > uint64(len(data)-pos) || items > uint64(len(data)-pos) {
			return 0, truncated(start, "msgpack: the data ends inside the value at offset %d", start)
		}
		pos += int(skip)
		if items > 0 {
			if err := open.push(openItem{remaining: items, chunksOf: -1}, start, "msgpack"); err != nil {
				return 0, err
			}
			continue
		}
		if open.itemEnded() {
			return pos, nil
		}
	}
}

// MaxExtentDepth is the deepest nesting that CBORExtent and MsgpackExtent
// follow: deeper, they report a syntax error rather than hold the path to
// the bottom of a value made of nothing but nesting.
const MaxExtentDepth = 10000

// An openItem is an array, map, tag or indefinite-length string whose
// items are still being read.
type openItem struct {
	// remaining counts the items left of a definite-length container
	// (keys and values alike) or a tag.
	remaining uint64
	// indefinite is set for a CBOR item that ends at a break; items counts
	// the items read so far.
	indefinite bool
	isMap      bool
	items      uint64
	// chunksOf is the major type an indefinite-length string's chunks
	// must have, or -1.
	chunksOf int8
}

// openItems is the stack of items being read, innermost last.
type openItems []openItem

// push opens an item inside the innermost one, refusing to go deeper than
// MaxExtentDepth.
func (s *openItems) push(it openItem, offset int, format string) error {
	if len(*s) >= MaxExtentDepth {
		return extentSyntax(offset, "%s: the value at offset %d nests deeper than %d levels", format, offset, MaxExtentDepth)
	}
	*s = append(*s, it)
	return nil
}

func (s *openItems) pop() { *s = (*s)[:len(*s)-1] }

func (s openItems) top() *openItem {
	if len(s) == 0 {
		return nil
	}
	return &s[len(s)-1]
}

// itemEnded records that an item has ended: it closes each enclosing
// definite-length item it was the last of, and reports whether the
// outermost item has ended.
func (s *openItems) itemEnded() bool {
	for len(*s) > 0 {
		top := s.top()
		if top.indefinite {
			top.items++
			return false
		}
		top.remaining--
		if top.remaining > 0 {
			return false
		}
		s.pop()
	}
	return true
}

func extentSyntax(offset int, format string, args ...any) error {
	return fail(problem.Invalid, "syntax", offset, format, args...)
}
