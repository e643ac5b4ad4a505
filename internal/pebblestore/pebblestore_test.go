package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/ferry-dev/ferry/internal/storetest"
)

var _ storetest.Backend = (*Store)(nil)

// TestContract runs the contract suite without the record cache and with
// one small enough that its entries are evicted all the time.
func TestContract(t *testing.T) {
	for name, cacheBytes := range map[string]int{"uncached": 0, "cached": 4 << 10} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			dirs := make(map[*testing.T]string)
			storetest.Run(t, func(t *testing.T) storetest.Backend {
				mu.Lock()
				dir, ok := dirs[t]
				if !ok {
					dir = t.TempDir()
					dirs[t] = dir
				}
				mu.Unlock()
				return MustOpen(t, dir, Options{HistoryLimit: storetest.HistoryLimit, CacheBytes: cacheBytes})
			})
		})
	}
}

// MustOpen opens a store in dir and closes it when the test ends.
func MustOpen(t testing.TB, dir string, opt Options) *Store {
	t.Helper()
	return mustOpenFS(t, dir, opt, vfs.Default)
}

func mustOpenFS(t testing.TB, dir string, opt Options, fs vfs.FS) *Store {
	t.Helper()
	s, err := open(context.Background(), dir, opt, fs)
	if err != nil {
		t.Fatalf("Open(%s) error: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close error: %v", err)
		}
	})
	return s
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

func put(id, body string) Write {
	return Write{Schema: "s", ID: id, IfRevision: AnyRevision, Body: []byte(body)}
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opt     Options
		wantErr string
	}{
		{"no sync refused", Options{NoSync: true}, "pebblestore: fsync cannot be turned off"},
		{"negative history", Options{HistoryLimit: -1}, "history limit -1 is negative"},
		{"negative batch", Options{MaxBatch: -5}, "max batch -5 is negative"},
		{"defaults", Options{}, ""},
		{"unlimited history, tiny batch", Options{HistoryLimit: 0, MaxBatch: 1}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := Open(context.Background(), dir, tc.opt)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open(%+v) error: %v", tc.opt, err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v) = nil error, want %q", tc.opt, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Open(%+v) error = %q, want it to contain %q", tc.opt, err, tc.wantErr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("refused Open(%+v) left %d entries in the directory, want none", tc.opt, len(entries))
			}
		})
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := MustOpen(t, dir, Options{})
	MustCommitAll(t, s, []Write{put("x", "1")})
	if _, err := os.Stat(filepath.Join(dir, DirName)); err != nil {
		t.Errorf("Open(%s) did not create %s: %v", dir, DirName, err)
	}
}

func TestOpenRefusesBoltStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, boltFileName), []byte("bolt"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, Options{})
	if err == nil {
		s.Close()
		t.Fatalf("Open of a directory with %s succeeded, want an error", boltFileName)
	}
	if !strings.Contains(err.Error(), "bbolt") {
		t.Errorf("Open error = %q, want it to name the bbolt store", err)
	}
}

func TestOpenRefusesForeignData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := pebble.Open(filepath.Join(dir, DirName), &pebble.Options{Logger: logger{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("foreign"), []byte("x"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a Pebble store without Ferry's marker succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "format marker") {
		t.Errorf("Open error = %q, want it to name the missing format marker", err)
	}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	MustOpen(t, dir, Options{})
	start := time.Now()
	s, err := Open(context.Background(), dir, Options{})
	if err == nil {
		s.Close()
		t.Fatal("second Open of a locked directory succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second Open error = %q, want it to say the directory is in use", err)
	}
	if d := time.Since(start); d < lockTimeout {
		t.Errorf("second Open gave up after %v, want a wait of %v", d, lockTimeout)
	}
}

func TestOpenWaitsForLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { first.Close() })
	s := MustOpen(t, dir, Options{})
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping of the store opened after the lock was freed = %v, want nil", err)
	}
}

func TestOpenCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, t.TempDir(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context = %v, want context.Canceled", err)
	}
}

