package lru

import (
	"fmt"
	"testing"
)

func byLength(k string, v []byte) int { return len(k) + len(v) }

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := New(160, byLength) // room for eight entries of 3+17 bytes
	for i := range 8 {
		c.Put(fmt.Sprintf("k%02d", i), make([]byte, 17))
	}
	c.Get("k00") // now the most recently used
	for i := 8; i < 12; i++ {
		c.Put(fmt.Sprintf("k%02d", i), make([]byte, 17))
	}
	for k, kept := range map[string]bool{"k00": true, "k01": false, "k04": false, "k05": true, "k11": true} {
		if c.Contains(k) != kept {
			t.Errorf("Contains(%s) = %v, want %v", k, !kept, kept)
		}
	}
	if c.Len() != 8 || c.Bytes() != 160 {
		t.Errorf("Len %d, Bytes %d; want 8 entries, 160 bytes", c.Len(), c.Bytes())
	}
}

func TestPut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		first     int // size of the value put first at "k"
		second    int // size of the value put second at "k"
		wantKept  bool
		wantBytes int
	}{
		{"replace with a smaller value", 20, 5, true, 1 + 5},
		{"replace with a larger value", 5, 20, true, 1 + 20},
		{"replace with one too large to keep", 20, 200, false, 0},
		{"too large from the start", 200, 200, false, 0},
	}
	for _, tc := range tests {
		c := New(800, byLength) // an eighth is 100 bytes
		c.Put("k", make([]byte, tc.first))
		c.Put("k", make([]byte, tc.second))
		v, ok := c.Get("k")
		if ok != tc.wantKept || ok && len(v) != tc.second {
			t.Errorf("%s: Get = %d bytes, %v; want %d bytes, %v", tc.name, len(v), ok, tc.second, tc.wantKept)
		}
		if c.Bytes() != tc.wantBytes {
			t.Errorf("%s: Bytes = %d, want %d", tc.name, c.Bytes(), tc.wantBytes)
		}
	}
}

func TestNoBudgetKeepsNothing(t *testing.T) {
	t.Parallel()
	c := New(0, byLength)
	c.Put("k", nil)
	if c.Len() != 0 {
		t.Errorf("a cache with no budget kept %d entries", c.Len())
	}
}
