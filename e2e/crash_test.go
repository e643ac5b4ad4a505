package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashSchema is the schema the crash test writes.
const crashSchema = `{
  "name": "crash",
  "version": 1,
  "fields": {
    "nonce":   {"type": "string", "validate": "required"},
    "writer":  {"type": "int"},
    "seq":     {"type": "int"},
    "payload": {"type": "string"}
  }
}`

// crashBody is one record of the crash schema; every body sent carries a
// nonce no other body has.
type crashBody struct {
	Nonce   string `json:"nonce" msgpack:"nonce" cbor:"nonce"`
	Writer  int64  `json:"writer" msgpack:"writer" cbor:"writer"`
	Seq     int64  `json:"seq" msgpack:"seq" cbor:"seq"`
	Payload string `json:"payload" msgpack:"payload" cbor:"payload"`
}

// outcome is what a writer learnt of one write.
type outcome int

const (
	// outcomeOK is a 2xx: the write must be durable.
	outcomeOK outcome = iota
	// outcomeFail is a 4xx: the write must not have happened.
	outcomeFail
	// outcomeUnknown is a timeout, a broken connection or a 5xx: the
	// write may or may not have happened.
	outcomeUnknown
)

func (o outcome) String() string {
	return [...]string{"ok", "fail", "unknown"}[o]
}

// crashWrite is one ledger entry: a PUT and what came of it.
type crashWrite struct {
	id         string
	format     string
	body       crashBody
	start, end time.Time
	outcome    outcome
	status     int
	revision   int64
	requestID  string
	err        string
}

func (w *crashWrite) String() string {
	s := fmt.Sprintf("PUT %s as %s nonce=%s %s (status %d, revision %d, request %q, sent %s, answered %s)",
		w.id, w.format, w.body.Nonce, w.outcome, w.status, w.revision, w.requestID,
		w.start.Format("15:04:05.000000"), w.end.Format("15:04:05.000000"))
	if w.err != "" {
		s += ": " + w.err
	}
	return s
}

// idState is what the test knows for certain of one record after a
// verification.
type idState struct {
	present  bool
	body     crashBody
	revision int64
	shas     map[int64]string
}

// checker counts the failures of the durability checks, so that a cycle
// can stop the test once they fail without other checks' failures doing
// the same.
type checker struct {
	t *testing.T
	n int
	// committedUnknown counts writes of unknown outcome found stored.
	committedUnknown int
}

func (c *checker) Errorf(format string, args ...any) {
	c.t.Helper()
	c.n++
	c.t.Errorf(format, args...)
}

const (
	crashWriters      = 8
	crashHistoryLimit = 200
	crashWriteTimeout = 5 * time.Second
)

var crashIDs = func() []string {
	ids := make([]string, 12)
	for i := range ids {
		ids[i] = fmt.Sprintf("rec-%02d", i)
	}
	return ids
}()

func crashCycles(t *testing.T) int {
	for _, env := range []string{"FERRY_E2E_CRASH_CYCLES", "FERRY_CRASH_CYCLES"} {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive number of cycles", env, v)
			}
			return n
		}
	}
	if testing.Short() {
		return 3
	}
	return 20
}

