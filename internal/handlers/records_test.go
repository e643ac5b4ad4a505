package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestPutCreatesThenReplaces(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body, _ := json.Marshal(sample("first", 1))
	r := s.Send(t, http.MethodPut, "/v1/records/item/p1", body, "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	if loc := r.Header.Get("Location"); loc != "/v1/records/item/p1" {
		t.Errorf("create: Location %q, want /v1/records/item/p1", loc)
	}
	if r.Header.Get("Ferry-Revision") != "1" {
		t.Errorf("create: Ferry-Revision %q, want 1", r.Header.Get("Ferry-Revision"))
	}
	if m := r.JSON(t); str(m, "name") != "first" || str(m, "placed_at") != sampleTime {
		t.Errorf("create answered %v, want the stored record", m)
	}
	etag1 := r.Header.Get("ETag")

	body, _ = json.Marshal(sample("second", 2))
	r = s.Send(t, http.MethodPut, "/v1/records/item/p1", body, "Content-Type", "application/json").MustStatus(t, http.StatusOK)
	if r.Header.Get("Location") != "" {
		t.Errorf("replace: Location %q, want none", r.Header.Get("Location"))
	}
	if r.Header.Get("Ferry-Revision") != "2" || r.Header.Get("ETag") == etag1 {
		t.Errorf("replace: Ferry-Revision %q ETag %q (was %q), want 2 and a new ETag", r.Header.Get("Ferry-Revision"), r.Header.Get("ETag"), etag1)
	}
	got := s.Get(t, "/v1/records/item/p1").MustStatus(t, 200)
	if m := got.JSON(t); str(m, "name") != "second" {
		t.Errorf("GET after replace = %v", m)
	}
	if got.Header.Get("ETag") != r.Header.Get("ETag") {
		t.Errorf("GET ETag %q differs from the replace's %q for the same representation", got.Header.Get("ETag"), r.Header.Get("ETag"))
	}

	// Every format writes.
	formats := []struct {
		contentType, name string
		body              []byte
	}{
		{"application/vnd.msgpack", "mp1", mustMsgpack(t, map[string]any{"name": "mp1", "qty": 3})},
		{"application/msgpack", "mp2", mustMsgpack(t, map[string]any{"name": "mp2", "qty": 3})},
		{"application/x-msgpack", "mp3", mustMsgpack(t, map[string]any{"name": "mp3", "qty": 3})},
		{"application/cbor", "cb", mustCBOR(t, map[string]any{"name": "cb", "qty": 3, "placed_at": mustTime(t, sampleTime)})},
		{"application/gob", "gb1", mustGob(t, gobItem{Name: "gb1", Qty: 3})},
		{"application/x-gob", "gb2", mustGob(t, gobItem{Name: "gb2", Qty: 3})},
	}
	for i, f := range formats {
		t.Run(f.contentType, func(t *testing.T) {
			path := "/v1/records/item/f" + strconv.Itoa(i)
			r := s.Send(t, http.MethodPut, path, f.body, "Content-Type", f.contentType).MustStatus(t, http.StatusCreated)
			// A write answers in the format asked, else JSON.
			if mt, _ := mediaType(t, r.Header.Get("Content-Type")); mt != "application/json" {
				t.Errorf("PUT %s without Accept answered %q, want JSON", f.contentType, r.Header.Get("Content-Type"))
			}
			m := s.Get(t, path).MustStatus(t, 200).JSON(t)
			if num(t, m, "qty") != 3 || str(m, "name") != f.name {
				t.Errorf("PUT %s stored %v, want name %s qty 3", f.contentType, m, f.name)
			}
			if f.contentType == "application/cbor" && str(m, "placed_at") != sampleTime {
				t.Errorf("CBOR placed_at stored as %v, want %s", m["placed_at"], sampleTime)
			}
		})
	}
}

func TestWriteAnswersInTheAcceptedFormat(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body, _ := json.Marshal(sample("acc", 2))
	r := s.Send(t, http.MethodPut, "/v1/records/item/w1", body, "Content-Type", "application/json", "Accept", "application/cbor").MustStatus(t, http.StatusCreated)
	if mt, _ := mediaType(t, r.Header.Get("Content-Type")); mt != "application/cbor" {
		t.Fatalf("PUT with Accept CBOR answered %q", r.Header.Get("Content-Type"))
	}
	if m, _ := r.Decode(t).(map[string]any); str(m, "name") != "acc" {
		t.Errorf("CBOR answer %v", m)
	}
	if got := s.Get(t, "/v1/records/item/w1", "Accept", "application/cbor").Header.Get("ETag"); got != r.Header.Get("ETag") {
		t.Errorf("PUT answered ETag %s, a CBOR read gives %s", r.Header.Get("ETag"), got)
	}
	// A write whose answer cannot be produced is refused before it is stored.
	for _, accept := range []string{"text/html", "application/json; version=2"} {
		s.Send(t, http.MethodPut, "/v1/records/item/w2", body, "Content-Type", "application/json", "Accept", accept).Problem(t, 406)
		s.Send(t, http.MethodPost, "/v1/records/item", body, "Content-Type", "application/json", "Accept", accept).Problem(t, 406)
		s.Send(t, http.MethodPatch, "/v1/records/item/w1", []byte(`{"qty":9}`), "Content-Type", "application/merge-patch+json", "Accept", accept).Problem(t, 406)
	}
	s.Get(t, "/v1/records/item/w2").Problem(t, 404)
	if m := s.Get(t, "/v1/records/item/w1").JSON(t); num(t, m, "qty") != 2 {
		t.Errorf("a PATCH refused with 406 changed the record: %v", m)
	}
	if n := len(objects(s.Get(t, "/v1/schemas").JSON(t), "schemas")); n != 1 {
		t.Fatalf("schemas: %d", n)
	}
	if c := objects(s.Get(t, "/v1/schemas").JSON(t), "schemas")[0]; num(t, c, "record_count") != 1 {
		t.Errorf("record_count %v after refused writes, want 1", c["record_count"])
	}
}

// TestMinimalWriteAtAnUnshowableVersion writes, with Prefer:
// return=minimal, a record that cannot be shown at the version Accept
// asks for: no body is sent, yet the ETag would name that representation,
// so the write is refused with 406 before it is stored, as without Prefer.
func TestMinimalWriteAtAnUnshowableVersion(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	registerRetyped(t, s, "w", 2)
	minimal := []string{"Content-Type", "application/json", "Accept", "application/json; version=1", "Prefer", "return=minimal"}
	s.Send(t, http.MethodPut, "/v1/records/w/a", []byte(`{"q":7.5}`), minimal...).Problem(t, http.StatusNotAcceptable)
	s.Get(t, "/v1/records/w/a").Problem(t, http.StatusNotFound)
	r := s.Send(t, http.MethodPut, "/v1/records/w/a", []byte(`{"q":7}`), minimal...).MustStatus(t, http.StatusCreated)
	if got := s.Get(t, "/v1/records/w/a", "Accept", "application/json; version=1").Header.Get("ETag"); got != r.Header.Get("ETag") {
		t.Errorf("minimal PUT answered ETag %s, a read at version 1 gives %s", r.Header.Get("ETag"), got)
	}
	patch := []string{"Content-Type", "application/merge-patch+json", "Accept", "application/json; version=1", "Prefer", "return=minimal"}
	s.Send(t, http.MethodPatch, "/v1/records/w/a", []byte(`{"q":7.5}`), patch...).Problem(t, http.StatusNotAcceptable)
	if m := s.Get(t, "/v1/records/w/a").JSON(t); num(t, m, "q") != 7 {
		t.Errorf("a minimal PATCH refused with 406 changed the record: %v", m)
	}
}

