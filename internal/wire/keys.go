package wire

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
)

// A keyClass says how two map keys are compared: integers and floats by
// value and strings by content, so that two encodings of one key are one
// key, and anything else by its encoded bytes.
type keyClass uint8

const (
	classInt   keyClass = iota + 1 // a non-negative integer
	classNeg                       // a negative integer
	classFloat                     // a float of any width
	classStr                       // a text string
	classBin                       // a byte string
	classRaw                       // any other scalar
)

// A keyRef locates one map key inside the data being checked.
type keyRef struct {
	// start and end delimit a string's content, or a raw key's encoding.
	// For a chunked string they delimit its chunks, heads included.
	start, end int
	// val holds a number: the value itself for classInt, its
	// two's-complement bits for classNeg, the bits of its float64 value,
	// with -0 as +0, for classFloat. For other classes it holds a
	// fingerprint of the bytes compared, so that most unequal keys differ
	// in val and are told apart without reading their bytes.
	val   uint64
	class keyClass
	// chunked marks an indefinite-length CBOR string.
	chunked bool
}

// smallMapKeys is how many keys a map may have before its duplicates are
// found through a hash set rather than by comparing with every earlier key.
// Up to this size the keys live on the stack and nothing is allocated.
const smallMapKeys = 16

// A keyList collects the keys of one map to find duplicates. A key is
// written in place, at slot, and then committed; keys are never copied on
// the way in, which matters as each copy of a freshly written keyRef stalls
// the processor.
type keyList struct {
	n int
	// seen has one bit set per key in small, picked by its val, so that
	// most new keys are known to be new without comparing.
	seen  uint64
	small [smallMapKeys]keyRef
	set   *keySet
	spare keyRef // the slot once small is full
}

// slot returns where the next key is to be written.
func (l *keyList) slot() *keyRef {
	if l.n < len(l.small) {
		return &l.small[l.n]
	}
	return &l.spare
}

// commit records the key written to slot and reports whether the map
// already had an equal key.
func (l *keyList) commit(data []byte) (duplicate bool) {
	if l.n < len(l.small) {
		k := &l.small[l.n]
		bit := uint64(1) << (k.val * 0x9e3779b97f4a7c15 >> 58)
		if l.seen&bit != 0 {
			for i := range l.small[:l.n] {
				if p := &l.small[i]; p.val == k.val && p.class == k.class && sameKey(data, p, k) {
					return true
				}
			}
		}
		l.seen |= bit
		l.n++
		return false
	}
	if l.set == nil {
		l.set = newKeySet(data, l.small[:])
	}
	return l.set.add(data, l.spare)
}

// A keySet is an open-addressing hash set of the keys of a large map. Its
// hash is seeded randomly per set, so that no body can be crafted to make
// its keys collide.
type keySet struct {
	seed maphash.Seed
	keys []keyRef
	// slots holds, for each used slot, the low 32 bits of the key's hash
	// in the high half and 1 + the key's index in keys in the low half; 0
	// marks an empty slot. Keeping the hash lets a lookup skip most
	// unequal keys and lets the table grow without hashing again.
	slots []uint64
}

// newKeySet returns a set holding keys, which must be distinct.
func newKeySet(data []byte, keys []keyRef) *keySet {
	s := &keySet{
		seed:  maphash.MakeSeed(),
		keys:  make([]keyRef, 0, 4*len(keys)),
		slots: make([]uint64, 8*len(keys)),
	}
	for _, k := range keys {
		s.add(data, k)
	}
	return s
}

// add inserts k and reports whether an equal key was already present, in
// which case the set is unchanged.
func (s *keySet) add(data []byte, k keyRef) (duplicate bool) {
	// Grow at half load so that probe sequences stay short.
	if 2*(len(s.keys)+1) > len(s.slots) {
		s.grow()
	}
	h := uint32(s.hash(data, &k))
	mask := uint32(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		slot := s.slots[i]
		if slot == 0 {
			s.keys = append(s.keys, k)
			s.slots[i] = uint64(h)<<32 | uint64(len(s.keys))
			return false
		}
		if uint32(slot>>32) == h && sameKey(data, &s.keys[uint32(slot)-1], &k) {
			return true
		}
	}
}

// grow doubles the table, placing every key by its stored hash.
func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint32(len(s.slots) - 1)
	for _, slot := range old {
		if slot == 0 {
			continue
		}
		i := uint32(slot>>32) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = slot
	}
}

// hash returns the hash of k, equal for equal keys however they are
// encoded.
func (s *keySet) hash(data []byte, k *keyRef) uint64 {
	if k.class <= classFloat {
		return maphash.Comparable(s.seed, [2]uint64{uint64(k.class), k.val})
	}
	// Mixing in the class keeps a text and a byte string with the same
	// content apart.
	mix := uint64(k.class) * 0x9e3779b97f4a7c15
	if !k.chunked {
		return maphash.Bytes(s.seed, data[k.start:k.end]) ^ mix
	}
	var h maphash.Hash
	h.SetSeed(s.seed)
	it := content(data, k)
	for b, ok := it.next(); ok; b, ok = it.next() {
		h.Write(b)
	}
	return h.Sum64() ^ mix
}