// TestCrash kills the service with SIGKILL while writers hammer it, again
// and again on the same data directory, and checks after each restart that
// every acknowledged write survived and nothing else appeared.
func TestCrash(t *testing.T) {
	t.Parallel()
	cycles := crashCycles(t)
	dataDir := t.TempDir()
	env := []string{"FERRY_HISTORY_LIMIT=" + strconv.Itoa(crashHistoryLimit)}
	states := map[string]*idState{}
	for _, id := range crashIDs {
		states[id] = &idState{shas: map[int64]string{}}
	}
	var total, ok, unknown int
	var prev *server
	var prevWrites []*crashWrite
	c := &checker{t: t}
	// A listing that disagrees once is reported once, and the durability
	// checks go on.
	listings := []struct {
		name  string
		check func(*checker, *server, int, map[string]*idState)
	}{{"list", checkList}, {"export", checkExport}, {"change feed", checkChanges}}
	broken := map[string]bool{}
	for cycle := 0; cycle <= cycles; cycle++ {
		cycleEnv := env
		if cycle%2 == 1 {
			// One P: the process switches to two and back as writes come
			// and go, and is killed at any point of that too.
			cycleEnv = append(slices.Clip(env), "GOMAXPROCS=1")
		}
		s := startServer(t, dataDir, cycleEnv...)
		if cycle == 0 {
			s.expect(t, http.StatusCreated, http.MethodPost, "/v1/schemas", hdr("Content-Type", "application/json"), []byte(crashSchema))
		} else {
			verifyCrash(c, s, cycle, prev, prevWrites, states)
			if c.n > 0 {
				t.Fatalf("cycle %d: stopping after the failures above", cycle)
			}
			for _, l := range listings {
				if broken[l.name] {
					continue
				}
				lc := &checker{t: t}
				l.check(lc, s, cycle, states)
				if lc.n > 0 {
					t.Logf("cycle %d: later cycles skip the %s check", cycle, l.name)
					broken[l.name] = true
				}
			}
		}
		if cycle == cycles {
			if code, _ := s.signal(t, syscall.SIGTERM, 30*time.Second); code != 0 {
				t.Errorf("exit code after SIGTERM: %d, want 0", code)
			}
			break
		}
		prevWrites = crashCycle(s, cycle)
		prev = s
		for _, w := range prevWrites {
			total++
			switch w.outcome {
			case outcomeOK:
				ok++
			case outcomeUnknown:
				unknown++
			}
		}
	}
	t.Logf("%d cycles: %d writes, %d acknowledged, %d unknown of which %d were stored", cycles, total, ok, unknown, c.committedUnknown)
	if ok == 0 {
		t.Errorf("no write was acknowledged in %d cycles", cycles)
	}
}

// crashCycle runs the writers against s and kills s 100–600 ms in. It
// returns every write sent, in no particular order.
func crashCycle(s *server, cycle int) []*crashWrite {
	transport := &http.Transport{MaxIdleConnsPerHost: crashWriters}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	stop := make(chan struct{})
	ledgers := make([][]*crashWrite, crashWriters)
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				wr := &crashWrite{
					id: crashIDs[rand.IntN(len(crashIDs))],
					body: crashBody{
						Nonce:   fmt.Sprintf("c%d-w%d-s%d-%016x", cycle, w, seq, rand.Uint64()),
						Writer:  int64(w),
						Seq:     int64(seq),
						Payload: strings.Repeat("p", rand.IntN(300)),
					},
				}
				put(client, s.base, wr)
				ledgers[w] = append(ledgers[w], wr)
			}
		})
	}
	time.Sleep(time.Duration(100+rand.IntN(500)) * time.Millisecond)
	// Writers stop as soon as the process is gone; writes sent later would
	// only meet a refused connection.
	_ = s.cmd.Process.Kill()
	close(stop)
	s.kill()
	wg.Wait()
	var all []*crashWrite
	for _, l := range ledgers {
		all = append(all, l...)
	}
	return all
}

// put sends one write in a random format and records its outcome in wr.
// The response comes as JSON.
func put(client *http.Client, base string, wr *crashWrite) {
	f := wireFormats[rand.IntN(len(wireFormats))]
	wr.format = f.name
	body, err := f.encode(wr.body)
	if err != nil {
		wr.outcome, wr.err = outcomeFail, "encoding: "+err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), crashWriteTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/records/crash/"+wr.id, bytes.NewReader(body))
	req.Header.Set("Content-Type", f.mediaType)
	wr.start = time.Now()
	resp, err := client.Do(req)
	if err != nil {
		wr.end = time.Now()
		wr.outcome, wr.err = outcomeUnknown, err.Error()
		return
	}
	// The status decides; the rest of the body may be cut off by the kill.
	data, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	wr.end = time.Now()
	wr.status = resp.StatusCode
	wr.requestID = resp.Header.Get("X-Request-Id")
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		wr.outcome = outcomeOK
		wr.revision, err = strconv.ParseInt(resp.Header.Get("Ferry-Revision"), 10, 64)
		if err != nil {
			wr.err = fmt.Sprintf("Ferry-Revision %q: %v", resp.Header.Get("Ferry-Revision"), err)
		} else if readErr == nil {
			var echoed crashBody
			if err := json.Unmarshal(data, &echoed); err != nil || echoed != wr.body {
				wr.err = fmt.Sprintf("answered %s", data)
			}
		}
	case resp.StatusCode >= 500:
		wr.outcome, wr.err = outcomeUnknown, string(data)
	default:
		wr.outcome, wr.err = outcomeFail, string(data)
	}
}

