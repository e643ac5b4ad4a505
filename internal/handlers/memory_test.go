package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssAnon reads the process's anonymous resident memory from
// /proc/self/status; bbolt's file-backed mmap pages do not count.
func rssAnon(tb testing.TB) int64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatalf("RssAnon line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	tb.Skip("no RssAnon in /proc/self/status")
	return 0
}

func heapInuse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestExportStreamsInConstantMemory imports 100,000 records and reads
// their export slowly, sampling the Go heap and the anonymous RSS while
// the server streams: memory must stay flat, not grow with the export.
// It does not run in parallel, so that what it measures is its own.
func TestExportStreamsInConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 100,000 records")
	}
	const total = 100_000
	const batch = 20_000
	s := MustServer(t, WithCacheBytes(0))
	s.MustRegister(t, `{"name":"row","version":1,"fields":{"label":{"type":"string"},"n":{"type":"int"},"pad":{"type":"string"}}}`)

	start := time.Now()
	// About 450 bytes an envelope: the whole export (some 45 MB) would not
	// fit in the bound below if the service held it.
	pad := strings.Repeat("p", 400)
	for b := 0; b < total/batch; b++ {
		var buf bytes.Buffer
		for i := b * batch; i < (b+1)*batch; i++ {
			fmt.Fprintf(&buf, `{"id":"r%06d","data":{"label":"row %d","n":%d,"pad":"%s"}}`+"\n", i, i, i, pad)
		}
		r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/row/_import", Body: buf.Bytes(),
			Header: hdr("Content-Type", "application/jsonl"), Bulk: b > 0})
		importSummary(t, r, batch, 0)
	}
	t.Logf("imported %d records in %v", total, time.Since(start))

	debug.FreeOSMemory()
	baseHeap, baseRSS := heapInuse(), rssAnon(t)
	res := s.Open(context.Background(), t, Call{Method: http.MethodGet, Path: "/v1/records/row/_export", Header: hdr("Accept", "application/jsonl")})
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("export: status %d", res.StatusCode)
	}
	sc := bufio.NewScanner(bufio.NewReaderSize(res.Body, 16<<10))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var maxHeap, maxRSS int64
	n := 0
	prev := ""
	readStart := time.Now()
	for sc.Scan() {
		var env struct {
			ID   string `json:"id"`
			Data struct {
				N int `json:"n"`
			} `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatalf("line %d %q: %v", n, sc.Bytes(), err)
		}
		if env.ID <= prev || env.Data.N != n {
			t.Fatalf("line %d: id %q after %q, n %d; want ids in order", n, env.ID, prev, env.Data.N)
		}
		prev = env.ID
		n++
		// Read slowly so that the server has to hold the stream open,
		// and sample memory along the way.
		if n%5000 == 0 {
			time.Sleep(50 * time.Millisecond)
			maxHeap = max(maxHeap, heapInuse()-baseHeap)
			maxRSS = max(maxRSS, rssAnon(t)-baseRSS)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("export read: %v", err)
	}
	if n != total {
		t.Fatalf("export has %d records, want %d", n, total)
	}
	t.Logf("read the export in %v; growth while streaming: heap in use %d KiB, RssAnon %d KiB", time.Since(readStart), maxHeap>>10, maxRSS>>10)
	const bound = 32 << 20
	if maxHeap > bound {
		t.Errorf("Go heap in use grew by %d MiB while streaming the export, want under %d MiB", maxHeap>>20, bound>>20)
	}
	if maxRSS > bound {
		t.Errorf("RssAnon grew by %d MiB while streaming the export, want under %d MiB", maxRSS>>20, bound>>20)
	}
}