// TestOldClientWritesOverANewerValue checks that a version-1 client can
// write a record holding a value that version 2 cannot show, by PUT, PATCH
// and import, when its write replaces that value or version 1 cannot see
// it at all, and that the fields it cannot see keep their values.
func TestOldClientWritesOverANewerValue(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"w","version":1,"fields":{"a":{"type":"int"},"n":{"type":"int"}}}`)
	s.MustRegister(t, `{"name":"w","version":2,"fields":{"a":{"type":"int"},"n":{"type":"int"},"b":{"type":"int"}},"migrate":[{"op":"add","field":"b","default":0}]}`)
	s.MustRegister(t, `{"name":"w","version":3,"fields":{"a":{"type":"int"},"n":{"type":"float"},"b":{"type":"float"}},"migrate":[{"op":"retype","field":"n","to":"float"},{"op":"retype","field":"b","to":"float"}]}`)
	latest := []string{"Content-Type", "application/json"}
	v1 := []string{"Content-Type", "application/json; version=1", "Accept", "application/json; version=3"}
	for _, id := range []string{"put", "patch", "import"} {
		s.Send(t, http.MethodPut, "/v1/records/w/"+id, []byte(`{"a":1,"n":7.5,"b":2.5}`), latest...).MustStatus(t, http.StatusCreated)
	}
	s.Get(t, "/v1/records/w/put", "Accept", "application/json; version=1").Problem(t, http.StatusNotAcceptable)

	s.Send(t, http.MethodPut, "/v1/records/w/put", []byte(`{"a":2,"n":8}`), v1...).MustStatus(t, http.StatusOK)
	s.Send(t, http.MethodPut, "/v1/records/w/patch", []byte(`{"a":1,"n":7,"b":2.5}`), latest...).MustStatus(t, http.StatusOK)
	s.Send(t, http.MethodPatch, "/v1/records/w/patch", []byte(`{"a":2}`),
		"Content-Type", "application/merge-patch+json; version=1", "Prefer", "return=minimal").MustStatus(t, http.StatusNoContent)
	importSummary(t, s.Send(t, http.MethodPost, "/v1/records/w/_import", []byte(`{"id":"import","version":1,"data":{"a":2,"n":8}}`+"\n"),
		"Content-Type", "application/jsonl"), 1, 0)
	// A patch replaces a value its version cannot show, or is refused
	// for it.
	s.Send(t, http.MethodPut, "/v1/records/w/patchn", []byte(`{"a":1,"n":7.5,"b":2.5}`), latest...).MustStatus(t, http.StatusCreated)
	p := s.Send(t, http.MethodPatch, "/v1/records/w/patchn", []byte(`{"a":2}`), "Content-Type", "application/merge-patch+json; version=1").Problem(t, http.StatusConflict)
	if !strings.Contains(str(p, "detail"), "field 'n'") {
		t.Errorf("a version-1 patch leaving n at 7.5: %v, want a conflict naming n", p)
	}
	s.Send(t, http.MethodPatch, "/v1/records/w/patchn", []byte(`{"n":8}`), "Content-Type", "application/merge-patch+json; version=1").MustStatus(t, http.StatusOK)
	for id, want := range map[string]map[string]float64{
		"patchn": {"a": 1, "n": 8, "b": 2.5},
		"put":    {"a": 2, "n": 8, "b": 2.5},
		"patch":  {"a": 2, "n": 7, "b": 2.5},
		"import": {"a": 2, "n": 8, "b": 2.5},
	} {
		m := s.Get(t, "/v1/records/w/"+id).JSON(t)
		for k, x := range want {
			if floatOf(t, m, k) != x {
				t.Errorf("%s at version 1 over b 2.5: %v, want %v", id, m, want)
				break
			}
		}
		if v := s.Get(t, "/v1/records/w/"+id, "Accept", "application/json; version=1").MustStatus(t, http.StatusOK).JSON(t); num(t, v, "a") != int64(want["a"]) {
			t.Errorf("%s read at version 1: %v, want a %v", id, v, want["a"])
		}
	}
}

// TestNotAcceptableFallsBack checks that a record that cannot be shown at
// the version a request prefers is shown at the next one it accepts, as
// RFC 9110 keeps 406 for when no acceptable representation can be made,
// for reads, writes' answers, conversions and pages; and that with none
// left the answer is the 406, with nothing stored.
func TestNotAcceptableFallsBack(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	registerRetyped(t, s, "w", 2)
	s.Send(t, http.MethodPut, "/v1/records/w/half", []byte(`{"q":7.5}`), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	tests := []struct {
		accept      string
		contentType string // "" for a 406
	}{
		{"application/json; version=1", ""},
		{"application/json; version=1, application/json; version=2; q=0", ""},
		{"application/json; version=1, application/json; version=2; q=0.5", "application/json; schema=w; version=2"},
		{"application/json; version=1, application/cbor; q=0.5", "application/cbor; schema=w; version=2"},
		{"application/cbor; version=1, */*; q=0.1", "application/json; schema=w; version=2"},
	}
	for _, tc := range tests {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, "convert", "page"} {
			var r *Resp
			switch method {
			case "page":
				r = s.Get(t, "/v1/records/w", "Accept", tc.accept)
			case "convert":
				r = s.Send(t, http.MethodPost, "/v1/convert?schema=w", []byte(`{"q":7.5}`), "Content-Type", "application/json", "Accept", tc.accept)
			case http.MethodGet:
				r = s.Get(t, "/v1/records/w/half", "Accept", tc.accept)
			case http.MethodPut:
				r = s.Send(t, method, "/v1/records/w/half", []byte(`{"q":7.5}`), "Content-Type", "application/json", "Accept", tc.accept)
			default:
				r = s.Send(t, method, "/v1/records/w/half", []byte(`{"q":7.5}`), "Content-Type", "application/merge-patch+json", "Accept", tc.accept)
			}
			if tc.contentType == "" {
				r.Problem(t, http.StatusNotAcceptable)
				continue
			}
			r.MustStatus(t, http.StatusOK)
			if got := r.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("%s with Accept %q: Content-Type %q, want %q", method, tc.accept, got, tc.contentType)
			}
			if atV2 := s.Get(t, "/v1/records/w/half").MustStatus(t, http.StatusOK); method == http.MethodGet && tc.contentType == atV2.Header.Get("Content-Type") {
				if r.Header.Get("ETag") != atV2.Header.Get("ETag") {
					t.Errorf("GET with Accept %q: ETag %s, a read at version 2 gives %s", tc.accept, r.Header.Get("ETag"), atV2.Header.Get("ETag"))
				}
				s.Get(t, "/v1/records/w/half", "Accept", tc.accept, "If-None-Match", atV2.Header.Get("ETag")).MustStatus(t, http.StatusNotModified)
			}
		}
	}
	// A 412 names the ETag a read with the same headers gets, or none
	// when a read gets no representation.
	for _, tc := range []struct{ accept, encoding string }{
		{"application/json; version=1, application/cbor; q=0.5", ""},
		{"application/json; version=1, application/cbor; q=0.5", "gzip"},
		{"application/json; version=1", "gzip"},
	} {
		read := s.Get(t, "/v1/records/w/half", "Accept", tc.accept, "Accept-Encoding", tc.encoding)
		refused := s.Send(t, http.MethodDelete, "/v1/records/w/half", nil, "Accept", tc.accept, "Accept-Encoding", tc.encoding, "If-Match", `"0-stale"`)
		p := refused.Problem(t, http.StatusPreconditionFailed)
		if !hasVaryNegotiated(refused.Header.Values("Vary")) {
			t.Errorf("412 with Accept %q: Vary %q", tc.accept, refused.Header.Values("Vary"))
		}
		want := any(nil)
		if read.Status == http.StatusOK {
			want = read.Header.Get("ETag")
		}
		if p["current_etag"] != want {
			t.Errorf("412 with Accept %q, Accept-Encoding %q: current_etag %v, a read gives %v", tc.accept, tc.encoding, p["current_etag"], want)
		}
	}
	// A range without a version takes any version: with the latest
	// excluded, an earlier one serves.
	s.Send(t, http.MethodPut, "/v1/records/w/seven", []byte(`{"q":7}`), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	if r := s.Get(t, "/v1/records/w/seven", "Accept", "application/json; version=2; q=0, application/json").MustStatus(t, http.StatusOK); r.Header.Get("Content-Type") != "application/json; schema=w; version=1" {
		t.Errorf("Accept excluding version 2 of JSON only: Content-Type %q, want version 1", r.Header.Get("Content-Type"))
	}
	s.Get(t, "/v1/records/w/seven", "Accept", "application/json; version=2; q=0").Problem(t, http.StatusNotAcceptable)
	// The deprecation marks are those of the version served.
	s.Send(t, http.MethodPatch, "/v1/schemas/w/versions/1", []byte(`{"deprecated":true,"sunset":"2030-01-01T00:00:00Z"}`), "Content-Type", "application/json").MustStatus(t, http.StatusOK)
	fallingBack := "application/json; version=1, application/json; version=2; q=0.5"
	for _, r := range []*Resp{
		s.Get(t, "/v1/records/w/half", "Accept", fallingBack).MustStatus(t, http.StatusOK),
		s.Send(t, http.MethodPost, "/v1/convert?schema=w", []byte(`{"q":7.5}`), "Content-Type", "application/json", "Accept", fallingBack).MustStatus(t, http.StatusOK),
	} {
		if r.Header.Get("Deprecation") != "" || r.Header.Get("Sunset") != "" {
			t.Errorf("%s served at version 2 with version 1 deprecated: Deprecation %q, Sunset %q", r.call.Path, r.Header.Get("Deprecation"), r.Header.Get("Sunset"))
		}
	}
	// Refused writes stored nothing: the record is at its first revision
	// plus the writes answered in version 2.
	if rev := s.Get(t, "/v1/records/w/half").Header.Get("Ferry-Revision"); rev != "7" {
		t.Errorf("after six writes answered and four refused: revision %s, want 7", rev)
	}
}

// TestUnversionedRangeTakesOtherVersions checks that a range without a
// version takes any version the client did not exclude, when the version
// it asks for first is excluded or cannot show the record, and that a
// range naming a version outweighs one with other parameters only.
func TestUnversionedRangeTakesOtherVersions(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	registerRetyped(t, s, "z", 3)
	s.Send(t, http.MethodPut, "/v1/records/z/half", []byte(`{"q":7.5}`), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	for _, accept := range []string{
		"application/json; version=1, application/json; version=3; q=0, application/json; q=0.5",
		"application/json; version=9; q=0.5, application/json; version=3; q=0, application/json",
		"application/json; schema=z; version=3; q=0, application/json; schema=z",
		"application/json; version=3; q=0, application/json; charset=utf-8",
	} {
		r := s.Get(t, "/v1/records/z/half", "Accept", accept).MustStatus(t, http.StatusOK)
		if got := r.Header.Get("Content-Type"); got != "application/json; schema=z; version=2" {
			t.Errorf("Accept %q: Content-Type %q, want version 2", accept, got)
		}
	}
	// Each version weighs as its most specific range says; the default
	// wins a tie.
	s.Send(t, http.MethodPut, "/v1/records/z/whole", []byte(`{"q":7}`), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	for accept, want := range map[string]int{
		"application/json; version=3; q=0.2, application/json":                                            2,
		"application/json; version=3; q=0.5, application/json; version=2; q=0.4, application/json; q=0.9": 1,
		"*/*; version=1; q=0, application/json":                                                           3,
		"application/*; version=2; q=0.3, application/json":                                               3,
		"application/json; version=1, application/json":                                                   1,
		"application/json; version=3; q=0, application/json, application/cbor":                            2,
	} {
		r := s.Get(t, "/v1/records/z/whole", "Accept", accept).MustStatus(t, http.StatusOK)
		if got, wantType := r.Header.Get("Content-Type"), fmt.Sprintf("application/json; schema=z; version=%d", want); got != wantType {
			t.Errorf("Accept %q: Content-Type %q, want %q", accept, got, wantType)
		}
	}
	// So do exports, pages and change lists.
	for path, want := range map[string]string{
		"/v1/records/z/_export|application/jsonl":              "application/jsonl; schema=z; version=2",
		"/v1/records/z|application/cbor":                       "application/cbor; schema=z; version=2",
		"/v1/records/z/_changes?include=data|application/json": "application/json; schema=z; version=2",
	} {
		path, mt, _ := strings.Cut(path, "|")
		accept := mt + "; version=3; q=0, " + mt
		r := s.Get(t, path, "Accept", accept).MustStatus(t, http.StatusOK)
		if got := r.Header.Get("Content-Type"); got != want {
			t.Errorf("GET %s with Accept %q: Content-Type %q, want %q", path, accept, got, want)
		}
	}
	s.Get(t, "/v1/records/z/half/_history?include=data", "Accept", "application/json; version=3; q=0, application/json").MustStatus(t, http.StatusOK)
	// A response carries one version's deprecation marks, whole: the
	// version it shows when that one is deprecated.
	s.Send(t, http.MethodPatch, "/v1/schemas/z/versions/1", []byte(`{"deprecated":true,"sunset":"2030-01-01T00:00:00Z"}`), "Content-Type", "application/json").MustStatus(t, http.StatusOK)
	s.Send(t, http.MethodPatch, "/v1/schemas/z/versions/2", []byte(`{"deprecated":true}`), "Content-Type", "application/json").MustStatus(t, http.StatusOK)
	r := s.Send(t, http.MethodPut, "/v1/records/z/seven", []byte(`{"q":7}`), "Content-Type", "application/json; version=1", "Accept", "application/json; version=2").MustStatus(t, http.StatusCreated)
	if r.Header.Get("Deprecation") == "" || r.Header.Get("Sunset") != "" {
		t.Errorf("a version-1 write answered at version 2, both deprecated, only 1 with a sunset: Deprecation %q, Sunset %q; want version 2's marks alone",
			r.Header.Get("Deprecation"), r.Header.Get("Sunset"))
	}
}

// TestFallbackCountsADeprecatedVersionOnce checks that a write whose
// answer falls back to the write's own deprecated version counts that
// version once, as any request using it is counted.
func TestFallbackCountsADeprecatedVersionOnce(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	registerRetyped(t, s, "dc", 3)
	s.Send(t, http.MethodPatch, "/v1/schemas/dc/versions/2", []byte(`{"deprecated":true}`), "Content-Type", "application/json").MustStatus(t, http.StatusOK)
	r := s.Send(t, http.MethodPut, "/v1/records/dc/a", []byte(`{"q":7.5}`), "Content-Type", "application/json; version=2",
		"Accept", "application/json; version=1, application/json; q=0.5").MustStatus(t, http.StatusCreated)
	if got := r.Header.Get("Content-Type"); got != "application/json; schema=dc; version=2" || r.Header.Get("Deprecation") == "" {
		t.Fatalf("answer: Content-Type %q, Deprecation %q; want version 2, marked deprecated", got, r.Header.Get("Deprecation"))
	}
	metrics := string(s.Get(t, "/metrics").MustStatus(t, http.StatusOK).Body)
	if want := `ferry_deprecated_version_requests_total{key="",schema="dc",version="2"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

func TestPostCreatesWithUUIDv7(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body, _ := json.Marshal(sample("posted", 1))
	var ids []string
	for i := 0; i < 3; i++ {
		r := s.Send(t, http.MethodPost, "/v1/records/item", body, "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
		loc := r.Header.Get("Location")
		id, ok := strings.CutPrefix(loc, "/v1/records/item/")
		if !ok {
			t.Fatalf("POST: Location %q, want /v1/records/item/{id}", loc)
		}
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			t.Fatalf("POST: id %q is not a UUIDv7 (%v, version %d)", id, err, u.Version())
		}
		if r.Header.Get("Ferry-Revision") != "1" {
			t.Errorf("POST: Ferry-Revision %q, want 1", r.Header.Get("Ferry-Revision"))
		}
		s.Get(t, loc).MustStatus(t, 200)
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("UUIDv7 ids %v are not in creation order", ids)
	}
	r := s.Send(t, http.MethodPost, "/v1/records/item", body, "Content-Type", "application/json", "Prefer", "return=minimal").MustStatus(t, http.StatusCreated)
	if len(r.Raw) != 0 || r.Header.Get("Location") == "" || r.Header.Get("Preference-Applied") != "return=minimal" || r.Header.Get("ETag") == "" {
		t.Errorf("POST return=minimal: body %d bytes, Location %q, Preference-Applied %q, ETag %q", len(r.Raw),
			r.Header.Get("Location"), r.Header.Get("Preference-Applied"), r.Header.Get("ETag"))
	}
	// No entity tag names a record not made yet: If-Match fails before
	// the body is read, and nothing is made.
	before := len(s.Get(t, "/v1/records/item").JSON(t)["items"].([]any))
	for _, tag := range []string{`"x"`, "*", r.Header.Get("ETag")} {
		p := s.Send(t, http.MethodPost, "/v1/records/item", body, "Content-Type", "application/json", "If-Match", tag).Problem(t, 412)
		if num(t, p, "current_revision") != 0 || p["current_etag"] != nil {
			t.Errorf("POST with If-Match %s: %v, want current_revision 0 and current_etag null", tag, p)
		}
	}
	s.Send(t, http.MethodPost, "/v1/records/item", []byte(`{"name":`), "Content-Type", "application/json", "If-Match", "*").Problem(t, 412)
	if after := len(s.Get(t, "/v1/records/item").JSON(t)["items"].([]any)); after != before {
		t.Errorf("POSTs with If-Match made records: %d before, %d after", before, after)
	}
}

func TestETagsAndPreconditions(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "e1", sample("etag", 1))
	path := "/v1/records/item/e1"

	reps := map[string]string{}
	for _, accept := range []string{"application/json", "application/cbor", "application/vnd.msgpack", "application/gob"} {
		reps[accept] = s.Get(t, path, "Accept", accept).MustStatus(t, 200).Header.Get("ETag")
	}
	seen := map[string]bool{}
	for accept, etag := range reps {
		if etag == "" || !strings.HasPrefix(etag, `"`) {
			t.Errorf("%s ETag %q, want a strong entity tag", accept, etag)
		}
		if seen[etag] {
			t.Errorf("ETag %s shared between representations %v", etag, reps)
		}
		seen[etag] = true
	}

	// 304 while unchanged; 200 for a stale tag; * matches.
	s.Get(t, path, "If-None-Match", reps["application/json"]).MustStatus(t, http.StatusNotModified)
	s.Get(t, path, "If-None-Match", `"nope", `+reps["application/json"]).MustStatus(t, http.StatusNotModified)
	s.Get(t, path, "If-None-Match", `"stale"`).MustStatus(t, http.StatusOK)

	// If-Match with the CBOR ETag on a JSON PUT: same record, same revision.
	body, _ := json.Marshal(sample("etag2", 2))
	r := s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", reps["application/cbor"])
	if r.Status != http.StatusOK {
		t.Fatalf("PUT If-Match with the CBOR ETag of the current revision: status %d, want 200\n%s", r.Status, r)
	}
	newJSON := r.Header.Get("ETag")
	if newJSON == reps["application/json"] {
		t.Errorf("ETag did not change on a write: %s", newJSON)
	}

	// Every old tag is now stale.
	for accept, etag := range reps {
		r := s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", etag)
		p := r.Problem(t, http.StatusPreconditionFailed)
		if num(t, p, "current_revision") != 2 || str(p, "current_etag") == "" {
			t.Errorf("stale If-Match (%s): current_revision %v current_etag %v, want 2 and a tag", accept, p["current_revision"], p["current_etag"])
		}
		if s.Get(t, path, "If-None-Match", etag).Status != http.StatusOK {
			t.Errorf("GET If-None-Match with a stale %s tag did not answer 200", accept)
		}
	}
	// The current_etag of a 412 works as If-Match.
	p := s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", `"stale"`).Problem(t, 412)
	s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", str(p, "current_etag")).MustStatus(t, 200)
	// A list of tags matches when one does; * matches an existing record.
	cur := s.Get(t, path).Header.Get("ETag")
	s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", `"x", `+cur).MustStatus(t, 200)
	s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", "*").MustStatus(t, 200)
	p = s.Send(t, http.MethodPut, "/v1/records/item/absent", body, "Content-Type", "application/json", "If-Match", "*").Problem(t, 412)
	if etag, ok := p["current_etag"]; !ok || etag != nil || num(t, p, "current_revision") != 0 {
		t.Errorf("If-Match on an absent record: %v, want current_revision 0 and current_etag null", p)
	}

	// If-None-Match: * creates only.
	p = s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-None-Match", "*").Problem(t, 412)
	if num(t, p, "current_revision") < 1 || str(p, "current_etag") == "" {
		t.Errorf("If-None-Match * on an existing record: %v, want current_revision and current_etag", p)
	}
	s.Send(t, http.MethodPut, "/v1/records/item/fresh", body, "Content-Type", "application/json", "If-None-Match", "*").MustStatus(t, http.StatusCreated)

	// If-None-Match compares weakly on writes as on reads; an If-Match
	// with no tag in it (an empty variable) holds for no revision.
	cur = s.Get(t, path).Header.Get("ETag")
	s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-None-Match", "W/"+cur).Problem(t, 412)
	// Preconditions are weighed before the body (RFC 9110 §13.2.1): a
	// stale tag with a body that fails validation is a 412, not a 422.
	s.Send(t, http.MethodPut, path, []byte(`{"name":"x","qty":0}`), "Content-Type", "application/json", "If-Match", reps["application/json"]).Problem(t, 412)
	s.Send(t, http.MethodPut, path, []byte(`{"name":`), "Content-Type", "application/json", "If-None-Match", "*").Problem(t, 412)
	for _, empty := range []string{"", " , "} {
		s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", empty).Problem(t, 412)
		s.Send(t, http.MethodDelete, path, nil, "If-Match", empty).Problem(t, 412)
	}
	if got := s.Get(t, path).Header.Get("ETag"); got != cur {
		t.Errorf("writes whose preconditions failed changed the record: ETag %s, want %s", got, cur)
	}

	// PATCH and DELETE honour If-Match.
	patch := []byte(`{"qty": 9}`)
	s.Send(t, http.MethodPatch, path, patch, "Content-Type", "application/merge-patch+json", "If-Match", reps["application/json"]).Problem(t, 412)
	// A PATCH too weighs them before its body, however malformed.
	s.Send(t, http.MethodPatch, path, []byte(`{"qty":`), "Content-Type", "application/merge-patch+json", "If-Match", reps["application/json"]).Problem(t, 412)
	s.Send(t, http.MethodDelete, path, nil, "If-Match", reps["application/json"]).Problem(t, 412)
	cur = s.Get(t, path, "Accept", "application/x-msgpack").Header.Get("ETag")
	s.Send(t, http.MethodPatch, path, patch, "Content-Type", "application/merge-patch+json", "If-Match", cur).MustStatus(t, 200)
	cur = s.Get(t, path, "Accept", "application/cbor").Header.Get("ETag")
	s.Send(t, http.MethodDelete, path, nil, "If-Match", cur).MustStatus(t, http.StatusNoContent)
}

