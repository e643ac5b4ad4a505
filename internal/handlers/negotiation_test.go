package handlers_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestGetRecordNegotiatesFormat(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "a1", sample("widget", 3))

	tests := []struct {
		name, accept string
		wantStatus   int
		wantType     string // essence of Content-Type
		wantVersion  string
	}{
		{"no Accept is JSON", "", 200, "application/json", "1"},
		{"any is JSON", "*/*", 200, "application/json", "1"},
		{"application wildcard is JSON", "application/*", 200, "application/json", "1"},
		{"json", "application/json", 200, "application/json", "1"},
		{"vnd.msgpack", "application/vnd.msgpack", 200, "application/vnd.msgpack", "1"},
		{"msgpack alias echoed", "application/msgpack", 200, "application/msgpack", "1"},
		{"x-msgpack alias echoed", "application/x-msgpack", 200, "application/x-msgpack", "1"},
		{"cbor", "application/cbor", 200, "application/cbor", "1"},
		{"gob", "application/gob", 200, "application/gob", "1"},
		{"x-gob alias echoed", "application/x-gob", 200, "application/x-gob", "1"},
		{"higher q wins", "application/cbor;q=0.9, application/vnd.msgpack", 200, "application/vnd.msgpack", "1"},
		{"low q json loses", "application/json;q=0.1, application/cbor;q=0.5", 200, "application/cbor", "1"},
		{"tie goes to server order", "application/cbor, application/json", 200, "application/json", "1"},
		{"tie among msgpack and cbor", "application/cbor, application/x-msgpack", 200, "application/x-msgpack", "1"},
		{"q=0 excludes json under a wildcard", "*/*;q=0.1, application/json;q=0", 200, "application/vnd.msgpack", "1"},
		{"most specific range sets the weight", "application/*;q=0.5, application/json;q=0, application/cbor;q=0.9", 200, "application/cbor", "1"},
		{"version parameter", "application/json; version=1", 200, "application/json", "1"},
		{"version parameter on cbor", "application/cbor; version=1", 200, "application/cbor", "1"},
		{"browser Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200, "application/json", "1"},
		{"nothing acceptable", "text/html", 406, "", ""},
		{"only json, excluded", "application/json;q=0", 406, "", ""},
		{"text wildcard", "text/*", 406, "", ""},
		{"unknown version", "application/json; version=9", 406, "", ""},
		{"version zero", "application/json; version=0", 406, "", ""},
		{"a version there is not, then another range", "application/cbor;version=3, application/json;q=0.1", 200, "application/json", "1"},
		{"a version there is not excluded", "application/json;version=2;q=0, application/json", 200, "application/json", "1"},
		{"version not a number", "application/cbor; version=abc", 406, "", ""},
	}
	etags := map[string]string{}
	for _, tc := range tests {
		r := s.Get(t, "/v1/records/item/a1", "Accept", tc.accept)
		t.Run(tc.name, func(t *testing.T) {
			if r.Status != tc.wantStatus {
				t.Fatalf("Accept %q: status %d, want %d\n%s", tc.accept, r.Status, tc.wantStatus, r)
			}
			if tc.wantStatus == 406 {
				if !strings.Contains(r.Header.Get("Vary"), "Accept") {
					t.Errorf("Accept %q: 406 with Vary %q, want it to name Accept", tc.accept, r.Header.Get("Vary"))
				}
				p := r.JSON(t)
				if strings.Contains(tc.accept, "version=") {
					if got := strs(p, "versions"); !slices.Equal(got, []string{"1"}) {
						t.Errorf("Accept %q: versions = %v, want [1]", tc.accept, got)
					}
					return
				}
				acc := strs(p, "acceptable")
				if len(acc) == 0 || acc[0] != "application/json" || !slices.Contains(acc, "application/cbor") {
					t.Errorf("Accept %q: acceptable = %v, want the record formats, JSON first", tc.accept, acc)
				}
				return
			}
			mt, params := mediaType(t, r.Header.Get("Content-Type"))
			if mt != tc.wantType || params["schema"] != "item" || params["version"] != tc.wantVersion {
				t.Errorf("Accept %q: Content-Type %q, want %s; schema=item; version=%s", tc.accept, r.Header.Get("Content-Type"), tc.wantType, tc.wantVersion)
			}
			if !hasVaryNegotiated(r.Header.Values("Vary")) {
				t.Errorf("Accept %q: Vary = %q, want Accept, Accept-Encoding", tc.accept, r.Header.Values("Vary"))
			}
			if r.Header.Get("Ferry-Revision") != "1" || r.Header.Get("ETag") == "" || r.Header.Get("Last-Modified") == "" {
				t.Errorf("Accept %q: Ferry-Revision %q, ETag %q, Last-Modified %q; want 1 and both set", tc.accept,
					r.Header.Get("Ferry-Revision"), r.Header.Get("ETag"), r.Header.Get("Last-Modified"))
			}
			var name string
			var qty int64
			if strings.Contains(mt, "gob") {
				var it gobItem
				mustUngob(t, r.Body, &it)
				name, qty = it.Name, it.Qty
			} else {
				m, _ := r.Decode(t).(map[string]any)
				name, qty = str(m, "name"), num(t, m, "qty")
			}
			if name != "widget" || qty != 3 {
				t.Errorf("Accept %q: name %q qty %d, want widget 3", tc.accept, name, qty)
			}
			// Aliases of one format share its bytes but not its
			// Content-Type, so each has an ETag of its own (RFC 9110
			// §8.8.1).
			if prev, ok := etags[mt]; ok && prev != r.Header.Get("ETag") {
				t.Errorf("Accept %q: ETag %q differs from %q of the same representation", tc.accept, r.Header.Get("ETag"), prev)
			}
			etags[mt] = r.Header.Get("ETag")
		})
	}
	seen := map[string]string{}
	for mt, etag := range etags {
		if other, dup := seen[etag]; dup {
			t.Errorf("ETag %s is shared by %s and %s; each representation has its own", etag, mt, other)
		}
		seen[etag] = mt
	}
}

