// Package storetest is the contract every Ferry storage backend must meet:
// a table-driven suite that a backend's own test runs against it.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Backend { … })
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/store"
)

// HistoryLimit is the number of revisions per record the backends under
// test must be configured to keep.
const HistoryLimit = 3

// Backend is the method set of a Ferry storage backend.
type Backend interface {
	Close() error
	Ping(ctx context.Context) error

	Get(ctx context.Context, schema, id string) (store.Record, error)
	Commit(ctx context.Context, writes []store.Write, atomic bool) ([]store.Result, error)
	Scan(ctx context.Context, schema, after string, limit int) ([]store.Record, error)
	Count(ctx context.Context, schema string) (int64, error)
	History(ctx context.Context, schema, id string) ([]store.HistoryEntry, error)
	Changes(ctx context.Context, schema string, since uint64, limit int) ([]store.Change, error)
	LastSeq(ctx context.Context, schema string) (uint64, error)
	WaitChange(ctx context.Context, schema string, since uint64) error

	PutSchemaVersion(ctx context.Context, name string, version int, def []byte) error
	SchemaVersions(ctx context.Context, name string) ([][]byte, error)
	SchemaNames(ctx context.Context) ([]string, error)
	PutSchemaMeta(ctx context.Context, name string, meta []byte) error
	SchemaMeta(ctx context.Context, name string) ([]byte, error)
	PutJob(ctx context.Context, id string, state []byte) error
	Job(ctx context.Context, id string) ([]byte, error)
	Jobs(ctx context.Context) ([]string, error)
}

// Run runs the contract suite. Each subtest calls open with its own t and
// must get an empty backend over storage of its own, configured with
// HistoryLimit; a second call with the same t, after the first backend was
// closed, must open the same storage again. open should register the
// backend's Close with t.Cleanup; Close must tolerate a second call.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) Backend)
	}{
		{"WriteLifecycle", testWriteLifecycle},
		{"RevisionsContinueAfterDelete", testRevisionsContinue},
		{"Conditions", testConditions},
		{"Atomic", testAtomic},
		{"NonAtomic", testNonAtomic},
		{"ScanOrder", testScanOrder},
		{"Tombstones", testTombstones},
		{"History", testHistory},
		{"Changes", testChanges},
		{"WaitChange", testWaitChange},
		{"SchemasMetaJobs", testSchemasMetaJobs},
		{"Missing", testMissing},
		{"Bodies", testBodies},
		{"ConcurrentConditionalWrites", testConcurrentWriters},
		{"Reopen", testReopen},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

var at0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// put is an unconditional write of body.
func put(schema, id, body string) store.Write {
	return store.Write{Schema: schema, ID: id, IfRevision: store.AnyRevision, Body: []byte(body), At: at0}
}

// del is an unconditional delete.
func del(schema, id string) store.Write {
	return store.Write{Schema: schema, ID: id, IfRevision: store.AnyRevision, Delete: true, At: at0}
}

func cond(w store.Write, rev int64) store.Write {
	w.IfRevision = rev
	return w
}

// MustCommit commits writes and fails the test unless the call and every
// write succeed.
func MustCommit(t testing.TB, b Backend, atomic bool, writes ...store.Write) []store.Result {
	t.Helper()
	res, err := b.Commit(context.Background(), writes, atomic)
	if err != nil {
		t.Fatalf("Commit(%s) error: %v", describe(writes), err)
	}
	if len(res) != len(writes) {
		t.Fatalf("Commit(%s) returned %d results, want %d", describe(writes), len(res), len(writes))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("Commit(%s): write %d failed: %v", describe(writes), i, r.Err)
		}
	}
	return res
}

func describe(writes []store.Write) string {
	var b bytes.Buffer
	for i, w := range writes {
		if i > 0 {
			b.WriteString(", ")
		}
		verb := "put"
		if w.Delete {
			verb = "delete"
		}
		fmt.Fprintf(&b, "%s %s/%s if %d", verb, w.Schema, w.ID, w.IfRevision)
	}
	return b.String()
}

// MustGet returns a record, failing the test on error.
func MustGet(t testing.TB, b Backend, schema, id string) store.Record {
	t.Helper()
	r, err := b.Get(context.Background(), schema, id)
	if err != nil {
		t.Fatalf("Get(%s, %s) error: %v", schema, id, err)
	}
	return r
}

func wantRecord(t *testing.T, b Backend, schema, id string, rev int64, deleted bool, body string) {
	t.Helper()
	r := MustGet(t, b, schema, id)
	if r.Schema != schema || r.ID != id || r.Revision != rev || r.Deleted != deleted {
		t.Fatalf("Get(%s, %s) = {%s %s rev %d deleted %v}, want {%s %s rev %d deleted %v}",
			schema, id, r.Schema, r.ID, r.Revision, r.Deleted, schema, id, rev, deleted)
	}
	if deleted {
		if r.Body != nil {
			t.Errorf("Get(%s, %s) tombstone body = %q, want nil", schema, id, r.Body)
		}
		return
	}
	if string(r.Body) != body {
		t.Errorf("Get(%s, %s) body = %q, want %q", schema, id, r.Body, body)
	}
}