func TestPreferReturnMinimal(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body, _ := json.Marshal(sample("min", 1))
	minimal := "return=minimal"
	tests := []struct {
		name, method, path, contentType string
		body                            []byte
		wantStatus                      int
	}{
		{"PUT create", http.MethodPut, "/v1/records/item/m1", "application/json", body, http.StatusCreated},
		{"PUT replace", http.MethodPut, "/v1/records/item/m1", "application/json", body, http.StatusNoContent},
		{"PATCH", http.MethodPatch, "/v1/records/item/m1", "application/merge-patch+json", []byte(`{"qty":4}`), http.StatusNoContent},
		{"POST", http.MethodPost, "/v1/records/item", "application/json", body, http.StatusCreated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Send(t, tc.method, tc.path, tc.body, "Content-Type", tc.contentType, "Prefer", minimal)
			r.MustStatus(t, tc.wantStatus)
			if len(r.Raw) != 0 {
				t.Errorf("%s with %s: %d body bytes, want none", tc.name, minimal, len(r.Raw))
			}
			if r.Header.Get("Preference-Applied") != minimal || r.Header.Get("ETag") == "" || r.Header.Get("Ferry-Revision") == "" {
				t.Errorf("%s: Preference-Applied %q ETag %q Ferry-Revision %q", tc.name,
					r.Header.Get("Preference-Applied"), r.Header.Get("ETag"), r.Header.Get("Ferry-Revision"))
			}
			if tc.wantStatus == http.StatusCreated && r.Header.Get("Location") == "" {
				t.Errorf("%s: 201 without Location", tc.name)
			}
			// The minimal answer's ETag is the one a read gets.
			if tc.method != http.MethodPost {
				if got := s.Get(t, tc.path).Header.Get("ETag"); got != r.Header.Get("ETag") {
					t.Errorf("%s: ETag %q, GET gives %q", tc.name, r.Header.Get("ETag"), got)
				}
			}
		})
	}
	r := s.Send(t, http.MethodPut, "/v1/records/item/m1", body, "Content-Type", "application/json", "Prefer", "return=representation").MustStatus(t, 200)
	if len(r.Body) == 0 || r.Header.Get("Preference-Applied") != "return=representation" {
		t.Errorf("Prefer return=representation answered %d bytes with Preference-Applied %q", len(r.Body), r.Header.Get("Preference-Applied"))
	}
	// Only the first return preference counts, across fields too.
	for _, tc := range []struct {
		prefs        []string
		minimalFirst bool
	}{
		{[]string{"return=representation, return=minimal"}, false},
		{[]string{"return=representation", "return=minimal"}, false},
		{[]string{"respond-async, return=minimal", "return=representation"}, true},
		{[]string{`foo="a,return=minimal", return=representation`}, false},
		{[]string{`foo="a\",return=representation", return=minimal; x="y,z"`}, true},
	} {
		prefs := tc.prefs
		h := hdr("Content-Type", "application/json")
		for _, p := range prefs {
			h.Add("Prefer", p)
		}
		r := s.Do(t, Call{Method: http.MethodPut, Path: "/v1/records/item/m1", Body: body, Header: h})
		if got := r.Status == http.StatusNoContent && len(r.Raw) == 0; got != tc.minimalFirst {
			t.Errorf("Prefer %q: %d with %d body bytes; want the first return preference applied", prefs, r.Status, len(r.Raw))
		}
	}
	// A delete's 204 is minimal anyway, and says the preference was heard.
	r = s.Send(t, http.MethodDelete, "/v1/records/item/m1", nil, "Prefer", minimal).MustStatus(t, http.StatusNoContent)
	if r.Header.Get("Preference-Applied") != minimal || r.Header.Get("Ferry-Revision") == "" {
		t.Errorf("DELETE with %s: Preference-Applied %q, Ferry-Revision %q", minimal, r.Header.Get("Preference-Applied"), r.Header.Get("Ferry-Revision"))
	}
}

