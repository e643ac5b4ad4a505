package wire

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
)

// A binKey holds a bin map key, as a []byte cannot be a Go map key. It
// encodes as bin again.
type binKey string

// EncodeMsgpack writes k as bin.
func (k binKey) EncodeMsgpack(enc *msgpack.Encoder) error {
	return enc.EncodeBytes([]byte(k))
}

// decodeMsgpack decodes data into an any with the MessagePack library. Maps
// decode to map[any]any so that integer keys are kept; bin keys become
// binKeys.
func decodeMsgpack(data []byte) (any, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) {
		n, err := d.DecodeMapLen()
		if err != nil || n == -1 {
			return nil, err
		}
		m := make(map[any]any, n)
		for range n {
			k, err := d.DecodeInterface()
			if err != nil {
				return nil, err
			}
			if b, isBytes := k.([]byte); isBytes {
				k = binKey(b)
			}
			v, err := d.DecodeInterface()
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	})
	var v any
	err := dec.Decode(&v)
	return v, err
}

// decodeCBOR decodes data into an any with the CBOR library, nesting at most
// MaxDepth levels.
func decodeCBOR(data []byte) (any, error) {
	dm, err := cbor.DecOptions{MaxNestedLevels: MaxDepth}.DecMode()
	if err != nil {
		return nil, err
	}
	var v any
	err = dm.Unmarshal(data, &v)
	return v, err
}

// depthOf returns how deeply arrays and maps nest in a decoded value; a
// scalar has depth 0.
func depthOf(v any) int {
	deepest := 0
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			deepest = max(deepest, depthOf(e))
		}
	case map[any]any:
		for _, e := range v {
			deepest = max(deepest, depthOf(e))
		}
	case map[string]any:
		for _, e := range v {
			deepest = max(deepest, depthOf(e))
		}
	default:
		return 0
	}
	return deepest + 1
}

// A valueGen makes random values of the shapes Ferry records take.
type valueGen struct {
	r *rand.Rand
}

var genRunes = []rune("abcxyz019 _-\"\\/[]{}é€𝄞日本\u0000\u007f\u2028")

func (g valueGen) string() string {
	n := g.r.IntN(12)
	switch g.r.IntN(10) {
	case 0:
		n = 40 + g.r.IntN(300) // str8, str16 and their CBOR equivalents
	case 1:
		n = 0
	}
	var b strings.Builder
	for range n {
		b.WriteRune(genRunes[g.r.IntN(len(genRunes))])
	}
	return b.String()
}

func (g valueGen) time() time.Time {
	const minSec, maxSec = -62135596800, 253402300799 // years 0001 to 9999
	t := time.Unix(minSec+g.r.Int64N(maxSec-minSec), g.r.Int64N(1e9))
	switch g.r.IntN(4) {
	case 0:
		return t.In(time.FixedZone("", 5*3600+30*60))
	case 1:
		return t.In(time.FixedZone("", -7*3600))
	case 2:
		return t.UTC().Truncate(time.Second)
	}
	return t.UTC()
}

func (g valueGen) scalar() any {
	switch g.r.IntN(12) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return int64(g.r.IntN(300) - 40)
	case 3:
		return g.r.Int64() >> g.r.IntN(64) * int64(1-2*g.r.IntN(2))
	case 4:
		return g.r.Uint64()
	case 5:
		return g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(40)-20))
	case 6:
		return float32(g.r.NormFloat64())
	case 7:
		return []byte(g.string())
	case 8:
		return g.time()
	case 9:
		return math.MaxFloat64 * float64(1-2*g.r.IntN(2))
	}
	return g.string()
}

// value returns a random value whose arrays and maps nest at most levels
// deep.
func (g valueGen) value(levels int) any {
	if levels == 0 || g.r.IntN(3) != 0 {
		return g.scalar()
	}
	n := g.r.IntN(6)
	if g.r.IntN(8) == 0 {
		n = 15 + g.r.IntN(30) // around the small-map limit
	}
	switch g.r.IntN(3) {
	case 0:
		a := make([]any, n)
		for i := range a {
			a[i] = g.value(levels - 1)
		}
		return a
	case 1:
		m := make(map[int64]any, n)
		for range n {
			m[g.r.Int64N(1000)-500] = g.value(levels - 1)
		}
		return m
	}
	m := make(map[string]any, n)
	for range n {
		m[g.string()] = g.value(levels - 1)
	}
	return m
}

// nested returns levels arrays and maps, alternating, around a scalar.
func nested(levels int) any {
	var v any = "leaf"
	for i := range levels {
		if i%2 == 0 {
			v = []any{v}
		} else {
			v = map[string]any{"k": v}
		}
	}
	return v
}

// An encoder is one way a library writes values.
type encoder struct {
	name   string
	encode func(v any) ([]byte, error)
}

func msgpackEncoders() []encoder {
	with := func(configure func(*msgpack.Encoder)) func(any) ([]byte, error) {
		return func(v any) ([]byte, error) {
			var buf bytes.Buffer
			enc := msgpack.NewEncoder(&buf)
			configure(enc)
			err := enc.Encode(v)
			return buf.Bytes(), err
		}
	}
	return []encoder{
		{"default", msgpack.Marshal},
		{"compact", with(func(e *msgpack.Encoder) {
			e.UseCompactInts(true)
			e.UseCompactFloats(true)
		})},
		{"sorted", with(func(e *msgpack.Encoder) { e.SetSortMapKeys(true) })},
	}
}

