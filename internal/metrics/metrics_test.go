package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStatusLabel(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]string{200: "200", 204: "204", 404: "404", 503: "503", 299: "299", 799: "799"} {
		if got := statusLabel(code); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestObserveStore reads the store's totals at each scrape.
func TestObserveStore(t *testing.T) {
	t.Parallel()
	m := New("test")
	stats := StoreStats{Commits: 2, Writes: 7, Syncs: 3}
	m.ObserveStore(func() StoreStats { return stats })
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	for _, want := range []string{"ferry_store_commits_total 2", "ferry_store_writes_total 7", "ferry_store_syncs_total 3"} {
		if body := scrape(); !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	stats.Writes = 40
	if body := scrape(); !strings.Contains(body, "ferry_store_writes_total 40\n") {
		t.Errorf("a later scrape does not show the new total")
	}
}

// TestObserveRequest counts each request in the series of its route,
// method and status, and counts methods HTTP does not define together.
func TestObserveRequest(t *testing.T) {
	t.Parallel()
	m := New("test")
	const route = "/v1/records/{schema}/{id}"
	m.ObserveRequest(route, "GET", 200, time.Millisecond)
	m.ObserveRequest(route, "GET", 200, time.Millisecond)
	m.ObserveRequest(route, "GET", 304, time.Millisecond)
	m.ObserveRequest(route, "PUT", 200, time.Millisecond)
	for _, method := range []string{"FOO", "BAR", "get"} {
		m.ObserveRequest("unmatched", method, 405, time.Millisecond)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`ferry_http_requests_total{code="200",method="GET",route="/v1/records/{schema}/{id}"} 2`,
		`ferry_http_requests_total{code="304",method="GET",route="/v1/records/{schema}/{id}"} 1`,
		`ferry_http_requests_total{code="200",method="PUT",route="/v1/records/{schema}/{id}"} 1`,
		`ferry_http_requests_total{code="405",method="other",route="unmatched"} 3`,
		`ferry_http_request_duration_seconds_count{method="GET",route="/v1/records/{schema}/{id}"} 3`,
		`ferry_http_request_duration_seconds_count{method="other",route="unmatched"} 3`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, unwanted := range []string{`method="FOO"`, `method="get"`} {
		if strings.Contains(body, unwanted) {
			t.Errorf("scrape has a series with %s", unwanted)
		}
	}
}

// TestObservePayloadAndCodec records into the series of their labels.
func TestObservePayloadAndCodec(t *testing.T) {
	t.Parallel()
	m := New("test")
	m.ObservePayload("in", "json", 100)
	m.ObservePayload("in", "json", 300)
	m.ObservePayload("out", "cbor", 50)
	m.ObserveCodec("decode", "json", 2*time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`ferry_payload_bytes_sum{direction="in",format="json"} 400`,
		`ferry_payload_bytes_count{direction="in",format="json"} 2`,
		`ferry_payload_bytes_count{direction="out",format="cbor"} 1`,
		`ferry_codec_duration_seconds_sum{format="json",op="decode"} 0.002`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