// verifyCrash checks what the restarted server s holds against the
// writes of the last cycle (served by prev, now dead) and what was known
// before it, then updates states.
func verifyCrash(c *checker, s *server, cycle int, prev *server, writes []*crashWrite, states map[string]*idState) {
	t := c.t
	byID := map[string][]*crashWrite{}
	byNonce := map[string]*crashWrite{}
	for _, w := range writes {
		byID[w.id] = append(byID[w.id], w)
		byNonce[w.body.Nonce] = w
		if w.outcome == outcomeFail {
			c.Errorf("cycle %d: a valid write was refused: %v", cycle, w)
		}
		if w.outcome == outcomeOK && w.err != "" {
			c.Errorf("cycle %d: acknowledged write answered wrongly: %v", cycle, w)
		}
	}
	_, data := s.expect(t, http.StatusOK, http.MethodGet, "/v1/schemas/crash", nil, nil)
	if !bytes.Contains(data, []byte(`"name":"crash"`)) {
		c.Errorf("cycle %d: GET /v1/schemas/crash after restart: %s", cycle, data)
	}

	for _, id := range crashIDs {
		states[id] = verifyRecord(t, c, s, cycle, id, states[id], byID[id], byNonce)
	}
	verifyAudit(c, cycle, prev, writes, states)
}

// verifyRecord checks one record and its history, and returns its new
// state.
func verifyRecord(t *testing.T, c *checker, s *server, cycle int, id string, base *idState, writes []*crashWrite, byNonce map[string]*crashWrite) *idState {
	var nOK, nUnknown int
	for _, w := range writes {
		switch w.outcome {
		case outcomeOK:
			nOK++
		case outcomeUnknown:
			nUnknown++
		}
	}
	resp, data := s.do(t, http.MethodGet, "/v1/records/crash/"+id, nil, nil)
	if resp.StatusCode == http.StatusNotFound {
		if base.present || nOK > 0 {
			c.Errorf("cycle %d: GET %s: 404 after %d acknowledged writes (present before: %v)", cycle, id, nOK, base.present)
		}
		return base
	}
	if resp.StatusCode != http.StatusOK {
		c.Errorf("cycle %d: GET %s: status %d, body %s", cycle, id, resp.StatusCode, data)
		return base
	}
	var got crashBody
	if err := wireFormats[0].decode(data, &got); err != nil {
		c.Errorf("cycle %d: GET %s: stored record does not decode: %v in %q", cycle, id, err, data)
		return base
	}
	_, cb := s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/crash/"+id, hdr("Accept", "application/cbor"), nil)
	var gotCBOR crashBody
	if err := cborDec.Unmarshal(cb, &gotCBOR); err != nil || gotCBOR != got {
		c.Errorf("cycle %d: GET %s as CBOR: %+v (%v), as JSON %+v", cycle, id, gotCBOR, err, got)
	}
	rev, err := strconv.ParseInt(resp.Header.Get("Ferry-Revision"), 10, 64)
	if err != nil {
		c.Errorf("cycle %d: GET %s: Ferry-Revision %q", cycle, id, resp.Header.Get("Ferry-Revision"))
		return base
	}
	if lo, hi := base.revision+int64(nOK), base.revision+int64(nOK+nUnknown); rev < lo || rev > hi {
		c.Errorf("cycle %d: %s: Ferry-Revision %d, want %d..%d (%d before, %d acknowledged and %d unknown writes since)",
			cycle, id, rev, lo, hi, base.revision, nOK, nUnknown)
	}

	// The stored body is the last acknowledged write, or one sent later
	// whose outcome is unknown, or — when nothing was acknowledged — the
	// body from before the cycle.
	src := byNonce[got.Nonce]
	switch {
	case src == nil || src.id != id:
		if !base.present || got != base.body {
			c.Errorf("cycle %d: %s holds %+v, which was never sent for it", cycle, id, got)
		} else if nOK > 0 || rev != base.revision {
			c.Errorf("cycle %d: %s still holds its body from before the cycle at revision %d after %d acknowledged writes", cycle, id, rev, nOK)
		}
	case src.body != got:
		c.Errorf("cycle %d: %s holds %+v, but %v sent %+v", cycle, id, got, src, src.body)
	case src.outcome == outcomeFail:
		c.Errorf("cycle %d: %s holds the body of a refused write: %v", cycle, id, src)
	default:
		for _, w := range writes {
			if w.outcome == outcomeOK && src.outcome == outcomeOK && w.start.After(src.end) {
				c.Errorf("cycle %d: %s holds %v, but %v was sent after that was acknowledged", cycle, id, src, w)
			}
		}
		if src.outcome == outcomeOK && src.revision != rev {
			c.Errorf("cycle %d: %s holds %v at revision %d, acknowledged as revision %d", cycle, id, src, rev, src.revision)
		}
	}

	next := &idState{present: true, body: got, revision: rev, shas: map[int64]string{}}
	verifyHistory(t, c, s, cycle, id, base, next, writes, byNonce)
	return next
}