// sameKey reports whether a and b are the same key.
func sameKey(data []byte, a, b *keyRef) bool {
	if a.val != b.val || a.class != b.class {
		return false
	}
	if a.class <= classFloat {
		return true
	}
	if !a.chunked && !b.chunked {
		return a.end-a.start == b.end-b.start && string(data[a.start:a.end]) == string(data[b.start:b.end])
	}
	return sameContent(content(data, a), content(data, b))
}

// sameContent reports whether two chunk sequences concatenate to the same
// bytes, comparing them piece by piece without copying.
func sameContent(a, b chunkIter) bool {
	var x, y []byte
	for {
		for len(x) == 0 {
			next, ok := a.next()
			if !ok {
				break
			}
			x = next
		}
		for len(y) == 0 {
			next, ok := b.next()
			if !ok {
				break
			}
			y = next
		}
		if len(x) == 0 || len(y) == 0 {
			return len(x) == len(y)
		}
		n := min(len(x), len(y))
		if string(x[:n]) != string(y[:n]) {
			return false
		}
		x, y = x[n:], y[n:]
	}
}

// bytesKey returns the key of class classStr, classBin or classRaw whose
// bytes to compare are data[start:end].
func bytesKey(data []byte, class keyClass, start, end int) keyRef {
	return keyRef{class: class, start: start, end: end, val: fingerprint(data[start:end])}
}

// chunkedKey returns the key of the indefinite-length string of class
// classStr or classBin whose chunks are data[start:end]. Its fingerprint is
// that of the concatenated content, gathered from its first and last eight
// bytes.
func chunkedKey(data []byte, class keyClass, start, end int) keyRef {
	k := keyRef{class: class, start: start, end: end, chunked: true}
	total := 0
	it := content(data, &k)
	for b, ok := it.next(); ok; b, ok = it.next() {
		total += len(b)
	}
	var head, tail [8]byte
	n, off := 0, 0
	it = content(data, &k)
	for b, ok := it.next(); ok; b, ok = it.next() {
		n += copy(head[n:], b)
		for i, c := range b {
			if j := off + i - (total - len(tail)); j >= 0 {
				tail[j] = c
			}
		}
		off += len(b)
	}
	if total <= len(head) {
		k.val = fingerprint(head[:total])
	} else {
		k.val = mixFingerprint(binary.LittleEndian.Uint64(head[:]), binary.LittleEndian.Uint64(tail[:]), total)
	}
	return k
}

// fingerprint returns a cheap summary of b: equal contents have equal
// fingerprints, and contents that differ in length or in their first or
// last bytes rarely do. It reads every byte of content up to eight bytes
// long.
func fingerprint(b []byte) uint64 {
	n := len(b)
	switch {
	case n >= 8:
		return mixFingerprint(binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:]), n)
	case n >= 4:
		return mixFingerprint(uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[n-4:])), n)
	case n > 0:
		return mixFingerprint(uint64(b[0])|uint64(b[n/2])<<8|uint64(b[n-1])<<16, 0, n)
	}
	return mixFingerprint(0, 0, 0)
}

// mixFingerprint combines the first and last bytes of a content of length n.
func mixFingerprint(head, tail uint64, n int) uint64 {
	return head ^ bits.RotateLeft64(tail, 29) ^ uint64(n)*0x9e3779b97f4a7c15
}

// floatKey returns the key of a float, which must not be NaN. Zero is one
// key whatever its sign, as it is in a Go map.
func floatKey(f float64) keyRef {
	if f == 0 {
		f = 0
	}
	return keyRef{class: classFloat, val: math.Float64bits(f)}
}

// content returns an iterator over the content of a string key: its one
// piece, or the payloads of its chunks.
func content(data []byte, k *keyRef) chunkIter {
	if !k.chunked {
		return chunkIter{whole: data[k.start:k.end], single: true}
	}
	return chunkIter{data: data, pos: k.start, end: k.end}
}

// A chunkIter yields the payloads of the chunks of an indefinite-length
// CBOR string that has already been checked, or a single piece.
type chunkIter struct {
	data     []byte
	pos, end int
	whole    []byte
	single   bool
}

// next returns the next payload, or false when there is none.
func (it *chunkIter) next() ([]byte, bool) {
	if it.single {
		it.single = false
		return it.whole, true
	}
	if it.data == nil || it.pos >= it.end {
		return nil, false
	}
	n, head := cborArgument(it.data, it.pos)
	start := it.pos + head
	it.pos = start + int(n)
	return it.data[start:it.pos], true
}