func TestNotModifiedCarriesVary(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "a1", sample("widget", 3))
	for _, accept := range []string{"application/json", "application/cbor", "application/x-msgpack", "application/gob"} {
		t.Run(accept, func(t *testing.T) {
			first := s.Get(t, "/v1/records/item/a1", "Accept", accept).MustStatus(t, 200)
			etag := first.Header.Get("ETag")
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := s.Do(t, Call{Method: method, Path: "/v1/records/item/a1", Header: hdr("Accept", accept, "If-None-Match", etag)})
				if r.Status != http.StatusNotModified {
					t.Fatalf("%s If-None-Match %s: status %d, want 304\n%s", method, etag, r.Status, r)
				}
				if !hasVaryNegotiated(r.Header.Values("Vary")) || r.Header.Get("ETag") != etag {
					t.Errorf("%s 304: Vary %q ETag %q, want Accept, Accept-Encoding and %s", method, r.Header.Values("Vary"), r.Header.Get("ETag"), etag)
				}
				if len(r.Raw) != 0 {
					t.Errorf("%s 304 has %d body bytes", method, len(r.Raw))
				}
			}
		})
	}
}

func TestHeadAnswersEveryGetRoute(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "a1", sample("widget", 3))
	s.MustPut(t, "item", "a2", sample("gadget", 4))
	job := s.Send(t, http.MethodPost, "/v1/schemas/item/_migrate", nil).MustStatus(t, http.StatusAccepted)
	jobPath := job.Header.Get("Location")
	if !strings.HasPrefix(jobPath, "/v1/jobs/") {
		t.Fatalf("_migrate Location = %q, want /v1/jobs/{id}", jobPath)
	}
	waitJob(t, s, jobPath)

	paths := []struct {
		path   string
		accept string
		// stable reports whether the GET and HEAD bodies must have the
		// same length (metrics change between two requests).
		stable bool
	}{
		{"/healthz", "", true},
		{"/readyz", "", true},
		{"/metrics", "", false},
		{"/openapi.yaml", "", true},
		{"/openapi.json", "", true},
		{"/docs", "", true},
		{"/v1/openapi.json", "", true},
		{"/v1/schemas", "", true},
		{"/v1/schemas/item", "", true},
		{"/v1/schemas/item/versions/1", "", true},
		{"/v1/schemas/item/versions/1", "text/x-go", true},
		{"/v1/schemas/item/changelog", "", true},
		{jobPath, "", true},
		{"/v1/records/item", "", true},
		{"/v1/records/item?limit=1", "application/cbor", true},
		{"/v1/records/item/_export", "application/jsonl", false},
		{"/v1/records/item/_changes", "", true},
		{"/v1/records/item/a1", "", true},
		{"/v1/records/item/a1", "application/cbor", true},
		{"/v1/records/item/a1/_history", "", true},
		{"/v1/records/item/missing", "", true},
		{"/v1/records/item/a1", "text/csv", true},
		{"/v1/records/item/_export", "text/csv", true},
	}
	compared := []string{"Content-Type", "ETag", "Vary", "Last-Modified", "Ferry-Revision", "Link", "Content-Encoding", "Allow"}
	for _, p := range paths {
		t.Run(p.path+" "+p.accept, func(t *testing.T) {
			get := s.Get(t, p.path, "Accept", p.accept)
			head := s.Do(t, Call{Method: http.MethodHead, Path: p.path, Header: hdr("Accept", p.accept)})
			if head.Status != get.Status {
				t.Fatalf("HEAD %s: status %d, GET %d\n%s", p.path, head.Status, get.Status, head)
			}
			for _, k := range compared {
				if g, h := get.Header.Values(k), head.Header.Values(k); !slices.Equal(g, h) {
					t.Errorf("HEAD %s: %s = %q, GET has %q", p.path, k, h, g)
				}
			}
			if p.stable && get.Status == 200 && get.Header.Get("Content-Length") != "" && head.Header.Get("Content-Length") != get.Header.Get("Content-Length") {
				t.Errorf("HEAD %s: Content-Length %q, GET %q", p.path, head.Header.Get("Content-Length"), get.Header.Get("Content-Length"))
			}
			// A problem's length varies with its request id, but HEAD
			// says it as GET does.
			if (get.Header.Get("Content-Length") == "") != (head.Header.Get("Content-Length") == "") {
				t.Errorf("HEAD %s: Content-Length %q, GET %q", p.path, head.Header.Get("Content-Length"), get.Header.Get("Content-Length"))
			}
		})
	}
}