func wantCount(t *testing.T, b Backend, schema string, want int64) {
	t.Helper()
	n, err := b.Count(context.Background(), schema)
	if err != nil || n != want {
		t.Fatalf("Count(%s) = %d, %v; want %d, nil", schema, n, err, want)
	}
}

func scanAll(t *testing.T, b Backend, schema string, page int) []string {
	t.Helper()
	var ids []string
	after := ""
	for range 10000 {
		recs, err := b.Scan(context.Background(), schema, after, page)
		if err != nil {
			t.Fatalf("Scan(%s, %q, %d) error: %v", schema, after, page, err)
		}
		if len(recs) > page {
			t.Fatalf("Scan(%s, %q, %d) returned %d records", schema, after, page, len(recs))
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if len(recs) < page {
			return ids
		}
		after = recs[len(recs)-1].ID
	}
	t.Fatalf("Scan(%s) did not end", schema)
	return nil
}

func testWriteLifecycle(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	steps := []struct {
		name        string
		write       store.Write
		wantRev     int64
		wantCreated bool
		wantDeleted bool
		wantBody    string
		wantCount   int64
	}{
		{"create", put("s", "r1", `{"a":1}`), 1, true, false, `{"a":1}`, 1},
		{"replace", put("s", "r1", `{"a":2}`), 2, false, false, `{"a":2}`, 1},
		{"delete", del("s", "r1"), 3, false, true, "", 0},
	}
	var lastSeq uint64
	for _, st := range steps {
		res := MustCommit(t, b, false, st.write)[0]
		if res.Revision != st.wantRev || res.Created != st.wantCreated {
			t.Fatalf("%s: result revision %d created %v, want %d %v", st.name, res.Revision, res.Created, st.wantRev, st.wantCreated)
		}
		if res.Seq <= lastSeq {
			t.Fatalf("%s: seq %d does not follow %d", st.name, res.Seq, lastSeq)
		}
		lastSeq = res.Seq
		wantRecord(t, b, "s", "r1", st.wantRev, st.wantDeleted, st.wantBody)
		r := MustGet(t, b, "s", "r1")
		if r.Seq != res.Seq {
			t.Errorf("%s: record seq %d, want result seq %d", st.name, r.Seq, res.Seq)
		}
		if !r.UpdatedAt.Equal(at0) || r.UpdatedAt.Location() != time.UTC {
			t.Errorf("%s: UpdatedAt = %v, want %v in UTC", st.name, r.UpdatedAt, at0)
		}
		wantCount(t, b, "s", st.wantCount)
	}
	local := time.Date(2026, 5, 1, 8, 0, 0, 1, time.FixedZone("x", 3600))
	w := put("s", "r2", "x")
	w.At = local
	MustCommit(t, b, false, w)
	if r := MustGet(t, b, "s", "r2"); !r.UpdatedAt.Equal(local) || r.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt from a non-UTC At = %v, want %v in UTC", r.UpdatedAt, local.UTC())
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}

func testRevisionsContinue(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	MustCommit(t, b, false, put("s", "x", "1"))
	MustCommit(t, b, false, del("s", "x"))
	res := MustCommit(t, b, false, cond(put("s", "x", "2"), 0))[0]
	if res.Revision != 3 || !res.Created {
		t.Fatalf("re-create after delete: revision %d created %v, want 3 true", res.Revision, res.Created)
	}
	wantRecord(t, b, "s", "x", 3, false, "2")
	h, err := b.History(context.Background(), "s", "x")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range h {
		ops = append(ops, e.Op)
	}
	if want := []string{"create", "delete", "create"}; !slices.Equal(ops, want) {
		t.Errorf("history ops = %v, want %v", ops, want)
	}
}

func testConditions(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	// States: absent; live at revision 2; tombstone at revision 2.
	setup := map[string][]store.Write{
		"absent":    nil,
		"live2":     {put("s", "", "a"), put("s", "", "b")},
		"tombstone": {put("s", "", "a"), del("s", "")},
	}
	type outcome int
	const (
		applied outcome = iota
		conflicts
		notFound
	)
	tests := []struct {
		state   string
		ifRev   int64
		delete  bool
		want    outcome
		wantRev int64
	}{
		{"absent", store.AnyRevision, false, applied, 1},
		{"absent", 0, false, applied, 1},
		{"absent", 1, false, conflicts, 0},
		{"absent", store.AnyRevision, true, notFound, 0},
		{"absent", 0, true, notFound, 0},
		{"absent", 1, true, conflicts, 0},
		{"live2", store.AnyRevision, false, applied, 3},
		{"live2", 0, false, conflicts, 0},
		{"live2", 2, false, applied, 3},
		{"live2", 1, false, conflicts, 0},
		{"live2", 3, false, conflicts, 0},
		{"live2", store.AnyRevision, true, applied, 3},
		{"live2", 2, true, applied, 3},
		{"live2", 1, true, conflicts, 0},
		{"live2", 0, true, conflicts, 0},
		{"tombstone", store.AnyRevision, false, applied, 3},
		{"tombstone", 0, false, applied, 3},
		{"tombstone", 2, false, conflicts, 0},
		{"tombstone", store.AnyRevision, true, notFound, 0},
		{"tombstone", 2, true, conflicts, 0},
	}
	for i, tc := range tests {
		id := fmt.Sprintf("c%02d", i)
		for _, w := range setup[tc.state] {
			w.ID = id
			MustCommit(t, b, false, w)
		}
		w := put("s", id, "new")
		w.IfRevision, w.Delete = tc.ifRev, tc.delete
		name := fmt.Sprintf("%s if=%d delete=%v", tc.state, tc.ifRev, tc.delete)
		res, err := b.Commit(context.Background(), []store.Write{w}, false)
		if err != nil {
			t.Fatalf("%s: Commit error: %v", name, err)
		}
		got := res[0]
		switch tc.want {
		case applied:
			if got.Err != nil || got.Revision != tc.wantRev {
				t.Errorf("%s: got revision %d err %v, want revision %d applied", name, got.Revision, got.Err, tc.wantRev)
			}
		case conflicts:
			var ce *store.ConflictError
			if !errors.Is(got.Err, store.ErrConflict) || !errors.As(got.Err, &ce) {
				t.Errorf("%s: err %v, want a *store.ConflictError", name, got.Err)
				continue
			}
			wantCur := map[string]int64{"absent": 0, "live2": 2, "tombstone": 2}[tc.state]
			if ce.Current.Revision != wantCur || ce.Current.Deleted != (tc.state == "tombstone") || ce.Current.ID != id || ce.Current.Schema != "s" {
				t.Errorf("%s: conflict current = %+v, want %s/%s revision %d deleted %v", name, ce.Current, "s", id, wantCur, tc.state == "tombstone")
			}
			if ce.Want != tc.ifRev {
				t.Errorf("%s: conflict want = %d, want %d", name, ce.Want, tc.ifRev)
			}
		case notFound:
			if !errors.Is(got.Err, store.ErrNotFound) {
				t.Errorf("%s: err %v, want ErrNotFound", name, got.Err)
			}
		}
		if tc.want != applied && (got.Revision != 0 || got.Seq != 0) {
			t.Errorf("%s: failed write reports revision %d seq %d, want 0 0", name, got.Revision, got.Seq)
		}
	}
	if _, err := b.Commit(context.Background(), []store.Write{cond(put("s", "bad", "x"), -2)}, false); err == nil {
		t.Errorf("Commit with IfRevision -2: err nil, want an error")
	}
	for _, w := range []store.Write{put("", "id", "x"), put("s", "", "x")} {
		if _, err := b.Commit(context.Background(), []store.Write{w}, false); err == nil {
			t.Errorf("Commit(%s): err nil, want an error for an empty name", describe([]store.Write{w}))
		}
	}
}

func testAtomic(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	MustCommit(t, b, false, put("s", "exists", "v1"))
	before, _ := b.LastSeq(ctx, "s")

	writes := []store.Write{
		put("s", "a", "A"),
		cond(put("s", "exists", "v2"), 0), // fails: exists
		put("s", "b", "B"),
		put("t", "other-schema", "X"),
	}
	res, err := b.Commit(ctx, writes, true)
	if err != nil {
		t.Fatalf("atomic Commit error: %v", err)
	}
	wantErrs := []error{store.ErrAborted, store.ErrConflict, store.ErrAborted, store.ErrAborted}
	for i, want := range wantErrs {
		if !errors.Is(res[i].Err, want) {
			t.Errorf("atomic write %d: err %v, want %v", i, res[i].Err, want)
		}
	}
	for _, k := range [][2]string{{"s", "a"}, {"s", "b"}, {"t", "other-schema"}} {
		if _, err := b.Get(ctx, k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after failed atomic commit Get(%s, %s) err = %v, want ErrNotFound", k[0], k[1], err)
		}
	}
	wantRecord(t, b, "s", "exists", 1, false, "v1")
	if after, _ := b.LastSeq(ctx, "s"); after != before {
		t.Errorf("failed atomic commit moved LastSeq from %d to %d", before, after)
	}
	wantCount(t, b, "s", 1)
	wantCount(t, b, "t", 0)

	// Writes see the writes before them in the same commit.
	ok := []store.Write{
		cond(put("s", "a", "A1"), 0),
		cond(put("s", "a", "A2"), 1),
		cond(put("s", "exists", "v2"), 1),
		cond(del("s", "exists"), 2),
		put("t", "other-schema", "X"),
	}
	res = MustCommit(t, b, true, ok...)
	wantRevs := []int64{1, 2, 2, 3, 1}
	for i, r := range res {
		if r.Revision != wantRevs[i] {
			t.Errorf("atomic write %d: revision %d, want %d", i, r.Revision, wantRevs[i])
		}
	}
	if res[0].Seq+1 != res[1].Seq || res[1].Seq+1 != res[2].Seq {
		t.Errorf("atomic writes' seqs %d %d %d are not consecutive", res[0].Seq, res[1].Seq, res[2].Seq)
	}
	wantRecord(t, b, "s", "a", 2, false, "A2")
	wantRecord(t, b, "s", "exists", 3, true, "")
	wantRecord(t, b, "t", "other-schema", 1, false, "X")
	wantCount(t, b, "s", 1)

	// A failing delete aborts the commit too.
	res, err = b.Commit(ctx, []store.Write{put("s", "c", "C"), del("s", "never")}, true)
	if err != nil || !errors.Is(res[0].Err, store.ErrAborted) || !errors.Is(res[1].Err, store.ErrNotFound) {
		t.Fatalf("atomic put+delete of missing: %v, %+v; want ErrAborted and ErrNotFound", err, res)
	}
	if _, err := b.Get(ctx, "s", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("aborted write was applied: Get err = %v", err)
	}
}

func testNonAtomic(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	MustCommit(t, b, false, put("s", "exists", "v1"))
	res, err := b.Commit(ctx, []store.Write{
		put("s", "a", "A"),
		cond(put("s", "exists", "v2"), 0),
		del("s", "missing"),
		put("s", "b", "B"),
	}, false)
	if err != nil {
		t.Fatalf("Commit error: %v", err)
	}
	wantErrs := []error{nil, store.ErrConflict, store.ErrNotFound, nil}
	for i, want := range wantErrs {
		if (want == nil) != (res[i].Err == nil) || (want != nil && !errors.Is(res[i].Err, want)) {
			t.Errorf("write %d: err %v, want %v", i, res[i].Err, want)
		}
	}
	wantRecord(t, b, "s", "a", 1, false, "A")
	wantRecord(t, b, "s", "b", 1, false, "B")
	wantRecord(t, b, "s", "exists", 1, false, "v1")
	if res[0].Seq >= res[3].Seq {
		t.Errorf("seqs %d, %d are not ascending in write order", res[0].Seq, res[3].Seq)
	}
}

var scanIDs = []string{"a~", "Z9", "a.b", "0", "a", "A", "a-b", "b", "\u00e9", "a0", "~", "-"}

func testScanOrder(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	var writes []store.Write
	for _, id := range scanIDs {
		writes = append(writes, put("s", id, "body of "+id))
	}
	MustCommit(t, b, false, writes...)
	MustCommit(t, b, false, put("s2", "zzz", "other schema"))
	want := slices.Clone(scanIDs)
	slices.Sort(want) // Go orders strings bytewise
	for _, page := range []int{1, 2, 3, 5, len(want), 1000} {
		t.Run(fmt.Sprintf("page=%d", page), func(t *testing.T) {
			if got := scanAll(t, b, "s", page); !slices.Equal(got, want) {
				t.Errorf("paged scan = %q, want %q", got, want)
			}
		})
	}
	ctx := context.Background()
	cursors := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 3, want[:3]},
		{"a", 2, []string{"a-b", "a.b"}},
		{"a.", 1, []string{"a.b"}}, // a cursor need not be a stored id
		{"a~", 100, []string{"b", "~", "\u00e9"}},
		{"\u00e9", 10, nil},
		{"\xff", 10, nil},
	}
	for _, c := range cursors {
		recs, err := b.Scan(ctx, "s", c.after, c.limit)
		if err != nil {
			t.Fatalf("Scan(s, %q, %d) error: %v", c.after, c.limit, err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.ID)
			if string(r.Body) != "body of "+r.ID || r.Revision != 1 || r.Schema != "s" {
				t.Errorf("Scan(s, %q) record %+v has wrong content", c.after, r)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Scan(s, %q, %d) = %q, want %q", c.after, c.limit, got, c.want)
		}
	}
	if _, err := b.Scan(ctx, "s", "", 0); err == nil {
		t.Errorf("Scan with limit 0: err nil, want an error")
	}
}

