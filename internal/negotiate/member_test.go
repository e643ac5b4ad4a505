package negotiate

import "testing"

func TestStringMember(t *testing.T) {
	t.Parallel()
	jsonl, seq := NewJSONLinesCodec(NewJSONCodec()), NewJSONSeqCodec(NewJSONCodec())
	cborSeq, msgpackSeq := NewCBORSeqCodec(NewCBORCodec()), NewMsgpackSeqCodec(NewMsgpackCodec())
	tests := []struct {
		name  string
		c     StreamCodec
		value string
		want  string // "" when none is found
	}{
		{"json first", jsonl, `{"id":"a","data":{"x":1,"x":2}}`, "a"},
		{"json after a bad member", seq, `{"data":{"x":1,"x":2},"id":"b"}`, "b"},
		{"json id not text", jsonl, `{"id":7}`, ""},
		{"json not an object", jsonl, `["id","a"]`, ""},
		{"json cut short before the id", jsonl, `{"data":{"x":`, ""},
		{"cbor", cborSeq, "\xa2\x62id\x62c1\x64data\xa2\x61a\x01\x61a\x02", "c1"},
		{"cbor id not text", cborSeq, "\xa1\x62id\x01", ""},
		{"msgpack", msgpackSeq, "\x82\xa2id\xa2m1\xa4data\x82\xa1a\x01\xa1a\x02", "m1"},
		{"msgpack not a map", msgpackSeq, "\x92\xa2id\xa2m1", ""},
		{"gob", NewGobStreamCodec(NewGobCodec(nil)), "\x03\x04\x00\x01", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := StringMember(tc.c, []byte(tc.value), "id")
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("StringMember(%q) = %q, %v; want %q", tc.value, got, ok, tc.want)
			}
		})
	}
}
