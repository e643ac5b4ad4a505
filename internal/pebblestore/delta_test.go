package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
)

func TestDeltaRoundTrip(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("0123456789abcdef"), 64)
	edited := bytes.Clone(long)
	copy(edited[500:], "EDIT")
	tests := []struct {
		name       string
		old, newer []byte
		maxDelta   int // the longest the difference may be
	}{
		{"identical", long, long, 4},
		{"one field changed", long, edited, 8},
		{"appended to", long[:1000], long, 4},
		{"truncated", long, long[:1000], 30},
		{"prefix changed", append([]byte("X"), long[1:]...), long, 5},
		{"suffix changed", append(bytes.Clone(long[:len(long)-1]), 'X'), long, 5},
		{"both ends changed", []byte("A" + string(long[1:len(long)-1]) + "B"), long, len(long) + 4},
		{"old empty", []byte{}, long, 4},
		{"newer empty", long, []byte{}, len(long) + 4},
		{"both empty", nil, nil, 2},
		{"shorter than a word", []byte("abc"), []byte("abd"), 3},
		{"repeated bytes", bytes.Repeat([]byte("a"), 20), bytes.Repeat([]byte("a"), 19), 3},
		{"unrelated", noise(300), noise(301)[1:], 310},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			delta := appendDelta(nil, tc.old, tc.newer)
			if len(delta) > tc.maxDelta {
				t.Errorf("difference is %d bytes, want at most %d", len(delta), tc.maxDelta)
			}
			got, err := applyDelta(delta, tc.newer)
			if err != nil || !bytes.Equal(got, tc.old) {
				t.Errorf("applyDelta = %q, %v; want %q", got, err, tc.old)
			}
		})
	}
}

func TestCommonPrefixSuffix(t *testing.T) {
	t.Parallel()
	naivePrefix := func(a, b []byte) int {
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		return i
	}
	naiveSuffix := func(a, b []byte) int {
		i := 0
		for i < len(a) && i < len(b) && a[len(a)-1-i] == b[len(b)-1-i] {
			i++
		}
		return i
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a := make([]byte, rng.IntN(40))
		for i := range a {
			a[i] = byte(rng.IntN(3))
		}
		b := bytes.Clone(a)
		switch rng.IntN(3) {
		case 0:
			if len(b) > 0 {
				b[rng.IntN(len(b))] ^= 1
			}
		case 1:
			b = b[rng.IntN(len(b)+1):]
		default:
			b = append(b[:rng.IntN(len(b)+1)], a...)
		}
		if got, want := commonPrefix(a, b), naivePrefix(a, b); got != want {
			t.Fatalf("commonPrefix(%v, %v) = %d, want %d", a, b, got, want)
		}
		if got, want := commonSuffix(a, b), naiveSuffix(a, b); got != want {
			t.Fatalf("commonSuffix(%v, %v) = %d, want %d", a, b, got, want)
		}
	}
}

func TestApplyDeltaRejects(t *testing.T) {
	t.Parallel()
	newer := []byte("0123456789")
	tests := []struct {
		name  string
		delta []byte
	}{
		{"empty", nil},
		{"no suffix length", []byte{1}},
		{"prefix longer than the base", []byte{11, 0}},
		{"prefix and suffix overlapping", []byte{6, 5}},
		{"suffix overflowing", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"varint overlong", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := applyDelta(tc.delta, newer); !errors.Is(err, errCorrupt) {
				t.Errorf("applyDelta(%x) = %q, %v; want errCorrupt", tc.delta, got, err)
			}
		})
	}
}

// FuzzDelta checks that a difference gives back the body it was taken
// from, and that applying arbitrary bytes as one never panics.
func FuzzDelta(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":2}`), []byte(`{"a":1,"b":3}`))
	f.Add([]byte{}, []byte("x"))
	f.Add([]byte{6, 5, 'x'}, []byte("0123456789"))
	f.Fuzz(func(t *testing.T, old, newer []byte) {
		got, err := applyDelta(appendDelta(nil, old, newer), newer)
		if err != nil || !bytes.Equal(got, old) {
			t.Errorf("round trip of %q against %q gave %q, %v", old, newer, got, err)
		}
		if body, err := applyDelta(old, newer); err == nil && len(body) > len(old)+len(newer) {
			t.Errorf("applyDelta(%x, %q) made %d bytes from %d", old, newer, len(body), len(old)+len(newer))
		}
	})
}

// TestHistoryStoredAsDifferences checks that superseded revisions are
// stored as differences when that is smaller, as they are otherwise, and
// that History rebuilds every body either way.
func TestHistoryStoredAsDifferences(t *testing.T) {
	t.Parallel()
	// With the record cache, the committer takes the superseded body from
	// it; without, it expands the stored value.
	for _, cacheBytes := range []int{0, 1 << 20} {
		t.Run(fmt.Sprintf("cache %d", cacheBytes), func(t *testing.T) {
			t.Parallel()
			testHistoryStoredAsDifferences(t, cacheBytes)
		})
	}
}

