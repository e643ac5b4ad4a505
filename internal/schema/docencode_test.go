package schema

import (
	"bytes"
	"math/rand"
	"reflect"
	"testing"

	"github.com/ferry-dev/ferry/internal/negotiate"
)

// TestPropertyEncodeLatest checks on random records of random schemas,
// as each format's decoder and Validate make them, that EncodeLatest gives
// the very bytes of WriteStored and MarshalBinary, over no stored document
// and over one, and that the record equals the view of what was stored.
func TestPropertyEncodeLatest(t *testing.T) {
	t.Parallel()
	cs := codecs(t)
	for seed := range int64(200) {
		// The CBOR codec writes the zero time as null: no zero times.
		g := &gen{r: rand.New(rand.NewSource(seed)), noZeroTime: true}
		s, def := randomSchema(t, g)
		v, _ := s.Version(1)
		var prev []byte
		for i := range 8 {
			c := cs[i%len(cs)]
			rec, err := roundTrip(v, c, g.randomRecord(t, s, def))
			if err != nil {
				t.Fatalf("seed %d: %s round trip: %v", seed, c.Name(), err)
			}
			doc, err := s.WriteStored(rec, 1, prev)
			if err != nil {
				t.Fatalf("seed %d: WriteStored = %v", seed, err)
			}
			want, err := doc.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.EncodeLatest(rec, 1, prev)
			if err != nil || !ok {
				t.Fatalf("seed %d record %d: EncodeLatest = %v, %v; want the document", seed, i, ok, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("seed %d record %d: EncodeLatest gave\n%x\nWriteStored and MarshalBinary give\n%x\nschema %s", seed, i, got, want, mustJSON(def))
			}
			// A write's response shows the record it was given as the view
			// of what was stored: they must not differ at all.
			view, err := s.MergeBase(doc, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rec, view) {
				t.Fatalf("seed %d record %d from %s: the record\n%+v\ndiffers from its stored view\n%+v", seed, i, c.Name(), rec, view)
			}
			prev = got
		}
	}
}

// TestEncodeLatestDeclines covers the writes EncodeLatest leaves to
// WriteStored.
func TestEncodeLatestDeclines(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, orderV1, orderV2)
	v1 := recordAt(t, s, 1, orderBodyV1)
	atV1 := mustWrite(t, s, v1, 1, nil)
	storedV2, err := atV1.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := s.View(atV1, 2)
	withKept := &Doc{Version: 2, Data: atV1.Data, Kept: map[string]any{"2.0": "x"}}
	kept, err := withKept.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	olderDoc := &Doc{Version: 1, Data: map[string]any{}}
	older, err := olderDoc.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body any
		from int
		prev []byte
	}{
		{"older body", v1, 1, nil},
		{"stored at an older version", latest, 2, older},
		{"stored with kept values", latest, 2, kept},
		{"stored damaged", latest, 2, storedV2[:len(storedV2)-3]},
		// [2, {"a": 1(5)}, {}]: framed well, but the decoder refuses tag 1.
		{"stored with a foreign tag", latest, 2, []byte{0x83, 0x02, 0xa1, 0x61, 'a', 0xc1, 0x05, 0xa0}},
	} {
		if _, ok, err := s.EncodeLatest(tc.body, tc.from, tc.prev); ok || err != nil {
			t.Errorf("%s: EncodeLatest = %v, %v; want it to decline", tc.name, ok, err)
		}
	}
	if _, ok, err := s.EncodeLatest(v1, 2, nil); ok || err == nil {
		t.Errorf("EncodeLatest of a version-1 record as version 2 = %v, %v; want an error", ok, err)
	}
}

// TestValidateNormalizesInsideObjects covers objects whose wire and record
// structs are the same type (all their fields containers, or all
// optional): their fields must still be checked for presence, and their
// times put in UTC, so that the record equals the view of what is stored.
func TestValidateNormalizesInsideObjects(t *testing.T) {
	t.Parallel()
	_, s := mustRegister(t, `{"name":"n","version":1,"fields":{
	  "items":{"type":"array","items":{"type":"object","fields":{"tags":{"type":"array","items":{"type":"string"}}}}},
	  "o":{"type":"object","optional":true,"fields":{"at":{"type":"time","optional":true}}}}}`)
	v := s.Latest()
	json := negotiate.NewJSONCodec()
	validate := func(body string) (any, error) {
		w := v.New()
		if err := json.Decode([]byte(body), w); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		return v.Validate(w, false)
	}
	_, err := validate(`{"items":[{"tags":[]},{}]}`)
	if got, want := fieldErrs(err), []fe{{"items[1].tags", "present", ""}}; !reflect.DeepEqual(got, want) {
		t.Errorf("an element missing a required array: Validate = %v %v, want %v", err, got, want)
	}
	rec, err := validate(`{"items":[{"tags":["a"]}],"o":{"at":"2024-01-01T10:00:00+02:00"}}`)
	if err != nil {
		t.Fatal(err)
	}
	stored, ok, err := s.EncodeLatest(rec, 1, nil)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	var d Doc
	if err := d.UnmarshalBinary(stored); err != nil {
		t.Fatal(err)
	}
	view, err := s.View(&d, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec, view) {
		t.Errorf("the record\n%+v\ndiffers from its stored view\n%+v", rec, view)
	}
}