func TestMethodNotAllowedListsAllow(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "a1", sample("widget", 3))
	tests := []struct {
		method, path string
		want         []string // methods Allow must list
	}{
		{http.MethodDelete, "/healthz", []string{"GET", "HEAD"}},
		{http.MethodPost, "/metrics", []string{"GET", "HEAD"}},
		{http.MethodPut, "/v1/convert", []string{"POST"}},
		{http.MethodDelete, "/v1/schemas", []string{"GET", "HEAD", "POST"}},
		{http.MethodPost, "/v1/schemas/item/changelog", []string{"GET", "HEAD"}},
		{http.MethodPost, "/v1/records/item/a1", []string{"GET", "HEAD", "PUT", "PATCH", "DELETE"}},
		{http.MethodDelete, "/v1/records/item", []string{"GET", "HEAD", "POST"}},
		{http.MethodPut, "/v1/records/item/_export", []string{"GET", "HEAD"}},
		{http.MethodDelete, "/v1/records/item/_changes", []string{"GET", "HEAD"}},
		{http.MethodGet, "/v1/records/item/_import", []string{"POST"}},
		{http.MethodPost, "/v1/records/item/_changes", []string{"GET", "HEAD"}},
		{http.MethodPost, "/v1/records/item/_export", []string{"GET", "HEAD"}},
		{http.MethodPatch, "/v1/records/item/_import", []string{"POST"}},
		{http.MethodPut, "/v1/records/item/a1/_history", []string{"GET", "HEAD"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			r := s.Send(t, tc.method, tc.path, []byte("{}"), "Content-Type", "application/json")
			if r.Status != http.StatusMethodNotAllowed {
				t.Fatalf("BUG: %s %s: status %d, want 405 with Allow %v (the path routes other methods)\n%s", tc.method, tc.path, r.Status, tc.want, r)
			}
			allow := strings.Split(strings.ReplaceAll(r.Header.Get("Allow"), " ", ""), ",")
			slices.Sort(allow)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(allow, want) {
				t.Errorf("%s %s: Allow %q, want exactly %v", tc.method, tc.path, r.Header.Get("Allow"), tc.want)
			}
		})
	}
	// A HEAD that is not allowed gets the GET's problem, to the byte: its
	// length is the GET's, less the difference in their request ids.
	for _, path := range []string{"/v1/convert", "/v1/records/item/_import"} {
		get := s.Get(t, path).MustStatus(t, http.StatusMethodNotAllowed)
		head := s.Do(t, Call{Method: http.MethodHead, Path: path}).MustStatus(t, http.StatusMethodNotAllowed)
		bodyLength := func(r *Resp) int {
			n, err := strconv.Atoi(r.Header.Get("Content-Length"))
			if err != nil {
				t.Fatalf("%s: Content-Length %q", path, r.Header.Get("Content-Length"))
			}
			return n - len(r.Header.Get("X-Request-Id"))
		}
		if bodyLength(get) != bodyLength(head) {
			t.Errorf("405 of %s: HEAD's Content-Length %s, GET's %s (request ids %s, %s)", path,
				head.Header.Get("Content-Length"), get.Header.Get("Content-Length"), head.Header.Get("X-Request-Id"), get.Header.Get("X-Request-Id"))
		}
	}
}

func TestReservedNameAsHistoryID(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	// A reserved name in the place of an id is an invalid id: the
	// router's own route for the name must not answer. A method history
	// does not have is still a 405 listing those it has.
	for _, name := range []string{"_changes", "_export", "_import"} {
		path := "/v1/records/item/" + name + "/_history"
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			if r := s.Send(t, method, path, nil); r.Status != http.StatusBadRequest || r.Header.Get("Allow") != "" {
				t.Errorf("%s %s: status %d, Allow %q; want 400 for the id, no Allow", method, path, r.Status, r.Header.Get("Allow"))
			}
		}
		if r := s.Send(t, http.MethodPut, path, nil); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("PUT %s: status %d, Allow %q; want 405 allowing GET, HEAD", path, r.Status, r.Header.Get("Allow"))
		}
	}
}

func TestUnsupportedContentType(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "a1", sample("widget", 3))
	body := []byte(`{"name":"x","qty":1}`)
	tests := []struct {
		name, method, path, contentType string
		wantStatus                      int
		wantHeader                      string // Accept-Post or Accept-Patch
		wantSupported                   string // a member of "supported"
		wantVersions                    bool
	}{
		{"POST record text/plain", http.MethodPost, "/v1/records/item", "text/plain", 415, "Accept-Post", "application/cbor", false},
		{"POST record no Content-Type", http.MethodPost, "/v1/records/item", "", 415, "Accept-Post", "application/json", false},
		{"PUT record xml", http.MethodPut, "/v1/records/item/a1", "application/xml", 415, "", "application/vnd.msgpack", false},
		{"PATCH with json", http.MethodPatch, "/v1/records/item/a1", "application/json", 415, "Accept-Patch", "application/merge-patch+json", false},
		{"PATCH unknown version", http.MethodPatch, "/v1/records/item/a1", "application/merge-patch+json; version=7", 415, "Accept-Patch", "", true},
		{"PATCH without Content-Type", http.MethodPatch, "/v1/records/item/a1", "", 415, "Accept-Patch", "application/merge-patch+json", false},
		{"convert csv", http.MethodPost, "/v1/convert", "text/csv", 415, "Accept-Post", "application/json", false},
		{"import json", http.MethodPost, "/v1/records/item/_import", "application/json", 415, "Accept-Post", "application/jsonl", false},
		{"import unknown version", http.MethodPost, "/v1/records/item/_import", "application/jsonl; version=5", 415, "Accept-Post", "application/jsonl", true},
		{"register schema cbor", http.MethodPost, "/v1/schemas", "application/cbor", 415, "Accept-Post", "application/json", false},
		{"PUT unknown version", http.MethodPut, "/v1/records/item/a1", "application/json; version=7", 415, "", "application/json", true},
		{"POST unknown version", http.MethodPost, "/v1/records/item", "application/cbor; version=2", 415, "Accept-Post", "", true},
		{"PUT version zero", http.MethodPut, "/v1/records/item/a1", "application/json; version=0", 415, "", "", true},
		{"PUT version not a number", http.MethodPut, "/v1/records/item/a1", "application/json; version=abc", 415, "", "", true},
		{"PUT another schema", http.MethodPut, "/v1/records/item/a1", "application/json; schema=order", 415, "", "application/json", false},
		{"PATCH another schema", http.MethodPatch, "/v1/records/item/a1", "application/merge-patch+json; schema=order", 415, "Accept-Patch", "application/merge-patch+json", false},
		{"import another schema", http.MethodPost, "/v1/records/item/_import", "application/jsonl; schema=order", 415, "Accept-Post", "application/jsonl", false},
		{"convert to another schema", http.MethodPost, "/v1/convert?schema=item", "application/json; schema=order", 415, "Accept-Post", "application/cbor", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hdr()
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			r := s.Do(t, Call{Method: tc.method, Path: tc.path, Body: body, Header: h})
			p := r.Problem(t, tc.wantStatus)
			if tc.wantHeader != "" && r.Header.Get(tc.wantHeader) == "" {
				t.Errorf("%s %s Content-Type %q: no %s header", tc.method, tc.path, tc.contentType, tc.wantHeader)
			}
			if tc.wantSupported != "" {
				if got := strs(p, "supported"); !slices.Contains(got, tc.wantSupported) {
					t.Errorf("%s %s Content-Type %q: supported = %v, want it to list %s", tc.method, tc.path, tc.contentType, got, tc.wantSupported)
				}
				if tc.wantHeader != "" && !slices.Contains(strings.Split(r.Header.Get(tc.wantHeader), ", "), tc.wantSupported) {
					t.Errorf("%s = %q, want it to list %s", tc.wantHeader, r.Header.Get(tc.wantHeader), tc.wantSupported)
				}
			}
			if tc.wantVersions {
				if got := strs(p, "versions"); !slices.Equal(got, []string{"1"}) {
					t.Errorf("Content-Type %q: versions = %v, want [1]", tc.contentType, got)
				}
			}
		})
	}
}

