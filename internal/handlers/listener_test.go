package handlers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := problemForStdError([]byte(tc.in))
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
		})
	}
}