func TestPatchMergesAndValidates(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "pa", sample("patchme", 2))
	path := "/v1/records/item/pa"
	mp := "application/merge-patch+json"
	tests := []struct {
		name       string
		patch      string
		wantStatus int
		check      func(t *testing.T, m map[string]any, p map[string]any)
	}{
		{"set a field", `{"qty": 5}`, 200, func(t *testing.T, m, _ map[string]any) {
			if num(t, m, "qty") != 5 || str(m, "name") != "patchme" {
				t.Errorf("after {qty:5}: %v", m)
			}
		}},
		{"set an optional field", `{"note": "hello"}`, 200, func(t *testing.T, m, _ map[string]any) {
			if str(m, "note") != "hello" || num(t, m, "qty") != 5 {
				t.Errorf("after {note:hello}: %v", m)
			}
		}},
		{"null clears an optional field", `{"note": null}`, 200, func(t *testing.T, m, _ map[string]any) {
			if v, ok := m["note"]; !ok || v != nil {
				t.Errorf("after {note:null}: note = %v (present %v), want null", v, ok)
			}
		}},
		{"nested map merge", `{"attrs": {"k2": "v2"}}`, 200, func(t *testing.T, m, _ map[string]any) {
			attrs, _ := m["attrs"].(map[string]any)
			if attrs["k"] != "v" || attrs["k2"] != "v2" {
				t.Errorf("after attrs merge: %v, want k and k2", attrs)
			}
		}},
		{"a whole float for an int field, as PUT refuses it", `{"qty": 5.0}`, 400, func(t *testing.T, _, p map[string]any) {
			if !strings.Contains(str(p, "detail"), "qty") {
				t.Errorf("after {qty:5.0}: %v, want a problem naming qty", p)
			}
		}},
		{"an exponent for an int field", `{"qty": 1e2}`, 400, nil},
		{"a time finer than nanoseconds", `{"placed_at": "2024-01-02T03:04:05.1234567891Z"}`, 400, nil},
		{"null on a required field", `{"name": null}`, 422, func(t *testing.T, _, p map[string]any) {
			if !hasFieldError(p, "name", "present") {
				t.Errorf("{name:null}: errors %v, want name/present", p["errors"])
			}
		}},
		{"null on an int", `{"qty": null}`, 422, func(t *testing.T, _, p map[string]any) {
			if !hasFieldError(p, "qty", "present") {
				t.Errorf("{qty:null}: errors %v, want qty/present", p["errors"])
			}
		}},
		{"rule", `{"qty": 0, "name": ""}`, 422, func(t *testing.T, _, p map[string]any) {
			if !hasFieldError(p, "qty", "min") || !hasFieldError(p, "name", "required") {
				t.Errorf("errors %v, want qty/min and name/required", p["errors"])
			}
		}},
		{"unknown field", `{"bogus": 1}`, 400, nil},
		// Clearing a field the version lacks would do nothing at all.
		{"null on an unknown field", `{"bogus": null}`, 400, func(t *testing.T, _, p map[string]any) {
			if !hasFieldError(p, "bogus", "unknown_field") {
				t.Errorf("{bogus:null}: errors %v, want bogus/unknown_field", p["errors"])
			}
		}},
		{"null on a field named in another case", `{"Note": null, "qty": 6}`, 400, func(t *testing.T, _, p map[string]any) {
			if !hasFieldError(p, "Note", "unknown_field") {
				t.Errorf("{Note:null}: errors %v, want Note/unknown_field", p["errors"])
			}
		}},
		{"null on a map's entry", `{"attrs": {"absent": null}}`, 200, func(t *testing.T, m, _ map[string]any) {
			if num(t, m, "qty") != 5 {
				t.Errorf("after a refused patch, qty = %v, want 5 still", m["qty"])
			}
		}},
		{"wrong type", `{"qty": "five"}`, 400, nil},
		{"not an object", `[1]`, 400, nil},
		{"bad JSON", `{"qty":`, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Send(t, http.MethodPatch, path, []byte(tc.patch), "Content-Type", mp)
			if r.Status != tc.wantStatus {
				t.Fatalf("PATCH %s: status %d, want %d\n%s", tc.patch, r.Status, tc.wantStatus, r)
			}
			if tc.check == nil {
				return
			}
			if tc.wantStatus == 200 {
				tc.check(t, r.JSON(t), nil)
				if m := s.Get(t, path).JSON(t); mustJSONString(t, m) != mustJSONString(t, r.JSON(t)) {
					t.Errorf("PATCH answered %s but GET gives %s", r.Body, mustJSONString(t, m))
				}
				return
			}
			tc.check(t, nil, r.JSON(t))
		})
	}
	h := s.Get(t, path+"/_history").MustStatus(t, 200).JSON(t)
	if revs := objects(h, "revisions"); len(revs) == 0 || str(revs[0], "op") != "patch" {
		t.Errorf("newest history entry %v, want op patch", revs)
	}
	s.Send(t, http.MethodPatch, "/v1/records/item/missing", []byte(`{"qty":1}`), "Content-Type", mp).Problem(t, 404)
	s.Send(t, http.MethodDelete, "/v1/records/item/missing", nil).Problem(t, 404)
	// Nor does a body it would refuse: it is not read.
	s.Send(t, http.MethodPatch, "/v1/records/item/missing", []byte(`{bad`), "Content-Type", mp).Problem(t, 404)
	// A precondition does not change that: there is nothing to patch.
	for _, tag := range []string{"*", `"1-x.json.v1"`} {
		s.Send(t, http.MethodPatch, "/v1/records/item/missing", []byte(`{"qty":1}`), "Content-Type", mp, "If-Match", tag).Problem(t, 404)
		s.Send(t, http.MethodDelete, "/v1/records/item/missing", nil, "If-Match", tag).Problem(t, 404)
	}
}