func TestResponseCompression(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	big := sample("big", 1)
	big["note"] = strings.Repeat("compressible text ", 200) // ~3.6 KB
	s.MustPut(t, "item", "big", big)
	s.MustPut(t, "item", "small", sample("small", 1))

	plain := s.Get(t, "/v1/records/item/big", "Accept-Encoding", "identity").MustStatus(t, 200)
	if plain.Header.Get("Content-Encoding") != "" {
		t.Fatalf("Accept-Encoding identity: Content-Encoding %q, want none", plain.Header.Get("Content-Encoding"))
	}
	tests := []struct {
		acceptEncoding, want string
	}{
		{"zstd", "zstd"},
		{"br", "br"},
		{"gzip", "gzip"},
		{"gzip;q=0.5, br", "br"},
		{"zstd;q=0, gzip", "gzip"},
		{"gzip, deflate", "gzip"},
		{"deflate", ""},
		{"identity", ""},
	}
	etags := map[string]string{"": plain.Header.Get("ETag")}
	for _, tc := range tests {
		t.Run(tc.acceptEncoding, func(t *testing.T) {
			r := s.Get(t, "/v1/records/item/big", "Accept-Encoding", tc.acceptEncoding).MustStatus(t, 200)
			if got := r.Header.Get("Content-Encoding"); got != tc.want {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.acceptEncoding, got, tc.want)
			}
			if !bytes.Equal(r.Body, plain.Body) {
				t.Errorf("Accept-Encoding %q: decoded body differs from the identity body", tc.acceptEncoding)
			}
			if tc.want != "" && len(r.Raw) >= len(plain.Raw) {
				t.Errorf("Accept-Encoding %q: %d bytes coded, %d plain; want smaller", tc.acceptEncoding, len(r.Raw), len(plain.Raw))
			}
			if !hasVaryNegotiated(r.Header.Values("Vary")) {
				t.Errorf("Accept-Encoding %q: Vary %q", tc.acceptEncoding, r.Header.Values("Vary"))
			}
			if prev, ok := etags[tc.want]; ok && prev != r.Header.Get("ETag") {
				t.Errorf("Accept-Encoding %q: ETag %s, earlier %s for the same coding", tc.acceptEncoding, r.Header.Get("ETag"), prev)
			}
			etags[tc.want] = r.Header.Get("ETag")
			// The coded representation's own ETag answers 304.
			nm := s.Get(t, "/v1/records/item/big", "Accept-Encoding", tc.acceptEncoding, "If-None-Match", r.Header.Get("ETag"))
			if nm.Status != http.StatusNotModified {
				t.Errorf("If-None-Match %s with Accept-Encoding %q: status %d, want 304", r.Header.Get("ETag"), tc.acceptEncoding, nm.Status)
			}
		})
	}
	seen := map[string]string{}
	for coding, etag := range etags {
		if other, dup := seen[etag]; dup {
			t.Errorf("codings %q and %q share ETag %s; each encoding has its own", coding, other, etag)
		}
		seen[etag] = coding
	}

	t.Run("small bodies are not compressed", func(t *testing.T) {
		// An unencoded body carries the unencoded representation's ETag,
		// whatever coding was asked: the ETag names what was sent.
		plain := s.Get(t, "/v1/records/item/small").MustStatus(t, 200)
		for _, enc := range []string{"gzip", "br", "zstd"} {
			r := s.Get(t, "/v1/records/item/small", "Accept-Encoding", enc).MustStatus(t, 200)
			if r.Header.Get("Content-Encoding") != "" || len(r.Raw) >= 1024 {
				t.Errorf("Accept-Encoding %s on a %d-byte body: Content-Encoding %q, want none", enc, len(r.Raw), r.Header.Get("Content-Encoding"))
			}
			if got, want := r.Header.Get("ETag"), plain.Header.Get("ETag"); got != want {
				t.Errorf("Accept-Encoding %s on an unencoded body: ETag %s, want the unencoded one %s", enc, got, want)
			}
			s.Get(t, "/v1/records/item/small", "Accept-Encoding", enc, "If-None-Match", plain.Header.Get("ETag")).MustStatus(t, http.StatusNotModified)
		}
		r := s.SendJSON(t, http.MethodPut, "/v1/records/item/small", sample("small", 2), "Accept-Encoding", "gzip", "Prefer", "return=minimal").MustStatus(t, 204)
		if etag := r.Header.Get("ETag"); strings.HasSuffix(etag, `.gzip"`) {
			t.Errorf("minimal write of a small record with Accept-Encoding gzip: ETag %s names a coding its body would not get", etag)
		}
		// A 412 names the ETag a read would send, here the unencoded one.
		p := s.SendJSON(t, http.MethodPut, "/v1/records/item/small", sample("small", 3), "Accept-Encoding", "gzip", "If-Match", plain.Header.Get("ETag")).Problem(t, 412)
		current := s.Get(t, "/v1/records/item/small", "Accept-Encoding", "gzip").MustStatus(t, 200).Header.Get("ETag")
		if got := str(p, "current_etag"); got != current {
			t.Errorf("412 of a write with Accept-Encoding gzip: current_etag %s, want the ETag a read sends, %s", got, current)
		}
	})
	t.Run("compressed JSON documents", func(t *testing.T) {
		plain := s.Get(t, "/openapi.json").MustStatus(t, 200)
		for _, doc := range []string{"/openapi.json", "/openapi.yaml", "/docs"} {
			for _, enc := range []string{"gzip", "zstd", "br"} {
				r := s.Get(t, doc, "Accept-Encoding", enc).MustStatus(t, 200)
				if r.Header.Get("Content-Encoding") != enc || !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
					t.Errorf("GET %s with Accept-Encoding %s: Content-Encoding %q, Vary %q", doc, enc, r.Header.Get("Content-Encoding"), r.Header.Get("Vary"))
				}
				if doc == "/openapi.json" && !bytes.Equal(r.Body, plain.Body) {
					t.Errorf("GET %s with Accept-Encoding %s: decoded body differs", doc, enc)
				}
			}
		}
		r := plain
		r = s.Get(t, "/v1/schemas/item", "Accept-Encoding", "gzip", "Accept", "application/json").MustStatus(t, 200)
		if len(r.Body) >= 1024 && r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET /v1/schemas/item (%d bytes) with Accept-Encoding gzip: Content-Encoding %q", len(r.Body), r.Header.Get("Content-Encoding"))
		}
	})
}

