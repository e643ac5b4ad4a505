package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// FuzzRecordRequestHeaders sends the headers and query parameters that
// Ferry parses itself (preconditions, preferences, digests, negotiation,
// cursors) with arbitrary values to the real router. Whatever they hold,
// every answer must meet the contract (no 5xx, a problem document for
// every error), and a refused write must leave the record as it was.
func FuzzRecordRequestHeaders(f *testing.F) {
	seeds := []struct{ ifMatch, ifNoneMatch, prefer, digest, accept, acceptEncoding, cursor, limit string }{
		{`"x"`, `*`, `return=minimal`, `sha-256=:AAAA:`, `application/json`, `gzip`, ``, `10`},
		{`*`, `W/"a", "b"`, `return="representation"; x=1, handling=strict`, `sha-512=:%%:, md5=:AA==:`, `application/cbor;version=1;q=0.5, */*;q=0`, `zstd;q=0, br, *;q=0.1`, `YQ`, `0`},
		{`"a,b", W/"c"`, `"x", *`, `return=minimal, return=representation`, `sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:;p=1`, `application/json;version=99`, `identity;q=0`, `!!`, `-1`},
		{`,,,`, `"\"`, `"return=minimal`, `sha-256`, `text/event-stream, application/vnd.msgpack;q=1.0001`, `gzip;q=2`, `YWJj=`, `99999999999999999999`},
		{``, ``, ``, ``, `application/gob;version=1`, ``, `Zm9v`, `1`},
	}
	for _, s := range seeds {
		f.Add(s.ifMatch, s.ifNoneMatch, s.prefer, s.digest, s.accept, s.acceptEncoding, s.cursor, s.limit)
	}
	s := newItemServer(f)
	body, err := json.Marshal(sample("widget", 2))
	if err != nil {
		f.Fatal(err)
	}
	const path = "/v1/records/item/fuzzed"
	s.Send(f, http.MethodPut, path, body, "Content-Type", "application/json").MustStatus(f, http.StatusCreated)

	f.Fuzz(func(t *testing.T, ifMatch, ifNoneMatch, prefer, digest, accept, acceptEncoding, cursor, limit string) {
		for _, v := range []string{ifMatch, ifNoneMatch, prefer, digest, accept, acceptEncoding} {
			if !validFieldValue(v) {
				return // no client can send it
			}
		}
		header := func(kv ...string) http.Header {
			h := make(http.Header)
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] != "" {
					h.Set(kv[i], kv[i+1])
				}
			}
			return h
		}
		before := s.Get(t, path).MustStatus(t, http.StatusOK).Header.Get("Ferry-Revision")
		writes := []Call{
			{Method: http.MethodPut, Path: path, Body: body, Header: header(
				"Content-Type", "application/json", "If-Match", ifMatch, "If-None-Match", ifNoneMatch,
				"Prefer", prefer, "Content-Digest", digest, "Accept", accept, "Accept-Encoding", acceptEncoding)},
			{Method: http.MethodPatch, Path: path, Body: []byte(`{"qty": 3}`), Header: header(
				"Content-Type", "application/merge-patch+json", "If-Match", ifMatch,
				"Prefer", prefer, "Content-Digest", digest, "Accept", accept)},
			{Method: http.MethodDelete, Path: path, Header: header(
				"If-Match", ifMatch, "If-None-Match", ifNoneMatch, "Content-Digest", digest)},
		}
		for _, c := range writes {
			r := s.Do(t, c)
			if r.Status < 400 {
				// Put the record back as it was, so that the next write
				// starts from a known state.
				s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json").MustStatus(t, r.putBackStatus())
				before = s.Get(t, path).MustStatus(t, http.StatusOK).Header.Get("Ferry-Revision")
				continue
			}
			if now := s.Get(t, path).MustStatus(t, http.StatusOK).Header.Get("Ferry-Revision"); now != before {
				t.Fatalf("%s answered %d, yet the record moved from revision %s to %s", c.Method, r.Status, before, now)
			}
		}
		q := url.Values{"cursor": {cursor}, "limit": {limit}}
		reads := []Call{
			{Method: http.MethodGet, Path: path, Header: header(
				"If-None-Match", ifNoneMatch, "If-Match", ifMatch, "Accept", accept,
				"Accept-Encoding", acceptEncoding, "Want-Content-Digest", digest)},
			{Method: http.MethodHead, Path: path, Header: header("Accept", accept, "Accept-Encoding", acceptEncoding)},
			{Method: http.MethodGet, Path: "/v1/records/item?" + q.Encode(), Header: header("Accept", accept)},
			{Method: http.MethodGet, Path: "/v1/records/item/_changes?" + url.Values{"since": {limit}}.Encode()},
		}
		for _, c := range reads {
			s.Do(t, c)
		}
		if validFieldValue(cursor) {
			checkEventStreamStart(t, s, cursor)
		}
	})
}

// checkEventStreamStart opens the change feed's event stream resuming
// after lastEventID, and checks its start: a 200 event stream, or a 4xx
// problem when the id is not one the stream sends.
func checkEventStreamStart(t *testing.T, s *Server, lastEventID string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Call{Method: http.MethodGet, Path: "/v1/records/item/_changes",
		Header: hdr("Accept", "text/event-stream", "Last-Event-ID", lastEventID)}
	res, err := s.Client.Do(s.NewRequest(t, ctx, c))
	if err != nil {
		t.Fatalf("event stream with Last-Event-ID %q: %v", lastEventID, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("event stream with Last-Event-ID %q: Content-Type %q", lastEventID, ct)
		}
		return
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("event stream with Last-Event-ID %q: read: %v", lastEventID, err)
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("event stream with Last-Event-ID %q: status %d, want 200 or 400\n%s", lastEventID, res.StatusCode, raw)
	}
	checkProblem(t, &Resp{Status: res.StatusCode, Header: res.Header, Raw: raw, Body: raw, call: c})
}

// putBackStatus is the status of the PUT that restores the fuzzed record
// after a write r succeeded: a delete leaves it to be created again.
func (r *Resp) putBackStatus() int {
	if r.call.Method == http.MethodDelete {
		return http.StatusCreated
	}
	return http.StatusOK
}

// validFieldValue reports whether Go's client sends v as a header value:
// no control characters but the horizontal tab.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