func TestPatchAtOlderVersion(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustRegister(t, itemV2)
	s.SendJSON(t, http.MethodPut, "/v1/records/item/pv", map[string]any{"name": "n", "quantity": 2, "sku": "KEEP", "lines": []any{}, "attrs": map[string]any{}}).MustStatus(t, 201)
	r := s.Send(t, http.MethodPatch, "/v1/records/item/pv", []byte(`{"qty": 7}`), "Content-Type", "application/merge-patch+json; version=1").MustStatus(t, 200)
	if m := r.JSON(t); num(t, m, "qty") != 7 {
		t.Errorf("PATCH at v1 answered %v, want qty 7 at v1", m)
	}
	if m := s.Get(t, "/v1/records/item/pv").JSON(t); num(t, m, "quantity") != 7 || str(m, "sku") != "KEEP" {
		t.Errorf("after a v1 PATCH, v2 view = %v; want quantity 7 and sku KEEP", m)
	}
	s.Send(t, http.MethodPatch, "/v1/records/item/pv", []byte(`{"quantity": 1}`), "Content-Type", "application/merge-patch+json; version=1").Problem(t, 400)
}

func TestDeleteAndRecreate(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	path := "/v1/records/item/d1"
	s.MustPut(t, "item", "d1", sample("one", 1))
	s.MustPut(t, "item", "d1", sample("two", 2))
	oldETag := s.Get(t, path).Header.Get("ETag")

	r := s.Send(t, http.MethodDelete, path, nil).MustStatus(t, http.StatusNoContent)
	if r.Header.Get("Ferry-Revision") != "3" || len(r.Raw) != 0 {
		t.Errorf("DELETE: Ferry-Revision %q, %d body bytes; want 3 and none", r.Header.Get("Ferry-Revision"), len(r.Raw))
	}
	s.Get(t, path).Problem(t, 404)
	s.Send(t, http.MethodDelete, path, nil).Problem(t, 404)
	s.Send(t, http.MethodPatch, path, []byte(`{"qty":1}`), "Content-Type", "application/merge-patch+json").Problem(t, 404)

	body, _ := json.Marshal(sample("three", 3))
	r = s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	if r.Header.Get("Ferry-Revision") != "4" {
		t.Errorf("re-create after delete: Ferry-Revision %q, want 4 (revisions continue)", r.Header.Get("Ferry-Revision"))
	}
	if r.Header.Get("ETag") == oldETag {
		t.Errorf("re-created record has the ETag %s of before the delete", oldETag)
	}
	s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", oldETag).Problem(t, http.StatusPreconditionFailed)
	if s.Get(t, path, "If-None-Match", oldETag).Status != http.StatusOK {
		t.Errorf("GET If-None-Match with a tag from before the delete did not answer 200")
	}
	h := objects(s.Get(t, path+"/_history").MustStatus(t, 200).JSON(t), "revisions")
	var ops []string
	for _, e := range h {
		ops = append(ops, str(e, "op"))
	}
	if !slices.Equal(ops, []string{"create", "delete", "replace", "create"}) {
		t.Errorf("history ops %v, want [create delete replace create] (newest first)", ops)
	}
}