func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

func TestRequestContentEncoding(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body := []byte(`{"name":"coded","qty":2}`)
	bomb := make([]byte, 16<<20) // 16 MiB of zeros, 16x the body limit
	tests := []struct {
		name, coding string
		body         []byte
		wantStatus   int
	}{
		{"gzip", "gzip", gzipBytes(t, body), 201},
		{"zstd", "zstd", zstdBytes(t, body), 201},
		{"identity", "identity", body, 201},
		{"br is not accepted", "br", body, 415},
		{"deflate is not accepted", "deflate", body, 415},
		{"gzip that is not gzip", "gzip", body, 400},
		{"gzip bomb", "gzip", gzipBytes(t, bomb), 413},
		{"zstd bomb", "zstd", zstdBytes(t, bomb), 413},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := "/v1/records/item/coded" + string(rune('a'+i))
			r := s.Send(t, http.MethodPut, path, tc.body, "Content-Type", "application/json", "Content-Encoding", tc.coding)
			if r.Status != tc.wantStatus {
				t.Fatalf("PUT with Content-Encoding %s: status %d, want %d\n%s", tc.coding, r.Status, tc.wantStatus, r)
			}
			switch tc.wantStatus {
			case 201:
				got := s.Get(t, path).MustStatus(t, 200).JSON(t)
				if str(got, "name") != "coded" {
					t.Errorf("stored name %q, want coded", str(got, "name"))
				}
			case 415:
				ae := strings.ToLower(r.Header.Get("Accept-Encoding"))
				if !strings.Contains(ae, "gzip") || !strings.Contains(ae, "zstd") {
					t.Errorf("415 for Content-Encoding %s: Accept-Encoding %q, want it to name gzip and zstd", tc.coding, r.Header.Get("Accept-Encoding"))
				}
			}
		})
	}
	// A coding's 415 lists codings, not media types, wherever it comes;
	// a POST's carries Accept-Post as every 415 of a POST does.
	for _, path := range []string{"/v1/convert", "/v1/convert?schema=item", "/v1/schemas"} {
		r := s.Send(t, http.MethodPost, path, body, "Content-Type", "application/json", "Content-Encoding", "br")
		p := r.Problem(t, http.StatusUnsupportedMediaType)
		if r.Header.Get("Accept-Encoding") == "" || r.Header.Get("Accept-Post") == "" || p["supported"] != nil {
			t.Errorf("POST %s with br: Accept-Encoding %q, Accept-Post %q, supported %v; want both headers and no media types",
				path, r.Header.Get("Accept-Encoding"), r.Header.Get("Accept-Post"), p["supported"])
		}
	}
}

