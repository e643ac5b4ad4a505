package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
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
