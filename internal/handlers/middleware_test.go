package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/metrics"
)

// A handler that panics answers a 500 problem that gives nothing away, the
// panic is logged with the request id, and the server goes on serving.
func TestPanicBecomesProblem(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r := chi.NewRouter()
	r.Use(observe(zerolog.New(&logs), metrics.New("test"), NewRequestIDs(), time.Minute))
	r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("secret internals: db password is hunter2") })
	r.Get("/ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(r)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("X-Request-Id")
	if doc["instance"] != id || id == "" {
		t.Errorf("instance = %v, want the request id %q", doc["instance"], id)
	}
	body, _ := json.Marshal(doc)
	if strings.Contains(string(body), "hunter2") {
		t.Errorf("the problem leaks the panic: %s", body)
	}
	if !strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), id) {
		t.Errorf("the log lacks the panic or the request id:\n%s", logs.String())
	}

	again, err := http.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatalf("the server stopped serving after a panic: %v", err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNoContent {
		t.Errorf("after a panic: status %d, want 204", again.StatusCode)
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	t.Parallel()
	ids := NewRequestIDs()
	seen := make(map[string]bool)
	for range 10000 {
		id := ids.make()
		if seen[id] {
			t.Fatalf("request id %q repeats", id)
		}
		seen[id] = true
	}
	if other := NewRequestIDs().make(); seen[other] {
		t.Errorf("a second generator repeats the first's id %q", other)
	}
}

// TestBodyRateCountsOnlyWaits checks that the minimum body rate weighs
// only the time reads wait for the client: a handler that pauses between
// reads for longer than the idle time, with the body sent at once, reads
// it whole. (TestTricklingBody cuts off a client that is too slow.)
func TestBodyRateCountsOnlyWaits(t *testing.T) {
	t.Parallel()
	const idle = 200 * time.Millisecond
	results := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := &countingBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
		first := make([]byte, 100)
		_, err := io.ReadFull(body, first)
		if err == nil {
			time.Sleep(3 * idle) // committing what it read, say
			_, err = io.Copy(io.Discard, body)
		}
		results <- err
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The rest follows the first 100 bytes at once, but in a packet of
	// its own, so that the handler's read after its pause meets the
	// connection rather than bytes the server had buffered.
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: ferry\r\nContent-Length: %d\r\n\r\n%s", 1100, make([]byte, 100))
	time.Sleep(idle / 4)
	if _, err := conn.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Errorf("a body sent at once, read with a pause longer than the idle time: %v, want it read whole", err)
	}
}
