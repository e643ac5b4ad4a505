package pebblestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
