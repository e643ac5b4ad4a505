//go:build linux

package pebblestore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary runs as a writer process when envWriterDir names a data
// directory: see TestMain and runWriter.
const (
	envWriterDir    = "FERRY_TEST_WRITER_DIR"
	envWriterOps    = "FERRY_TEST_WRITER_OPS"   // writes per writer, 0 = until killed
	envWriterCount  = "FERRY_TEST_WRITER_COUNT" // concurrent writers
	envCrashCycles  = "FERRY_CRASH_CYCLES"      // kill-and-check cycles of TestCrash
	crashHistory    = 4                         // HistoryLimit of the writer's store
	crashSingleIDs  = 5                         // ids each writer updates alone
	writerTimeLimit = 60 * time.Second          // a writer whose parent vanished stops
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envWriterDir); dir != "" {
		os.Exit(runWriter(dir))
	}
	os.Exit(m.Run())
}

// The writers' workload is deterministic: the body of revision r of a
// record is a function of schema, id and r, so a checker can tell an
// intact body that was sent from anything else. Each writer owns its ids,
// so every conditional write must succeed; every fifth revision of a single
// id is a delete, and pairs are written together atomically.

func crashSchema(writer int) string { return fmt.Sprintf("s%d", writer%2) }

func singleID(writer, k int) string { return fmt.Sprintf("w%d-%d", writer, k) }

func pairIDs(writer int) [2]string {
	return [2]string{fmt.Sprintf("p%d-a", writer), fmt.Sprintf("p%d-b", writer)}
}

// isDelete reports whether revision rev of id is a delete.
func isDelete(id string, rev int64) bool {
	return strings.HasPrefix(id, "w") && rev%5 == 0
}

// crashOp is the history op that revision rev of id records by default.
func crashOp(id string, rev int64) string {
	switch {
	case isDelete(id, rev):
		return "delete"
	case rev == 1 || isDelete(id, rev-1):
		return "create"
	default:
		return "replace"
	}
}

// crashBody returns the body of revision rev of schema/id: a header naming
// it, then pseudo-random bytes, mostly small, sometimes 200 KiB so that
// log records span several blocks of the log.
func crashBody(schema, id string, rev int64) []byte {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", schema, id, rev)
	seed := h.Sum64()
	size := 32 + int(seed%3000)
	if seed%61 == 0 {
		size = 200 << 10
	}
	b := make([]byte, 0, size+64)
	b = fmt.Appendf(b, "%s %s %d\n", schema, id, rev)
	r := rand.New(rand.NewPCG(seed, 7))
	for len(b) < size {
		b = binary.LittleEndian.AppendUint64(b, r.Uint64())
	}
	return b
}

func bodySum(body []byte) string {
	if body == nil {
		return "-"
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// runWriter is the writer process: it opens the store in dir, prints
// "ready", and runs concurrent writers that print "go schema id revision"
// before each Commit and "ok schema id revision sha256" after each
// acknowledged write, one write(2) per line. With envWriterOps set it stops
// after that many operations per writer and prints the store's Stats.
func runWriter(dir string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "writer: "+format+"\n", args...)
		return 2
	}
	ops, _ := strconv.Atoi(os.Getenv(envWriterOps))
	writers, _ := strconv.Atoi(os.Getenv(envWriterCount))
	if writers <= 0 {
		writers = 8
	}
	ctx, cancel := context.WithTimeout(context.Background(), writerTimeLimit)
	defer cancel()
	s, err := Open(ctx, dir, Options{HistoryLimit: crashHistory})
	if err != nil {
		return fail("open: %v", err)
	}
	var outMu sync.Mutex
	emit := func(line string) {
		outMu.Lock()
		defer outMu.Unlock()
		if _, err := io.WriteString(os.Stdout, line); err != nil {
			os.Exit(3)
		}
	}
	emit("ready\n")

	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { errs <- writeLoop(ctx, s, w, ops, emit) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fail("%v", err)
		}
	}
	st := s.Stats()
	if err := s.Close(); err != nil {
		return fail("close: %v", err)
	}
	emit(fmt.Sprintf("stats commits=%d writes=%d\n", st.Commits, st.Writes))
	return 0
}

