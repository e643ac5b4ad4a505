package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/klauspost/compress/s2"
)

// A record value is a compact header of varints followed by the opaque
// body, compressed or not (see flagCompressed), so that a read finds the
// metadata without parsing or expanding the body. The header also holds
// the history metadata of the revision, which makes a record value a
// complete history entry: when a revision is superseded its value moves to
// the history keyspace, with its body as the difference from the new body
// where that is smaller (see appendDelta), and a record that is only ever
// created writes no history key.
//
// The first byte is a format version, so that a later layout can be told
// apart from this one; values written before bodies were compressed have
// no compression flag and read as they are.
const formatV1 = 1

// Flags of a record value.
const (
	flagDeleted = 1 << iota
	// flagCompressed marks a body stored compressed with S2, an extension
	// of Snappy's format that encodes and decodes faster.
	flagCompressed
	// flagDelta marks a history entry whose body is stored as its
	// difference from the body of the revision after it (see
	// appendDelta). Record values never carry it.
	flagDelta
	knownFlags = flagDeleted | flagCompressed | flagDelta
)

// A body of at least minCompressed bytes is stored compressed when that
// saves at least an eighth of it. Every value passes through the
// write-ahead log and the memtable, and the CPU those take grows with the
// bytes; but compressing costs about as much per call at 1 KiB as the
// bytes it saves, and Pebble compresses the tables it writes anyway, which
// overwritten values never reach. Measured with 64 writers, 100 revisions
// kept and history stored as differences: at 1 KiB, a write cost
// 23.6–26.2 µs of CPU compressed against 18.9–20.9 µs not; at 8 KiB the
// two were even; at 64 KiB compressing halved it (94–140 µs against
// 200–248 µs).
const minCompressed = 8 << 10

var errCorrupt = errors.New("malformed stored value")

// Key prefixes. Each keyspace starts with its own byte; schema names,
// record ids and job ids that are followed by more key bytes carry a
// length prefix, so that no name's keys can be mistaken for another's.
const (
	prefixFormat   = 'F' // the format marker, a single key
	prefixLimit    = 'L' // the history limit the store last ran with
	prefixRecord   = 'r' // schema, id → record value
	prefixHistory  = 'h' // schema, id, revision → record value of that revision (see flagDelta)
	prefixChange   = 'c' // schema, sequence number → change value
	prefixCounters = 'n' // schema → last sequence number and live count
	prefixDef      = 'd' // schema, version → definition
	prefixMeta     = 'm' // schema → metadata
	prefixJob      = 'j' // job id → state
)

// formatMarker is the value of the format key, naming the layout above.
// Format 2 added history entries stored as differences (flagDelta); a
// store of format 1 is read as it is and marked as format 2 when opened,
// so that a release that cannot read differences refuses it.
var (
	formatMarker   = []byte("ferry pebblestore 2")
	formatMarkerV1 = []byte("ferry pebblestore 1")
)

var (
	keyFormat = []byte{prefixFormat}
	keyLimit  = []byte{prefixLimit}
)

// recordMeta is a record value's header. Its byte slices alias the value.
type recordMeta struct {
	deleted bool
	// compressed says the body is stored compressed; see expand.
	compressed bool
	// delta says the body is stored as a difference; see applyDelta.
	delta    bool
	revision int64
	seq      uint64
	at       time.Time
	version  int // the schema version the client wrote
	op, by   []byte
	extra    []byte
}

// changeValue is a change feed entry (its key holds the sequence number).
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

// A packedBody is a body in the form a record value holds it: compressed
// when that saves at least an eighth, else as it is.
type packedBody struct {
	bytes      []byte
	compressed bool
}

// packBody compresses body if it is long enough and that pays. Writers
// pack their bodies before they queue for the committer, which then only
// copies them.
func packBody(body []byte) packedBody {
	if len(body) < minCompressed {
		return packedBody{bytes: body}
	}
	if c := s2.Encode(nil, body); len(c) <= len(body)-len(body)/8 {
		return packedBody{bytes: c, compressed: true}
	}
	return packedBody{bytes: body}
}

// encodeRecord returns a record value: header, then body.
func encodeRecord(m recordMeta, body packedBody) []byte {
	b := make([]byte, 0, 2+8*binary.MaxVarintLen64+len(m.op)+len(m.by)+len(m.extra)+len(body.bytes))
	flags := byte(0)
	if m.deleted {
		flags |= flagDeleted
	}
	if body.compressed {
		flags |= flagCompressed
	}
	if m.delta {
		flags |= flagDelta
	}
	b = append(b, formatV1, flags)
	b = binary.AppendUvarint(b, uint64(m.revision))
	b = binary.AppendUvarint(b, m.seq)
	b = appendTime(b, m.at)
	b = binary.AppendVarint(b, int64(m.version))
	b = appendBytes(b, m.op)
	b = appendBytes(b, m.by)
	b = appendBytes(b, m.extra)
	return append(b, body.bytes...)
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

// decodeRecord parses a record value. The body is as stored, aliasing v:
// expand gives the body itself, and History a body stored as a difference.
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
		deleted:    flags&flagDeleted != 0,
		compressed: flags&flagCompressed != 0,
		delta:      flags&flagDelta != 0,
		revision:   r.revision(),
		seq:        r.uvarint(),
		at:         r.time(),
		version:    r.int(),
		op:         r.bytes(),
		by:         r.bytes(),
		extra:      r.bytes(),
	}
	if m.deleted && (len(r.b) > 0 || m.compressed || m.delta) || m.compressed && m.delta {
		r.fail()
	}
	if r.err != nil {
		return recordMeta{}, nil, r.err
	}
	return m, r.b, nil
}

