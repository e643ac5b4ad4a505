package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// A docReader decodes what appendCBOR writes. It is Ferry's own because
// decoding stored documents is on the path of every read that misses the
// representation cache and of every export, and a general CBOR library
// building maps by reflection cost more than half of an export's time.
// Stored documents are Ferry's own bytes, but a damaged file must give an
// error, never a panic or an allocation larger than the bytes: every
// length is checked against what is left, and nesting is bounded.
type docReader struct {
	b   []byte
	pos int
}

var errDocTruncated = errors.New("document truncated")

// head reads a data item's head: its major type and argument.
func (r *docReader) head() (major, info byte, arg uint64, err error) {
	if r.pos >= len(r.b) {
		return 0, 0, 0, errDocTruncated
	}
	c := r.b[r.pos]
	r.pos++
	major, info = c>>5, c&0x1f
	var n int
	switch {
	case info < 24:
		return major, info, uint64(info), nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		return 0, 0, 0, fmt.Errorf("unexpected byte %#x at offset %d", c, r.pos-1)
	}
	if len(r.b)-r.pos < n {
		return 0, 0, 0, errDocTruncated
	}
	switch n {
	case 1:
		arg = uint64(r.b[r.pos])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(r.b[r.pos:]))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(r.b[r.pos:]))
	default:
		arg = binary.BigEndian.Uint64(r.b[r.pos:])
	}
	r.pos += n
	return major, info, arg, nil
}

// take returns the next n bytes.
func (r *docReader) take(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.pos) {
		return nil, errDocTruncated
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

// value reads one value in plain form; with skip it only steps over it.
func (r *docReader) value(depth int, skip bool) (any, error) {
	if depth > 2*maxDepth {
		return nil, errors.New("document nested too deeply")
	}
	major, info, arg, err := r.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case 0, 1:
		// Nothing is boxed when skipping: a boxed number allocates.
		switch {
		case arg > math.MaxInt64:
			return nil, errors.New("integer out of range")
		case skip:
			return nil, nil
		case major == 0:
			return int64(arg), nil
		}
		return -1 - int64(arg), nil
	case 2:
		s, err := r.take(arg)
		if err != nil || skip {
			return nil, err
		}
		return append([]byte{}, s...), nil
	case 3:
		s, err := r.take(arg)
		if err != nil || skip {
			return nil, err
		}
		if !utf8.Valid(s) {
			return nil, errors.New("invalid UTF-8 in a string")
		}
		return string(s), nil
	case 4:
		if arg > uint64(len(r.b)-r.pos) {
			return nil, errDocTruncated
		}
		var out []any
		if !skip {
			out = make([]any, 0, arg)
		}
		for range arg {
			x, err := r.value(depth+1, skip)
			if err != nil {
				return nil, err
			}
			if !skip {
				out = append(out, x)
			}
		}
		if skip {
			return nil, nil
		}
		return out, nil
	case 5:
		return r.object(depth, arg, skip)
	case 6:
		if arg != 0 {
			return nil, fmt.Errorf("unexpected tag %d", arg)
		}
		_, _, n, err := r.head()
		if err != nil {
			return nil, err
		}
		s, err := r.take(n)
		if err != nil || skip {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return nil, fmt.Errorf("bad time %q", s)
		}
		return t.UTC(), nil
	}
	if skip {
		switch info {
		case 20, 21, 22, 25, 26, 27:
			return nil, nil
		}
	}
	switch info {
	case 20:
		return false, nil
	case 21:
		return true, nil
	case 22:
		return nil, nil
	case 25:
		return float16ToFloat64(uint16(arg)), nil
	case 26:
		return float64(math.Float32frombits(uint32(arg))), nil
	case 27:
		return math.Float64frombits(arg), nil
	}
	return nil, fmt.Errorf("unexpected simple value %d", info)
}

// skip steps over one data item, checking its framing but not its
// contents: what is stepped over is read properly later, or not used.
func (r *docReader) skip(depth int) error {
	if depth > 2*maxDepth {
		return errors.New("document nested too deeply")
	}
	major, info, arg, err := r.head()
	if err != nil {
		return err
	}
	switch major {
	case 0, 1:
		return nil
	case 2, 3:
		_, err := r.take(arg)
		return err
	case 4, 5:
		items := arg
		if major == 5 {
			if arg > uint64(len(r.b)-r.pos)/2 {
				return errDocTruncated
			}
			items = 2 * arg
		}
		if items > uint64(len(r.b)-r.pos) {
			return errDocTruncated
		}
		for range items {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case 6:
		return r.skip(depth + 1)
	}
	switch info {
	case 20, 21, 22, 25, 26, 27:
		return nil
	}
	return fmt.Errorf("unexpected simple value %d", info)
}

// object reads a map of n pairs with text keys.
func (r *docReader) object(depth int, n uint64, skip bool) (map[string]any, error) {
	if 2*n > uint64(len(r.b)-r.pos) {
		return nil, errDocTruncated
	}
	var out map[string]any
	if !skip {
		out = make(map[string]any, n)
	}
	for range n {
		major, _, kn, err := r.head()
		if err != nil {
			return nil, err
		}
		if major != 3 {
			return nil, errors.New("map key is not a string")
		}
		k, err := r.take(kn)
		if err != nil {
			return nil, err
		}
		x, err := r.value(depth+1, skip)
		if err != nil {
			return nil, err
		}
		if !skip {
			out[string(k)] = x
		}
	}
	return out, nil
}

// decodeDoc decodes [version, data, kept]; with skipData the data is
// stepped over and left nil.
func decodeDoc(b []byte, skipData bool) (*Doc, error) {
	r := docReader{b: b}
	v, err := r.docHeader()
	d := &Doc{Version: v}
	if err == nil {
		d.Data, err = r.member(skipData)
	}
	if err == nil {
		d.Kept, err = r.member(false)
	}
	if err == nil && r.pos != len(b) {
		err = fmt.Errorf("%d bytes after the document", len(b)-r.pos)
	}
	if err != nil {
		return nil, fmt.Errorf("schema: decode document: %w", err)
	}
	if len(d.Kept) == 0 {
		d.Kept = nil
	}
	return d, nil
}

// docHeader reads the start of a document, [version, …, and returns the
// version.
func (r *docReader) docHeader() (int, error) {
	major, _, n, err := r.head()
	if err != nil {
		return 0, err
	}
	if major != 4 || n != 3 {
		return 0, errors.New("not a three-member array")
	}
	major, _, v, err := r.head()
	if err != nil {
		return 0, err
	}
	if major != 0 || v < 1 || v > math.MaxInt32 {
		return 0, errors.New("the version is not a positive integer")
	}
	return int(v), nil
}

// member reads a map member of the document.
func (r *docReader) member(skip bool) (map[string]any, error) {
	major, _, n, err := r.head()
	if err != nil {
		return nil, err
	}
	if major != 5 {
		return nil, errors.New("member is not a map")
	}
	return r.object(1, n, skip)
}

// float16ToFloat64 widens an IEEE 754 half-precision float.
func float16ToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(frac+1024, exp-25)
}