func TestContentDigest(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body := []byte(`{"name":"digest","qty":2}`)
	sum256 := sha256.Sum256(body)
	sum512 := sha512.Sum512(body)
	good256 := "sha-256=:" + base64.StdEncoding.EncodeToString(sum256[:]) + ":"
	good512 := "sha-512=:" + base64.StdEncoding.EncodeToString(sum512[:]) + ":"
	otherSum := sha256.Sum256([]byte("something else"))
	bad256 := "sha-256=:" + base64.StdEncoding.EncodeToString(otherSum[:]) + ":"
	tests := []struct {
		name, digest string
		wantStatus   int
	}{
		{"sha-256 matches", good256, 201},
		{"sha-512 matches", good512, 201},
		{"both match", good256 + ", " + good512, 201},
		{"sha-256 mismatch", bad256, 400},
		{"one of two mismatches", good512 + ", " + bad256, 400},
		{"not base64", "sha-256=:!!!:", 400},
		{"member parameters ignored", good256 + ";note=x", 201},
		{"member parameters do not hide a mismatch", bad256 + ";note=x", 400},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := "/v1/records/item/d" + string(rune('a'+i))
			r := s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "Content-Digest", tc.digest)
			if r.Status != tc.wantStatus {
				t.Fatalf("Content-Digest %q: status %d, want %d\n%s", tc.digest, r.Status, tc.wantStatus, r)
			}
			if tc.wantStatus == 400 {
				if got := s.Get(t, path); got.Status != 404 {
					t.Errorf("a body refused for its digest was stored: GET %s → %d", path, got.Status)
				}
			}
		})
	}

	sha256Digest := func(b []byte) string {
		sum := sha256.Sum256(b)
		return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	}
	t.Run("compressed body", func(t *testing.T) {
		t.Parallel()
		var zipped bytes.Buffer
		zw := gzip.NewWriter(&zipped)
		zw.Write(body)
		zw.Close()
		// The digest covers the body as sent, compressed.
		for _, tc := range []struct {
			id, digest string
			want       int
		}{
			{"gz1", sha256Digest(zipped.Bytes()), 201},
			{"gz2", sha256Digest(body), 400},
		} {
			r := s.Send(t, http.MethodPut, "/v1/records/item/"+tc.id, zipped.Bytes(),
				"Content-Type", "application/json", "Content-Encoding", "gzip", "Content-Digest", tc.digest)
			if r.Status != tc.want {
				t.Errorf("gzip body with Content-Digest of the %s: status %d, want %d\n%s", map[int]string{201: "compressed bytes", 400: "uncompressed bytes"}[tc.want], r.Status, tc.want, r)
			}
		}
	})
	t.Run("import", func(t *testing.T) {
		t.Parallel()
		stream := []byte(`{"id":"i1","data":{"name":"one","qty":1}}` + "\n" + `{"id":"i2","data":{"name":"two","qty":2}}` + "\n")
		for _, path := range []string{"/v1/records/item/_import", "/v1/records/item/_import?atomic=true"} {
			s.Send(t, http.MethodPost, path, stream, "Content-Type", "application/jsonl", "Content-Digest", bad256).Problem(t, 400)
			for _, id := range []string{"i1", "i2"} {
				if got := s.Get(t, "/v1/records/item/"+id); got.Status != 404 {
					t.Fatalf("POST %s with a mismatched digest stored %s: GET → %d", path, id, got.Status)
				}
			}
		}
		r := s.Send(t, http.MethodPost, "/v1/records/item/_import", stream, "Content-Type", "application/jsonl", "Content-Digest", sha256Digest(stream)).MustStatus(t, 200)
		if m := r.JSON(t); num(t, m, "accepted") != 2 {
			t.Errorf("import with a matching digest = %v, want 2 accepted", m)
		}
	})

	// Lines of one field are one list (RFC 9110 §5.3): a mismatch on the
	// second counts as much as on the first.
	t.Run("several lines", func(t *testing.T) {
		t.Parallel()
		s.Send(t, http.MethodPut, "/v1/records/item/lines1", body, "Content-Type", "application/json",
			"Content-Digest", good256, "Content-Digest", good512).MustStatus(t, http.StatusCreated)
		s.Send(t, http.MethodPut, "/v1/records/item/lines2", body, "Content-Type", "application/json",
			"Content-Digest", good256, "Content-Digest", bad256).Problem(t, 400)
		s.Get(t, "/v1/records/item/lines2").Problem(t, 404)
		stream := []byte(`{"id":"lines3","data":{"name":"one","qty":1}}` + "\n")
		s.Send(t, http.MethodPost, "/v1/records/item/_import", stream, "Content-Type", "application/jsonl",
			"Content-Digest", sha256Digest(stream), "Content-Digest", bad256).Problem(t, 400)
		s.Get(t, "/v1/records/item/lines3").Problem(t, 404)
	})

	// A delete takes no body, but a digest it sends is checked.
	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		s.MustPut(t, "item", "del", sample("del", 1))
		s.Send(t, http.MethodDelete, "/v1/records/item/del", []byte("x"), "Content-Digest", bad256).Problem(t, 400)
		s.Get(t, "/v1/records/item/del").MustStatus(t, http.StatusOK)
		s.Send(t, http.MethodDelete, "/v1/records/item/del", nil, "Content-Digest", bad256).Problem(t, 400)
		// Preconditions come first, and the bytes are not decoded: a
		// content coding on a body that means nothing is no error.
		s.Send(t, http.MethodDelete, "/v1/records/item/del", []byte("x"), "Content-Digest", bad256, "If-Match", `"1-stale.json.v1"`).Problem(t, http.StatusPreconditionFailed)
		s.Send(t, http.MethodDelete, "/v1/records/item/del", []byte("x"), "Content-Digest", sha256Digest([]byte("x")), "Content-Encoding", "gzip").MustStatus(t, http.StatusNoContent)
		s.MustPut(t, "item", "del", sample("del", 1))
		s.Send(t, http.MethodDelete, "/v1/records/item/del", nil, "Content-Encoding", "br").MustStatus(t, http.StatusNoContent)
	})

	t.Run("migrate", func(t *testing.T) {
		t.Parallel()
		s.Send(t, http.MethodPost, "/v1/schemas/item/_migrate", []byte("x"), "Content-Digest", bad256).Problem(t, 400)
		s.Send(t, http.MethodPost, "/v1/schemas/item/_migrate", []byte("x"), "Content-Digest", sha256Digest([]byte("x"))).MustStatus(t, http.StatusAccepted)
	})

	t.Run("Want-Content-Digest", func(t *testing.T) {
		t.Parallel()
		s.MustPut(t, "item", "w1", sample("widget", 1))
		for _, path := range []string{"/v1/records/item/w1", "/v1/schemas", "/v1/records/item"} {
			r := s.Get(t, path, "Want-Content-Digest", "sha-256=1").MustStatus(t, 200)
			sum := sha256.Sum256(r.Raw)
			want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
			if got := r.Header.Get("Content-Digest"); got != want {
				t.Errorf("GET %s with Want-Content-Digest: Content-Digest %q, want %q", path, got, want)
			}
		}
		// Errors and the operational routes too.
		for _, c := range []struct {
			method, path string
			status       int
		}{
			{http.MethodGet, "/v1/records/item/nope", 404},
			{http.MethodGet, "/v1/nowhere", 404},
			{http.MethodDelete, "/v1/schemas", 405},
			{http.MethodGet, "/healthz", 200},
			{http.MethodGet, "/readyz", 200},
			{http.MethodGet, "/metrics", 200},
			{http.MethodGet, "/openapi.yaml", 200},
			{http.MethodGet, "/docs", 200},
			{http.MethodHead, "/openapi.json", 200},
			{http.MethodHead, "/docs", 200},
		} {
			r := s.Do(t, Call{Method: c.method, Path: c.path, Header: hdr("Want-Content-Digest", "sha-512=2, sha-256=1"), Lax: true})
			if r.Status != c.status {
				t.Fatalf("%s %s: status %d, want %d", c.method, c.path, r.Status, c.status)
			}
			content := r.Raw
			if c.method == http.MethodHead {
				// A HEAD's headers describe the body a GET gets.
				content = s.Do(t, Call{Method: http.MethodGet, Path: c.path, Lax: true}).Raw
				if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(content)) {
					t.Errorf("HEAD %s: Content-Length %s, want %d", c.path, cl, len(content))
				}
			}
			sum := sha512.Sum512(content)
			if got, want := r.Header.Get("Content-Digest"), "sha-512=:"+base64.StdEncoding.EncodeToString(sum[:])+":"; got != want {
				t.Errorf("%s %s with Want-Content-Digest: Content-Digest %q, want %q", c.method, c.path, got, want)
			}
		}
		r := s.Get(t, "/v1/records/item/w1").MustStatus(t, 200)
		if r.Header.Get("Content-Digest") != "" {
			t.Errorf("Content-Digest %q sent unasked", r.Header.Get("Content-Digest"))
		}
	})
}

