package gobcheck

import (
	"bytes"
	"math"
	"unicode/utf8"
)

// smallMap is the largest map whose keys are checked for duplicates by
// comparing each pair rather than through a set.
const smallMap = 16

// value checks one value of type t. depth is the level a struct, slice or
// map at this position would have. e describes how the target type stores
// the value and is nil when no target is known or the decoder discards the
// value.
func (c *cursor) value(t *wtype, e *edge, depth int) error {
	if t.kind != kindStruct {
		c.values++
	}
	switch t.kind {
	case kindBool:
		off := c.off()
		v, err := c.uint()
		if err == nil && v > 1 {
			err = invalid("syntax", "the gob bool at byte %d is %d, not 0 or 1", off, v)
		}
		return err
	case kindInt, kindUint, kindFloat:
		_, err := c.uint()
		return err
	case kindString:
		return c.stringValue(e)
	case kindBytes, kindExternal:
		off := c.off()
		b, err := c.bytes(t.kind.String())
		if err == nil && e != nil && e.bytes {
			err = c.charge(int64(len(b)), off)
		}
		return err
	case kindStruct:
		return c.structValue(t, e, depth)
	case kindSlice:
		return c.sliceValue(t, e, depth)
	case kindMap:
		return c.mapValue(t, e, depth)
	}
	panic("gobcheck: value of unresolved type")
}

func (c *cursor) stringValue(e *edge) error {
	off := c.off()
	b, err := c.bytes("string")
	if err != nil {
		return err
	}
	if !utf8.Valid(b) {
		return invalid("utf8", "the gob string at byte %d is not valid UTF-8", off)
	}
	if e != nil && e.bytes {
		return c.charge(int64(len(b)), off)
	}
	return nil
}

func (c *cursor) enter(depth int) error {
	if depth > c.maxDepth {
		return invalid("depth", "the gob value at byte %d nests deeper than %d levels", c.off(), c.maxDepth)
	}
	return nil
}

func (c *cursor) structValue(t *wtype, e *edge, depth int) error {
	if err := c.enter(depth); err != nil {
		return err
	}
	var p *plan
	if e != nil {
		p = e.p
	}
	return c.eachField(len(t.fields), func(f int, off int64) error {
		var fe *edge
		if p != nil {
			fe = &p.fields[f]
			if fe.unknown {
				// Refused only when it holds something: a struct field
				// comes even when zero.
				before := c.values
				if err := c.value(t.fields[f].t, nil, depth+1); err != nil {
					return err
				}
				if c.values > before {
					return invalid("unknown_field", "the gob value at byte %d sets field %s, which the target type does not have", off, t.names[f])
				}
				return nil
			}
			if err := c.charge(fe.cost, off); err != nil {
				return err
			}
		}
		return c.value(t.fields[f].t, fe, depth+1)
	})
}

func (c *cursor) sliceValue(t *wtype, e *edge, depth int) error {
	if err := c.enter(depth); err != nil {
		return err
	}
	off := c.off()
	// Every element takes at least one byte.
	n, err := c.count("slice", 1)
	if err != nil {
		return err
	}
	var fe *edge
	if e != nil && e.p != nil {
		fe = &e.p.elem
		if err := c.charge(times(n, e.p.per), off); err != nil {
			return err
		}
	}
	for range n {
		if err := c.value(t.elem.t, fe, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *cursor) mapValue(t *wtype, e *edge, depth int) error {
	if err := c.enter(depth); err != nil {
		return err
	}
	off := c.off()
	// Every key and every value takes at least one byte.
	n, err := c.count("map", 2)
	if err != nil {
		return err
	}
	var ke, ve *edge
	if e != nil && e.p != nil {
		ke, ve = &e.p.key, &e.p.elem
		if err := c.charge(times(n, e.p.per), off); err != nil {
			return err
		}
	}
	// gob keeps the last of duplicate keys without a word, so the first
	// sighting of a duplicate is the only chance to report it.
	var small [smallMap][]byte
	var seen map[string]struct{}
	if n > smallMap {
		seen = make(map[string]struct{})
	}
	for i := range n {
		koff := c.off()
		if err := c.stringValue(ke); err != nil {
			return err
		}
		key := c.lastBytes(koff)
		if seen != nil {
			if _, dup := seen[string(key)]; dup {
				return duplicate(koff)
			}
			seen[string(key)] = struct{}{}
		} else {
			for _, k := range small[:i] {
				if bytes.Equal(k, key) {
					return duplicate(koff)
				}
			}
			small[i] = key
		}
		if err := c.value(t.elem.t, ve, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// lastBytes returns the content of the byte string that started at stream
// offset off and ends at the cursor.
func (c *cursor) lastBytes(off int64) []byte {
	start := int(off - c.base)
	_, w, _ := readUint(c.b[start:])
	return c.b[start+w : c.pos]
}

func duplicate(off int64) error {
	return invalid("duplicate", "the gob map key at byte %d repeats an earlier key", off)
}

// charge adds n bytes to the estimated allocation and fails once it
// exceeds the budget. Without a target type it is never called with n > 0.
func (c *cursor) charge(n, off int64) error {
	if n > c.budget-c.alloc {
		return invalid("length", "decoding the gob value would allocate more than %d bytes, by byte %d; its bytes do not justify that much memory", c.budget, off)
	}
	c.alloc += n
	return nil
}

// times returns n*size, saturating instead of overflowing.
func times(n int, size int64) int64 {
	if size > 0 && int64(n) > math.MaxInt64/size {
		return math.MaxInt64
	}
	return int64(n) * size
}