func TestCommitCanceled(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Commit(ctx, []Write{put("a", "x")}, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := s.Get(context.Background(), "s", "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("write of a canceled Commit: Get err = %v, want ErrNotFound", err)
	}
}

// TestBatchCap runs requests larger and smaller than MaxBatch concurrently,
// so that the committer carries requests over to the next batch and
// commits oversized ones alone: each must be applied whole, exactly once.
func TestBatchCap(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, t.TempDir(), Options{MaxBatch: 2})
	const goroutines, rounds = 8, 10
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				n := 1 + (g+i)%3
				writes := make([]Write, n)
				for j := range writes {
					writes[j] = Write{Schema: "s", ID: fmt.Sprintf("g%d-%d-%d", g, i, j), IfRevision: 0, Body: []byte("x")}
				}
				res, err := s.Commit(context.Background(), writes, n > 1)
				if err != nil {
					t.Errorf("Commit of %d writes: %v", n, err)
					return
				}
				for j, r := range res {
					if r.Err != nil || r.Revision != 1 {
						t.Errorf("write %s: revision %d err %v, want revision 1", writes[j].ID, r.Revision, r.Err)
					}
				}
			}
		})
	}
	wg.Wait()
	n, err := s.Count(context.Background(), "s")
	want := int64(0)
	for g := range goroutines {
		for i := range rounds {
			want += int64(1 + (g+i)%3)
		}
	}
	if err != nil || n != want {
		t.Errorf("Count = %d, %v; want %d", n, err, want)
	}
	st := s.Stats()
	if st.Writes != uint64(want) || st.Commits < uint64(want)/3 {
		t.Errorf("Stats = %+v, want %d writes in at least %d commits", st, want, want/3)
	}
	if st.Syncs < st.Commits {
		t.Errorf("Stats = %+v: fewer log syncs than commits", st)
	}
}

// TestNoOpCommitDoesNotSync checks that a commit that changes nothing, such
// as a write whose condition fails, costs no sync.
func TestNoOpCommitDoesNotSync(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, t.TempDir(), Options{})
	MustCommitAll(t, s, []Write{put("a", "1")})
	before := s.Stats()
	w := put("a", "2")
	w.IfRevision = 7
	res, err := s.Commit(context.Background(), []Write{w}, false)
	if err != nil || !errors.Is(res[0].Err, ErrConflict) {
		t.Fatalf("Commit(if revision 7) = %+v, %v; want a conflict", res, err)
	}
	if after := s.Stats(); after != before {
		t.Errorf("Stats after a failed condition = %+v, want unchanged %+v", after, before)
	}
}