func cborEncoders(t testing.TB) []encoder {
	t.Helper()
	mode := func(opts cbor.EncOptions) func(any) ([]byte, error) {
		em, err := opts.EncMode()
		if err != nil {
			t.Fatalf("cbor EncMode(%+v): %v", opts, err)
		}
		return em.Marshal
	}
	coreDet := cbor.CoreDetEncOptions()
	coreDet.Time, coreDet.TimeTag = cbor.TimeRFC3339Nano, cbor.EncTagRequired
	canonical := cbor.CanonicalEncOptions()
	canonical.Time, canonical.TimeTag = cbor.TimeUnixMicro, cbor.EncTagRequired
	preferred := cbor.PreferredUnsortedEncOptions()
	preferred.Time, preferred.TimeTag = cbor.TimeUnixDynamic, cbor.EncTagRequired
	return []encoder{
		{"default", cbor.Marshal},
		{"core deterministic, RFC 3339 tag", mode(coreDet)},
		{"canonical, epoch float tag", mode(canonical)},
		{"preferred, dynamic epoch tag", mode(preferred)},
		{"float16, epoch int tag", mode(cbor.EncOptions{ShortestFloat: cbor.ShortestFloat16, Time: cbor.TimeUnix, TimeTag: cbor.EncTagRequired})},
		{"RFC 3339 UTC tag", mode(cbor.EncOptions{Time: cbor.TimeRFC3339NanoUTC, TimeTag: cbor.EncTagRequired})},
	}
}

// TestLibraryOutputAccepted checks that what the MessagePack and CBOR
// libraries write, in every mode Ferry might use, passes the checks, and
// that the libraries then read it back.
func TestLibraryOutputAccepted(t *testing.T) {
	t.Parallel()
	formats := []struct {
		name     string
		encoders []encoder
		check    func([]byte) error
		next     func([]byte) (int, error)
		decode   func([]byte) (any, error)
	}{
		{"msgpack", msgpackEncoders(), CheckMsgpack, NextMsgpack, decodeMsgpack},
		{"cbor", cborEncoders(t), CheckCBOR, NextCBOR, decodeCBOR},
	}
	for _, f := range formats {
		for _, enc := range f.encoders {
			t.Run(f.name+"/"+enc.name, func(t *testing.T) {
				t.Parallel()
				g := valueGen{rand.New(rand.NewPCG(1, uint64(len(enc.name))))}
				values := []any{nested(MaxDepth), map[string]any{}, []any{}, ""}
				for range 400 {
					values = append(values, g.value(6))
				}
				for _, v := range values {
					data, err := enc.encode(v)
					if err != nil {
						t.Fatalf("encoding %#v: %v", v, err)
					}
					if err := f.check(data); err != nil {
						t.Fatalf("check(%s), encoded from %v: %v; want no error", shortHex(data), v, err)
					}
					if n, err := f.next(cat(data, data)); err != nil || n != len(data) {
						t.Fatalf("next(%s twice) = %d, %v; want %d, nil", shortHex(data), n, err, len(data))
					}
					if _, err := f.decode(data); err != nil {
						t.Fatalf("library decode of accepted %s: %v", shortHex(data), err)
					}
				}
				data, err := enc.encode(nested(MaxDepth + 1))
				if err != nil {
					t.Fatalf("encoding %d levels: %v", MaxDepth+1, err)
				}
				assertOutcome(t, data, f.check(data), problem.Invalid, "depth", -1)
			})
		}
	}
}

// TestCBORIndefiniteLibraryOutput checks indefinite-length items written by
// the CBOR library's streaming encoder.
func TestCBORIndefiniteLibraryOutput(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := cbor.NewEncoder(&buf)
	steps := []func() error{
		enc.StartIndefiniteMap,
		func() error { return enc.Encode("list") },
		enc.StartIndefiniteArray,
		func() error { return enc.Encode(1) },
		enc.StartIndefiniteTextString,
		func() error { return enc.Encode("héllo ") },
		func() error { return enc.Encode("wörld") },
		enc.EndIndefinite,
		enc.StartIndefiniteByteString,
		func() error { return enc.Encode([]byte{0, 1}) },
		enc.EndIndefinite,
		enc.EndIndefinite,
		func() error { return enc.Encode("k") },
		func() error { return enc.Encode(map[string]int{"a": 1}) },
		enc.EndIndefinite,
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("encoding step %d: %v", i, err)
		}
	}
	data := buf.Bytes()
	if err := CheckCBOR(data); err != nil {
		t.Fatalf("CheckCBOR(%s): %v; want no error", shortHex(data), err)
	}
	if _, err := decodeCBOR(data); err != nil {
		t.Fatalf("library decode of %s: %v", shortHex(data), err)
	}
}

// TestLargeMaps checks maps of 100 000 keys: distinct keys pass and one
// duplicate at the end is found, in time linear in the keys.
func TestLargeMaps(t *testing.T) {
	t.Parallel()
	const n = 100_000
	keys := make([]string, n)
	m := make(map[string]any, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("field_%07d", i)
		m[keys[i]] = i
	}
	formats := []struct {
		name   string
		encode func(any) ([]byte, error)
		check  func([]byte) error
	}{
		{"msgpack", msgpack.Marshal, CheckMsgpack},
		{"cbor", cbor.Marshal, CheckCBOR},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data, err := f.encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.check(data); err != nil {
				t.Fatalf("%d distinct keys: %v; want no error", n, err)
			}
			// Rename one key to another key's name: both are 14 bytes, so
			// the encoding stays well-formed.
			a, b := []byte(keys[n/3]), []byte(keys[n-7])
			i := bytes.Index(data, b)
			if i < 0 {
				t.Fatalf("key %s not found in the encoding", b)
			}
			dup := bytes.Clone(data)
			copy(dup[i:], a)
			assertOutcome(t, dup, f.check(dup), problem.Invalid, "duplicate_key", -1)
		})
	}
}
