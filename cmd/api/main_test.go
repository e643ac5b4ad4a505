package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink the server goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	env := map[string]string{"FERRY_ADDR": addr, "FERRY_DATA_DIR": t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, &stderr) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /healthz = %d, want 200", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not answer /healthz within 30 s: %v\nlog:\n%s", err, stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30 s of cancellation")
	}
	for _, want := range []string{`"message":"serving"`, `"message":"stopped"`, `"route":"/healthz"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stdout.String())
		}
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.MaxBodyBytes != 1<<20 || c.MaxImportBytes != 1<<30 || c.MaxAtomicBytes != 32<<20 {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "environment", env: map[string]string{"FERRY_MAX_BODY_BYTES": "2048", "FERRY_REQUIRE_IF_MATCH": "true"},
			check: func(t *testing.T, c config) {
				if c.MaxBodyBytes != 2048 || !c.RequireIfMatch {
					t.Errorf("from the environment: %+v", c)
				}
			}},
		{name: "a flag wins over the environment", args: []string{"-history-limit", "7"},
			env: map[string]string{"FERRY_HISTORY_LIMIT": "3"},
			check: func(t *testing.T, c config) {
				if c.HistoryLimit != 7 {
					t.Errorf("HistoryLimit = %d, want the flag's 7", c.HistoryLimit)
				}
			}},
		{name: "bad number", env: map[string]string{"FERRY_MAX_BODY_BYTES": "lots"}, wantErr: "FERRY_MAX_BODY_BYTES"},
		{name: "zero body limit", env: map[string]string{"FERRY_MAX_BODY_BYTES": "0"}, wantErr: "must be positive"},
		{name: "import limit below body limit", env: map[string]string{"FERRY_MAX_IMPORT_BYTES": "10"}, wantErr: "at least"},
		{name: "atomic import limit below body limit", env: map[string]string{"FERRY_MAX_ATOMIC_IMPORT_BYTES": "10"}, wantErr: "FERRY_MAX_ATOMIC_IMPORT_BYTES must be at least"},
		{name: "open on a public address", env: map[string]string{"FERRY_ADDR": "0.0.0.0:8080"}, wantErr: "refusing"},
		{name: "open on a public address, insisted", env: map[string]string{"FERRY_ADDR": "0.0.0.0:8080", "FERRY_INSECURE_OPEN": "true"}},
		{name: "localhost is loopback", env: map[string]string{"FERRY_ADDR": "localhost:9000"}},
		{name: "a flag wins over a variable that does not parse", args: []string{"-max-body-bytes", "100"},
			env: map[string]string{"FERRY_MAX_BODY_BYTES": "abc"},
			check: func(t *testing.T, c config) {
				if c.MaxBodyBytes != 100 {
					t.Errorf("MaxBodyBytes = %d, want the flag's 100", c.MaxBodyBytes)
				}
			}},
		{name: "negative cache", env: map[string]string{"FERRY_CACHE_BYTES": "-1"}, wantErr: "FERRY_CACHE_BYTES must be 0"},
		{name: "negative shutdown timeout", env: map[string]string{"FERRY_SHUTDOWN_TIMEOUT": "-5s"}, wantErr: "FERRY_SHUTDOWN_TIMEOUT must be positive"},
		{name: "no shutdown timeout", env: map[string]string{"FERRY_SHUTDOWN_TIMEOUT": "0s"}, wantErr: "FERRY_SHUTDOWN_TIMEOUT must be positive"},
		{name: "port out of range", env: map[string]string{"FERRY_ADDR": "127.0.0.1:99999"}, wantErr: "the port must be a number"},
		{name: "address without a port", env: map[string]string{"FERRY_ADDR": "nonsense"}, wantErr: `FERRY_ADDR "nonsense" is not host:port`},
		{name: "unknown flag", args: []string{"-fsync=false"}, wantErr: "not defined"},
		{name: "a word after the flags", args: []string{"-history-limit", "7", "extra"}, wantErr: `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			c, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, &stderr)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("parseConfig(%v, %v) = %v, want no error", tc.args, tc.env, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("parseConfig(%v, %v) error = %v, want one mentioning %q", tc.args, tc.env, err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// Settings for what this build lacks are refused, not ignored.
func TestRunRefusesWhatItLacks(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{"FERRY_STORE": "postgres://db/ferry", "FERRY_API_KEYS_FILE": "/etc/ferry/keys.json"} {
		env := map[string]string{name: value, "FERRY_ADDR": freeAddr(t), "FERRY_DATA_DIR": t.TempDir()}
		var out bytes.Buffer
		err := run(context.Background(), nil, func(k string) string { return env[k] }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("run with %s=%s = %v, want a refusal naming it", name, value, err)
		}
	}
}

// A write in flight when shutdown begins runs to its end: shutdown stops
// new work and cuts long-polls short, but never the requests being served.
func TestShutdownFinishesWritesInFlight(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	env := map[string]string{"FERRY_ADDR": addr, "FERRY_DATA_DIR": t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, &stderr) }()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post(base+"/v1/schemas", "application/json",
			strings.NewReader(`{"name":"note","version":1,"fields":{"text":{"type":"string"}}}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("register schema: %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// An import whose stream is still arriving when shutdown begins.
	body, feed := io.Pipe()
	answer := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Post(base+"/v1/records/note/_import", "application/jsonl", body)
		if err != nil {
			t.Errorf("import: %v", err)
			answer <- nil
			return
		}
		answer <- resp
	}()
	fmt.Fprintln(feed, `{"id":"before","data":{"text":"sent before shutdown"}}`)
	time.Sleep(200 * time.Millisecond) // let the server start reading it
	cancel()
	time.Sleep(200 * time.Millisecond) // shutdown is under way
	fmt.Fprintln(feed, `{"id":"after","data":{"text":"sent during shutdown"}}`)
	feed.Close()

	resp := <-answer
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	summary, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(summary), `"accepted":2`) {
		t.Fatalf("import across shutdown = %d %s, want 200 with both envelopes accepted", resp.StatusCode, summary)
	}
	if err := <-done; err != nil {
		t.Fatalf("run returned %v, want nil", err)
	}
}

// TestRunRefusesBadSchemaFolder starts the service with a schema folder
// holding a file that fails: start-up must end with an error naming the
// file and the reason, and leave the data directory usable.
func TestRunRefusesBadSchemaFolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, content, reason string
	}{
		{"unknown type", "bad.json", `{"name":"k","version":1,"fields":{"x":{"type":"nope"}}}`, "unknown type"},
		{"not JSON", "broken.json", `{"name":`, "broken.json"},
		{"version 2 without 1", "k2.yaml", "name: k\nversion: 2\nfields:\n  x: {type: int}\n", "k2.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schemas, data := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(schemas, tc.file), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"FERRY_ADDR": freeAddr(t), "FERRY_DATA_DIR": data, "FERRY_SCHEMA_DIR": schemas}
			var stdout, stderr syncBuffer
			err := run(context.Background(), nil, func(k string) string { return env[k] }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("run = %v; want an error naming %s and %q", err, tc.file, tc.reason)
			}
			// The store was closed: the directory opens again.
			delete(env, "FERRY_SCHEMA_DIR")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, &stderr) }()
			time.Sleep(200 * time.Millisecond)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run on the same data directory afterwards = %v", err)
			}
		})
	}
}

// TestShutdownCutsOffAClientPastTheGracePeriod starts a body that never
// finishes, then stops the service: past its grace period it closes the
// connection and returns nil (exit 0), its store closed.
func TestShutdownCutsOffAClientPastTheGracePeriod(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	env := map[string]string{"FERRY_ADDR": addr, "FERRY_DATA_DIR": t.TempDir(), "FERRY_SHUTDOWN_TIMEOUT": "300ms"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, &stdout, &stderr) }()
	var conn net.Conn
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	// Headers and two bytes of a body of 100000.
	if _, err := fmt.Fprintf(conn, "POST /v1/schemas HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the handler is reading the body
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return within 20 s of the signal")
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("run returned after %v, before its grace period", took)
	}
	if !strings.Contains(stdout.String(), `"message":"stopped"`) {
		t.Errorf("no stopped line in the log:\n%s", stdout.String())
	}
}
