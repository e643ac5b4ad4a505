package schema

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/negotiate"
)

// writeDirect runs AppendJSON through a JSON Lines encoder and returns the
// line without its newline.
func writeDirect(s *Schema, stored []byte, version int) ([]byte, error) {
	var buf bytes.Buffer
	enc := negotiate.NewJSONLinesCodec(negotiate.NewJSONCodec()).NewEncoder(&buf).(negotiate.RawJSONEncoder)
	if err := enc.EncodeRaw(func(dst []byte) ([]byte, error) { return s.AppendJSON(dst, stored, version) }); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// TestPropertyAppendJSON checks, on random records of random schemas, that
// AppendJSON writes exactly what the JSON codec writes for View's record,
// or declines where View has work to do.
func TestPropertyAppendJSON(t *testing.T) {
	t.Parallel()
	codec := negotiate.NewJSONCodec()
	direct := 0
	for seed := range int64(200) {
		g := &gen{r: rand.New(rand.NewSource(seed))}
		s, def := randomSchema(t, g)
		for i := range 5 {
			rec := g.randomRecord(t, s, def)
			doc, err := s.Write(rec, 1, nil)
			if err != nil {
				t.Fatalf("seed %d: Write = %v", seed, err)
			}
			stored, err := doc.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			view, err := s.View(doc, 1)
			if err != nil {
				t.Fatalf("seed %d: View = %v", seed, err)
			}
			want, err := codec.Marshal(view)
			if err != nil {
				t.Fatalf("seed %d: Marshal = %v", seed, err)
			}
			got, err := writeDirect(s, stored, 1)
			if errors.Is(err, ErrNoDirectJSON) {
				continue
			}
			if err != nil {
				t.Fatalf("seed %d record %d: AppendJSON = %v\nschema %s", seed, i, err, mustJSON(def))
			}
			direct++
			if !bytes.Equal(got, want) {
				t.Fatalf("seed %d record %d: AppendJSON wrote\n%s\nthe codec writes\n%s\nschema %s", seed, i, got, want, mustJSON(def))
			}
		}
	}
	// Write fills defaults and keeps every field, so almost every stored
	// record is at its version and complete.
	if direct < 900 {
		t.Errorf("AppendJSON took %d of 1000 records directly, want at least 900", direct)
	}
}

// TestAppendJSONDeclines covers the documents AppendJSON leaves to View.
func TestAppendJSONDeclines(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t,
		`{"name":"d","version":1,"fields":{"a":{"type":"string"},"n":{"type":"int","default":7}}}`,
		`{"name":"d","version":2,"fields":{"a":{"type":"string"},"n":{"type":"int","default":7},"b":{"type":"bool","optional":true}},
		  "migrate":[{"op":"add","field":"b"}]}`)
	encode := func(d *Doc) []byte {
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name    string
		stored  []byte
		version int
		want    string // "" for ErrNoDirectJSON
	}{
		{"complete", encode(&Doc{Version: 2, Data: map[string]any{"a": "x", "n": int64(1)}}), 2, `{"a":"x","b":null,"n":1}`},
		{"older version", encode(&Doc{Version: 1, Data: map[string]any{"a": "x", "n": int64(1)}}), 2, ""},
		{"view below", encode(&Doc{Version: 2, Data: map[string]any{"a": "x", "n": int64(1)}}), 1, ""},
		{"default to fill", encode(&Doc{Version: 2, Data: map[string]any{"a": "x"}}), 2, ""},
		{"unknown key", encode(&Doc{Version: 2, Data: map[string]any{"a": "x", "n": int64(1), "z": true}}), 2, ""},
		{"wrong type", encode(&Doc{Version: 2, Data: map[string]any{"a": int64(3), "n": int64(1)}}), 2, ""},
		{"truncated", encode(&Doc{Version: 2, Data: map[string]any{"a": "x", "n": int64(1)}})[:6], 2, ""},
		{"not a document", []byte{0xf6}, 2, ""},
	}
	for _, tc := range cases {
		got, err := writeDirect(s, tc.stored, tc.version)
		switch {
		case tc.want == "" && !errors.Is(err, ErrNoDirectJSON):
			t.Errorf("%s: AppendJSON = %s, %v; want ErrNoDirectJSON", tc.name, got, err)
		case tc.want != "" && (err != nil || string(got) != tc.want):
			t.Errorf("%s: AppendJSON = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

// TestAppendJSONRepeatedMapKey: a damaged document whose map or object
// repeats a key is View's to show (it keeps one value), not written twice.
func TestAppendJSONRepeatedMapKey(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, `{"name":"m","version":1,"fields":{"m":{"type":"map","values":{"type":"int"}}}}`)
	// [1, {"m": {"k": 1, "k": 2}}, {}]
	stored := []byte{0x83, 0x01, 0xa1, 0x61, 'm', 0xa2, 0x61, 'k', 0x01, 0x61, 'k', 0x02, 0xa0}
	if got, err := writeDirect(s, stored, 1); !errors.Is(err, ErrNoDirectJSON) {
		t.Errorf("AppendJSON = %s, %v; want ErrNoDirectJSON", got, err)
	}
	// The same of an object's field: [1, {"a": 1, "a": 2}, {}].
	_, s = mustRegister(t, `{"name":"o","version":1,"fields":{"a":{"type":"int"},"b":{"type":"int","optional":true}}}`)
	stored = []byte{0x83, 0x01, 0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02, 0xa0}
	if got, err := writeDirect(s, stored, 1); !errors.Is(err, ErrNoDirectJSON) {
		t.Errorf("AppendJSON of a repeated field = %s, %v; want ErrNoDirectJSON", got, err)
	}
}

func TestCanonicalTime(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"2026-11-30T17:45:12Z":            true,
		"2026-11-30T17:45:12.5Z":          true,
		"2026-11-30T17:45:12.123456789Z":  true,
		"0001-01-01T00:00:00Z":            true,
		"2026-11-30T17:45:12.50Z":         false, // RFC3339Nano drops trailing zeros
		"2026-11-30T17:45:12.Z":           false,
		"2026-11-30T17:45:12+01:00":       false,
		"12026-11-30T17:45:12Z":           false,
		"2026-11-30 17:45:12Z":            false,
		"2026-11-30T17:45:12.1234567890Z": false,
		"2026-00-30T17:45:12Z":            false,
		"2026-02-29T17:45:12Z":            false,
		"2024-02-29T17:45:12Z":            true,
		"2100-02-29T17:45:12Z":            false,
		"2000-02-29T17:45:12Z":            true,
		"2026-04-31T17:45:12Z":            false,
		"2026-11-30T24:00:00Z":            false,
		"2026-11-30T23:60:00Z":            false,
		"2026-11-30T23:59:60Z":            false,
	} {
		if got := canonicalTime([]byte(s)); got != want {
			t.Errorf("canonicalTime(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzAppendJSON holds AppendJSON to never panic on damaged documents, and,
// whenever it writes one, to write what the JSON codec writes for View's
// record of it.
func FuzzAppendJSON(f *testing.F) {
	s := addDocSeeds(f)
	latest := s.Latest().Number()
	codec := negotiate.NewJSONCodec()
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := writeDirect(s, b, latest)
		if err != nil {
			return
		}
		var doc Doc
		if err := doc.UnmarshalBinary(b); err != nil {
			t.Fatalf("AppendJSON wrote %s from a document the decoder refuses: %v", got, err)
		}
		view, err := s.View(&doc, latest)
		if err != nil {
			t.Fatalf("AppendJSON wrote %s from a document View refuses: %v", got, err)
		}
		want, err := codec.Marshal(view)
		if err != nil {
			t.Fatalf("AppendJSON wrote %s from a record the codec refuses: %v", got, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON wrote\n%s\nthe codec writes\n%s", got, want)
		}
	})
}

func TestAppendJSONFloat(t *testing.T) {
	t.Parallel()
	codec := negotiate.NewJSONCodec()
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 5e-324,
		1e20, 1e21, 123456789e13, 1.7976931348623157e308, -2.5e-10, 12.5, 1 << 53, 1<<53 + 2} {
		// A record's float field, not a schemaless float, which gains ".0".
		want, err := codec.Marshal(&struct {
			F float64 `json:"f"`
		}{f})
		if err != nil {
			t.Fatal(err)
		}
		want = bytes.TrimSuffix(bytes.TrimPrefix(want, []byte(`{"f":`)), []byte("}"))
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Errorf("appendJSONFloat(%v) = %s, the codec writes %s", f, got, want)
		}
	}
}

// TestAppendJSONObjects covers what object reads: objects of more fields
// than it keeps on the stack, keys out of the document's order, and nulls
// of optional and required fields.
func TestAppendJSONObjects(t *testing.T) {
	t.Parallel()
	codec := negotiate.NewJSONCodec()
	var fields []string
	data := make(map[string]any)
	for i := range 40 {
		name := fmt.Sprintf("f%02d", i)
		fields = append(fields, fmt.Sprintf(`%q:{"type":"int"}`, name))
		data[name] = int64(i * i)
	}
	_, wide := mustRegister(t, `{"name":"w","version":1,"fields":{`+strings.Join(fields, ",")+`}}`)
	doc := &Doc{Version: 1, Data: data}
	stored, err := doc.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	view, err := wide.View(doc, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, err := codec.Marshal(view)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := writeDirect(wide, stored, 1); err != nil || !bytes.Equal(got, want) {
		t.Errorf("AppendJSON of 40 fields = %s, %v; want %s", got, err, want)
	}

	_, s := mustRegister(t, `{"name":"o","version":1,"fields":{"a":{"type":"int"},"b":{"type":"int","optional":true}}}`)
	cases := []struct {
		name   string
		stored []byte // [1, {…}, {}]
		want   string // "" for ErrNoDirectJSON
	}{
		{"in order", []byte{0x83, 0x01, 0xa2, 0x61, 'a', 0x01, 0x61, 'b', 0x02, 0xa0}, `{"a":1,"b":2}`},
		{"optional absent", []byte{0x83, 0x01, 0xa1, 0x61, 'a', 0x01, 0xa0}, `{"a":1,"b":null}`},
		{"optional null", []byte{0x83, 0x01, 0xa2, 0x61, 'a', 0x01, 0x61, 'b', 0xf6, 0xa0}, `{"a":1,"b":null}`},
		{"required null", []byte{0x83, 0x01, 0xa2, 0x61, 'a', 0xf6, 0x61, 'b', 0x02, 0xa0}, ""},
		{"out of order", []byte{0x83, 0x01, 0xa2, 0x61, 'b', 0x02, 0x61, 'a', 0x01, 0xa0}, ""},
		{"more members than fields", []byte{0x83, 0x01, 0xa3, 0x61, 'a', 0x01, 0x61, 'b', 0x02, 0x61, 'c', 0x03, 0xa0}, ""},
	}
	for _, tc := range cases {
		got, err := writeDirect(s, tc.stored, 1)
		switch {
		case tc.want == "" && !errors.Is(err, ErrNoDirectJSON):
			t.Errorf("%s: AppendJSON = %s, %v; want ErrNoDirectJSON", tc.name, got, err)
		case tc.want != "" && (err != nil || string(got) != tc.want):
			t.Errorf("%s: AppendJSON = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}
