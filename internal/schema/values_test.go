package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestToFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want float64
		ok   bool
	}{
		{1.5, 1.5, true},
		{float32(0.5), 0.5, true},
		{int64(-3), -3, true},
		{uint64(math.MaxUint64), math.MaxUint64, true},
		{uint64(1) << 63, 1 << 63, true},
		{json.Number("2.5"), 2.5, true},
		{"1", 0, false},
		{true, 0, false},
	}
	for _, tt := range tests {
		got, ok := toFloat(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("toFloat(%#v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHasDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fields string
		want   bool
	}{
		{`{"n":{"type":"int"},"s":{"type":"string","optional":true}}`, false},
		{`{"n":{"type":"int","default":1}}`, true},
		{`{"o":{"type":"object","optional":true,"fields":{"b":{"type":"string","default":"x"}}}}`, true},
		{`{"a":{"type":"array","items":{"type":"object","fields":{"b":{"type":"bool","default":false}}}}}`, true},
		{`{"m":{"type":"map","values":{"type":"object","fields":{"b":{"type":"int"}}}}}`, false},
	}
	for i, tt := range tests {
		_, sc := mustRegister(t, fmt.Sprintf(`{"name":"d%d","version":1,"fields":%s}`, i, tt.fields))
		if got := sc.Latest().HasDefaults(); got != tt.want {
			t.Errorf("fields %s: HasDefaults() = %v, want %v", tt.fields, got, tt.want)
		}
	}
}

// TestEpochTime reads numbers as the CBOR decoder reads an untagged time.
func TestEpochTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		want string
		ok   bool
	}{
		{int64(0), "1970-01-01T00:00:00Z", true},
		{int64(1767225600), "2026-01-01T00:00:00Z", true},
		{int64(-1), "1969-12-31T23:59:59Z", true},
		{1.5, "1970-01-01T00:00:01.5Z", true},
		{-1.5, "1969-12-31T23:59:58.5Z", true},
		{math.NaN(), "", false},
		{math.Inf(1), "", false},
		{1e19, "", false},
		{"1", "", false},
	} {
		got, ok := epochTime(tc.in)
		if ok != tc.ok || ok && got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("epochTime(%v) = %v, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