// expand returns a record's body from the bytes decodeRecord gave after
// its header: those bytes themselves, or, for a body stored compressed, a
// new slice. fresh reports which. It refuses a body stored as a
// difference, which only History can rebuild.
func expand(m recordMeta, stored []byte) (body []byte, fresh bool, err error) {
	if m.delta {
		// Only History reads a delta, and it applies it itself.
		return nil, false, errCorrupt
	}
	if !m.compressed {
		return stored, false, nil
	}
	n, err := s2.DecodedLen(stored)
	// No write stores a larger body, so a damaged value cannot make a
	// read allocate without limit.
	if err != nil || n > maxBodyLen {
		return nil, false, errCorrupt
	}
	body, err = s2.Decode(make([]byte, n), stored)
	if err != nil {
		return nil, false, errCorrupt
	}
	return body, true, nil
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

// counters is the value of a schema's counters key.
type counters struct {
	seq   uint64 // the last sequence number
	count int64  // live records
}

func encodeCounters(c counters) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), c.seq)
	return binary.BigEndian.AppendUint64(b, uint64(c.count))
}

func decodeCounters(v []byte) (counters, error) {
	if len(v) != 16 {
		return counters{}, errCorrupt
	}
	c := counters{seq: binary.BigEndian.Uint64(v), count: int64(binary.BigEndian.Uint64(v[8:]))}
	if c.count < 0 {
		return counters{}, errCorrupt
	}
	return c, nil
}

// appendName appends a length-prefixed name.
func appendName(b []byte, name string) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	return append(b, name...)
}

// readName splits a length-prefixed name off the front of b. A length in
// more bytes than it needs is refused, since keys are compared as bytes
// and every name has exactly one key.
func readName(b []byte) (name, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k > 1 && b[k-1] == 0 || n > uint64(len(b)-k) {
		return nil, nil, errCorrupt
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// schemaPrefix returns the prefix of a schema's keys in one keyspace.
func schemaPrefix(prefix byte, schema string) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(schema)+binary.MaxVarintLen64+8)
	return appendName(append(b, prefix), schema)
}

// recordKey returns the key of a record. Within a schema, record keys sort
// in bytewise order of id, since the id is the key's unprefixed tail.
func recordKey(schema, id string) []byte {
	return append(schemaPrefix(prefixRecord, schema), id...)
}

// historyPrefix returns the prefix of one record's history keys.
func historyPrefix(schema, id string) []byte {
	return appendName(schemaPrefix(prefixHistory, schema), id)
}

// historyKey returns the key of one history entry; revisions sort in
// ascending order under the record's prefix.
func historyKey(schema, id string, revision int64) []byte {
	return binary.BigEndian.AppendUint64(historyPrefix(schema, id), uint64(revision))
}

// parseHistoryKey splits a history key into schema, id and revision.
func parseHistoryKey(k []byte) (schema, id []byte, revision int64, err error) {
	if len(k) == 0 || k[0] != prefixHistory {
		return nil, nil, 0, errCorrupt
	}
	schema, rest, err := readName(k[1:])
	if err != nil {
		return nil, nil, 0, err
	}
	id, rest, err = readName(rest)
	if err != nil || len(rest) != 8 {
		return nil, nil, 0, errCorrupt
	}
	rev := binary.BigEndian.Uint64(rest)
	if rev == 0 || rev > math.MaxInt64 {
		return nil, nil, 0, errCorrupt
	}
	return schema, id, int64(rev), nil
}

// changeKey returns the change feed key of a sequence number.
func changeKey(schema string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(schemaPrefix(prefixChange, schema), seq)
}

func countersKey(schema string) []byte { return schemaPrefix(prefixCounters, schema) }

// defKey returns the key of a schema version's definition; versions sort
// in ascending order under the schema's prefix.
func defKey(name string, version int) []byte {
	return binary.BigEndian.AppendUint32(schemaPrefix(prefixDef, name), uint32(version))
}

func metaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

func jobKey(id string) []byte { return append([]byte{prefixJob}, id...) }

// successor returns the least key greater than every key with the given
// prefix, the exclusive upper bound of an iteration over the prefix, or nil
// when there is none.
func successor(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