// writeLoop is one writer: it continues each of its ids from the revision
// stored, alternating single conditional writes with atomic pair writes.
func writeLoop(ctx context.Context, s *Store, w, ops int, emit func(string)) error {
	schema := crashSchema(w)
	revs := make(map[string]int64)
	ids := make([]string, 0, crashSingleIDs+2)
	for k := range crashSingleIDs {
		ids = append(ids, singleID(w, k))
	}
	pair := pairIDs(w)
	ids = append(ids, pair[0], pair[1])
	for _, id := range ids {
		r, err := s.Get(ctx, schema, id)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			revs[id] = r.Revision
		}
	}
	if revs[pair[0]] != revs[pair[1]] {
		return fmt.Errorf("pair %v at revisions %d and %d", pair, revs[pair[0]], revs[pair[1]])
	}
	write := func(id string) Write {
		rev := revs[id] + 1
		wr := Write{Schema: schema, ID: id, IfRevision: revs[id], At: time.Now()}
		if revs[id] > 0 && isDelete(id, revs[id]) {
			wr.IfRevision = 0
		}
		if isDelete(id, rev) {
			wr.Delete = true
		} else {
			wr.Body = crashBody(schema, id, rev)
		}
		return wr
	}
	for i := 0; ops == 0 || i < ops; i++ {
		var batch []Write
		if i%3 == 2 {
			batch = []Write{write(pair[0]), write(pair[1])}
		} else {
			batch = []Write{write(ids[i%crashSingleIDs])}
		}
		for _, wr := range batch {
			emit(fmt.Sprintf("go %s %s %d\n", wr.Schema, wr.ID, revs[wr.ID]+1))
		}
		res, err := s.Commit(ctx, batch, len(batch) > 1)
		if err != nil {
			return err
		}
		for j, wr := range batch {
			if res[j].Err != nil || res[j].Revision != revs[wr.ID]+1 {
				return fmt.Errorf("write %s/%s: revision %d, err %v; want revision %d", wr.Schema, wr.ID, res[j].Revision, res[j].Err, revs[wr.ID]+1)
			}
		}
		for j, wr := range batch {
			revs[wr.ID] = res[j].Revision
			body := wr.Body
			if wr.Delete {
				body = nil
			}
			emit(fmt.Sprintf("ok %s %s %d %s\n", wr.Schema, wr.ID, res[j].Revision, bodySum(body)))
		}
	}
	return nil
}

// writerCmd returns the command that runs the test binary as a writer.
func writerCmd(dir string, writers, ops int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envWriterDir+"="+dir,
		envWriterCount+"="+strconv.Itoa(writers),
		envWriterOps+"="+strconv.Itoa(ops),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

type crashKey struct{ schema, id string }

// ack is an acknowledged write as printed by a writer.
type ack struct {
	key crashKey
	rev int64
	sum string
}

func parseAck(line string) (ack, bool) {
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "ok" {
		return ack{}, false
	}
	rev, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return ack{}, false
	}
	return ack{key: crashKey{f[1], f[2]}, rev: rev, sum: f[4]}, true
}

func crashCycles(t *testing.T) int {
	if v := os.Getenv(envCrashCycles); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive number", envCrashCycles, v)
		}
		return n
	}
	if testing.Short() {
		return 5
	}
	return 20
}

