// Package e2e tests the built Ferry binary from the outside: it starts the
// service on a loopback port with a temporary data directory, talks HTTP to
// it, reads its JSON log, signals it and kills it.
//
// The binary is built once per test run. FERRY_E2E_RACE=1 builds it with
// the race detector.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
	"sigs.k8s.io/yaml"
)

// ferryBin is the path of the binary TestMain builds.
var ferryBin string

// Generous limits: the machine running these tests may be small and busy.
const (
	startTimeout   = 60 * time.Second
	requestTimeout = 30 * time.Second
	logWait        = 10 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "ferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ferryBin = filepath.Join(dir, "ferry")
	if err := buildBinary(ferryBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// buildBinary builds cmd/api from the module root into out.
func buildBinary(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	args := []string{"build", "-o", out}
	if os.Getenv("FERRY_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/api")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s in %s: %w", strings.Join(args, " "), root, err)
	}
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1:0: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// logSink collects the service's stdout, one line at a time.
type logSink struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.lines = append(s.lines, string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

// Lines returns the complete lines written so far.
func (s *logSink) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Entries returns the lines that are JSON objects, decoded.
func (s *logSink) Entries() []map[string]any {
	var out []map[string]any
	for _, l := range s.Lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and
// the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is one running Ferry process.
type server struct {
	cmd     *exec.Cmd
	addr    string
	base    string
	dataDir string
	logs    *logSink
	stderr  *syncBuffer
	exited  chan struct{}
	waitErr error
	// stopped is set when the test ends the process on purpose.
	stopped bool
}

// startServer starts the binary on a free loopback port with dataDir as
// its store and extra FERRY_* settings in env, and waits until /healthz
// answers. The process is killed when the test ends, if still running.
func startServer(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	var lastErr error
	// Another process may take the port between freePort and the bind.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStart(t, dataDir, env)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("starting ferry on %s: %v", dataDir, lastErr)
	return nil
}

func tryStart(t *testing.T, dataDir string, env []string) (*server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	s := &server{
		addr:    addr,
		base:    "http://" + addr,
		dataDir: dataDir,
		logs:    &logSink{},
		stderr:  &syncBuffer{},
		exited:  make(chan struct{}),
	}
	s.cmd = exec.Command(ferryBin)
	s.cmd.Env = append(os.Environ(), "FERRY_ADDR="+addr, "FERRY_DATA_DIR="+dataDir)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		// Logs of a process the test stopped on purpose tell nothing of
		// the failure; those of one still serving or gone on its own may.
		quiet := s.stopped
		s.kill()
		if t.Failed() && !quiet {
			s.dumpLogs(t)
		}
	})

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("exited before serving (%v); stderr: %s", s.waitErr, s.stderr.String())
		default:
		}
		// The "serving" line proves that this process, and not some other
		// one, owns the port.
		if s.findLog(func(e map[string]any) bool { return e["message"] == "serving" && e["addr"] == addr }) != nil {
			resp, err := client.Get(s.base + "/healthz")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return s, nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	return nil, fmt.Errorf("no healthy /healthz within %v; stderr: %s", startTimeout, s.stderr.String())
}

func (s *server) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL and waits for it.
func (s *server) kill() {
	s.stopped = true
	if s.running() {
		_ = s.cmd.Process.Kill()
	}
	<-s.exited
}

// signal sends sig and waits up to limit for the process to exit. It
// returns the exit code and how long the exit took.
func (s *server) signal(t *testing.T, sig os.Signal, limit time.Duration) (int, time.Duration) {
	t.Helper()
	s.stopped = true
	start := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v to ferry: %v", sig, err)
	}
	select {
	case <-s.exited:
	case <-time.After(limit):
		t.Errorf("ferry did not exit within %v of %v", limit, sig)
		s.kill()
	}
	return s.cmd.ProcessState.ExitCode(), time.Since(start)
}

func (s *server) dumpLogs(t *testing.T) {
	lines := s.logs.Lines()
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	for i, l := range lines {
		if len(l) > 600 {
			lines[i] = l[:600] + "…"
		}
	}
	t.Logf("ferry at %s, last stdout lines:\n%s\nstderr:\n%s", s.addr, strings.Join(lines, "\n"), s.stderr.String())
}

// findLog returns the first log entry that match accepts, or nil.
func (s *server) findLog(match func(map[string]any) bool) map[string]any {
	for _, e := range s.logs.Entries() {
		if match(e) {
			return e
		}
	}
	return nil
}

// waitLog polls the log until match accepts an entry.
func (s *server) waitLog(match func(map[string]any) bool) map[string]any {
	deadline := time.Now().Add(logWait)
	for {
		if e := s.findLog(match); e != nil {
			return e
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do sends one request and returns the response with its body read.
func (s *server) do(t *testing.T, method, path string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, data
}

// expect sends a request and fails the test unless the status is want.
func (s *server) expect(t *testing.T, want int, method, path string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, data := s.do(t, method, path, header, body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, resp.StatusCode, want, data)
	}
	return resp, data
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// noteSchema is the schema most tests register.
const noteSchema = `{
  "name": "note",
  "version": 1,
  "description": "A short note",
  "fields": {
    "title": {"type": "string", "validate": "required"},
    "count": {"type": "int", "validate": "gte=0"},
    "at":    {"type": "time"},
    "tags":  {"type": "array", "items": {"type": "string"}},
    "blob":  {"type": "bytes", "optional": true}
  }
}`

// note is a client's own struct for the note schema; its Go field names
// match the compiled struct's, so it reads and writes gob too.
type note struct {
	Title string    `json:"title" msgpack:"title" cbor:"title"`
	Count int64     `json:"count" msgpack:"count" cbor:"count"`
	At    time.Time `json:"at" msgpack:"at" cbor:"at"`
	Tags  []string  `json:"tags" msgpack:"tags" cbor:"tags"`
	Blob  []byte    `json:"blob" msgpack:"blob" cbor:"blob"`
}

func (n note) equal(o note) bool {
	return n.Title == o.Title && n.Count == o.Count && n.At.Equal(o.At) &&
		reflect.DeepEqual(n.Tags, o.Tags) && bytes.Equal(n.Blob, o.Blob)
}

func registerNote(t *testing.T, s *server) {
	t.Helper()
	s.expect(t, http.StatusCreated, http.MethodPost, "/v1/schemas", hdr("Content-Type", "application/json"), []byte(noteSchema))
}

// wireFormat is one of the four record formats as a client speaks it.
type wireFormat struct {
	name      string
	mediaType string
	encode    func(any) ([]byte, error)
	decode    func([]byte, any) error
}

var cborEnc = func() cbor.EncMode {
	em, err := cbor.EncOptions{Time: cbor.TimeRFC3339Nano, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

var cborDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{ExtraReturnErrors: cbor.ExtraDecErrorUnknownField, DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

var wireFormats = []wireFormat{
	{
		name: "json", mediaType: "application/json",
		encode: json.Marshal,
		decode: func(b []byte, v any) error {
			d := json.NewDecoder(bytes.NewReader(b))
			d.DisallowUnknownFields()
			if err := d.Decode(v); err != nil {
				return err
			}
			if d.More() {
				return errors.New("trailing data after the JSON value")
			}
			return nil
		},
	},
	{
		name: "msgpack", mediaType: "application/vnd.msgpack",
		encode: msgpack.Marshal,
		decode: func(b []byte, v any) error {
			d := msgpack.NewDecoder(bytes.NewReader(b))
			d.DisallowUnknownFields(true)
			return d.Decode(v)
		},
	},
	{
		name: "cbor", mediaType: "application/cbor",
		encode: cborEnc.Marshal,
		decode: cborDec.Unmarshal,
	},
	{
		name: "gob", mediaType: "application/gob",
		encode: func(v any) ([]byte, error) {
			var buf bytes.Buffer
			err := gob.NewEncoder(&buf).Encode(v)
			return buf.Bytes(), err
		},
		decode: func(b []byte, v any) error {
			return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
		},
	},
}

func TestSmoke(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	registerNote(t, s)

	t.Run("formats", func(t *testing.T) {
		t.Parallel()
		at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
		for _, wf := range wireFormats {
			t.Run(wf.name, func(t *testing.T) {
				id := "fmt-" + wf.name
				sent := note{Title: "written as " + wf.name, Count: 7, At: at, Tags: []string{"a", "b"}, Blob: []byte{0, 1, 2, 0xff}}
				body, err := wf.encode(sent)
				if err != nil {
					t.Fatalf("encoding %+v as %s: %v", sent, wf.name, err)
				}
				resp, _ := s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/note/"+id, hdr("Content-Type", wf.mediaType), body)
				if got := resp.Header.Get("Ferry-Revision"); got != "1" {
					t.Errorf("PUT %s as %s: Ferry-Revision %q, want 1", id, wf.name, got)
				}
				etags := map[string]string{}
				for _, rf := range wireFormats {
					resp, data := s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/note/"+id, hdr("Accept", rf.mediaType), nil)
					wantCT := rf.mediaType + "; schema=note; version=1"
					if got := resp.Header.Get("Content-Type"); got != wantCT {
						t.Errorf("GET %s with Accept %s: Content-Type %q, want %q", id, rf.mediaType, got, wantCT)
					}
					var got note
					if err := rf.decode(data, &got); err != nil {
						t.Errorf("GET %s with Accept %s: decoding %x: %v", id, rf.mediaType, data, err)
						continue
					}
					if !got.equal(sent) {
						t.Errorf("GET %s with Accept %s (written as %s): got %+v, want %+v", id, rf.mediaType, wf.name, got, sent)
					}
					etag := resp.Header.Get("ETag")
					if other, dup := etags[etag]; dup || etag == "" {
						t.Errorf("GET %s: ETag %q for %s, also for %q", id, etag, rf.name, other)
					}
					etags[etag] = rf.name
				}
				sent.Count = 8
				body, _ = wf.encode(sent)
				resp, data := s.expect(t, http.StatusOK, http.MethodPut, "/v1/records/note/"+id, hdr("Content-Type", wf.mediaType, "Accept", wf.mediaType), body)
				if got := resp.Header.Get("Ferry-Revision"); got != "2" {
					t.Errorf("second PUT %s as %s: Ferry-Revision %q, want 2", id, wf.name, got)
				}
				var got note
				if err := wf.decode(data, &got); err != nil || !got.equal(sent) {
					t.Errorf("second PUT %s as %s: response %+v (err %v), want %+v", id, wf.name, got, err, sent)
				}
			})
		}
	})

	t.Run("readyz", func(t *testing.T) {
		t.Parallel()
		resp, data := s.expect(t, http.StatusOK, http.MethodGet, "/readyz", nil, nil)
		if !json.Valid(data) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET /readyz: Content-Type %q body %q, want a JSON body", resp.Header.Get("Content-Type"), data)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		t.Parallel()
		s.expect(t, http.StatusNotFound, http.MethodGet, "/no-such-route", nil, nil)
		s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/note/metrics-probe", hdr("Content-Type", "application/json"),
			[]byte(`{"title":"probe","count":1,"at":"2026-01-02T03:04:05Z","tags":[]}`))
		s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/note/metrics-probe", nil, nil)
		resp, data := s.expect(t, http.StatusOK, http.MethodGet, "/metrics", nil, nil)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET /metrics: Content-Type %q, want text/plain (Prometheus text format)", ct)
		}
		text := string(data)
		for _, want := range []struct {
			name   string
			labels []string
		}{
			{"ferry_http_requests_total", []string{`route="/v1/records/{schema}/{id}"`, `method="PUT"`, `code="201"`}},
			{"ferry_http_requests_total", []string{`route="/v1/records/{schema}/{id}"`, `method="GET"`, `code="200"`}},
			{"ferry_http_requests_total", []string{`route="unmatched"`, `method="GET"`, `code="404"`}},
			{"ferry_http_request_duration_seconds_bucket", []string{`route="/v1/records/{schema}/{id}"`, `le="+Inf"`}},
			{"ferry_build_info", []string{`version="`, `go_version="go`}},
		} {
			line := metricLine(text, want.name, want.labels)
			if line == "" {
				t.Errorf("GET /metrics: no %s sample with %v", want.name, want.labels)
				continue
			}
			if v := line[strings.LastIndexByte(line, ' ')+1:]; v == "0" {
				t.Errorf("GET /metrics: %q has value 0, want at least 1", line)
			}
		}
		if strings.Contains(text, `route="/v1/records/note/`) || strings.Contains(text, `route="/no-such-route"`) {
			t.Errorf("GET /metrics: a route label holds a raw path, want chi patterns only")
		}
	})

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		body := `{"title":"listed","count":3,"at":"2026-01-02T03:04:05Z","tags":["l"]}`
		s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/note/listed", hdr("Content-Type", "application/json"), []byte(body))
		for _, wf := range wireFormats {
			resp, data := s.do(t, http.MethodGet, "/v1/records/note?limit=1000", hdr("Accept", wf.mediaType), nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v1/records/note?limit=1000 with Accept %s after PUT …/listed: status %d, want 200; body %s", wf.mediaType, resp.StatusCode, data)
				continue
			}
			if !bytes.Contains(data, []byte("listed")) {
				t.Errorf("GET /v1/records/note with Accept %s: the page lacks the record listed", wf.mediaType)
			}
		}
	})

	t.Run("unmatched route", func(t *testing.T) {
		t.Parallel()
		// Paths that no route matches, some below a mounted router.
		for _, path := range []string{"/nowhere", "/v1/no-such-route", "/v1/records/note/a/b/c", "/v1/schemas/note/x/y/z"} {
			resp, _ := s.expect(t, http.StatusNotFound, http.MethodGet, path, nil, nil)
			rid := resp.Header.Get("X-Request-Id")
			e := s.waitLog(func(e map[string]any) bool { return e["request_id"] == rid && e["message"] == "request" })
			if e == nil || e["route"] != "unmatched" {
				t.Errorf("GET %s: access line route %v, want \"unmatched\"", path, e["route"])
			}
		}
		_, data := s.expect(t, http.StatusOK, http.MethodGet, "/metrics", nil, nil)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "ferry_http_requests_total{") && strings.Contains(line, `/*"`) {
				t.Errorf("GET /metrics: %s; want route=\"unmatched\" for a path no route matches", line)
			}
		}
	})

	t.Run("docs", func(t *testing.T) {
		t.Parallel()
		resp, yml := s.expect(t, http.StatusOK, http.MethodGet, "/openapi.yaml", nil, nil)
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "yaml") {
			t.Errorf("GET /openapi.yaml: Content-Type %q, want a YAML type", ct)
		}
		fromYAML, err := yaml.YAMLToJSON(yml)
		if err != nil {
			t.Fatalf("GET /openapi.yaml: not YAML: %v", err)
		}
		resp, js := s.expect(t, http.StatusOK, http.MethodGet, "/openapi.json", nil, nil)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET /openapi.json: Content-Type %q, want application/json", ct)
		}
		var docY, docJ map[string]any
		if err := json.Unmarshal(fromYAML, &docY); err != nil {
			t.Fatalf("GET /openapi.yaml: %v", err)
		}
		if err := json.Unmarshal(js, &docJ); err != nil {
			t.Fatalf("GET /openapi.json: not JSON: %v", err)
		}
		if v, _ := docJ["openapi"].(string); v != "3.0.3" {
			t.Errorf("GET /openapi.json: openapi %q, want 3.0.3", v)
		}
		paths, _ := docJ["paths"].(map[string]any)
		for _, p := range []string{"/v1/records/{schema}/{id}", "/healthz", "/metrics"} {
			if _, ok := paths[p]; !ok {
				t.Errorf("GET /openapi.json: paths lack %s", p)
			}
		}
		if !reflect.DeepEqual(docY, docJ) {
			t.Errorf("GET /openapi.yaml and /openapi.json describe different documents")
		}
		resp, html := s.expect(t, http.StatusOK, http.MethodGet, "/docs", nil, nil)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET /docs: Content-Type %q, want text/html", ct)
		}
		if !bytes.Contains(bytes.ToLower(html), []byte("<html")) || !bytes.Contains(html, []byte("/v1/records/{schema}/{id}")) {
			t.Errorf("GET /docs: body (%d bytes) is not an HTML reference naming the record routes", len(html))
		}
	})

	t.Run("access log", func(t *testing.T) {
		t.Parallel()
		reqs := []struct {
			method, path, route string
			header              http.Header
			body                string
			status              int
		}{
			{"GET", "/healthz", "/healthz", nil, "", 200},
			{"PUT", "/v1/records/note/logged", "/v1/records/{schema}/{id}", hdr("Content-Type", "application/json"),
				`{"title":"log me","count":2,"at":"2026-01-02T03:04:05Z","tags":["x"]}`, 201},
			{"GET", "/v1/records/note/logged", "/v1/records/{schema}/{id}", hdr("Accept", "application/cbor"), "", 200},
			{"GET", "/v1/records/note/missing", "/v1/records/{schema}/{id}", nil, "", 404},
			{"GET", "/nowhere", "unmatched", nil, "", 404},
		}
		for _, rq := range reqs {
			resp, _ := s.expect(t, rq.status, rq.method, rq.path, rq.header, []byte(rq.body))
			rid := resp.Header.Get("X-Request-Id")
			if rid == "" {
				t.Errorf("%s %s: no X-Request-Id", rq.method, rq.path)
				continue
			}
			isAccess := func(e map[string]any) bool { return e["request_id"] == rid && e["log"] == nil }
			e := s.waitLog(isAccess)
			if e == nil {
				t.Errorf("%s %s: no access log line with request_id %q", rq.method, rq.path, rid)
				continue
			}
			if n := countLogs(s, isAccess); n != 1 {
				t.Errorf("%s %s: %d access lines with request_id %q, want 1", rq.method, rq.path, n, rid)
			}
			if e["route"] != rq.route || e["method"] != rq.method || e["status"] != float64(rq.status) {
				t.Errorf("%s %s: access line route=%v method=%v status=%v, want %s %s %d",
					rq.method, rq.path, e["route"], e["method"], e["status"], rq.route, rq.method, rq.status)
			}
			if d, ok := e["duration"].(float64); !ok || d < 0 {
				t.Errorf("%s %s: access line duration %v, want a non-negative number", rq.method, rq.path, e["duration"])
			}
			for _, k := range []string{"bytes_in", "bytes_out"} {
				if _, ok := e[k].(float64); !ok {
					t.Errorf("%s %s: access line %s = %v, want a number", rq.method, rq.path, k, e[k])
				}
			}
			if rq.method == "PUT" && (e["format_in"] != "json" || e["format_out"] != "json") {
				t.Errorf("PUT: access line format_in=%v format_out=%v, want json and json", e["format_in"], e["format_out"])
			}
			if rq.header.Get("Accept") == "application/cbor" && e["format_out"] != "cbor" {
				t.Errorf("GET as CBOR: access line format_out=%v, want cbor", e["format_out"])
			}
		}
	})

	t.Run("audit log", func(t *testing.T) {
		t.Parallel()
		type auditCase struct {
			body   string
			status int
			op     string
		}
		cases := []auditCase{
			{`{"title":"first","count":1,"at":"2026-01-02T03:04:05Z","tags":[]}`, 201, "create"},
			{`{"title":"second","count":2,"at":"2026-01-02T03:04:05Z","tags":[]}`, 200, "replace"},
			{`{"title":"","count":2,"at":"2026-01-02T03:04:05Z","tags":[]}`, 422, ""},
			{`{"title":"third","count":-1,"at":"2026-01-02T03:04:05Z","tags":[]}`, 422, ""},
		}
		audits := map[int64]string{}
		for _, c := range cases {
			resp, _ := s.expect(t, c.status, http.MethodPut, "/v1/records/note/audited", hdr("Content-Type", "application/json"), []byte(c.body))
			rid := resp.Header.Get("X-Request-Id")
			if s.waitLog(func(e map[string]any) bool { return e["request_id"] == rid && e["message"] == "request" }) == nil {
				t.Fatalf("PUT %s: no access line for request %q", c.body, rid)
			}
			isAudit := func(e map[string]any) bool { return e["request_id"] == rid && e["log"] == "audit" }
			n := countLogs(s, isAudit)
			if c.op == "" {
				if n != 0 {
					t.Errorf("PUT %s answered %d: %d audit lines, want none for a refused write", c.body, c.status, n)
				}
				continue
			}
			if n != 1 {
				t.Errorf("PUT %s: %d audit lines, want 1", c.body, n)
				continue
			}
			e := s.findLog(isAudit)
			rev, _ := strconv.ParseInt(resp.Header.Get("Ferry-Revision"), 10, 64)
			if e["schema"] != "note" || e["id"] != "audited" || e["op"] != c.op || e["revision"] != float64(rev) || e["version"] != float64(1) {
				t.Errorf("PUT %s: audit line %v, want schema note, id audited, op %s, revision %d, version 1", c.body, e, c.op, rev)
			}
			if _, ok := e["by"].(string); !ok {
				t.Errorf("PUT %s: audit line by=%v, want a string", c.body, e["by"])
			}
			sha, _ := e["sha256"].(string)
			if !sha256Hex.MatchString(sha) {
				t.Errorf("PUT %s: audit sha256 %q, want 64 hex digits", c.body, sha)
			}
			audits[rev] = sha
		}
		resp, _ := s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/note/audited", nil, nil)
		if rid := resp.Header.Get("X-Request-Id"); countLogs(s, func(e map[string]any) bool { return e["request_id"] == rid && e["log"] == "audit" }) != 0 {
			t.Errorf("GET wrote an audit line")
		}
		_, data := s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/note/audited/_history", nil, nil)
		var h history
		if err := json.Unmarshal(data, &h); err != nil {
			t.Fatalf("GET _history: %v in %s", err, data)
		}
		if len(h.Revisions) != len(audits) {
			t.Errorf("GET _history: %d revisions, want %d: %s", len(h.Revisions), len(audits), data)
		}
		for _, r := range h.Revisions {
			if audits[r.Revision] != r.Sha256 {
				t.Errorf("revision %d: _history sha256 %q, audit line sha256 %q", r.Revision, r.Sha256, audits[r.Revision])
			}
		}
	})

	t.Run("migration audit", func(t *testing.T) {
		t.Parallel()
		s.expect(t, http.StatusCreated, http.MethodPost, "/v1/schemas", hdr("Content-Type", "application/json"),
			[]byte(`{"name":"tally","version":1,"fields":{"n":{"type":"int"}}}`))
		for id, n := range map[string]int{"ok": 1, "low": -1} {
			s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/tally/"+id, hdr("Content-Type", "application/json"), []byte(fmt.Sprintf(`{"n":%d}`, n)))
		}
		s.expect(t, http.StatusCreated, http.MethodPost, "/v1/schemas", hdr("Content-Type", "application/json"),
			[]byte(`{"name":"tally","version":2,"fields":{"n":{"type":"int","validate":"gte=0"},"unit":{"type":"string","default":"each"}},
				"migrate":[{"op":"add","field":"unit","default":"each"}]}`))
		resp, _ := s.expect(t, http.StatusAccepted, http.MethodPost, "/v1/schemas/tally/_migrate", nil, nil)
		jobPath := resp.Header.Get("Location")
		jobID := filepath.Base(jobPath)
		var job struct{ State string }
		for deadline := time.Now().Add(requestTimeout); job.State != "failed" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			_, data := s.expect(t, http.StatusOK, http.MethodGet, jobPath, nil, nil)
			if err := json.Unmarshal(data, &job); err != nil {
				t.Fatal(err)
			}
		}
		if job.State != "failed" {
			t.Fatalf("migration job state %q, want failed (one record breaks version 2's rules)", job.State)
		}
		var audits []map[string]any
		for _, e := range s.logs.Entries() {
			if e["log"] == "audit" && e["job_id"] == jobID {
				audits = append(audits, e)
			}
		}
		if len(audits) != 1 {
			t.Fatalf("migration: %d audit lines naming the job, want 1: %v", len(audits), audits)
		}
		_, data := s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/tally/ok/_history", nil, nil)
		var h history
		if err := json.Unmarshal(data, &h); err != nil {
			t.Fatal(err)
		}
		e := audits[0]
		if e["schema"] != "tally" || e["id"] != "ok" || e["op"] != "replace" || e["revision"] != float64(2) ||
			e["version"] != float64(2) || len(h.Revisions) == 0 || e["sha256"] != h.Revisions[0].Sha256 {
			t.Errorf("migration audit line %v, want schema tally, id ok, op replace, revision 2, version 2, sha256 of %+v", e, h.Revisions)
		}
		if countLogs(s, func(e map[string]any) bool { return e["job_id"] == jobID && e["id"] == "low" && e["level"] == "warn" }) != 1 {
			t.Errorf("migration: no warning naming the job and the record it could not rewrite")
		}
	})

	t.Run("header cap", func(t *testing.T) {
		t.Parallel()
		conn, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(requestTimeout))
		var req bytes.Buffer
		req.WriteString("GET /healthz HTTP/1.1\r\nHost: " + s.addr + "\r\n")
		filler := strings.Repeat("x", 1000)
		for i := 0; req.Len() < 100<<10; i++ {
			fmt.Fprintf(&req, "X-Filler-%d: %s\r\n", i, filler)
		}
		req.WriteString("\r\n")
		if _, err := conn.Write(req.Bytes()); err != nil {
			t.Fatalf("writing %d bytes of headers: %v", req.Len(), err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the answer to %d bytes of headers: %v", req.Len(), err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET /healthz with %d bytes of headers: status %d, %s; want a 431 problem", req.Len(), resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("requests net/http refuses", func(t *testing.T) {
		t.Parallel()
		for name, raw := range map[string]string{
			"no Host":                 "GET /healthz HTTP/1.1\r\n\r\n",
			"not HTTP":                "GARBAGE\r\n\r\n",
			"unknown transfer coding": "POST /v1/schemas HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n",
		} {
			conn, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Now().Add(requestTimeout))
			if _, err := conn.Write([]byte(raw)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("%s: reading the answer: %v", name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			conn.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" || !json.Valid(body) {
				t.Errorf("%s: status %d, %s, %q; want a 400 problem", name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		}
	})

	t.Run("slow client", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("waits for the 10 s header timeout")
		}
		conn, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		// The server may answer 408 before hanging up; read until it does.
		_, err = io.Copy(io.Discard, conn)
		elapsed := time.Since(start)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("a client stalled after the request line was still connected after %v, want cut off after ~10 s", elapsed)
		}
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("stalled client: read ended with %v, want a close", err)
		}
		if elapsed < 9*time.Second || elapsed > 12*time.Second {
			t.Errorf("stalled client cut off after %v, want 10 s (at least 9, at most 12)", elapsed)
		}
		t.Logf("stalled client cut off after %v", elapsed.Round(time.Millisecond))
	})
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// history is the body of GET …/_history.
type history struct {
	Revisions []struct {
		Revision int64           `json:"revision"`
		Op       string          `json:"op"`
		At       time.Time       `json:"at"`
		By       *string         `json:"by"`
		Version  int             `json:"version"`
		Size     int64           `json:"size"`
		Sha256   string          `json:"sha256"`
		Data     json.RawMessage `json:"data"`
	} `json:"revisions"`
}

func countLogs(s *server, match func(map[string]any) bool) int {
	n := 0
	for _, e := range s.logs.Entries() {
		if match(e) {
			n++
		}
	}
	return n
}

// metricLine returns the first sample line of metric name whose labels
// contain every one of labels, or "".
func metricLine(text, name string, labels []string) string {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
				break
			}
		}
		if ok {
			return line
		}
	}
	return ""
}
