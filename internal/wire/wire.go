// Package wire checks untrusted JSON, MessagePack and CBOR bodies for
// structure before any library decoder sees them.
//
// The decoders Ferry uses are not safe on hostile input: a MessagePack body
// of five bytes can declare a map of four billion entries and exhaust memory,
// a run of nested one-element arrays can exhaust the stack, and neither
// failure can be recovered from. The checks here walk the bytes once, in
// bounded stack and without allocating in proportion to any declared length,
// and refuse:
//
//   - nesting deeper than [MaxDepth] arrays and maps (or the depth given to
//     the functions whose names end in Depth);
//   - declared lengths longer than the bytes that remain;
//   - duplicate map keys, and keys that are themselves arrays or maps;
//   - invalid UTF-8 in strings;
//   - data after the single value;
//   - reserved or malformed bytes;
//   - values Ferry cannot keep exactly: non-finite floats, CBOR integers
//     below -2^63, CBOR tags other than the date/time tags 0 and 1 (and
//     the self-described CBOR tag, 55799, at the start of an item), CBOR
//     simple values other than false, true and null, and MessagePack
//     extensions other than the timestamp extension.
//
// Every error is a *problem.Error of kind Invalid, or Unprocessable for
// values that are well-formed but that Ferry cannot keep. Its Reason is a
// short label ("depth", "length", "duplicate_key", "utf8", "trailing",
// "syntax", "truncated", "nonfinite", "int_range", "time",
// "unsupported_tag", "unsupported_value", "unsupported_ext",
// "unsupported_key"), its detail names the byte offset where the problem
// lies, and Extra["offset"] holds that offset. Errors saying that the data
// ended inside a value have Reason "truncated" and wrap [ErrTruncated].
//
// Map keys are compared by what they decode to: integers and floats by
// value, strings by content however their length is encoded or chunked,
// other keys (nil, booleans, timestamps) by their encoded bytes. Maps of up
// to 16 keys are checked without allocating; larger ones use a hash set
// seeded per map.
//
// JSON is different: Ferry's JSON decoder already rejects bad syntax,
// invalid UTF-8, duplicate names and trailing data with byte offsets, so
// [CheckJSON] only bounds the nesting depth the decoder would otherwise
// follow.
package wire

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/problem"
)

// MaxDepth is the deepest nesting of arrays and maps accepted. The outermost
// array or map is level 1, so a value at level MaxDepth+1 is refused.
const MaxDepth = 32

// ErrTruncated is wrapped by errors reporting that the data ended inside a
// value. From [NextMsgpackDepth] and [NextCBORDepth] it means that more data may
// complete the value.
var ErrTruncated = errors.New("wire: value truncated")

// fail returns a client-facing error with the given kind, reason and byte
// offset. The detail is formatted from format and args and should name the
// offset.
func fail(kind problem.Kind, reason string, offset int, format string, args ...any) error {
	return problem.New(kind, format, args...).WithReason(reason).With("offset", offset)
}

// truncated returns an Invalid error with reason "truncated" wrapping
// ErrTruncated.
func truncated(offset int, format string, args ...any) error {
	return problem.Wrap(problem.Invalid, ErrTruncated, format, args...).WithReason("truncated").With("offset", offset)
}

// scanner holds what the MessagePack and CBOR checkers share: the data, the
// read position and whether the data is one of a sequence of values.
type scanner struct {
	data []byte
	pos  int
	// nulls counts the nulls (MessagePack's nil) met.
	nulls int
	// seq is set when checking the first value of a sequence: data may
	// stop anywhere, so a declared length that runs past its end means
	// that more data is needed rather than that the value is malformed.
	seq bool
	// format prefixes every detail: "msgpack" or "cbor".
	format string
	// maxDepth is the deepest nesting of arrays and maps accepted.
	maxDepth int
}

// remaining returns the number of bytes after the read position as a
// uint64, ready to be compared with a length from the wire.
func (s *scanner) remaining() uint64 {
	return uint64(len(s.data) - s.pos)
}