func testHistoryStoredAsDifferences(t *testing.T, cacheBytes int) {
	ctx := context.Background()
	s := MustOpen(t, t.TempDir(), Options{HistoryLimit: 10, CacheBytes: cacheBytes})
	// Long enough to be stored compressed, so that differences are taken
	// from expanded bodies.
	base := strings.Repeat(`{"sku":"A-1","qty":3,"price":19.99},`, minCompressed/30)
	bodies := [][]byte{
		[]byte(base + "1"),              // rev 1: stored as a difference from rev 2
		[]byte(base + "2"),              // rev 2: deleted by rev 3, so stored whole
		nil,                             // rev 3: tombstone
		noise(2000),                     // rev 4: unrelated to rev 5, so stored whole
		[]byte(base),                    // rev 5: a difference from rev 6
		[]byte("X" + base[1:]),          // rev 6: a difference from rev 7
		[]byte("X" + base[1:] + "tail"), // rev 7: differs from rev 8 at both ends, so stored whole
		[]byte("Y" + base[1:] + "end"),  // rev 8: the record
	}
	for _, b := range bodies {
		MustCommitAll(t, s, []Write{{Schema: "s", ID: "x", IfRevision: AnyRevision, Body: b, Delete: b == nil}})
	}
	wantDelta := map[int64]bool{1: true, 2: false, 3: false, 4: false, 5: true, 6: true, 7: false}
	err := s.read(func(rd pebble.Reader) error {
		for rev, want := range wantDelta {
			v, closer, err := rd.Get(historyKey("s", "x", rev))
			if err != nil {
				return err
			}
			m, stored, err := decodeRecord(v)
			if err != nil {
				closer.Close()
				return err
			}
			if m.delta != want {
				t.Errorf("revision %d stored as a difference: %v, want %v", rev, m.delta, want)
			}
			if wantCompressed := rev == 2 || rev == 7; m.compressed != wantCompressed {
				t.Errorf("revision %d stored compressed: %v, want %v", rev, m.compressed, wantCompressed)
			}
			if m.delta && len(stored) > 8 {
				t.Errorf("revision %d: difference of %d bytes", rev, len(stored))
			}
			closer.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, "s", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != len(bodies) {
		t.Fatalf("History gave %d entries, want %d", len(h), len(bodies))
	}
	for i, e := range h {
		want := bodies[len(bodies)-1-i]
		if e.Revision != int64(len(bodies)-i) || !bytes.Equal(e.Body, want) || (e.Body == nil) != (want == nil) {
			t.Errorf("entry %d: revision %d body %.20q, want revision %d body %.20q", i, e.Revision, e.Body, len(bodies)-i, want)
		}
	}
}

// TestHistoryMissingBase checks that a difference whose newer revision is
// missing is reported as damage, not applied to the wrong body.
func TestHistoryMissingBase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := MustOpen(t, t.TempDir(), Options{})
	for _, b := range []string{"1", "2", "3"} {
		MustCommitAll(t, s, []Write{put("x", strings.Repeat("body ", 40)+b)})
	}
	if err := s.db.Delete(historyKey("s", "x", 2), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.cache.publish(s.nextView, nil, s.install)
	if h, err := s.History(ctx, "s", "x"); !errors.Is(err, errCorrupt) {
		t.Errorf("History = %d entries, %v; want errCorrupt", len(h), err)
	}
}

// TestOverwriteDamagedBody checks that a record whose stored body does not
// expand can still be replaced, its damaged value kept in the history as
// it is, and that the other writes of the request are not failed with it.
func TestOverwriteDamagedBody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := MustOpen(t, t.TempDir(), Options{})
	MustCommitAll(t, s, []Write{put("x", strings.Repeat(`{"k":"vvvvvvvv"},`, minCompressed/10))})
	v, err := getValue(s.db, recordKey("s", "x"))
	if err != nil {
		t.Fatal(err)
	}
	m, stored, err := decodeRecord(v)
	if err != nil || !m.compressed {
		t.Fatalf("stored value: compressed %v, %v; want a compressed body", m.compressed, err)
	}
	damaged := append(bytes.Clone(v[:len(v)-len(stored)]), 0x05, 0xfe, 0xfe, 0xfe)
	if err := s.db.Set(recordKey("s", "x"), damaged, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.cache.publish(s.nextView, nil, s.install)
	MustCommitAll(t, s, []Write{put("x", "repaired"), put("y", "unrelated")})
	if got, err := s.Get(ctx, "s", "x"); err != nil || string(got.Body) != "repaired" {
		t.Errorf("Get = %q, %v; want the replacement", got.Body, err)
	}
	kept, err := getValue(s.db, historyKey("s", "x", 1))
	if err != nil || !bytes.Equal(kept, damaged) {
		t.Errorf("history of revision 1 = %x, %v; want the damaged value as it was", kept, err)
	}
}

// TestOpenUpgradesFormat1 checks that a store of format 1, whose history
// holds no differences, opens and is marked as format 2.
func TestOpenUpgradesFormat1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(keyFormat, formatMarkerV1, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("Open of a format 1 store: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the upgrade: %v", err)
	}
	v, err := getValue(s.db, keyFormat)
	if err != nil || !bytes.Equal(v, formatMarker) {
		t.Errorf("format marker = %q, %v; want %q", v, err, formatMarker)
	}
}
