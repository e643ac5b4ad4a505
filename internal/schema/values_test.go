package schema

import (
	"encoding/json"
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