// verifyHistory checks GET …/_history?include=data of one record against
// the writes of the cycle and the history seen before it.
func verifyHistory(t *testing.T, c *checker, s *server, cycle int, id string, base, next *idState, writes []*crashWrite, byNonce map[string]*crashWrite) {
	_, data := s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/crash/"+id+"/_history?include=data", nil, nil)
	var h history
	if err := json.Unmarshal(data, &h); err != nil {
		c.Errorf("cycle %d: GET %s/_history: %v", cycle, id, err)
		return
	}
	wantLen := min(next.revision, crashHistoryLimit)
	if int64(len(h.Revisions)) != wantLen {
		c.Errorf("cycle %d: %s/_history holds %d revisions, want %d (revision %d, limit %d)", cycle, id, len(h.Revisions), wantLen, next.revision, crashHistoryLimit)
	}
	committed := map[*crashWrite]int64{}
	for i, r := range h.Revisions {
		if want := next.revision - int64(i); r.Revision != want {
			c.Errorf("cycle %d: %s/_history entry %d is revision %d, want %d (newest first, no gaps)", cycle, id, i, r.Revision, want)
			return
		}
		wantOp := "replace"
		if r.Revision == 1 {
			wantOp = "create"
		}
		if r.Op != wantOp || r.Version != 1 || r.Size <= 0 || !sha256Hex.MatchString(r.Sha256) || r.By == nil || r.At.IsZero() {
			c.Errorf("cycle %d: %s/_history revision %d: op %q version %d size %d sha256 %q by %v at %v; want op %s, version 1, a size, a sha256, by and at",
				cycle, id, r.Revision, r.Op, r.Version, r.Size, r.Sha256, r.By, r.At, wantOp)
		}
		next.shas[r.Revision] = r.Sha256
		if old, seen := base.shas[r.Revision]; seen && old != r.Sha256 {
			c.Errorf("cycle %d: %s/_history revision %d changed: sha256 %s, was %s", cycle, id, r.Revision, r.Sha256, old)
		}
		var body crashBody
		if err := wireFormats[0].decode(r.Data, &body); err != nil {
			c.Errorf("cycle %d: %s/_history revision %d: data %s: %v", cycle, id, r.Revision, r.Data, err)
			continue
		}
		if i == 0 && body != next.body {
			c.Errorf("cycle %d: %s/_history newest data %+v, but the record is %+v", cycle, id, body, next.body)
		}
		if r.Revision <= base.revision {
			continue
		}
		w := byNonce[body.Nonce]
		switch {
		case w == nil || w.id != id || w.body != body:
			c.Errorf("cycle %d: %s/_history revision %d holds %+v, which was never sent for it", cycle, id, r.Revision, body)
		case w.outcome == outcomeFail:
			c.Errorf("cycle %d: %s/_history revision %d holds a refused write: %v", cycle, id, r.Revision, w)
		case committed[w] != 0:
			c.Errorf("cycle %d: %s/_history holds %v twice, at revisions %d and %d", cycle, id, w, committed[w], r.Revision)
		case w.outcome == outcomeOK && w.revision != r.Revision:
			c.Errorf("cycle %d: %s/_history holds %v at revision %d", cycle, id, w, r.Revision)
		default:
			committed[w] = r.Revision
			if w.outcome == outcomeUnknown {
				c.committedUnknown++
			}
		}
	}
	oldest := next.revision - int64(len(h.Revisions))
	var ordered []*crashWrite
	for _, w := range writes {
		if w.outcome == outcomeOK && w.revision > oldest {
			if _, ok := committed[w]; !ok {
				c.Errorf("cycle %d: %s/_history lacks acknowledged %v", cycle, id, w)
			}
		}
		if _, ok := committed[w]; ok {
			ordered = append(ordered, w)
		}
	}
	// A write sent after another was acknowledged comes after it.
	sort.Slice(ordered, func(i, j int) bool { return committed[ordered[i]] < committed[ordered[j]] })
	for i, a := range ordered {
		if a.outcome != outcomeOK {
			continue
		}
		for _, b := range ordered[:i] {
			if b.start.After(a.end) {
				c.Errorf("cycle %d: %s: %v is at revision %d, before %v at %d, though it was sent after that was acknowledged",
					cycle, id, b, committed[b], a, committed[a])
			}
		}
	}
}

