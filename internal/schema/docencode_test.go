package schema

import (
	"bytes"
	"reflect"
	"testing"
)

// TestPropertyEncodeLatest checks on random records of random schemas that
// EncodeLatest gives the very bytes of WriteStored and MarshalBinary, over
// no stored document and over one.
func TestPropertyEncodeLatest(t *testing.T) {
	t.Parallel()
	for seed := range int64(200) {
		g, s, def := randomSchema(t, seed)
		var prev []byte
		for i := range 4 {
			rec := g.randomRecord(t, s, def)
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
			view, err := s.View(doc, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rec, view) {
				t.Fatalf("seed %d record %d: the record\n%+v\ndiffers from its stored view\n%+v", seed, i, rec, view)
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
	} {
		if _, ok, err := s.EncodeLatest(tc.body, tc.from, tc.prev); ok || err != nil {
			t.Errorf("%s: EncodeLatest = %v, %v; want it to decline", tc.name, ok, err)
		}
	}
	if _, ok, err := s.EncodeLatest(v1, 2, nil); ok || err == nil {
		t.Errorf("EncodeLatest of a version-1 record as version 2 = %v, %v; want an error", ok, err)
	}
}
