package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The metrics of API.md §7 appear once the service has done the work they
// count, with route patterns rather than raw paths.
func TestMetricsCountTheWork(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"pet","version":1,"fields":{"name":{"type":"string"},"age":{"type":"int"}}}`)
	s.MustRegister(t, `{"name":"pet","version":2,"fields":{"name":{"type":"string"},"years":{"type":"int"}},
		"migrate":[{"op":"rename","from":"age","to":"years"}]}`)
	s.MustPut(t, "pet", "rex", map[string]any{"name": "Rex", "years": 3})
	s.Get(t, "/v1/records/pet/rex", "Accept", "application/json; version=1").MustStatus(t, 200)
	s.Send(t, "PUT", "/v1/records/pet/bad", []byte(`{"name":"x"}`), "Content-Type", "application/json").MustStatus(t, 422)
	s.Send(t, "PUT", "/v1/records/pet/bad", []byte(`{"name":`), "Content-Type", "application/json").MustStatus(t, 400)
	s.Get(t, "/nowhere").MustStatus(t, 404)
	s.Send(t, "DELETE", "/v1/schemas", nil).MustStatus(t, 405)
	s.Send(t, "POST", "/v1/records/pet/_changes", nil).MustStatus(t, 405)

	body := string(s.Get(t, "/metrics").MustStatus(t, 200).Body)
	for _, want := range []string{
		`ferry_version_conversions_total{from="2",schema="pet",to="1"} 1`,
		`ferry_validation_failures_total{schema="pet",version="2"} 1`,
		`ferry_decode_failures_total{format="json"`,
		`ferry_http_requests_total{code="200",method="GET",route="/v1/records/{schema}/{id}"}`,
		`ferry_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`ferry_http_requests_total{code="405",method="DELETE",route="/v1/schemas"} 1`,
		`ferry_http_requests_total{code="405",method="POST",route="/v1/records/{schema}/_changes"} 1`,
		`ferry_http_request_duration_seconds_bucket{method="PUT",route="/v1/records/{schema}/{id}"`,
		`ferry_payload_bytes_bucket{direction="in",format="json"`,
		`ferry_codec_duration_seconds_bucket{format="json",op="decode"`,
		`ferry_build_info{go_version="go`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `route="/v1/records/pet/rex"`) {
		t.Error("/metrics labels a route with a raw path")
	}
}

// Imports and exports count as the same records sent one by one would:
// each envelope converted, rejected for a rule or unreadable, by the
// stream's format, and each stream as one payload.
func TestMetricsCountStreams(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"pet","version":1,"fields":{"age":{"type":"int","validate":"gte=0"}}}`)
	s.MustRegister(t, `{"name":"pet","version":2,"fields":{"years":{"type":"int","validate":"gte=0"}},
		"migrate":[{"op":"rename","from":"age","to":"years"}]}`)
	stream := "{\"id\":\"a\",\"version\":1,\"data\":{\"age\":1}}\n" +
		"{\"id\":\"b\",\"version\":1,\"data\":{\"age\":2}}\n" +
		"{\"id\":\"c\",\"data\":{\"years\":-1}}\n" +
		"{\"id\":\"d\",\"data\":{\"years\":\"x\"}}\n" +
		"{\"id\":\"e\",\"data\":{\"years\":1e400}}\n" +
		"not json\n"
	r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/pet/_import", Body: []byte(stream), Lax: true,
		Header: hdr("Content-Type", "application/jsonl")}).MustStatus(t, http.StatusOK)
	if m := r.JSON(t); num(t, m, "accepted") != 2 || num(t, m, "rejected") != 4 {
		t.Fatalf("import summary %s, want 2 accepted and 4 rejected", r.Body)
	}
	s.Get(t, "/v1/records/pet/_export", "Accept", "application/jsonl; version=1").MustStatus(t, http.StatusOK)

	body := string(s.Get(t, "/metrics").MustStatus(t, 200).Body)
	for _, want := range []string{
		`ferry_version_conversions_total{from="1",schema="pet",to="2"} 2`,
		`ferry_version_conversions_total{from="2",schema="pet",to="1"} 2`,
		`ferry_validation_failures_total{schema="pet",version="2"} 1`,
		`ferry_decode_failures_total{format="jsonl",reason="type"} 1`,
		`ferry_decode_failures_total{format="jsonl",reason="nonfinite"} 1`,
		`ferry_decode_failures_total{format="jsonl",reason="syntax"} 1`,
		`ferry_payload_bytes_count{direction="in",format="jsonl"} 1`,
		`ferry_payload_bytes_count{direction="out",format="jsonl"} 1`,
		`ferry_codec_duration_seconds_count{format="jsonl",op="decode"} 5`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s\n%s", want, grepLines(body, "ferry_"))
		}
	}
}

// A read whose client went away before its answer is counted as 499, not
// as a 503 of the service. (A write goes on: see writeContext.)
func TestMetricsCountClientGoneAs499(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"pet","version":1,"fields":{"name":{"type":"string"}}}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/v1/records/pet/_export", nil)
	rec := httptest.NewRecorder()
	s.HTTP.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != 503 {
		t.Fatalf("export with its client gone = %d, want the 503 nobody reads", rec.Code)
	}
	body := string(s.Get(t, "/metrics").MustStatus(t, 200).Body)
	if want := `ferry_http_requests_total{code="499",method="GET",route="/v1/records/{schema}/_export"} 1`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if strings.Contains(body, `code="503"`) {
		t.Error("/metrics counts the client's departure as a 503")
	}
}

// An export whose client leaves partway through is counted as 499 too,
// not as the 200 its headers carried: the work was cut short by the
// client, unlike an export that a record it cannot show cuts short.
func TestMetricsCountExportLeftAs499(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"pet","version":1,"fields":{"name":{"type":"string"}}}`)
	var stream bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&stream, `{"id":"p%05d","data":{"name":"%s"}}`+"\n", i, strings.Repeat("x", 200))
	}
	s.Send(t, http.MethodPost, "/v1/records/pet/_import", stream.Bytes(), "Content-Type", "application/jsonl").MustStatus(t, 200)

	conn, err := net.Dial("tcp", s.HTTP.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /v1/records/pet/_export HTTP/1.1\r\nHost: x\r\nAccept: application/jsonl\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	// Leave with a reset, so that the server's next write fails.
	_ = conn.(*net.TCPConn).SetLinger(0)
	_ = conn.Close()

	want := `ferry_http_requests_total{code="499",method="GET",route="/v1/records/{schema}/_export"} 1`
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := string(s.Get(t, "/metrics").MustStatus(t, 200).Body)
		if strings.Contains(body, want) {
			if strings.Contains(body, `code="200",method="GET",route="/v1/records/{schema}/_export"`) {
				t.Error("/metrics counts the export its client left as a 200 as well")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s after the client left:\n%s", want, grepLines(body, "_export"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
