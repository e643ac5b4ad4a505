//go:build linux

package pebblestore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memUsage returns the Go heap in use and the process's anonymous resident
// memory after a collection.
func memUsage(t *testing.T) (heap, anon uint64) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parse RssAnon %q: %v", rest, err)
			}
			return ms.HeapInuse, kb << 10
		}
	}
	t.Fatal("no RssAnon in /proc/self/status")
	return 0, 0
}

// TestScanMemoryFlat writes many small records and pages through all of
// them twice: the first pass fills Pebble's block cache up to its bound,
// and during the second, memory must not grow with the records scanned.
// It runs alone, since other tests' allocations would blur the numbers.
func TestScanMemoryFlat(t *testing.T) {
	const (
		records = 200_000
		batch   = 5_000
		page    = 1_000
		slack   = 4 << 20
		// bound is what the store may hold in all: the block cache, two
		// memtables and Pebble's other buffers.
		bound = cacheSize + 2*memTableSize + 32<<20
	)
	if testing.Short() {
		t.Skip("writes 200k records")
	}
	ctx := context.Background()
	heap0, anon0 := memUsage(t)
	s := MustOpen(t, t.TempDir(), Options{HistoryLimit: 1})
	start := time.Now()
	writes := make([]Write, batch)
	at := time.Now()
	for i := 0; i < records; i += batch {
		for j := range writes {
			id := fmt.Sprintf("rec-%08d", i+j)
			writes[j] = Write{Schema: "mem", ID: id, IfRevision: AnyRevision, At: at,
				Body: fmt.Appendf(nil, `{"id":%q,"n":%d,"pad":"0123456789abcdef0123456789abcdef"}`, id, i+j)}
		}
		MustCommitAll(t, s, writes)
	}
	wrote := time.Since(start)

	scan := func(measure func()) {
		seen, after := 0, ""
		for {
			recs, err := s.Scan(ctx, "mem", after, page)
			if err != nil {
				t.Fatalf("Scan(mem, %q, %d) error: %v", after, page, err)
			}
			seen += len(recs)
			if seen == records/5 && measure != nil {
				measure()
			}
			if len(recs) < page {
				break
			}
			after = recs[len(recs)-1].ID
		}
		if seen != records {
			t.Fatalf("scan saw %d records, want %d", seen, records)
		}
	}
	scan(nil)
	start = time.Now()
	var heap20, anon20 uint64
	scan(func() { heap20, anon20 = memUsage(t) })
	heap100, anon100 := memUsage(t)
	t.Logf("wrote %d records in %v, scanned in %v; heap %d → %d → %d KiB, RssAnon %d → %d → %d KiB (before open, 20%%, 100%% of the second scan)",
		records, wrote.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
		heap0>>10, heap20>>10, heap100>>10, anon0>>10, anon20>>10, anon100>>10)
	if heap100 > heap20+slack {
		t.Errorf("Go heap grew from %d to %d KiB between 20%% and 100%% of the scan, want under %d KiB growth", heap20>>10, heap100>>10, slack>>10)
	}
	if anon100 > anon20+slack {
		t.Errorf("RssAnon grew from %d to %d KiB between 20%% and 100%% of the scan, want under %d KiB growth", anon20>>10, anon100>>10, slack>>10)
	}
	// The race detector's shadow memory grows with what the process
	// has touched, and counts as anonymous memory: under it only the
	// flatness above says anything.
	if anon100 > anon0+bound && !raceEnabled {
		t.Errorf("RssAnon grew from %d KiB before Open to %d KiB, want under %d KiB growth", anon0>>10, anon100>>10, bound>>10)
	}
}