// TestCrash kills a writer process with SIGKILL at a random moment, again
// and again on the same data directory, and checks after each kill that
// every acknowledged write survived intact and nothing else appeared.
func TestCrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cycles := crashCycles(t)
	const writers = 8
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	known := make(map[crashKey]int64) // revision acknowledged or seen at a check
	acked := make(map[crashKey]ack)
	total := 0
	for cycle := range cycles {
		delay := time.Duration(20+rng.IntN(281)) * time.Millisecond
		acks, stderr := runAndKill(t, writerCmd(dir, writers, 0), delay)
		total += len(acks)
		for _, a := range acks {
			if a.rev <= acked[a.key].rev {
				t.Fatalf("cycle %d: ack of %v revision %d after revision %d", cycle, a.key, a.rev, acked[a.key].rev)
			}
			acked[a.key] = a
			known[a.key] = max(known[a.key], a.rev)
		}
		if strings.Contains(stderr, "writer:") {
			t.Fatalf("cycle %d: writer failed: %s", cycle, stderr)
		}
		s, err := Open(context.Background(), dir, Options{HistoryLimit: crashHistory})
		if err != nil {
			t.Fatalf("cycle %d: reopen after kill at %v: %v", cycle, delay, err)
		}
		seen := checkCrashState(t, s, writers, known, acked)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for k, rev := range seen {
			known[k] = max(known[k], rev)
		}
		if t.Failed() {
			t.Fatalf("cycle %d (killed after %v, %d acks) failed", cycle, delay, len(acks))
		}
	}
	if total == 0 {
		t.Fatalf("no write was acknowledged in %d cycles", cycles)
	}
	t.Logf("%d cycles, %d acknowledged writes checked", cycles, total)
}

// runAndKill starts cmd, kills it with SIGKILL delay after it is ready, and
// returns the acknowledgements it printed and its standard error.
func runAndKill(t *testing.T, cmd *exec.Cmd, delay time.Duration) ([]ack, string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 4096), 1<<20)
	ready := make(chan struct{})
	var acks []ack
	done := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		for sc.Scan() {
			if first {
				close(ready)
				first = false
			}
			if a, ok := parseAck(sc.Text()); ok {
				acks = append(acks, a)
			}
		}
		if first {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Error("writer did not start within 30s")
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("kill: %v", err)
	}
	<-done
	_ = cmd.Wait()
	return acks, stderr.String()
}

