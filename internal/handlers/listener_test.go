package handlers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestProblemForStdError(t *testing.T) {
	t.Parallel()
	const headers = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name   string
		in     string
		status int // 0: left as it is
		slug   string
		detail string
	}{
		{"header cap", "HTTP/1.1 431 Request Header Fields Too Large" + headers + "431 Request Header Fields Too Large",
			431, "header-too-large", "the request's header fields are larger than the limit"},
		{"bad request", "HTTP/1.1 400 Bad Request" + headers + "400 Bad Request", 400, "invalid", "the request is not well-formed HTTP/1.1"},
		{"bad request with a reason", "HTTP/1.1 400 Bad Request: missing required Host header" + headers + "400 Bad Request: missing required Host header",
			400, "invalid", "missing required Host header"},
		{"transfer coding", "HTTP/1.1 501 Not Implemented" + headers + "Unsupported transfer encoding", 400, "invalid", "Unsupported transfer encoding"},
		{"a response of Ferry's", "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nok", 0, "", ""},
		{"an error of Ferry's", "HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\n\r\n{}", 0, "", ""},
		{"a body that quotes the headers", "HTTP/1.1 400 Bad Request\r\nContent-Length: 99\r\n\r\n" + strings.Repeat("x", 1100) + headers, 0, "", ""},
		{"too short", "HTTP/1.1 4", 0, "", ""},
		{"a handler's error without a content type, closing", "HTTP/1.1 409 Conflict\r\nDate: Wed, 02 Dec 2026 00:00:00 GMT\r\nContent-Length: 4" + headers + "busy", 0, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := problemForStdError([]byte(tc.in), func() string { return "req-1" })
			out := p.doc
			if tc.status == 0 {
				if ok {
					t.Fatalf("rewrote %q as %q, want it left alone", tc.in, out)
				}
				return
			}
			if !ok {
				t.Fatalf("left %q alone, want a problem", tc.in)
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
			if err != nil {
				t.Fatalf("%q is not an HTTP response: %v", out, err)
			}
			defer resp.Body.Close()
			var doc map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" || !resp.Close {
				t.Errorf("status %d, Content-Type %q, close %v; want %d, a problem, close", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Close, tc.status)
			}
			if doc["type"] != "/problems/"+tc.slug || doc["detail"] != tc.detail || doc["status"] != float64(tc.status) {
				t.Errorf("problem %v, want type /problems/%s, detail %q, status %d", doc, tc.slug, tc.detail, tc.status)
			}
			if doc["instance"] != "req-1" || resp.Header.Get("X-Request-Id") != "req-1" {
				t.Errorf("problem %v with X-Request-Id %q, want instance and X-Request-Id req-1", doc, resp.Header.Get("X-Request-Id"))
			}
		})
	}
}

// TestProblemListenerLeavesHandlersAlone serves through a real server on
// the listener: a handler's own plain-text error on a closing connection
// passes as it is, and only net/http's own answers become problems, each
// logged under the id it carries.
func TestProblemListenerLeavesHandlersAlone(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte("busy"))
	}), MaxHeaderBytes: 1 << 10}
	logs := make(logLines, 64)
	go func() { _ = srv.Serve(ProblemListener(ln, NewRequestIDs(), zerolog.New(logs))) }()
	t.Cleanup(func() { _ = srv.Close() })
	for _, tc := range []struct {
		request     string
		status      int
		contentType string
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", http.StatusConflict, "text/plain; charset=utf-8"},
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("x", 8<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, "application/problem+json"},
		{"GET / HTTP/1.1\r\n\r\n", http.StatusBadRequest, "application/problem+json"},
		{"POST / HTTP/1.1\r\nHost: x\r\nExpect: weird\r\nContent-Length: 2\r\n\r\n{}", http.StatusExpectationFailed, "application/problem+json"},
		{"GET / HTTP/1.0\r\nExpect: weird\r\n\r\n", http.StatusExpectationFailed, "application/problem+json"},
		{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", http.StatusBadRequest, "application/problem+json"},
		{"GET / HTTP/0.9\r\nHost: x\r\n\r\n", http.StatusBadRequest, "application/problem+json"},
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(tc.request)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the answer to %.40q: %v", tc.request, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("%.40q: %d %q, want %d %q", tc.request, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.contentType)
		}
		if tc.contentType != "application/problem+json" {
			continue
		}
		// The line is logged before the answer is written.
		id := resp.Header.Get("X-Request-Id")
		select {
		case line := <-logs:
			if id == "" || !strings.Contains(line, `"request_id":"`+id+`"`) {
				t.Errorf("%.40q: X-Request-Id %q, logged %s; want the id the log has", tc.request, id, line)
			}
		default:
			t.Errorf("%.40q: no log line for X-Request-Id %q", tc.request, id)
		}
	}
}

// logLines passes each line a logger writes to the test's goroutine.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}