func TestRequireIfMatch(t *testing.T) {
	t.Parallel()
	s := newItemServer(t, WithRequireIfMatch())
	body, _ := json.Marshal(sample("req", 1))
	path := "/v1/records/item/q1"
	s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	s.Send(t, http.MethodPost, "/v1/records/item", body, "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json").Problem(t, http.StatusPreconditionRequired)
	// The precondition comes before the body: a bad body is a 428 too.
	s.Send(t, http.MethodPut, path, []byte(`{"name":"x","qty":0}`), "Content-Type", "application/json").Problem(t, http.StatusPreconditionRequired)
	s.Send(t, http.MethodPatch, path, []byte(`{"qty":2}`), "Content-Type", "application/merge-patch+json").Problem(t, http.StatusPreconditionRequired)
	s.Send(t, http.MethodDelete, path, nil).Problem(t, http.StatusPreconditionRequired)
	etag := s.Get(t, path).Header.Get("ETag")
	r := s.Send(t, http.MethodPut, path, body, "Content-Type", "application/json", "If-Match", etag).MustStatus(t, http.StatusOK)
	s.Send(t, http.MethodDelete, path, nil, "If-Match", r.Header.Get("ETag")).MustStatus(t, http.StatusNoContent)

	// An import carries no If-Match: it creates (a deleted record too)
	// and refuses each update with a 428 of its own.
	s.Send(t, http.MethodPut, "/v1/records/item/q2", body, "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	lines := `{"id":"q2","data":{"name":"x","qty":2}}` + "\n" + `{"id":"q3","data":{"name":"x","qty":3}}` + "\n" +
		`{"id":"q3","data":{"name":"x","qty":4}}` + "\n" + `{"id":"q1","data":{"name":"x","qty":5}}` + "\n"
	m := importSummary(t, s.Send(t, http.MethodPost, "/v1/records/item/_import", []byte(lines), "Content-Type", "application/jsonl"), 2, 2, 0, 2)
	for _, e := range objects(m, "errors") {
		if p, _ := e["problem"].(map[string]any); num(t, p, "status") != http.StatusPreconditionRequired {
			t.Errorf("import error %v, want a 428", e)
		}
	}
	if m := s.Get(t, "/v1/records/item/q2").JSON(t); num(t, m, "qty") != 1 {
		t.Errorf("an import replaced a record without If-Match: %v", m)
	}
	if m := s.Get(t, "/v1/records/item/q3").JSON(t); num(t, m, "qty") != 3 {
		t.Errorf("an import's second envelope for one id updated it without If-Match: %v", m)
	}
	s.Get(t, "/v1/records/item/q1").MustStatus(t, http.StatusOK)
}

func TestListPages(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	var want []string
	for i := 0; i < 25; i++ {
		id := fmt.Sprintf("id-%02d", 24-i) // written out of order
		s.MustPut(t, "item", id, sample(id, i+1))
		want = append(want, id)
	}
	// Bytewise order: capitals before lower case, digits first.
	for _, id := range []string{"Zed", "a.b", "0lead", "A~1"} {
		s.MustPut(t, "item", id, sample(id, 1))
		want = append(want, id)
	}
	slices.Sort(want)

	for _, accept := range []string{"application/json", "application/cbor", "application/vnd.msgpack"} {
		t.Run(accept, func(t *testing.T) {
			var got []string
			next := "/v1/records/item?limit=10"
			pages := 0
			for next != "" {
				r := s.Get(t, next, "Accept", accept).MustStatus(t, 200)
				pages++
				mt, p := mediaType(t, r.Header.Get("Content-Type"))
				if mt != accept || p["schema"] != "item" || p["version"] != "1" {
					t.Errorf("page Content-Type %q", r.Header.Get("Content-Type"))
				}
				page, _ := r.Decode(t).(map[string]any)
				items, _ := page["items"].([]any)
				for _, it := range items {
					env, _ := it.(map[string]any)
					got = append(got, str(env, "id"))
					if num(t, env, "version") != 1 || num(t, env, "revision") != 1 || env["updated_at"] == nil {
						t.Errorf("envelope %v, want version 1, revision 1, updated_at", env)
					}
					if data, _ := env["data"].(map[string]any); str(data, "name") != str(env, "id") {
						t.Errorf("envelope data %v, want the record named %s", env["data"], str(env, "id"))
					}
				}
				link := r.Header.Get("Link")
				cursor := str(page, "next_cursor")
				if (link == "") != (cursor == "") {
					t.Fatalf("page %d: Link %q but next_cursor %q; want both or neither", pages, link, cursor)
				}
				if link == "" {
					next = ""
					break
				}
				m := regexp.MustCompile(`^<([^>]+)>;\s*rel="next"$`).FindStringSubmatch(link)
				if m == nil {
					t.Fatalf("Link %q, want <…>; rel=\"next\"", link)
				}
				u, err := url.Parse(m[1])
				if err != nil || u.Query().Get("cursor") != cursor || u.Query().Get("limit") != "10" {
					t.Fatalf("Link %q, want cursor=%s and limit=10", link, cursor)
				}
				next = m[1]
				if pages > 10 {
					t.Fatal("more than 10 pages")
				}
			}
			if pages != 3 || !slices.Equal(got, want) {
				t.Errorf("%d pages with ids\n got %v\nwant %v", pages, got, want)
			}
		})
	}
	t.Run("gob page", func(t *testing.T) {
		r := s.Get(t, "/v1/records/item?limit=2", "Accept", "application/gob").MustStatus(t, 200)
		var page struct {
			Items      []gobEnvelope
			NextCursor string
		}
		mustUngob(t, r.Body, &page)
		if len(page.Items) != 2 || page.Items[0].Id != want[0] || page.Items[0].Data.Name != want[0] || page.NextCursor == "" {
			t.Errorf("gob page = %+v", page)
		}
	})
	t.Run("version", func(t *testing.T) {
		r := s.Get(t, "/v1/records/item?limit=1", "Accept", "application/json; version=1").MustStatus(t, 200)
		if _, p := mediaType(t, r.Header.Get("Content-Type")); p["version"] != "1" {
			t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		}
		s.Get(t, "/v1/records/item", "Accept", "application/json; version=4").Problem(t, 406)
	})
	// YQ is the cursor after id a; a line break or other trailing bits
	// in it make one Ferry never issued.
	for _, q := range []string{"limit=0", "limit=1001", "limit=-1", "limit=ten", "limit=", "cursor=%ff%fe", "cursor=YQ%0A", "cursor=YR", "pretty=perhaps"} {
		t.Run(q, func(t *testing.T) {
			s.Get(t, "/v1/records/item?"+q).Problem(t, 400)
		})
	}
	r := s.Get(t, "/v1/records/item?limit=1000").MustStatus(t, 200)
	if r.Header.Get("Link") != "" {
		t.Errorf("a page with every record carries Link %q", r.Header.Get("Link"))
	}
	r = s.Get(t, "/v1/records/item").MustStatus(t, 200)
	if n := len(objects(r.JSON(t), "items")); n != len(want) {
		t.Errorf("default limit returned %d items, want %d", n, len(want))
	}
}

func TestRecordIDs(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body, _ := json.Marshal(sample("id", 1))
	tests := []struct {
		id         string
		wantStatus int
	}{
		{"a", 201},
		{"A.b_c~d-e", 201},
		{"0", 201},
		{strings.Repeat("x", 128), 201},
		{strings.Repeat("x", 129), 400},
		{"-lead", 400},
		{"~lead", 400},
		{"has%20space", 400},
		{"caf%C3%A9", 400},
		{"a%2Fb", 400},
		{"_reserved", 400},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			r := s.Send(t, http.MethodPut, "/v1/records/item/"+tc.id, body, "Content-Type", "application/json")
			if r.Status != tc.wantStatus {
				t.Fatalf("PUT id %q: status %d, want %d\n%s", tc.id, r.Status, tc.wantStatus, r)
			}
			if tc.wantStatus == 400 {
				s.Get(t, "/v1/records/item/"+tc.id).Problem(t, 400)
			}
		})
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatalf("time %q: %v", s, err)
	}
	return at
}