func testTombstones(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	var writes []store.Write
	for i := range 10 {
		writes = append(writes, put("s", fmt.Sprintf("r%d", i), "x"))
	}
	MustCommit(t, b, false, writes...)
	MustCommit(t, b, false, del("s", "r0"), del("s", "r3"), del("s", "r4"), del("s", "r9"))
	want := []string{"r1", "r2", "r5", "r6", "r7", "r8"}
	for _, page := range []int{1, 2, 100} {
		if got := scanAll(t, b, "s", page); !slices.Equal(got, want) {
			t.Errorf("scan page %d after deletes = %q, want %q", page, got, want)
		}
	}
	wantCount(t, b, "s", 6)
	MustCommit(t, b, false, put("s", "r3", "back"))
	wantCount(t, b, "s", 7)
	if got := scanAll(t, b, "s", 3); !slices.Contains(got, "r3") {
		t.Errorf("re-created r3 missing from scan %q", got)
	}
}

func testHistory(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	var lastAt time.Time
	for i := 1; i <= 5; i++ {
		w := put("s", "h", fmt.Sprintf("body%d", i))
		w.At = at0.Add(time.Duration(i) * time.Second)
		lastAt = w.At
		w.History = store.HistoryMeta{Op: "patch", By: fmt.Sprintf("key%d", i), Version: i, Extra: []byte{byte(i)}}
		if i == 1 {
			w.History.Op = ""
		}
		MustCommit(t, b, false, w)
	}
	h, err := b.History(ctx, "s", "h")
	if err != nil {
		t.Fatalf("History error: %v", err)
	}
	if len(h) != HistoryLimit {
		t.Fatalf("History has %d entries, want %d", len(h), HistoryLimit)
	}
	for i, e := range h {
		rev := int64(5 - i)
		want := store.HistoryEntry{Revision: rev, Op: "patch", By: fmt.Sprintf("key%d", rev), Version: int(rev),
			At: at0.Add(time.Duration(rev) * time.Second), Extra: []byte{byte(rev)}, Body: []byte(fmt.Sprintf("body%d", rev))}
		if e.Revision != want.Revision || e.Op != want.Op || e.By != want.By || e.Version != want.Version ||
			!e.At.Equal(want.At) || !bytes.Equal(e.Extra, want.Extra) || !bytes.Equal(e.Body, want.Body) {
			t.Errorf("History[%d] = %+v, want %+v", i, e, want)
		}
	}

	// A delete takes a revision, has no body and keeps the history readable.
	dw := del("s", "h")
	dw.At = lastAt.Add(time.Second)
	MustCommit(t, b, false, dw)
	h, err = b.History(ctx, "s", "h")
	if err != nil {
		t.Fatalf("History after delete error: %v", err)
	}
	var got []string
	for _, e := range h {
		got = append(got, fmt.Sprintf("%d:%s:%s", e.Revision, e.Op, e.Body))
	}
	if want := []string{"6:delete:", "5:patch:body5", "4:patch:body4"}; !slices.Equal(got, want) {
		t.Errorf("history after delete = %q, want %q", got, want)
	}
	if h[0].Body != nil {
		t.Errorf("delete entry body = %q, want nil", h[0].Body)
	}

	// Default ops.
	MustCommit(t, b, false, put("s", "d", "1"))
	MustCommit(t, b, false, put("s", "d", "2"))
	MustCommit(t, b, false, del("s", "d"))
	h, _ = b.History(ctx, "s", "d")
	got = got[:0]
	for _, e := range h {
		got = append(got, e.Op)
	}
	if want := []string{"delete", "replace", "create"}; !slices.Equal(got, want) {
		t.Errorf("default history ops = %q, want %q", got, want)
	}
}

