package pebblestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFsync is the disk's reference rate: appending 1 KiB to a file
// and syncing it, one at a time.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
}

// BenchmarkCommit measures durable 1 KiB record writes from concurrent
// writers, each calling Commit with one write at a time, and how many
// writes share a commit and a sync of the write-ahead log.
func BenchmarkCommit(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(context.Background(), b.TempDir(), Options{HistoryLimit: 10})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			body := make([]byte, 1024)
			for i := range body {
				body[i] = byte('a' + i%26)
			}
			ctx := context.Background()
			var next atomic.Int64
			before := s.Stats()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						w := Write{Schema: "bench", ID: fmt.Sprintf("w%02d-%09d", g, i), IfRevision: 0, Body: body}
						res, err := s.Commit(ctx, []Write{w}, false)
						if err != nil || res[0].Err != nil {
							b.Errorf("Commit: %v %v", err, res[0].Err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			after := s.Stats()
			commits := float64(after.Commits - before.Commits)
			syncs := float64(after.Syncs - before.Syncs)
			writes := float64(after.Writes - before.Writes)
			b.ReportMetric(writes/elapsed.Seconds(), "writes/s")
			b.ReportMetric(writes/commits, "writes/commit")
			b.ReportMetric(writes/syncs, "writes/fsync")
		})
	}
}

// BenchmarkOverwrite measures the steady state of a busy store: 64
// writers replacing 1,000 records of about 1 KB again and again, each
// revision a little different from the one before, with 100 revisions of
// history kept. Besides the time per write, it reports the process's CPU
// time per write, background flushes and compactions included, which is
// what a write costs a server whose CPU is the limit.
func BenchmarkOverwrite(b *testing.B) {
	const records, writers = 1000, 64
	s, err := Open(context.Background(), b.TempDir(), Options{HistoryLimit: 100})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var next atomic.Int64
	cpu0 := cpuTime(b)
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			// The benchmark record as JSON (1,013 bytes) stands in for
			// its stored document (812 bytes); both are below the size
			// from which bodies are stored compressed.
			body, err := os.ReadFile("../../bench/testdata/order.json")
			if err != nil {
				b.Error(err)
				return
			}
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				copy(body[30:], fmt.Sprintf("%06d", i%1_000_000))
				w := Write{Schema: "bench", ID: fmt.Sprintf("r%04d", i%records), IfRevision: AnyRevision, Body: body}
				if res, err := s.Commit(ctx, []Write{w}, false); err != nil || res[0].Err != nil {
					b.Errorf("Commit: %v %v", err, res[0].Err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
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

// BenchmarkScan pages through 100k records of 1 KiB.
func BenchmarkScan(b *testing.B) {
	const records, page = 100_000, 1000
	s, err := Open(context.Background(), b.TempDir(), Options{HistoryLimit: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := make([]byte, 1024)
	writes := make([]Write, 5000)
	for i := 0; i < records; i += len(writes) {
		for j := range writes {
			writes[j] = Write{Schema: "bench", ID: fmt.Sprintf("r%09d", i+j), IfRevision: AnyRevision, Body: body}
		}
		MustCommitAll(b, s, writes)
	}
	ctx := context.Background()
	b.SetBytes(records * int64(len(body)))
	for b.Loop() {
		n, after := 0, ""
		for {
			recs, err := s.Scan(ctx, "bench", after, page)
			if err != nil {
				b.Fatal(err)
			}
			n += len(recs)
			if len(recs) < page {
				break
			}
			after = recs[len(recs)-1].ID
		}
		if n != records {
			b.Fatalf("scanned %d records, want %d", n, records)
		}
	}
}

// BenchmarkHistory reads the full history of a record that was written
// 100 times, each revision changing one field of the benchmark record.
func BenchmarkHistory(b *testing.B) {
	const revisions = 100
	s, err := Open(context.Background(), b.TempDir(), Options{HistoryLimit: revisions})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	body, err := os.ReadFile("../../bench/testdata/order.json")
	if err != nil {
		b.Fatal(err)
	}
	for i := range revisions {
		copy(body[30:], fmt.Sprintf("%06d", i))
		w := Write{Schema: "bench", ID: "r", IfRevision: AnyRevision, Body: body}
		if res, err := s.Commit(ctx, []Write{w}, false); err != nil || res[0].Err != nil {
			b.Fatalf("Commit: %v %v", err, res[0].Err)
		}
	}
	for b.Loop() {
		h, err := s.History(ctx, "bench", "r")
		if err != nil || len(h) != revisions {
			b.Fatalf("History = %d entries, %v", len(h), err)
		}
	}
}