// TestWriteResponseMatchesRead: a write's response shows what a later read
// of that revision shows under the same entity tag, in every format, even
// where the body left containers empty or gave a time in another zone
// inside objects whose wire and record types are the same.
func TestWriteResponseMatchesRead(t *testing.T) {
	t.Parallel()
	s := MustServer(t, WithCacheBytes(0))
	s.MustRegister(t, `{"name":"a","version":1,"fields":{
	  "o":{"type":"object","optional":true,"fields":{"at":{"type":"time","optional":true}}},
	  "items":{"type":"array","items":{"type":"object","fields":{"tags":{"type":"array","items":{"type":"string"}}}}}}}`)
	body := []byte(`{"o":{"at":"2024-01-01T10:00:00+02:00"},"items":[{"tags":[]},{"tags":["x"]}]}`)
	for i, accept := range []string{"application/json", "application/vnd.msgpack", "application/cbor", "application/gob"} {
		id := fmt.Sprint("r", i)
		put := s.Send(t, http.MethodPut, "/v1/records/a/"+id, body, "Content-Type", "application/json", "Accept", accept)
		put.MustStatus(t, http.StatusCreated)
		get := s.Get(t, "/v1/records/a/"+id, "Accept", accept).MustStatus(t, http.StatusOK)
		if put.Header.Get("Etag") != get.Header.Get("Etag") || !bytes.Equal(put.Body, get.Body) {
			t.Errorf("%s: PUT answered %s %x; GET answers %s %x", accept, put.Header.Get("Etag"), put.Body, get.Header.Get("Etag"), get.Body)
		}
	}
	r := s.Send(t, http.MethodPut, "/v1/records/a/missing", []byte(`{"items":[{"tags":[]},{}]}`), "Content-Type", "application/json")
	if p := r.Problem(t, http.StatusUnprocessableEntity); !strings.Contains(fmt.Sprint(p["errors"]), "items[1].tags") {
		t.Errorf("an element without its required array: %v, want a 422 naming items[1].tags", p)
	}
}