func testChanges(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	if seq, err := b.LastSeq(ctx, "s"); err != nil || seq != 0 {
		t.Fatalf("LastSeq of an empty schema = %d, %v; want 0, nil", seq, err)
	}
	seqs := map[string]uint64{}
	for _, w := range []store.Write{put("s", "a", "1"), put("s", "b", "1"), put("s", "a", "2"), put("s", "c", "1"), del("s", "b"), put("o", "a", "x")} {
		seqs[w.Schema+"/"+w.ID] = MustCommit(t, b, false, w)[0].Seq
	}
	all, err := b.Changes(ctx, "s", 0, 100)
	if err != nil {
		t.Fatalf("Changes error: %v", err)
	}
	type c struct {
		id  string
		rev int64
		op  string
	}
	want := []c{{"a", 2, "replace"}, {"c", 1, "create"}, {"b", 2, "delete"}}
	var got []c
	for i, ch := range all {
		got = append(got, c{ch.ID, ch.Revision, ch.Op})
		if ch.Seq != seqs["s/"+ch.ID] {
			t.Errorf("change of %s has seq %d, want that of its newest write %d", ch.ID, ch.Seq, seqs["s/"+ch.ID])
		}
		if i > 0 && ch.Seq <= all[i-1].Seq {
			t.Errorf("changes not ascending: %d after %d", ch.Seq, all[i-1].Seq)
		}
		if !ch.At.Equal(at0) {
			t.Errorf("change of %s at %v, want %v", ch.ID, ch.At, at0)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Changes(s, 0) = %+v, want %+v", got, want)
	}
	last, _ := b.LastSeq(ctx, "s")
	if last != all[len(all)-1].Seq {
		t.Errorf("LastSeq = %d, want %d", last, all[len(all)-1].Seq)
	}
	pages := []struct {
		since uint64
		limit int
		want  []string
	}{
		{0, 1, []string{"a"}},
		{0, 2, []string{"a", "c"}},
		{all[0].Seq, 100, []string{"c", "b"}},
		{all[0].Seq - 1, 1, []string{"a"}},
		{last, 100, nil},
		{last + 100, 100, nil},
	}
	for _, p := range pages {
		chs, err := b.Changes(ctx, "s", p.since, p.limit)
		if err != nil {
			t.Fatalf("Changes(s, %d, %d) error: %v", p.since, p.limit, err)
		}
		var ids []string
		for _, ch := range chs {
			ids = append(ids, ch.ID)
		}
		if !slices.Equal(ids, p.want) {
			t.Errorf("Changes(s, %d, %d) ids = %q, want %q", p.since, p.limit, ids, p.want)
		}
	}
	other, _ := b.Changes(ctx, "o", 0, 100)
	if len(other) != 1 || other[0].ID != "a" || other[0].Seq != 1 {
		t.Errorf("Changes(o) = %+v, want one change of a at seq 1", other)
	}
	if _, err := b.Changes(ctx, "s", 0, 0); err == nil {
		t.Errorf("Changes with limit 0: err nil, want an error")
	}
}

func testWaitChange(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	seq := MustCommit(t, b, false, put("s", "a", "1"))[0].Seq

	t.Run("past", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := b.WaitChange(ctx, "s", seq-1); err != nil {
			t.Errorf("WaitChange(since %d) with last %d = %v, want nil at once", seq-1, seq, err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := b.WaitChange(ctx, "s", seq); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitChange with no change = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Errorf("WaitChange returned after %v, before its deadline", d)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := b.WaitChange(ctx, "s", seq); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitChange with a canceled context = %v, want context.Canceled", err)
		}
	})
	for _, schema := range []string{"s", "new-schema"} {
		t.Run("wakes/"+schema, func(t *testing.T) {
			since, _ := b.LastSeq(ctx, schema)
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			const waiters = 4
			errs := make(chan error, waiters)
			for range waiters {
				go func() { errs <- b.WaitChange(ctx, schema, since) }()
			}
			time.Sleep(20 * time.Millisecond)
			select {
			case err := <-errs:
				t.Fatalf("WaitChange(%s, %d) returned %v before any change", schema, since, err)
			default:
			}
			MustCommit(t, b, false, put("other", "x", "not this schema"))
			MustCommit(t, b, false, put(schema, "b", "2"))
			for range waiters {
				if err := <-errs; err != nil {
					t.Errorf("WaitChange(%s, %d) after a commit = %v, want nil", schema, since, err)
				}
			}
		})
	}
}

func testSchemasMetaJobs(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	defs := map[string][][]byte{
		"order":  {[]byte(`{"version":1}`), []byte(`{"version":2}`), []byte(`{"version":3}`)},
		"Item":   {[]byte(`{"v":1}`)},
		"a.b-c~": {[]byte(`{}`)},
	}
	for name, vs := range defs {
		for i := len(vs) - 1; i >= 0; i-- { // out of order on purpose
			if err := b.PutSchemaVersion(ctx, name, i+1, vs[i]); err != nil {
				t.Fatalf("PutSchemaVersion(%s, %d) error: %v", name, i+1, err)
			}
		}
	}
	if err := b.PutSchemaVersion(ctx, "order", 2, []byte(`{"version":2}`)); err != nil {
		t.Errorf("PutSchemaVersion with identical bytes = %v, want nil", err)
	}
	if err := b.PutSchemaVersion(ctx, "order", 2, []byte(`{"version":2, "x":1}`)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("PutSchemaVersion with other bytes = %v, want ErrConflict", err)
	}
	for name, vs := range defs {
		got, err := b.SchemaVersions(ctx, name)
		if err != nil || len(got) != len(vs) {
			t.Fatalf("SchemaVersions(%s) = %q, %v; want %q", name, got, err, vs)
		}
		for i := range vs {
			if !bytes.Equal(got[i], vs[i]) {
				t.Errorf("SchemaVersions(%s)[%d] = %q, want %q", name, i, got[i], vs[i])
			}
		}
	}
	if _, err := b.SchemaVersions(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SchemaVersions(nope) err = %v, want ErrNotFound", err)
	}
	names, err := b.SchemaNames(ctx)
	if want := []string{"Item", "a.b-c~", "order"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("SchemaNames() = %q, %v; want %q", names, err, want)
	}

	kv := []struct {
		name string
		put  func(ctx context.Context, key string, v []byte) error
		get  func(ctx context.Context, key string) ([]byte, error)
	}{
		{"meta", b.PutSchemaMeta, b.SchemaMeta},
		{"job", b.PutJob, b.Job},
	}
	for _, c := range kv {
		if _, err := c.get(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s get of a missing key err = %v, want ErrNotFound", c.name, err)
		}
		for _, v := range [][]byte{[]byte(`{"mode":"FULL"}`), []byte(`{"mode":"NONE"}`), {}} {
			if err := c.put(ctx, "k1", v); err != nil {
				t.Fatalf("%s put %q error: %v", c.name, v, err)
			}
			got, err := c.get(ctx, "k1")
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("%s get after put %q = %q, %v", c.name, v, got, err)
			}
		}
	}
	for _, id := range []string{"job-b", "job-a"} {
		if err := b.PutJob(ctx, id, []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := b.Jobs(ctx)
	if want := []string{"job-a", "job-b", "k1"}; err != nil || !slices.Equal(jobs, want) {
		t.Errorf("Jobs() = %q, %v; want %q", jobs, err, want)
	}
}

func testMissing(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	MustCommit(t, b, false, put("s", "present", "x"))
	if _, err := b.Get(ctx, "s", "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of a missing id err = %v, want ErrNotFound", err)
	}
	if _, err := b.Get(ctx, "nope", "present"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get in a missing schema err = %v, want ErrNotFound", err)
	}
	if _, err := b.History(ctx, "s", "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("History of a missing id err = %v, want ErrNotFound", err)
	}
	if _, err := b.History(ctx, "s", "presen"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("History of a prefix of an id err = %v, want ErrNotFound", err)
	}
	if recs, err := b.Scan(ctx, "nope", "", 10); err != nil || len(recs) != 0 {
		t.Errorf("Scan of a missing schema = %v, %v; want none", recs, err)
	}
	if chs, err := b.Changes(ctx, "nope", 0, 10); err != nil || len(chs) != 0 {
		t.Errorf("Changes of a missing schema = %v, %v; want none", chs, err)
	}
	wantCount(t, b, "nope", 0)
	if seq, err := b.LastSeq(ctx, "nope"); err != nil || seq != 0 {
		t.Errorf("LastSeq of a missing schema = %d, %v; want 0", seq, err)
	}
	if res, err := b.Commit(ctx, nil, true); err != nil || len(res) != 0 {
		t.Errorf("Commit of no writes = %v, %v; want none", res, err)
	}
}

func testBodies(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	bodies := []struct {
		name string
		body []byte
	}{
		{"empty", []byte{}},
		{"binary", []byte{0, 0xff, 0, 1, '\n'}},
		{"3MiB", big},
	}
	for _, c := range bodies {
		w := put("s", c.name, "")
		w.Body = c.body
		MustCommit(t, b, false, w)
		r := MustGet(t, b, "s", c.name)
		if !bytes.Equal(r.Body, c.body) || r.Deleted {
			t.Errorf("body %s: got %d bytes deleted=%v, want %d bytes", c.name, len(r.Body), r.Deleted, len(c.body))
		}
	}
	// The caller may reuse its buffer once Commit returns.
	buf := []byte("first")
	w := put("s", "reuse", "")
	w.Body = buf
	MustCommit(t, b, false, w)
	copy(buf, "XXXXX")
	wantRecord(t, b, "s", "reuse", 1, false, "first")
	// So may a writer of a body a backend may store compressed.
	text := bytes.Repeat([]byte(`{"sku":"SKU-00001","qty":2},`), 10)
	buf = bytes.Clone(text)
	w = put("s", "reuse-text", "")
	w.Body = buf
	MustCommit(t, b, false, w)
	copy(buf, "XXXXX")
	wantRecord(t, b, "s", "reuse-text", 1, false, string(text))
	recs, err := b.Scan(context.Background(), "s", "reuse", 1)
	if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Body, text) {
		t.Errorf("Scan of a text body = %d records, err %v; want the body as written", len(recs), err)
	}
	// A history body survives the record being replaced.
	MustCommit(t, b, false, put("s", "3MiB", "small"))
	h, err := b.History(context.Background(), "s", "3MiB")
	if err != nil || len(h) != 2 || !bytes.Equal(h[1].Body, big) || string(h[0].Body) != "small" {
		t.Errorf("history of a replaced 3 MiB body: %d entries, err %v", len(h), err)
	}
}

