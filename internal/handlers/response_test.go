package handlers

import (
	"math/rand/v2"
	"net/http"
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
