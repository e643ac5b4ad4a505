package pebblestore

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
		{"compressible", recordMeta{revision: 2, seq: 3, at: encodingTimes[0]}, bytes.Repeat([]byte(`{"sku":"SKU-1","qty":2}`), minCompressed/20)},
		{"incompressible", recordMeta{revision: 2, seq: 3, at: encodingTimes[0]}, noise(minCompressed + 300)},
		{"just too short to compress", recordMeta{revision: 2, seq: 3, at: encodingTimes[0]}, bytes.Repeat([]byte("x"), minCompressed-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := encodeRecord(tc.meta, packBody(tc.body))
			m, body, err := decodeBody(v)
			if err != nil {
				t.Fatalf("decodeRecord(encodeRecord(%+v)) error: %v", tc.meta, err)
			}
			saves := len(tc.body) >= minCompressed && len(v) < len(encodeRecord(tc.meta, packBody(nil)))+len(tc.body)*7/8
			if m.compressed != saves {
				t.Errorf("stored %d bytes of a %d-byte body compressed: %v, want %v", len(v), len(tc.body), m.compressed, saves)
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

// decodeBody decodes a record value and expands its body.
func decodeBody(v []byte) (recordMeta, []byte, error) {
	m, stored, err := decodeRecord(v)
	if err != nil {
		return m, nil, err
	}
	body, _, err := expand(m, stored)
	return m, body, err
}

// noise returns n bytes that do not compress.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func sameMeta(a, b recordMeta) bool {
	return a.deleted == b.deleted && a.revision == b.revision && a.seq == b.seq && a.at.Equal(b.at) &&
		a.version == b.version && bytes.Equal(a.op, b.op) && bytes.Equal(a.by, b.by) && bytes.Equal(a.extra, b.extra)
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := encodeRecord(recordMeta{revision: 1, seq: 1, at: encodingTimes[0]}, packBody([]byte("b")))
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
		{"record tombstone with body", decodeRecordErr, append(encodeRecord(recordMeta{deleted: true, revision: 1, at: encodingTimes[0]}, packBody(nil)), 'x')},
		{"record long field", decodeRecordErr, []byte{formatV1, 0, 1, 1, 0, 0, 0, 0xff, 0x01, 'a'}},
		{"record missing fields", decodeRecordErr, []byte{formatV1, 0, 1, 1, 0, 0, 0, 0}},
		{"record compressed body damaged", decodeRecordErr, append([]byte{formatV1, flagCompressed}, append(valid[2:len(valid)-1], 0x05, 0xfe, 0xfe, 0xfe)...)},
		{"record compressed body claiming too much", decodeRecordErr, append([]byte{formatV1, flagCompressed}, append(valid[2:len(valid)-1], 0x80, 0x80, 0x80, 0x80, 0x08)...)},
		{"record tombstone compressed", decodeRecordErr, append([]byte{formatV1, flagDeleted | flagCompressed}, valid[2:len(valid)-1]...)},
		{"record tombstone delta", decodeRecordErr, append([]byte{formatV1, flagDeleted | flagDelta}, valid[2:len(valid)-1]...)},
		{"record delta compressed", decodeRecordErr, append([]byte{formatV1, flagDelta | flagCompressed}, valid[2:]...)},
		{"record value as a delta", decodeRecordErr, append([]byte{formatV1, flagDelta}, valid[2:]...)},
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

func decodeRecordErr(b []byte) error { _, _, err := decodeBody(b); return err }
func decodeChangeErr(b []byte) error { _, err := decodeChange(b); return err }

// FuzzDecode feeds arbitrary bytes to every decoder: none may panic, and
// whatever one accepts must survive encoding and decoding again unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(encodeRecord(recordMeta{revision: 1, seq: 1, at: encodingTimes[0]}, packBody([]byte(`{"a":1}`))))
	f.Add(encodeRecord(recordMeta{deleted: true, revision: 9, seq: 1 << 50, at: encodingTimes[3]}, packBody(nil)))
	f.Add(encodeRecord(recordMeta{revision: 2, at: encodingTimes[0], version: 2, op: []byte("patch"), by: []byte("k"), extra: []byte{0}}, packBody([]byte("b"))))
	f.Add(encodeChange(changeValue{revision: 3, at: encodingTimes[4], op: "delete", id: "a.b~c"}))
	f.Add([]byte{})
	f.Add([]byte{formatV1})
	f.Add([]byte{formatV1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{formatV1, 3, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(encodeRecord(recordMeta{revision: 2, at: encodingTimes[0]}, packBody(bytes.Repeat([]byte("abc"), 100))))
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, body, err := decodeBody(in); err == nil {
			m2, body2, err := decodeBody(encodeRecord(m, packBody(body)))
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

func TestKeys(t *testing.T) {
	t.Parallel()
	t.Run("no schema's keys inside another's", func(t *testing.T) {
		t.Parallel()
		names := []string{"a", "ab", "a\x00", "b", string(make([]byte, 200)), "\x01a"}
		for _, a := range names {
			for _, b := range names {
				if a == b {
					continue
				}
				pa, pb := schemaPrefix(prefixRecord, a), schemaPrefix(prefixRecord, b)
				if bytes.HasPrefix(pb, pa) {
					t.Errorf("record prefix of %q is a prefix of that of %q", a, b)
				}
				if bytes.HasPrefix(historyKey("s", b, 1), historyPrefix("s", a)) {
					t.Errorf("history key of id %q lies under the history prefix of id %q", b, a)
				}
			}
		}
	})
	t.Run("ids and revisions sort", func(t *testing.T) {
		t.Parallel()
		ids := []string{"", "\x00", "a", "a\x00", "ab", "b", "\xff"}
		for i := 1; i < len(ids); i++ {
			if bytes.Compare(recordKey("s", ids[i-1]), recordKey("s", ids[i])) >= 0 {
				t.Errorf("record key of %q does not sort before that of %q", ids[i-1], ids[i])
			}
		}
		revs := []int64{1, 2, 255, 256, 1 << 40, math.MaxInt64}
		for i := 1; i < len(revs); i++ {
			if bytes.Compare(historyKey("s", "x", revs[i-1]), historyKey("s", "x", revs[i])) >= 0 {
				t.Errorf("history key of revision %d does not sort before that of %d", revs[i-1], revs[i])
			}
		}
	})
	t.Run("history key round trip", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			schema, id string
			rev        int64
		}{{"s", "a", 1}, {"", "", math.MaxInt64}, {"x\xff", "id with spaces", 77}} {
			s, id, rev, err := parseHistoryKey(historyKey(c.schema, c.id, c.rev))
			if err != nil || string(s) != c.schema || string(id) != c.id || rev != c.rev {
				t.Errorf("parseHistoryKey(historyKey(%q, %q, %d)) = %q, %q, %d, %v", c.schema, c.id, c.rev, s, id, rev, err)
			}
		}
	})
	t.Run("successor", func(t *testing.T) {
		t.Parallel()
		tests := []struct{ in, want []byte }{
			{[]byte("ab"), []byte("ac")},
			{[]byte{'a', 0xff}, []byte("b")},
			{[]byte{0xff, 0xff}, nil},
			{[]byte{}, nil},
		}
		for _, tc := range tests {
			if got := successor(tc.in); !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("successor(%x) = %x, want %x", tc.in, got, tc.want)
			}
		}
	})
}

func TestDecodeKeysRejects(t *testing.T) {
	t.Parallel()
	valid := historyKey("s", "id", 3)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"other prefix", append([]byte{prefixRecord}, valid[1:]...)},
		{"truncated revision", valid[:len(valid)-1]},
		{"long revision", append(bytes.Clone(valid), 0)},
		{"revision 0", historyKey("s", "id", 0)},
		{"name longer than key", []byte{prefixHistory, 0x7f, 'a'}},
		{"length in more bytes than needed", []byte{prefixHistory, 0x80, 0x00, 0x00, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30}},
		{"overlong varint", []byte{prefixHistory, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, _, err := parseHistoryKey(tc.in); err == nil {
				t.Errorf("parseHistoryKey(%x) succeeded, want an error", tc.in)
			}
		})
	}
	for _, in := range [][]byte{nil, make([]byte, 15), append(make([]byte, 8), 0x80, 0, 0, 0, 0, 0, 0, 0)} {
		if _, err := decodeCounters(in); err == nil {
			t.Errorf("decodeCounters(%x) succeeded, want an error", in)
		}
	}
}

// FuzzDecodeKeys feeds arbitrary bytes to the key and counter decoders:
// none may panic, and whatever one accepts must survive encoding and
// decoding again unchanged.
func FuzzDecodeKeys(f *testing.F) {
	f.Add(historyKey("s", "id", 1))
	f.Add(historyKey("", "", math.MaxInt64))
	f.Add(encodeCounters(counters{seq: 9, count: 3}))
	f.Add([]byte{prefixHistory})
	f.Add([]byte{prefixHistory, 0x80, 0x00, 0x00, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30})
	f.Add([]byte{prefixHistory, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		if s, id, rev, err := parseHistoryKey(in); err == nil {
			if k := historyKey(string(s), string(id), rev); !bytes.Equal(k, in) {
				t.Errorf("history key %x: re-encoded as %x", in, k)
			}
		}
		if c, err := decodeCounters(in); err == nil {
			if v := encodeCounters(c); !bytes.Equal(v, in) {
				t.Errorf("counters %x: re-encoded as %x", in, v)
			}
		}
	})
}