// TestDatePreconditions checks If-Modified-Since and If-Unmodified-Since,
// and If-Match on a read, in the order RFC 9110 §13.2.2 evaluates them.
func TestDatePreconditions(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	r := s.MustPut(t, "item", "dp", sample("dated", 1))
	etag := r.Header.Get("ETag")
	modified, err := http.ParseTime(r.Header.Get("Last-Modified"))
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", r.Header.Get("Last-Modified"), err)
	}
	at := func(d time.Duration) string { return modified.Add(d).Format(http.TimeFormat) }
	path := "/v1/records/item/dp"
	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"If-Modified-Since its time", []string{"If-Modified-Since", at(0)}, 304},
		{"If-Modified-Since later", []string{"If-Modified-Since", at(time.Hour)}, 304},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", at(-time.Second)}, 200},
		{"If-Modified-Since not a date", []string{"If-Modified-Since", "yesterday"}, 200},
		{"If-None-Match overrides If-Modified-Since", []string{"If-None-Match", `"1-other"`, "If-Modified-Since", at(0)}, 200},
		{"If-Unmodified-Since its time", []string{"If-Unmodified-Since", at(0)}, 200},
		{"If-Unmodified-Since earlier", []string{"If-Unmodified-Since", at(-time.Second)}, 412},
		{"If-Match overrides If-Unmodified-Since", []string{"If-Match", etag, "If-Unmodified-Since", at(-time.Second)}, 200},
		{"If-Match stale on a read", []string{"If-Match", `"9-nope"`}, 412},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := s.Get(t, path, tc.header...)
			if got.Status != tc.want {
				t.Fatalf("GET with %q: status %d, want %d\n%s", tc.header, got.Status, tc.want, got)
			}
			if tc.want == 412 {
				if p := got.JSON(t); str(p, "current_etag") == "" || num(t, p, "current_revision") != 1 {
					t.Errorf("412 = %v, want current_revision and current_etag", p)
				}
			}
		})
	}
	t.Run("writes", func(t *testing.T) {
		t.Parallel()
		s.SendJSON(t, http.MethodPut, "/v1/records/item/dp-w", sample("w", 1)).MustStatus(t, 201)
		s.SendJSON(t, http.MethodPut, "/v1/records/item/dp-w", sample("w", 2), "If-Unmodified-Since", time.Now().Add(-time.Hour).Format(http.TimeFormat)).Problem(t, 412)
		s.SendJSON(t, http.MethodPut, "/v1/records/item/dp-w", sample("w", 3), "If-Unmodified-Since", time.Now().Add(time.Hour).Format(http.TimeFormat)).MustStatus(t, 200)
		// A record that does not exist has no date to compare.
		s.SendJSON(t, http.MethodPut, "/v1/records/item/dp-new", sample("n", 1), "If-Unmodified-Since", time.Now().Add(-time.Hour).Format(http.TimeFormat)).MustStatus(t, 201)
	})
}

// TestUnknownFieldInPlainDataListsFieldErrors checks that a record given
// as plain data (a merge patch's result, an import envelope) lists what
// does not fit as field errors, as API.md §5 shapes "errors".
func TestUnknownFieldInPlainDataListsFieldErrors(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "u1", sample("u1", 1))
	p := s.Send(t, http.MethodPatch, "/v1/records/item/u1", []byte(`{"colour":"red"}`), "Content-Type", "application/merge-patch+json").Problem(t, 400)
	errs := objects(p, "errors")
	if len(errs) != 1 || str(errs[0], "field") != "colour" || str(errs[0], "rule") != "unknown_field" || str(errs[0], "message") == "" {
		t.Errorf("PATCH with an unknown field: errors %v, want one field error for colour", p["errors"])
	}
}

// TestLastModifiedOfANewVersion checks that a record's Last-Modified at a
// version registered after the record was written is the version's
// registration: a request naming no version is answered at the latest, so
// its answer changed then, and If-Modified-Since must not call it
// unchanged. A version the record was already shown at keeps the record's.
func TestLastModifiedOfANewVersion(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, itemV1)
	s.MustPut(t, "item", "lm", sample("lm", 1))
	before := s.Get(t, "/v1/records/item/lm").MustStatus(t, 200).Header.Get("Last-Modified")
	time.Sleep(1100 * time.Millisecond) // Last-Modified counts seconds
	s.MustRegister(t, itemV2)
	r := s.Get(t, "/v1/records/item/lm", "If-Modified-Since", before).MustStatus(t, 200)
	if lm := r.Header.Get("Last-Modified"); lm == before {
		t.Errorf("at the new latest version: Last-Modified %s, unchanged since before it was registered", lm)
	}
	s.Get(t, "/v1/records/item/lm", "Accept", "application/json; version=1", "If-Modified-Since", before).MustStatus(t, http.StatusNotModified)
	if lm := s.Get(t, "/v1/records/item/lm", "Accept", "application/json; version=1").Header.Get("Last-Modified"); lm != before {
		t.Errorf("at version 1: Last-Modified %s, want the record's %s", lm, before)
	}
}

// A record written at a version where a field is optional, and without
// it, can be patched at an older version that requires the field when the
// patch sets it; a patch that does not is a 409 naming the field.
func TestPatchAtOldVersionSetsAFieldItRequires(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name": "opt", "version": 1, "fields": {"a": {"type": "string"}, "n": {"type": "int"}}}`)
	s.MustRegister(t, `{"name": "opt", "version": 2, "fields": {"a": {"type": "string", "optional": true}, "n": {"type": "int"}}}`)
	s.Send(t, http.MethodPut, "/v1/records/opt/r", []byte(`{"n": 1}`), "Content-Type", "application/json; version=2").MustStatus(t, 201)

	p := s.Send(t, http.MethodPatch, "/v1/records/opt/r", []byte(`{"n": 2}`), "Content-Type", "application/merge-patch+json; version=1").Problem(t, 409)
	if !strings.Contains(str(p, "detail"), "a is missing") {
		t.Errorf("409 detail %q does not name the field", str(p, "detail"))
	}
	s.Send(t, http.MethodPatch, "/v1/records/opt/r", []byte(`{"a": "set"}`), "Content-Type", "application/merge-patch+json; version=1").MustStatus(t, 200)
	got := s.Get(t, "/v1/records/opt/r", "Accept", "application/json; version=1").MustStatus(t, 200).JSON(t)
	if str(got, "a") != "set" || num(t, got, "n") != 1 {
		t.Errorf("after the patch, version 1 shows %v, want a set and n 1", got)
	}

	// A required object the record lacks must be set whole: a field of
	// it that the patch leaves out is not made up as zero.
	s.MustRegister(t, `{"name": "nob", "version": 1, "fields": {"n": {"type": "int"}, "o": {"type": "object", "fields": {"x": {"type": "int"}, "y": {"type": "int"}}}}}`)
	s.MustRegister(t, `{"name": "nob", "version": 2, "fields": {"n": {"type": "int"}, "o": {"type": "object", "optional": true, "fields": {"x": {"type": "int"}, "y": {"type": "int"}}}}}`)
	s.Send(t, http.MethodPut, "/v1/records/nob/r", []byte(`{"n": 1}`), "Content-Type", "application/json; version=2").MustStatus(t, 201)
	p = s.Send(t, http.MethodPatch, "/v1/records/nob/r", []byte(`{"o": {"x": 7}}`), "Content-Type", "application/merge-patch+json; version=1").Problem(t, 409)
	if !strings.Contains(str(p, "detail"), "o.y is missing") {
		t.Errorf("409 detail %q does not name o.y", str(p, "detail"))
	}
	s.Send(t, http.MethodPatch, "/v1/records/nob/r", []byte(`{"o": {"x": 7, "y": 8}}`), "Content-Type", "application/merge-patch+json; version=1").MustStatus(t, 200)
}

// registerRetyped registers versions of schema name up to last: version
// 1 has an int q, version 2 retypes q to float, so that a record holding
// 7.5 cannot be shown at version 1, and version 3 adds an optional s.
func registerRetyped(t *testing.T, s *Server, name string, last int) {
	t.Helper()
	defs := []string{
		`{"name":"%s","version":1,"fields":{"q":{"type":"int"}}}`,
		`{"name":"%s","version":2,"fields":{"q":{"type":"float"}},"migrate":[{"op":"retype","field":"q","to":"float"}]}`,
		`{"name":"%s","version":3,"fields":{"q":{"type":"float"},"s":{"type":"string","optional":true}},"migrate":[{"op":"add","field":"s"}]}`,
	}
	for _, def := range defs[:last] {
		s.MustRegister(t, fmt.Sprintf(def, name))
	}
}