// checkCrashState checks the reopened store against what the writers sent
// and acknowledged, and returns the revision found for each record.
func checkCrashState(t *testing.T, s *Store, writers int, known map[crashKey]int64, acked map[crashKey]ack) map[crashKey]int64 {
	t.Helper()
	ctx := context.Background()
	seen := make(map[crashKey]int64)
	universe := make(map[crashKey]bool)
	for w := range writers {
		schema := crashSchema(w)
		for k := range crashSingleIDs {
			universe[crashKey{schema, singleID(w, k)}] = true
		}
		for _, id := range pairIDs(w) {
			universe[crashKey{schema, id}] = true
		}
	}
	recs := make(map[crashKey]Record)
	for k := range universe {
		r, err := s.Get(ctx, k.schema, k.id)
		if errors.Is(err, ErrNotFound) {
			if known[k] > 0 {
				t.Errorf("%v: acknowledged at revision %d, now missing", k, known[k])
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: Get: %v", k, err)
			continue
		}
		recs[k] = r
		seen[k] = r.Revision
		if r.Revision < known[k] || r.Revision > known[k]+1 {
			t.Errorf("%v: revision %d, want %d (acknowledged or seen) or the one in flight after it", k, r.Revision, known[k])
		}
		if isDelete(k.id, r.Revision) != r.Deleted {
			t.Errorf("%v revision %d: deleted %v, want %v", k, r.Revision, r.Deleted, isDelete(k.id, r.Revision))
		}
		if !r.Deleted && !bytes.Equal(r.Body, crashBody(k.schema, k.id, r.Revision)) {
			t.Errorf("%v revision %d: body of %d bytes is not the body sent (torn or foreign)", k, r.Revision, len(r.Body))
		}
		if a, ok := acked[k]; ok && a.rev == r.Revision && a.sum != bodySum(r.Body) {
			t.Errorf("%v revision %d: sha256 %s, acknowledged %s", k, r.Revision, bodySum(r.Body), a.sum)
		}
		checkCrashHistory(t, s, k, r)
	}
	for w := range writers {
		p := pairIDs(w)
		a, b := recs[crashKey{crashSchema(w), p[0]}], recs[crashKey{crashSchema(w), p[1]}]
		if a.Revision != b.Revision {
			t.Errorf("atomic pair %v: revisions %d and %d differ", p, a.Revision, b.Revision)
		}
	}
	for _, schema := range []string{crashSchema(0), crashSchema(1)} {
		checkCrashFeed(t, s, schema, universe, recs)
	}
	return seen
}

func checkCrashHistory(t *testing.T, s *Store, k crashKey, r Record) {
	t.Helper()
	h, err := s.History(context.Background(), k.schema, k.id)
	if err != nil {
		t.Errorf("%v: History: %v", k, err)
		return
	}
	if want := min(r.Revision, crashHistory); int64(len(h)) != want {
		t.Errorf("%v: %d history entries, want %d", k, len(h), want)
	}
	for i, e := range h {
		rev := r.Revision - int64(i)
		if e.Revision != rev || e.Op != crashOp(k.id, rev) {
			t.Errorf("%v: history[%d] = revision %d op %s, want revision %d op %s", k, i, e.Revision, e.Op, rev, crashOp(k.id, rev))
			continue
		}
		want := crashBody(k.schema, k.id, rev)
		if isDelete(k.id, rev) {
			want = nil
		}
		if !bytes.Equal(e.Body, want) {
			t.Errorf("%v: history body of revision %d is not the body sent", k, rev)
		}
	}
}

func checkCrashFeed(t *testing.T, s *Store, schema string, universe map[crashKey]bool, recs map[crashKey]Record) {
	t.Helper()
	ctx := context.Background()
	changes, err := s.Changes(ctx, schema, 0, 1<<20)
	if err != nil {
		t.Errorf("Changes(%s): %v", schema, err)
		return
	}
	listed := make(map[string]bool)
	var prev uint64
	for _, c := range changes {
		k := crashKey{schema, c.ID}
		r, ok := recs[k]
		switch {
		case !universe[k]:
			t.Errorf("change feed lists %v, which no writer sent", k)
		case listed[c.ID]:
			t.Errorf("change feed lists %v twice", k)
		case !ok || r.Revision != c.Revision || r.Seq != c.Seq:
			t.Errorf("change of %v at revision %d seq %d, record at revision %d seq %d", k, c.Revision, c.Seq, r.Revision, r.Seq)
		}
		if c.Seq <= prev {
			t.Errorf("change feed of %s not ascending: %d after %d", schema, c.Seq, prev)
		}
		prev = c.Seq
		listed[c.ID] = true
	}
	live := int64(0)
	for k, r := range recs {
		if k.schema != schema {
			continue
		}
		if !listed[k.id] {
			t.Errorf("%v exists but is missing from the change feed", k)
		}
		if !r.Deleted {
			live++
		}
	}
	if last, err := s.LastSeq(ctx, schema); err != nil || last != prev {
		t.Errorf("LastSeq(%s) = %d, %v; want the newest change %d", schema, last, err, prev)
	}
	if n, err := s.Count(ctx, schema); err != nil || n != live {
		t.Errorf("Count(%s) = %d, %v; want %d", schema, n, err, live)
	}
	scanned, err := s.Scan(ctx, schema, "", 1<<20)
	if err != nil || int64(len(scanned)) != live {
		t.Errorf("Scan(%s) = %d records, %v; want %d", schema, len(scanned), err, live)
	}
	for _, r := range scanned {
		if !universe[crashKey{schema, r.ID}] {
			t.Errorf("scan finds %s/%s, which no writer sent", schema, r.ID)
		}
	}
}