// TestLoweredHistoryLimit reopens a store with a lower history limit: the
// entries beyond it disappear from History at once and from the disk on
// Open.
func TestLoweredHistoryLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{HistoryLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		MustCommitAll(t, s, []Write{put("a", fmt.Sprint(i+1)), put(fmt.Sprintf("b%d", i), "x")})
	}
	if got := historyRevisions(t, s, "a"); !equalInts(got, []int64{7, 6, 5, 4, 3}) {
		t.Fatalf("history with limit 5 = %v, want [7 6 5 4 3]", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit    int
		want     []int64
		wantKeys int
	}{
		{2, []int64{7, 6}, 1},
		{0, []int64{7, 6}, 1},
		{4, []int64{7, 6}, 1},
		{1, []int64{7}, 0},
	}
	for _, tc := range tests {
		s, err := Open(ctx, dir, Options{HistoryLimit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if got := historyRevisions(t, s, "a"); !equalInts(got, tc.want) {
			t.Errorf("history after reopening with limit %d = %v, want %v", tc.limit, got, tc.want)
		}
		if n := countKeys(t, s, historyPrefix("s", "a")); n != tc.wantKeys {
			t.Errorf("after reopening with limit %d: %d history keys stored, want %d", tc.limit, n, tc.wantKeys)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func historyRevisions(t *testing.T, s *Store, id string) []int64 {
	t.Helper()
	h, err := s.History(context.Background(), "s", id)
	if err != nil {
		t.Fatalf("History(s, %s) error: %v", id, err)
	}
	var revs []int64
	for _, e := range h {
		if want := fmt.Sprint(e.Revision); string(e.Body) != want {
			t.Errorf("History(s, %s) revision %d body %q, want %q", id, e.Revision, e.Body, want)
		}
		revs = append(revs, e.Revision)
	}
	return revs
}

func equalInts(a, b []int64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// countKeys counts the stored keys with a prefix.
func countKeys(t *testing.T, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	err := s.read(func(rd pebble.Reader) error {
		return iterate(rd, prefix, successor(prefix), prefix, func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// faultFS injects a hook into every sync of a write-ahead log file.
type faultFS struct {
	vfs.FS
	mu     sync.Mutex
	onSync func() error
}

func (fs *faultFS) setHook(fn func() error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.onSync = fn
}

func (fs *faultFS) hook() error {
	fs.mu.Lock()
	fn := fs.onSync
	fs.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn()
}

func (fs *faultFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *faultFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

func (fs *faultFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, walSuffix) {
		return f, err
	}
	return &faultFile{File: f, fs: fs}, nil
}

type faultFile struct {
	vfs.File
	fs *faultFS
}

func (f *faultFile) Sync() error {
	if err := f.fs.hook(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	if err := f.fs.hook(); err != nil {
		return err
	}
	return f.File.SyncData()
}

// TestFailedSyncPoisons fails a sync of the log: the Commit waiting for it
// fails, the write stays invisible, and every later Commit fails too.
func TestFailedSyncPoisons(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs := &faultFS{FS: vfs.Default}
	s, err := open(ctx, t.TempDir(), Options{}, fs)
	if err != nil {
		t.Fatal(err)
	}
	MustCommitAll(t, s, []Write{put("before", "1")})
	errDisk := errors.New("injected: disk gone")
	fs.setHook(func() error { return errDisk })
	if _, err := s.Commit(ctx, []Write{put("failed", "1")}, false); err == nil || !strings.Contains(err.Error(), errDisk.Error()) {
		t.Fatalf("Commit during a failing sync = %v, want an error naming %q", err, errDisk)
	}
	fs.setHook(nil)
	if _, err := s.Commit(ctx, []Write{put("after", "1")}, false); err == nil {
		t.Errorf("Commit after a failed sync = nil error, want the earlier failure")
	}
	if err := s.PutJob(ctx, "j", []byte("x")); err == nil {
		t.Errorf("PutJob after a failed sync = nil error, want the earlier failure")
	}
	// Readiness says so, for a supervisor to replace the process.
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), errDisk.Error()) {
		t.Errorf("Ping after a failed sync = %v, want the failure naming %q", err, errDisk)
	}
	for _, id := range []string{"failed", "after"} {
		if _, err := s.Get(ctx, "s", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%s) after a failed sync = %v, want ErrNotFound", id, err)
		}
	}
	if r, err := s.Get(ctx, "s", "before"); err != nil || string(r.Body) != "1" {
		t.Errorf("Get(before) after a failed sync = %q, %v; want the acknowledged body", r.Body, err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err == nil || !strings.Contains(err.Error(), errDisk.Error()) {
			t.Errorf("Close after a failed sync = %v, want the failure naming %q", err, errDisk)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close after a failed sync did not return within 10s")
	}
}

// TestReadsWaitForSync holds a log sync: while it is pending, reads must not
// see the write, which Pebble has already applied to its memtable.
func TestReadsWaitForSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs := &faultFS{FS: vfs.Default}
	s := mustOpenFS(t, t.TempDir(), Options{}, fs)
	MustCommitAll(t, s, []Write{put("seen", "1")})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fs.setHook(func() error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	})
	committed := make(chan error, 1)
	go func() {
		_, err := s.Commit(ctx, []Write{put("pending", "1")}, false)
		committed <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no log sync within 10s of Commit")
	}
	// Pebble publishes a batch before its sync completes; give it the
	// moment it needs.
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Get(ctx, "s", "pending"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a write whose sync is pending = %v, want ErrNotFound", err)
	}
	if n, err := s.Count(ctx, "s"); err != nil || n != 1 {
		t.Errorf("Count while a sync is pending = %d, %v; want 1", n, err)
	}
	if chs, err := s.Changes(ctx, "s", 0, 10); err != nil || len(chs) != 1 {
		t.Errorf("Changes while a sync is pending = %+v, %v; want only the synced change", chs, err)
	}
	fs.setHook(nil)
	close(release)
	if err := <-committed; err != nil {
		t.Fatalf("Commit error: %v", err)
	}
	if r, err := s.Get(ctx, "s", "pending"); err != nil || string(r.Body) != "1" {
		t.Errorf("Get after Commit returned = %q, %v; want the body", r.Body, err)
	}
}

// TestReadsDuringClose runs reads while the store closes: each must either
// succeed or report ErrClosed.
func TestReadsDuringClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	MustCommitAll(t, s, []Write{put("a", "1")})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				_, err := s.Scan(ctx, "s", "", 10)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Scan during Close = %v, want nil or ErrClosed", err)
					return
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Errorf("Close with reads in progress = %v", err)
	}
	wg.Wait()
}

// TestLargeBatch commits more than half a memtable in one batch, which
// Pebble keeps apart from the memtable until it is flushed.
func TestLargeBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := MustOpen(t, dir, Options{})
	writes := make([]Write, 3)
	for i := range writes {
		writes[i] = put(fmt.Sprintf("big%d", i), strings.Repeat(string(rune('a'+i)), 4<<20))
	}
	res, err := s.Commit(ctx, writes, true)
	if err != nil {
		t.Fatalf("Commit of 12 MiB: %v", err)
	}
	for i, r := range res {
		if r.Err != nil || r.Revision != 1 {
			t.Fatalf("write %d: revision %d err %v, want revision 1", i, r.Revision, r.Err)
		}
	}
	MustCommitAll(t, s, []Write{put("big0", "small")})
	check := func(when string) {
		for i, w := range writes {
			r, err := s.Get(ctx, "s", w.ID)
			want := string(w.Body)
			if i == 0 {
				want = "small"
			}
			if err != nil || string(r.Body) != want {
				t.Errorf("%s: Get(%s) = %d bytes, %v; want %d bytes", when, w.ID, len(r.Body), err, len(want))
			}
		}
		h, err := s.History(ctx, "s", "big0")
		if err != nil || len(h) != 2 || string(h[1].Body) != string(writes[0].Body) {
			t.Errorf("%s: History(big0) = %d entries, %v; want 2 with the 4 MiB body last", when, len(h), err)
		}
	}
	check("before reopen")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = MustOpen(t, dir, Options{})
	check("after reopen")
}

// TestHistorySince checks that HistorySince gives the newest revisions
// down to from, bodies rebuilt, and nothing older.
func TestHistorySince(t *testing.T) {
	t.Parallel()
	s := MustOpen(t, t.TempDir(), Options{HistoryLimit: 10})
	for i := 1; i <= 5; i++ {
		MustCommitAll(t, s, []Write{{Schema: "s", ID: "a", IfRevision: AnyRevision, Body: []byte(fmt.Sprint("body of revision ", i))}})
	}
	for _, from := range []int64{-1, 1, 3, 5, 6} {
		got, err := s.HistorySince(context.Background(), "s", "a", from)
		if err != nil {
			t.Fatal(err)
		}
		want := 5 - max(from, 1) + 1
		if int64(len(got)) != want {
			t.Fatalf("HistorySince(%d): %d entries, want %d", from, len(got), want)
		}
		for i, e := range got {
			rev := int64(5 - i)
			if e.Revision != rev || string(e.Body) != fmt.Sprint("body of revision ", rev) {
				t.Errorf("HistorySince(%d) entry %d: revision %d %q, want revision %d", from, i, e.Revision, e.Body, rev)
			}
		}
	}
}