func testConcurrentWriters(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	MustCommit(t, b, false, put("s", "counter", "0"))
	const writers, attempts = 8, 20
	var mu sync.Mutex
	wins := 0
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range attempts {
				cur, err := b.Get(ctx, "s", "counter")
				if err != nil {
					t.Error(err)
					return
				}
				res, err := b.Commit(ctx, []store.Write{cond(put("s", "counter", fmt.Sprintf("%d", w)), cur.Revision)}, false)
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case res[0].Err == nil:
					if res[0].Revision != cur.Revision+1 {
						t.Errorf("conditional write on revision %d made revision %d", cur.Revision, res[0].Revision)
					}
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(res[0].Err, store.ErrConflict):
					t.Errorf("conditional write err = %v, want nil or ErrConflict", res[0].Err)
				}
			}
		})
	}
	wg.Wait()
	r := MustGet(t, b, "s", "counter")
	if r.Revision != int64(1+wins) {
		t.Errorf("after %d successful conditional writes revision = %d, want %d (lost update)", wins, r.Revision, 1+wins)
	}
	if wins == 0 {
		t.Errorf("no conditional write succeeded")
	}
}

func testReopen(t *testing.T, open func(t *testing.T) Backend) {
	ctx := context.Background()
	b := open(t)
	MustCommit(t, b, false, put("s", "a", "A1"), put("s", "a", "A2"), put("s", "b", "B"), del("s", "b"), put("s", "c", "C"))
	if err := b.PutSchemaVersion(ctx, "s", 1, []byte("def1")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutSchemaMeta(ctx, "s", []byte("meta")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutJob(ctx, "j", []byte("job")); err != nil {
		t.Fatal(err)
	}
	lastBefore, _ := b.LastSeq(ctx, "s")
	changesBefore, _ := b.Changes(ctx, "s", 0, 100)
	if err := b.Close(); err != nil {
		t.Fatalf("Close error: %v", err)
	}

	b = open(t)
	wantRecord(t, b, "s", "a", 2, false, "A2")
	wantRecord(t, b, "s", "b", 2, true, "")
	wantRecord(t, b, "s", "c", 1, false, "C")
	wantCount(t, b, "s", 2)
	if got := scanAll(t, b, "s", 10); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("scan after reopen = %q, want [a c]", got)
	}
	if h, err := b.History(ctx, "s", "a"); err != nil || len(h) != 2 || string(h[0].Body) != "A2" || string(h[1].Body) != "A1" {
		t.Errorf("history after reopen = %+v, %v", h, err)
	}
	if last, _ := b.LastSeq(ctx, "s"); last != lastBefore {
		t.Errorf("LastSeq after reopen = %d, want %d", last, lastBefore)
	}
	if chs, _ := b.Changes(ctx, "s", 0, 100); !slices.EqualFunc(chs, changesBefore, sameChange) {
		t.Errorf("changes after reopen = %+v, want %+v", chs, changesBefore)
	}
	if v, err := b.SchemaVersions(ctx, "s"); err != nil || len(v) != 1 || string(v[0]) != "def1" {
		t.Errorf("schema versions after reopen = %q, %v", v, err)
	}
	if v, err := b.SchemaMeta(ctx, "s"); err != nil || string(v) != "meta" {
		t.Errorf("schema meta after reopen = %q, %v", v, err)
	}
	if v, err := b.Job(ctx, "j"); err != nil || string(v) != "job" {
		t.Errorf("job after reopen = %q, %v", v, err)
	}
	res := MustCommit(t, b, false, put("s", "b", "B again"))[0]
	if res.Revision != 3 || res.Seq <= lastBefore {
		t.Errorf("write after reopen: revision %d seq %d, want revision 3 and seq above %d", res.Revision, res.Seq, lastBefore)
	}
	ctxw, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.WaitChange(ctxw, "s", lastBefore); err != nil {
		t.Errorf("WaitChange after reopen = %v, want nil", err)
	}
}

func sameChange(a, b store.Change) bool {
	return a.Seq == b.Seq && a.ID == b.ID && a.Revision == b.Revision && a.Op == b.Op && a.At.Equal(b.At)
}

func testClosed(t *testing.T, open func(t *testing.T) Backend) {
	b := open(t)
	ctx := context.Background()
	MustCommit(t, b, false, put("s", "a", "1"))
	ctxw, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- b.WaitChange(ctxw, "s", 1) }()
	if err := b.Close(); err != nil {
		t.Fatalf("Close error: %v", err)
	}
	if err := <-waited; !errors.Is(err, store.ErrClosed) {
		t.Errorf("WaitChange across Close = %v, want ErrClosed", err)
	}
	if _, err := b.Commit(ctx, []store.Write{put("s", "b", "1")}, false); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit after Close err = %v, want ErrClosed", err)
	}
	if _, err := b.Get(ctx, "s", "a"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close err = %v, want ErrClosed", err)
	}
	if err := b.Ping(ctx); err == nil {
		t.Errorf("Ping after Close = nil, want an error")
	}
}
