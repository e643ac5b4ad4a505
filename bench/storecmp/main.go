// Command storecmp compares candidate embedded engines for Ferry's store on
// the measures that matter to it: durable writes per second from 1, 16 and
// 64 concurrent writers, ordered scan speed, file size per MB of data, and
// Go heap during a long scan. It prints a markdown table.
//
// The engines: bbolt with a group committer (one goroutine drains every
// queued write into one fsynced transaction, as Ferry's store does), Pebble
// with synced writes (its commit pipeline groups WAL syncs itself), and
// SQLite (modernc.org/sqlite, WAL, synchronous=FULL) behind the same group
// committer as bbolt, since SQLite has one writer at a time.
//
//	go run . -records 50000 -duration 2s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// An engine is one candidate, opened on a fresh directory.
type engine interface {
	// put writes one record durably; it is called concurrently.
	put(key, value []byte) error
	// load writes records in one durable batch.
	load(keys, values [][]byte) error
	// scan calls fn for every record in key order, in one pass.
	scan(fn func(key, value []byte)) error
	// settle brings the files to their resting size (flush, checkpoint).
	settle() error
	close() error
}

type candidate struct {
	key, name string
	open      func(dir string) (engine, error)
}

// result is one row of the table.
type result struct {
	name       string
	writes     map[int]float64 // writers → durable writes/s
	scanMBs    float64
	sizeRatio  float64 // bytes on disk per byte of keys and values
	scanHeapMB float64 // peak Go heap in use during the scan above the start
	err        error
}

var writerCounts = []int{1, 16, 64}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "storecmp:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fl := flag.NewFlagSet("storecmp", flag.ContinueOnError)
	dir := fl.String("dir", "", "directory for the engines' files (default: a temporary directory)")
	records := fl.Int("records", 50_000, "records loaded for the scan and size measures")
	valueSize := fl.Int("value", 1024, "value size in bytes")
	duration := fl.Duration("duration", 2*time.Second, "time each write measure runs")
	only := fl.String("engine", "", "run only this engine (bbolt, pebble, sqlite)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "storecmp")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	candidates := []candidate{
		{"bbolt", "bbolt + group commit", openBolt},
		{"pebble", "pebble (Sync)", openPebble},
		{"sqlite", "sqlite (WAL, FULL) + group commit", openSQLite},
	}
	var results []result
	for i, c := range candidates {
		if *only != "" && *only != c.key {
			continue
		}
		fmt.Fprintf(os.Stderr, "measuring %s…\n", c.name)
		r := measure(c, filepath.Join(*dir, fmt.Sprint(i)), *records, *valueSize, *duration)
		results = append(results, r)
	}
	printTable(out, results, *records, *valueSize, *duration)
	return nil
}

func measure(c candidate, dir string, records, valueSize int, d time.Duration) result {
	r := result{name: c.name, writes: make(map[int]float64)}
	fail := func(err error) result {
		r.err = err
		return r
	}
	e, err := c.open(filepath.Join(dir, "writes"))
	if err != nil {
		return fail(err)
	}
	value := randomValue(rand.New(rand.NewPCG(1, 2)), valueSize)
	for _, n := range writerCounts {
		rate, err := writeRate(e, n, value, d)
		if err != nil {
			e.close()
			return fail(err)
		}
		r.writes[n] = rate
	}
	if err := e.close(); err != nil {
		return fail(err)
	}

	e, err = c.open(filepath.Join(dir, "scan"))
	if err != nil {
		return fail(err)
	}
	defer e.close()
	rng := rand.New(rand.NewPCG(3, 4))
	order := rng.Perm(records)
	const batch = 1000
	for i := 0; i < records; i += batch {
		var keys, values [][]byte
		for _, k := range order[i:min(i+batch, records)] {
			keys = append(keys, fmt.Appendf(nil, "rec-%010d", k))
			values = append(values, randomValue(rng, valueSize))
		}
		if err := e.load(keys, values); err != nil {
			return fail(err)
		}
	}
	if err := e.settle(); err != nil {
		return fail(err)
	}
	size, err := dirSize(filepath.Join(dir, "scan"))
	if err != nil {
		return fail(err)
	}
	data := float64(records * (len("rec-0000000000") + valueSize))
	r.sizeRatio = float64(size) / data

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	n, bytes := 0, 0
	var prev []byte
	var orderErr error
	start := time.Now()
	err = e.scan(func(k, v []byte) {
		if prev != nil && string(prev) >= string(k) && orderErr == nil {
			orderErr = fmt.Errorf("scan out of order: %q after %q", k, prev)
		}
		prev = append(prev[:0], k...)
		n++
		bytes += len(k) + len(v)
		if n%5000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	})
	elapsed := time.Since(start)
	switch {
	case err != nil:
		return fail(err)
	case orderErr != nil:
		return fail(orderErr)
	case n != records:
		return fail(fmt.Errorf("scan saw %d records, want %d", n, records))
	}
	r.scanMBs = float64(bytes) / elapsed.Seconds() / 1e6
	r.scanHeapMB = float64(peak-base) / (1 << 20)
	return r
}

// writeRate runs n writers, each putting fresh keys one at a time, for d,
// and returns the acknowledged writes per second.
func writeRate(e engine, n int, value []byte, d time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range n {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := e.put(fmt.Appendf(nil, "w%d-%02d-%09d", n, w, i), value); err != nil {
					errOnce.Do(func() { firstErr = err })
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), firstErr
}

func randomValue(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}

func printTable(w io.Writer, results []result, records, valueSize int, d time.Duration) {
	fmt.Fprintf(w, "Durable writes of %d B values for %v per column; %d records loaded in random order for scan and size; %d CPUs.\n\n",
		valueSize, d, records, runtime.NumCPU())
	fmt.Fprintln(w, "| engine | writes/s, 1 writer | 16 writers | 64 writers | ordered scan MB/s | file bytes per data byte | scan heap growth MiB |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(w, "| %s | error: %v ||||||\n", r.name, r.err)
			continue
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.1f |\n",
			r.name, r.writes[1], r.writes[16], r.writes[64], r.scanMBs, r.sizeRatio, r.scanHeapMB)
	}
}
