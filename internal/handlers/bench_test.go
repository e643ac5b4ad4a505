//go:build linux

package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/app"
)

// benchRecords is how many records the handler benchmarks read and write.
const benchRecords = 1000

// benchService opens the service as cmd/api does, with the benchmark
// record's schema and benchRecords records stored, and returns its handler.
func benchService(b *testing.B) (http.Handler, []byte) {
	b.Helper()
	service, err := app.Open(context.Background(), app.Config{
		DataDir:    b.TempDir(),
		CacheBytes: 64 << 20,
		Logger:     zerolog.Nop(),
		Version:    "bench",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		service.Shutdown()
		if err := service.Close(); err != nil {
			b.Error(err)
		}
	})
	def, err := os.ReadFile("../../bench/testdata/order.schema.json")
	if err != nil {
		b.Fatal(err)
	}
	record, err := os.ReadFile("../../bench/testdata/order.json")
	if err != nil {
		b.Fatal(err)
	}
	h := service.Handler
	serve(b, h, http.MethodPost, "/v1/schemas", def, http.StatusCreated, "Content-Type", "application/json")
	var lines bytes.Buffer
	for i := range benchRecords {
		fmt.Fprintf(&lines, `{"id":"b%d","data":%s}`+"\n", i, record)
	}
	serve(b, h, http.MethodPost, "/v1/records/order/_import", lines.Bytes(), http.StatusOK, "Content-Type", "application/jsonl")
	return h, record
}

// serve sends one request to h and checks its status.
func serve(b *testing.B, h http.Handler, method, path string, body []byte, status int, kv ...string) {
	b.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != status {
		b.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, status, rec.Body)
	}
}

// discardWriter is the least a ResponseWriter can be, so that the
// benchmarks measure the handlers rather than a recorder.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) { w.status = code }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.header)
	w.status, w.n = 0, 0
}

// BenchmarkGetRecord is what Ferry adds to net/http for a read served from
// its caches: middleware, routing, negotiation, the record and
// representation caches and the response's headers, in each format.
func BenchmarkGetRecord(b *testing.B) {
	h, _ := benchService(b)
	for _, accept := range []string{"application/json", "application/vnd.msgpack", "application/cbor", "application/gob"} {
		b.Run(accept, func(b *testing.B) {
			reqs := make([]*http.Request, benchRecords)
			for i := range reqs {
				reqs[i] = httptest.NewRequest(http.MethodGet, fmt.Sprintf("/v1/records/order/b%d", i), nil)
				reqs[i].Header.Set("Accept", accept)
			}
			w := &discardWriter{header: make(http.Header)}
			for _, req := range reqs { // encoded once, then served from the cache
				w.reset()
				h.ServeHTTP(w, req)
			}
			i := 0
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, reqs[i%benchRecords])
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				i++
			}
		})
	}
}

// BenchmarkPutRecord is a durable JSON PUT from 64 writers at once, as
// the HTTP benchmark sends it. Besides the time per write it reports the
// process's CPU time per write, the store's background work included.
func BenchmarkPutRecord(b *testing.B) {
	h, record := benchService(b)
	var next atomic.Int64
	cpu0 := cpuTime(b)
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 writers, as in the HTTP benchmark
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{header: make(http.Header)}
		for pb.Next() {
			i := next.Add(1)
			req := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/v1/records/order/b%d", i%benchRecords), bytes.NewReader(record))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Prefer", "return=minimal")
			w.reset()
			h.ServeHTTP(w, req)
			if w.status != http.StatusNoContent {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/write")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
