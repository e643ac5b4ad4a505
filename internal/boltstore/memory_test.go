//go:build linux

package boltstore

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
// memory after a collection. File-backed pages of bbolt's mmap are not
// counted: they belong to the page cache and the kernel reclaims them.
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
// them, checking that memory does not grow with the records scanned.
// It runs alone, since other tests' allocations would blur the numbers.
func TestScanMemoryFlat(t *testing.T) {
	const (
		records = 200_000
		batch   = 5_000
		page    = 1_000
		slack   = 4 << 20
	)
	if testing.Short() {
		t.Skip("writes 200k records")
	}
	ctx := context.Background()
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

	start = time.Now()
	var heap20, anon20 uint64
	seen, after := 0, ""
	for {
		recs, err := s.Scan(ctx, "mem", after, page)
		if err != nil {
			t.Fatalf("Scan(mem, %q, %d) error: %v", after, page, err)
		}
		seen += len(recs)
		if seen == records/5 {
			heap20, anon20 = memUsage(t)
		}
		if len(recs) < page {
			break
		}
		after = recs[len(recs)-1].ID
	}
	if seen != records {
		t.Fatalf("scan saw %d records, want %d", seen, records)
	}
	heap100, anon100 := memUsage(t)
	t.Logf("wrote %d records in %v, scanned in %v; heap %d → %d KiB, RssAnon %d → %d KiB",
		records, wrote.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), heap20>>10, heap100>>10, anon20>>10, anon100>>10)
	if heap100 > heap20+slack {
		t.Errorf("Go heap grew from %d to %d KiB between 20%% and 100%% of the scan, want under %d KiB growth", heap20>>10, heap100>>10, slack>>10)
	}
	if anon100 > anon20+slack {
		t.Errorf("RssAnon grew from %d to %d KiB between 20%% and 100%% of the scan, want under %d KiB growth", anon20>>10, anon100>>10, slack>>10)
	}
}

// MustCommitAll commits writes non-atomically and fails the test unless
// every one is applied.
func MustCommitAll(t testing.TB, s *Store, writes []Write) {
	t.Helper()
	res, err := s.Commit(context.Background(), writes, false)
	if err != nil {
		t.Fatalf("Commit of %d writes: %v", len(writes), err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("Commit write %d (%s/%s): %v", i, writes[i].Schema, writes[i].ID, r.Err)
		}
	}
}