// cutShort reports that the value of the given kind starting at offset
// needs more data than there is.
func (s *scanner) cutShort(what string, offset int) error {
	if offset >= len(s.data) {
		if len(s.data) == 0 && !s.seq {
			return truncated(offset, "%s: body is empty; a value must start at offset 0", s.format)
		}
		return truncated(offset, "%s: data ends at offset %d where a value should start", s.format, offset)
	}
	return truncated(offset, "%s: %s at offset %d is cut short by the end of the data", s.format, what, offset)
}

// tooLong reports a declared length that runs past the end of the data. In
// a sequence this is truncation, as the rest of the value may follow.
func (s *scanner) tooLong(what string, offset int, declared uint64, unit string) error {
	format := "%s: %s at offset %d declares %d %s but only %d bytes remain"
	if s.seq {
		return truncated(offset, format, s.format, what, offset, declared, unit, s.remaining())
	}
	return fail(problem.Invalid, "length", offset, format, s.format, what, offset, declared, unit, s.remaining())
}

// tooDeep reports a container at level maxDepth+1.
func (s *scanner) tooDeep(what string, offset int) error {
	return fail(problem.Invalid, "depth", offset,
		"%s: %s at offset %d is nested deeper than %d levels", s.format, what, offset, s.maxDepth)
}

// badUTF8 reports a string that is not valid UTF-8.
func (s *scanner) badUTF8(what string, offset int) error {
	return fail(problem.Invalid, "utf8", offset, "%s: %s at offset %d is not valid UTF-8", s.format, what, offset)
}

// nonFinite reports a NaN or infinite float.
func (s *scanner) nonFinite(offset int) error {
	return fail(problem.Unprocessable, "nonfinite", offset,
		"%s: float at offset %d is not finite (NaN or infinity)", s.format, offset)
}

// trailing reports data after the single value of a body.
func (s *scanner) trailing() error {
	return fail(problem.Invalid, "trailing", s.pos,
		"%s: unexpected data at offset %d after the value (%d bytes)", s.format, s.pos, len(s.data)-s.pos)
}

// containerKey reports a map key that is itself an array or map.
func (s *scanner) containerKey(what string, offset int) error {
	return fail(problem.Unprocessable, "unsupported_key", offset,
		"%s: map key at offset %d is %s; keys must be scalar values", s.format, offset, what)
}

// duplicate reports a map key that repeats an earlier key of the same map.
func (s *scanner) duplicate(mapOffset int, k *keyRef, keyOffset int) error {
	if k.class == classStr && !k.chunked && k.end-k.start <= 64 {
		return fail(problem.Invalid, "duplicate_key", keyOffset,
			"%s: map at offset %d has duplicate key %q at offset %d", s.format, mapOffset, s.data[k.start:k.end], keyOffset)
	}
	return fail(problem.Invalid, "duplicate_key", keyOffset,
		"%s: map at offset %d has a duplicate key at offset %d", s.format, mapOffset, keyOffset)
}

// validUTF8 reports whether b is valid UTF-8. It is utf8.Valid with a
// quicker path for ASCII, which most strings in records are: it checks
// eight bytes at a time, the last eight (or four, or the few) overlapping,
// and hands over at the first word with a high bit set.
func validUTF8(b []byte) bool {
	const high = 0x8080808080808080
	n := len(b)
	i := 0
	for ; i+8 < n; i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&high != 0 {
			return utf8.Valid(b[i:])
		}
	}
	var last uint64
	switch {
	case n >= 8:
		last = binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		last = uint64(binary.LittleEndian.Uint32(b) | binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		last = uint64(b[0] | b[n/2] | b[n-1])
	}
	if last&high != 0 {
		return utf8.Valid(b[i:])
	}
	return true
}

// readBigEndian reads an unsigned integer of 1, 2, 4 or 8 bytes.
func readBigEndian(p []byte) uint64 {
	switch len(p) {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(p))
	case 4:
		return uint64(binary.BigEndian.Uint32(p))
	}
	return binary.BigEndian.Uint64(p)
}
