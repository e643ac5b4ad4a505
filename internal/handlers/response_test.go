package handlers

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHTTPDate formats as time.Format with http.TimeFormat does, across
// the years HTTP dates can hold and beyond them.
func TestHTTPDate(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	times := []time.Time{
		{},
		time.Date(2026, 12, 1, 16, 9, 5, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2027, 1, 1, 0, 30, 0, 0, berlin), // the day before in UTC
		time.Date(999, 2, 3, 4, 5, 6, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		times = append(times, time.Unix(rng.Int64N(253402300800), 0).In(berlin))
	}
	for _, tm := range times {
		if got, want := httpDate(tm), tm.UTC().Format(http.TimeFormat); got != want {
			t.Fatalf("httpDate(%v) = %q, want %q", tm, got, want)
		}
	}
}

func BenchmarkHTTPDate(b *testing.B) {
	tm := time.Date(2026, 12, 1, 16, 9, 5, 0, time.UTC)
	b.Run("Format", func(b *testing.B) {
		for b.Loop() {
			_ = tm.UTC().Format(http.TimeFormat)
		}
	})
	b.Run("httpDate", func(b *testing.B) {
		for b.Loop() {
			_ = httpDate(tm)
		}
	})
}

func TestWantedDigest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header []string
		want   string
	}{
		{nil, ""},
		{[]string{"sha-256=1"}, "sha-256"},
		{[]string{"sha-512=3, sha-256=1"}, "sha-512"},
		{[]string{"sha-256=1, sha-512=1"}, "sha-256"},
		{[]string{"sha-512=1", "sha-256=5"}, "sha-256"},
		{[]string{"SHA-512"}, "sha-512"},
		{[]string{"sha-256=0"}, ""},
		{[]string{"md5=10, sha-512=0, sha-256=2"}, "sha-256"},
		{[]string{"crc32=1"}, ""},
	}
	for _, tc := range tests {
		if got := wantedDigest(tc.header); got != tc.want {
			t.Errorf("wantedDigest(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestPreferMinimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefer []string
		want   bool
	}{
		{nil, false},
		{[]string{"return=minimal"}, true},
		{[]string{"return = minimal"}, true},
		{[]string{`return="minimal"`}, true},
		{[]string{"respond-async, return=minimal; foo=bar"}, true},
		{[]string{"wait=10", "Return=Minimal"}, true},
		{[]string{"return=representation"}, false},
		{[]string{"minimal"}, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPut, "/", nil)
		for _, v := range tc.prefer {
			r.Header.Add("Prefer", v)
		}
		if got := preferMinimal(r); got != tc.want {
			t.Errorf("preferMinimal(%q) = %v, want %v", tc.prefer, got, tc.want)
		}
	}
}