// TestSchemaParameter checks the schema parameter of media types: a
// client may echo back the Content-Type of a response, and one naming
// another schema is not this resource's representation.
func TestSchemaParameter(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	put := s.SendJSON(t, http.MethodPut, "/v1/records/item/s1", sample("widget", 3)).MustStatus(t, http.StatusCreated)
	echoed := put.Header.Get("Content-Type")
	if !strings.Contains(echoed, "schema=item") {
		t.Fatalf("Content-Type %q names no schema", echoed)
	}
	s.Send(t, http.MethodPut, "/v1/records/item/s1", put.Body, "Content-Type", echoed).MustStatus(t, http.StatusOK)
	s.Get(t, "/v1/records/item/s1", "Accept", echoed).MustStatus(t, http.StatusOK)
	r := s.Get(t, "/v1/records/item/s1", "Accept", "application/json; schema=order, application/cbor; schema=item").MustStatus(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/cbor") {
		t.Errorf("Accept naming another schema for JSON: Content-Type %q, want CBOR", ct)
	}
	s.Get(t, "/v1/records/item/s1", "Accept", "application/json; schema=order").Problem(t, http.StatusNotAcceptable)
	s.Get(t, "/v1/records/item/s1", "Accept", "application/json; schema=order; version=1").Problem(t, http.StatusNotAcceptable)
	s.Get(t, "/v1/records/item/_export", "Accept", "application/jsonl; schema=order").Problem(t, http.StatusNotAcceptable)
	s.Get(t, "/v1/records/item/s1/_history?include=data", "Accept", "application/json; schema=order").Problem(t, http.StatusNotAcceptable)
	s.Get(t, "/v1/records/item/_changes?include=data", "Accept", "text/event-stream; schema=order").Problem(t, http.StatusNotAcceptable)
	s.Get(t, "/v1/records/item/s1/_history?include=data", "Accept", "application/json; schema=item").MustStatus(t, http.StatusOK)
}

