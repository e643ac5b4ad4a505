package boltstore

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// A record value is a compact header of varints followed by the opaque
// body, so that a read finds the metadata without parsing or copying the
// body. The header also holds the history metadata of the revision, which
// makes a record value a complete history entry: when a revision is
// superseded its value moves to the history bucket as it is, and a record
// that is only ever created touches no history page.
//
// The first byte is a format version, so that a later layout can be told
// apart from this one.
const formatV1 = 1

// Flags of a record value.
const (
	flagDeleted = 1 << iota
	knownFlags  = flagDeleted
)

var errCorrupt = errors.New("malformed stored value")

// recordMeta is a record value's header. Its byte slices alias the value.
type recordMeta struct {
	deleted  bool
	revision int64
	seq      uint64
	at       time.Time
	version  int // the schema version the client wrote
	op, by   []byte
	extra    []byte
}

// changeValue is a change feed entry (its key is the sequence number).
type changeValue struct {
	revision int64
	at       time.Time
	op       string
	id       string
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// encodeRecord returns a record value: header, then body.
func encodeRecord(m recordMeta, body []byte) []byte {
	b := make([]byte, 0, 2+8*binary.MaxVarintLen64+len(m.op)+len(m.by)+len(m.extra)+len(body))
	flags := byte(0)
	if m.deleted {
		flags |= flagDeleted
	}
	b = append(b, formatV1, flags)
	b = binary.AppendUvarint(b, uint64(m.revision))
	b = binary.AppendUvarint(b, m.seq)
	b = appendTime(b, m.at)
	b = binary.AppendVarint(b, int64(m.version))
	b = appendBytes(b, m.op)
	b = appendBytes(b, m.by)
	b = appendBytes(b, m.extra)
	return append(b, body...)
}

// encodeChange returns a change feed value.
func encodeChange(c changeValue) []byte {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(c.op)+len(c.id))
	b = append(b, formatV1)
	b = binary.AppendUvarint(b, uint64(c.revision))
	b = appendTime(b, c.at)
	b = appendBytes(b, []byte(c.op))
	return append(b, c.id...)
}

// A reader decodes a header; the first error sticks, so callers check once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) revision() int64 {
	v := r.uvarint()
	if v == 0 || v > math.MaxInt64 {
		r.fail()
	}
	return int64(v)
}

func (r *reader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= uint64(time.Second) {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *reader) int() int {
	v := r.varint()
	if int64(int(v)) != v {
		r.fail()
	}
	return int(v)
}

// bytes returns a length-prefixed field, aliasing the input.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// decodeRecord parses a record value. The body aliases v.
func decodeRecord(v []byte) (recordMeta, []byte, error) {
	r := reader{b: v}
	if r.byte() != formatV1 {
		r.fail()
	}
	flags := r.byte()
	if flags&^knownFlags != 0 {
		r.fail()
	}
	m := recordMeta{
		deleted:  flags&flagDeleted != 0,
		revision: r.revision(),
		seq:      r.uvarint(),
		at:       r.time(),
		version:  r.int(),
		op:       r.bytes(),
		by:       r.bytes(),
		extra:    r.bytes(),
	}
	if m.deleted && len(r.b) > 0 {
		r.fail()
	}
	if r.err != nil {
		return recordMeta{}, nil, r.err
	}
	return m, r.b, nil
}

// decodeChange parses a change feed value.
func decodeChange(v []byte) (changeValue, error) {
	r := reader{b: v}
	if r.byte() != formatV1 {
		r.fail()
	}
	c := changeValue{
		revision: r.revision(),
		at:       r.time(),
		op:       string(r.bytes()),
	}
	if r.err != nil {
		return changeValue{}, r.err
	}
	c.id = string(r.b)
	return c, nil
}

// historyPrefix returns the key prefix of one record's history entries. The
// id is length-prefixed so that no id's prefix is another id's.
func historyPrefix(id string) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(id)+8)
	b = binary.AppendUvarint(b, uint64(len(id)))
	return append(b, id...)
}

// historyKey returns the key of one history entry; revisions sort in
// ascending order under the record's prefix.
func historyKey(id string, revision int64) []byte {
	return binary.BigEndian.AppendUint64(historyPrefix(id), uint64(revision))
}

// seqKey returns the change feed key of a sequence number.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func putUint64(v uint64) []byte { return seqKey(v) }

func getUint64(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, errCorrupt
	}
	return binary.BigEndian.Uint64(v), nil
}