// verifyAudit checks the audit lines the killed server wrote: every
// acknowledged write has one, and every audited write is in the history.
func verifyAudit(c *checker, cycle int, prev *server, writes []*crashWrite, current map[string]*idState) {
	audits := map[string]map[string]any{}
	for _, e := range prev.logs.Entries() {
		if e["log"] != "audit" {
			continue
		}
		rid, _ := e["request_id"].(string)
		audits[rid] = e
		id, _ := e["id"].(string)
		st := current[id]
		rev, _ := e["revision"].(float64)
		if st == nil || e["schema"] != "crash" {
			c.Errorf("cycle %d: audit line for a record never written: %v", cycle, e)
			continue
		}
		if sha, ok := st.shas[int64(rev)]; ok && sha != e["sha256"] {
			c.Errorf("cycle %d: audit line %v, but %s/_history has sha256 %s at revision %d", cycle, e, id, sha, int64(rev))
		}
		if int64(rev) > st.revision {
			c.Errorf("cycle %d: audit line %v: revision %d was logged, yet %s is at revision %d after the restart", cycle, e, int64(rev), id, st.revision)
		}
	}
	for _, w := range writes {
		if w.outcome != outcomeOK {
			continue
		}
		e := audits[w.requestID]
		if e == nil {
			c.Errorf("cycle %d: no audit line for acknowledged %v", cycle, w)
			continue
		}
		if e["id"] != w.id || e["revision"] != float64(w.revision) {
			c.Errorf("cycle %d: audit line %v for %v", cycle, e, w)
		}
	}
}