// TestNoRouteIsNotFound sends methods to a request target no route
// has: a 404 problem, never a 405 allowing nothing.
func TestNoRouteIsNotFound(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	for _, method := range []string{"PRI", http.MethodGet, http.MethodPut} {
		req := httptest.NewRequest(method, "*", nil)
		rec := httptest.NewRecorder()
		s.HTTP.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s *: %d %q, want a 404 problem", method, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

// An alias's ETag names the alias's representation: a cache holding the
// record under one MessagePack name gets no 304 for another, while
// If-Match, which names a revision, takes any of them.
func TestAliasesHaveTheirOwnETags(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "a1", sample("widget", 3))
	alias := s.Get(t, "/v1/records/item/a1", "Accept", "application/x-msgpack").MustStatus(t, 200)
	etag := alias.Header.Get("ETag")
	s.Get(t, "/v1/records/item/a1", "Accept", "application/x-msgpack", "If-None-Match", etag).MustStatus(t, 304)
	r := s.Get(t, "/v1/records/item/a1", "Accept", "application/vnd.msgpack", "If-None-Match", etag).MustStatus(t, 200)
	if r.Header.Get("ETag") == etag || r.Header.Get("Content-Type") == alias.Header.Get("Content-Type") {
		t.Errorf("vnd.msgpack answered with ETag %s and %s, like x-msgpack's", r.Header.Get("ETag"), r.Header.Get("Content-Type"))
	}
	s.SendJSON(t, "PUT", "/v1/records/item/a1", sample("widget", 4), "If-Match", etag).MustStatus(t, 200)
}

// TestRepresentationsAreStable checks that each representation is the
// same bytes each time it is encoded, so that its strong ETag names one
// body and a 304 works without the cache. Maps are where it can go wrong:
// encoding/gob and the MessagePack library write most maps in Go's random
// order, and gob numbers types per process.
func TestRepresentationsAreStable(t *testing.T) {
	t.Parallel()
	const bag = `{"name": "bag", "version": 1, "fields": {
		"ints": {"type": "map", "values": {"type": "int"}},
		"objs": {"type": "map", "values": {"type": "object", "fields": {"x": {"type": "int"}}}},
		"strs": {"type": "map", "values": {"type": "string"}},
		"nested": {"type": "array", "items": {"type": "map", "values": {"type": "float"}}}}}`
	rec := map[string]any{"ints": map[string]any{}, "objs": map[string]any{}, "strs": map[string]any{}, "nested": []any{map[string]any{}}}
	// Enough entries for every format's body to pass the compression
	// threshold, so that the gzip runs are compressed.
	for i := range 60 {
		k := fmt.Sprint("k", i)
		rec["ints"].(map[string]any)[k] = i
		rec["objs"].(map[string]any)[k] = map[string]any{"x": i}
		rec["strs"].(map[string]any)[k] = k
		rec["nested"].([]any)[0].(map[string]any)[k] = float64(i) / 2
	}
	for _, accept := range []string{"application/json", "application/vnd.msgpack", "application/cbor", "application/gob"} {
		for _, coding := range []string{"identity", "gzip"} {
			s := MustServer(t, WithCacheBytes(0))
			s.MustRegister(t, bag)
			s.MustPut(t, "bag", "g", rec)
			get := func(extra ...string) *Resp {
				return s.Get(t, "/v1/records/bag/g", append([]string{"Accept", accept, "Accept-Encoding", coding}, extra...)...)
			}
			first := get().MustStatus(t, 200)
			if want := strings.TrimPrefix(coding, "identity"); first.Header.Get("Content-Encoding") != want {
				t.Fatalf("%s, %s: Content-Encoding %q, want %q", accept, coding, first.Header.Get("Content-Encoding"), want)
			}
			etag := first.Header.Get("ETag")
			for range 12 {
				r := get().MustStatus(t, 200)
				if r.Header.Get("ETag") != etag || !bytes.Equal(r.Body, first.Body) {
					t.Fatalf("%s, %s: two encodings of one revision differ under %s and %s", accept, coding, etag, r.Header.Get("ETag"))
				}
			}
			get("If-None-Match", etag).MustStatus(t, 304)
			// A 412 gives the tag a read sends.
			s.SendJSON(t, "PUT", "/v1/records/bag/g", rec, "If-Match", etag).MustStatus(t, 200)
			current := get().MustStatus(t, 200).Header.Get("ETag")
			p := s.SendJSON(t, "PUT", "/v1/records/bag/g", rec, "Accept", accept, "Accept-Encoding", coding, "If-Match", etag).Problem(t, 412)
			if got := str(p, "current_etag"); got != current {
				t.Errorf("%s, %s: 412's current_etag %s, want the ETag a read sends, %s", accept, coding, got, current)
			}
		}
	}
}

// TestIfMatchTakesOnlyIssuedTags checks that If-Match names a revision
// through a tag Ferry issued, of any representation, and that a tag made
// up around the current revision's (another suffix) names nothing.
func TestIfMatchTakesOnlyIssuedTags(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "tags", sample("tags", 1))
	// Each made-up tag is around the current revision's, so that only its
	// suffix can be what refuses it.
	currentPrefix := func() string {
		etag := s.Get(t, "/v1/records/item/tags").MustStatus(t, 200).Header.Get("ETag")
		prefix, _, _ := strings.Cut(strings.Trim(etag, `"`), ".")
		return prefix
	}
	for _, bogus := range []string{"", ".", ".bogus.v1", ".json.v9", ".json.v0", ".json.vx", ".json.v01", ".json.v1.deflate", ".json.v1.pretty.gzip", ".json.v1+x-msgpack", ".msgpack.v1+x-gob",
		".json.v1.hAAAAAAAAAAA", ".gob.v1.hAAAAAAAAAAA", ".gob.v1.h", ".gob.v1.gzip.h-_AAAAAAAAA+x-gob"} {
		tag := `"` + currentPrefix() + bogus + `"`
		s.Get(t, "/v1/records/item/tags", "If-Match", tag).Problem(t, 412)
		s.SendJSON(t, "PUT", "/v1/records/item/tags", sample("tags", 2), "If-Match", tag).Problem(t, 412)
		s.SendJSON(t, "PUT", "/v1/records/item/tags", sample("tags", 2), "If-None-Match", tag).MustStatus(t, 200)
	}
	for _, issued := range []string{".json.v1", ".json.v1.gzip", ".json.v1.pretty", ".json.v1.zstd.pretty", ".msgpack.v1+x-msgpack", ".gob.v1+x-gob", ".gob.v1.gzip", ".cbor.v1.br"} {
		s.SendJSON(t, "PUT", "/v1/records/item/tags", sample("tags", 3), "If-Match", `"`+currentPrefix()+issued+`"`).MustStatus(t, 200)
	}
}

// Content-Encoding and Accept-Encoding sent on several lines are each one
// list (RFC 9110 §5.3), as if sent on one.
func TestCodingFieldsOnSeveralLines(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(`{"name":"coded","qty":1}`))
	zw.Close()
	s.Send(t, http.MethodPut, "/v1/records/item/coded", zipped.Bytes(), "Content-Type", "application/json",
		"Content-Encoding", "gzip", "Content-Encoding", "br").Problem(t, http.StatusUnsupportedMediaType)
	s.Get(t, "/v1/records/item/coded").Problem(t, 404)
	s.MustPut(t, "item", "big", sample(strings.Repeat("long name ", 200), 1))
	r := s.Get(t, "/v1/records/item/big", "Accept-Encoding", "deflate", "Accept-Encoding", "gzip").MustStatus(t, 200)
	if got := r.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Accept-Encoding on two lines, deflate then gzip: Content-Encoding %q, want gzip", got)
	}
}
