package boltstore

import (
	"bytes"
	"math"
	"testing"
	"time"
)

var encodingTimes = []time.Time{
	time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
	time.Unix(0, 0).UTC(),
	time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	time.Date(1600, 1, 1, 0, 0, 0, 1, time.UTC),
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		meta recordMeta
		body []byte
	}{
		{"live", recordMeta{revision: 1, seq: 1, at: encodingTimes[0], version: 3, op: []byte("patch"), by: []byte("key-1"), extra: []byte{1, 2}}, []byte(`{"a":1}`)},
		{"empty body", recordMeta{revision: 7, seq: 1 << 40, at: encodingTimes[1], op: []byte("create")}, nil},
		{"tombstone", recordMeta{deleted: true, revision: math.MaxInt64, seq: math.MaxUint64, at: encodingTimes[2], version: -1, op: []byte("delete"), by: []byte("ü")}, nil},
		{"far future", recordMeta{revision: 2, seq: 3, at: encodingTimes[3]}, []byte{0, 1, 2}},
		{"before 1678", recordMeta{revision: 2, seq: 3, at: encodingTimes[4]}, bytes.Repeat([]byte("x"), 5000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, body, err := decodeRecord(encodeRecord(tc.meta, tc.body))
			if err != nil {
				t.Fatalf("decodeRecord(encodeRecord(%+v)) error: %v", tc.meta, err)
			}
			if !sameMeta(m, tc.meta) {
				t.Errorf("meta = %+v, want %+v", m, tc.meta)
			}
			if !bytes.Equal(body, tc.body) {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
		})
	}
}

func sameMeta(a, b recordMeta) bool {
	return a.deleted == b.deleted && a.revision == b.revision && a.seq == b.seq && a.at.Equal(b.at) &&
		a.version == b.version && bytes.Equal(a.op, b.op) && bytes.Equal(a.by, b.by) && bytes.Equal(a.extra, b.extra)
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := encodeRecord(recordMeta{revision: 1, seq: 1, at: encodingTimes[0]}, []byte("b"))
	tests := []struct {
		name   string
		decode func([]byte) error
		in     []byte
	}{
		{"record empty", decodeRecordErr, nil},
		{"record other format", decodeRecordErr, append([]byte{2}, valid[1:]...)},
		{"record unknown flag", decodeRecordErr, append([]byte{formatV1, 0x80}, valid[2:]...)},
		{"record revision 0", decodeRecordErr, []byte{formatV1, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"record truncated", decodeRecordErr, valid[:4]},
		{"record nanoseconds overflow", decodeRecordErr, []byte{formatV1, 0, 1, 1, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0, 0, 0, 0}},
		{"record tombstone with body", decodeRecordErr, append(encodeRecord(recordMeta{deleted: true, revision: 1, at: encodingTimes[0]}, nil), 'x')},
		{"record long field", decodeRecordErr, []byte{formatV1, 0, 1, 1, 0, 0, 0, 0xff, 0x01, 'a'}},
		{"record missing fields", decodeRecordErr, []byte{formatV1, 0, 1, 1, 0, 0, 0, 0}},
		{"change empty", decodeChangeErr, nil},
		{"change revision overflow", decodeChangeErr, []byte{formatV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0}},
		{"change varint overlong", decodeChangeErr, []byte{formatV1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.decode(tc.in); err == nil {
				t.Errorf("decoding %x succeeded, want an error", tc.in)
			}
		})
	}
}

func decodeRecordErr(b []byte) error { _, _, err := decodeRecord(b); return err }
func decodeChangeErr(b []byte) error { _, err := decodeChange(b); return err }

// FuzzDecode feeds arbitrary bytes to every decoder: none may panic, and
// whatever one accepts must survive encoding and decoding again unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(encodeRecord(recordMeta{revision: 1, seq: 1, at: encodingTimes[0]}, []byte(`{"a":1}`)))
	f.Add(encodeRecord(recordMeta{deleted: true, revision: 9, seq: 1 << 50, at: encodingTimes[3]}, nil))
	f.Add(encodeRecord(recordMeta{revision: 2, at: encodingTimes[0], version: 2, op: []byte("patch"), by: []byte("k"), extra: []byte{0}}, []byte("b")))
	f.Add(encodeChange(changeValue{revision: 3, at: encodingTimes[4], op: "delete", id: "a.b~c"}))
	f.Add([]byte{})
	f.Add([]byte{formatV1})
	f.Add([]byte{formatV1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{formatV1, 3, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, body, err := decodeRecord(in); err == nil {
			m2, body2, err := decodeRecord(encodeRecord(m, body))
			if err != nil || !sameMeta(m, m2) || !bytes.Equal(body, body2) {
				t.Errorf("record %x: round trip gave %+v %q %v, want %+v %q", in, m2, body2, err, m, body)
			}
		}
		if c, err := decodeChange(in); err == nil {
			c2, err := decodeChange(encodeChange(c))
			if err != nil || c2.revision != c.revision || !c2.at.Equal(c.at) || c2.op != c.op || c2.id != c.id {
				t.Errorf("change %x: round trip gave %+v %v, want %+v", in, c2, err, c)
			}
		}
	})
}
