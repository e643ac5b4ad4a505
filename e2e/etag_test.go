package e2e

import (
	"bytes"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestRepresentationsSurviveRestart checks that every format sends one
// revision as the same bytes under the same strong ETag after a restart,
// so that a client's If-None-Match still gets a 304. The record holds a
// map, whose entries gob would otherwise write in random order, and the
// restarted process writes another schema's gob first, which would
// otherwise number gob's types differently.
func TestRepresentationsSurviveRestart(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	registerNote(t, s)
	s.expect(t, http.StatusCreated, http.MethodPost, "/v1/schemas", hdr("Content-Type", "application/json"), []byte(`{
  "name": "bag", "version": 1,
  "fields": {
    "labels": {"type": "map", "values": {"type": "string"}},
    "box": {"type": "object", "fields": {"at": {"type": "time"}, "n": {"type": "int"}}}
  }
}`))
	s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/bag/b1", hdr("Content-Type", "application/json"),
		[]byte(`{"labels":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8"},"box":{"at":"2026-12-02T10:00:00.5Z","n":3}}`))
	s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/note/n1", hdr("Content-Type", "application/json"),
		[]byte(`{"title":"first","count":1,"at":"2026-01-02T03:04:05Z","tags":["x"]}`))

	type sent struct {
		etag string
		body []byte
	}
	before := map[string]sent{}
	for _, wf := range wireFormats {
		resp, data := s.expect(t, http.StatusOK, http.MethodGet, "/v1/records/bag/b1", hdr("Accept", wf.mediaType), nil)
		before[wf.name] = sent{resp.Header.Get("ETag"), data}
	}
	if code, _ := s.signal(t, syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}

	s2 := startServer(t, dataDir)
	s2.expect(t, http.StatusOK, http.MethodGet, "/v1/records/note/n1", hdr("Accept", "application/gob"), nil)
	for _, wf := range wireFormats {
		was := before[wf.name]
		resp, data := s2.expect(t, http.StatusOK, http.MethodGet, "/v1/records/bag/b1", hdr("Accept", wf.mediaType), nil)
		if got := resp.Header.Get("ETag"); got != was.etag || !bytes.Equal(data, was.body) {
			t.Errorf("%s after a restart: ETag %s and %d bytes, before it %s and %d bytes (equal bytes: %v)",
				wf.name, got, len(data), was.etag, len(was.body), bytes.Equal(data, was.body))
		}
		s2.expect(t, http.StatusNotModified, http.MethodGet, "/v1/records/bag/b1", hdr("Accept", wf.mediaType, "If-None-Match", was.etag), nil)
	}
}
