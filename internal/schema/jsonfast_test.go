package schema

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// TestAppendJSONFloatShortDecimals holds the shortcut for decimals of few
// digits to what strconv writes, across values it takes and values near
// them that it must leave to strconv.
func TestAppendJSONFloatShortDecimals(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var floats []float64
	for range 200_000 {
		m := rng.Int64N(2e15) - 1e15
		p := math.Pow10(rng.IntN(7))
		f := float64(m) / p
		floats = append(floats, f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1)))
		floats = append(floats, float64(rng.Int64N(100_000))/100, rng.NormFloat64()*1e6)
		floats = append(floats, math.Float64frombits(rng.Uint64()))
	}
	floats = append(floats, 0.1+0.2, 999999999999999, 1e15, 1e15-0.5, 99999999999999.99, 0.0001, 0.00015, -0.05, 1e-5, 123.4567)
	for _, f := range floats {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			continue // exponent notation, not the shortcut's
		}
		want := strconv.AppendFloat(nil, f, 'f', -1, 64)
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Fatalf("appendJSONFloat(%b) = %s, strconv writes %s", f, got, want)
		}
	}
	// The shortcut takes what it is for, products that round off the
	// integer included (0.07*100 is 7.000000000000001).
	for _, f := range []float64{12.34, -0.05, 0.07, 0.57, 19.99, 999999999999999, 1234.5678, 78602268117.9515, 3} {
		got, ok := appendShortDecimal(nil, f)
		if want := strconv.AppendFloat(nil, f, 'f', -1, 64); !ok || string(got) != string(want) {
			t.Errorf("appendShortDecimal(%v) = %s, %v; want %s, true", f, got, ok, want)
		}
	}
	sum := 0.1
	sum += 0.2 // 0.30000000000000004, at run time
	for _, f := range []float64{sum, 1e15, 0.00001, math.Copysign(0, -1), 1.0 / 3} {
		if got, ok := appendShortDecimal(nil, f); ok {
			t.Errorf("appendShortDecimal(%v) = %s, true; want it left to strconv", f, got)
		}
	}
}

// TestAppendQuotedPlain holds the shortcut for plain ASCII to what the
// JSON codec's quoting writes.
func TestAppendQuotedPlain(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := [][]byte{nil, []byte(""), []byte(`a"b`), []byte(`a\b`), []byte("<&>"), []byte("\x7f"), []byte("\x1f"), []byte("é"), []byte("\u2028"), {0xff}}
	for range 20_000 {
		s := make([]byte, rng.IntN(12))
		for i := range s {
			s[i] = byte(rng.IntN(0x90))
		}
		inputs = append(inputs, s)
	}
	for _, s := range inputs {
		want, wantErr := jsontext.AppendQuote(nil, s)
		got, err := appendQuoted(nil, s)
		if (err != nil) != (wantErr != nil) || err == nil && string(got) != string(want) {
			t.Fatalf("appendQuoted(%q) = %s, %v; jsontext writes %s, %v", s, got, err, want, wantErr)
		}
	}
}
