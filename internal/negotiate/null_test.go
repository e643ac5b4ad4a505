package negotiate

import "testing"

func TestMayHoldNull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		body   []byte
		want   bool
	}{
		{"json", []byte(`{"a":null}`), true},
		{"json", []byte(`{"a":1}`), false},
		{"msgpack", []byte{0x81, 0xa1, 'a', 0xc0}, true},
		{"msgpack", []byte{0x81, 0xa1, 'a', 0xa1, 0xc0}, false}, // the byte inside a string
		{"cbor", []byte{0xa1, 0x61, 'a', 0xf6}, true},
		{"cbor", []byte{0xa1, 0x61, 'a', 0x41, 0xf6}, false}, // the byte inside a byte string
		{"gob", []byte{0xc0, 0xf6}, false},
	}
	for _, tt := range tests {
		if got := MayHoldNull(tt.format, tt.body); got != tt.want {
			t.Errorf("MayHoldNull(%s, % x) = %v, want %v", tt.format, tt.body, got, tt.want)
		}
	}
}