// checkList checks GET /v1/records/crash against the records read one by
// one.
func checkList(c *checker, s *server, cycle int, current map[string]*idState) {
	resp, data := s.do(c.t, http.MethodGet, "/v1/records/crash?limit=1000", nil, nil)
	if resp.StatusCode != http.StatusOK {
		c.Errorf("cycle %d: GET /v1/records/crash?limit=1000: status %d, want 200; body %s", cycle, resp.StatusCode, data)
		return
	}
	var page struct {
		Items      []envelope `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		c.Errorf("cycle %d: GET /v1/records/crash: %v", cycle, err)
		return
	}
	if page.NextCursor != nil || resp.Header.Get("Link") != "" {
		c.Errorf("cycle %d: the only page has next_cursor %v and Link %q, want neither", cycle, page.NextCursor, resp.Header.Get("Link"))
	}
	listed := map[string]bool{}
	for i, env := range page.Items {
		checkEnvelope(c, cycle, "list", env, current)
		if i > 0 && page.Items[i-1].ID >= env.ID {
			c.Errorf("cycle %d: list not in id order: %q then %q", cycle, page.Items[i-1].ID, env.ID)
		}
		listed[env.ID] = true
	}
	for id, st := range current {
		if st.present && !listed[id] {
			c.Errorf("cycle %d: list lacks %s", cycle, id)
		}
	}
}

// envelope is one record in a page or an export stream.
type envelope struct {
	ID        string    `json:"id"`
	Revision  int64     `json:"revision"`
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	Data      crashBody `json:"data"`
}

func checkEnvelope(c *checker, cycle int, where string, env envelope, current map[string]*idState) {
	st := current[env.ID]
	switch {
	case st == nil || !st.present:
		c.Errorf("cycle %d: %s holds %q, which is not a record", cycle, where, env.ID)
	case env.Revision != st.revision || env.Data != st.body || env.Version != 1 || env.UpdatedAt.IsZero():
		c.Errorf("cycle %d: %s holds %s at revision %d version %d updated %v with %+v; GET gave revision %d with %+v",
			cycle, where, env.ID, env.Revision, env.Version, env.UpdatedAt, env.Data, st.revision, st.body)
	}
}

// checkExport checks GET …/_export as JSON Lines against the records read
// one by one.
func checkExport(c *checker, s *server, cycle int, current map[string]*idState) {
	resp, data := s.do(c.t, http.MethodGet, "/v1/records/crash/_export", hdr("Accept", "application/jsonl"), nil)
	if resp.StatusCode != http.StatusOK {
		c.Errorf("cycle %d: GET _export: status %d, want 200; body %s", cycle, resp.StatusCode, data)
		return
	}
	var prevID string
	exported := map[string]bool{}
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 && len(data) == 0 {
			break
		}
		var env envelope
		if err := json.Unmarshal(line, &env); err != nil {
			c.Errorf("cycle %d: _export line %d: %v in %q", cycle, i, err, line)
			return
		}
		checkEnvelope(c, cycle, "_export", env, current)
		if i > 0 && prevID >= env.ID {
			c.Errorf("cycle %d: _export not in id order: %q then %q", cycle, prevID, env.ID)
		}
		prevID = env.ID
		exported[env.ID] = true
	}
	for id, st := range current {
		if st.present && !exported[id] {
			c.Errorf("cycle %d: _export lacks %s", cycle, id)
		}
	}
}

// checkChanges checks the change feed from the start against the records
// read one by one.
func checkChanges(c *checker, s *server, cycle int, current map[string]*idState) {
	resp, data := s.do(c.t, http.MethodGet, "/v1/records/crash/_changes?since=0&limit=1000", nil, nil)
	if resp.StatusCode != http.StatusOK {
		c.Errorf("cycle %d: GET _changes?since=0: status %d, want 200; body %s", cycle, resp.StatusCode, data)
		return
	}
	var feed changes
	if err := json.Unmarshal(data, &feed); err != nil {
		c.Errorf("cycle %d: GET _changes: %v", cycle, err)
		return
	}
	seen := map[string]bool{}
	for i, ch := range feed.Changes {
		st := current[ch.ID]
		if st == nil || !st.present || ch.Revision != st.revision || seen[ch.ID] {
			c.Errorf("cycle %d: _changes lists %+v; the record is %+v (listed before: %v)", cycle, ch, st, seen[ch.ID])
		}
		seen[ch.ID] = true
		if i > 0 && feed.Changes[i-1].Seq >= ch.Seq {
			c.Errorf("cycle %d: _changes not ordered by seq: %d then %d", cycle, feed.Changes[i-1].Seq, ch.Seq)
		}
	}
	if n := len(feed.Changes); n > 0 && feed.LastSeq != feed.Changes[n-1].Seq {
		c.Errorf("cycle %d: _changes last_seq %d, want the last change's seq %d", cycle, feed.LastSeq, feed.Changes[n-1].Seq)
	}
	for id, st := range current {
		if st.present && !seen[id] {
			c.Errorf("cycle %d: _changes lacks %s", cycle, id)
		}
	}
}
