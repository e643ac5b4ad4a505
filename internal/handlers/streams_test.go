package handlers_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
)

// streamTypes are the media types of export and import streams.
var streamTypes = []string{
	"application/jsonl", "application/x-ndjson", "application/json-seq",
	"application/cbor-seq", "application/vnd.msgpack-seq",
	"application/gob-stream", "application/x-gob-stream",
}

// envelope builds an import envelope of item version 1 with a valid body.
func envelope(id string, qty int) map[string]any {
	return map[string]any{"id": id, "data": map[string]any{"name": id, "qty": qty}}
}

// encodeStream frames envelopes in a stream type.
func encodeStream(tb testing.TB, mediaType string, envs []map[string]any) []byte {
	tb.Helper()
	var buf bytes.Buffer
	switch mediaType {
	case "application/jsonl", "application/x-ndjson":
		for _, e := range envs {
			b, _ := json.Marshal(e)
			buf.Write(b)
			buf.WriteByte('\n')
		}
	case "application/json-seq":
		for _, e := range envs {
			b, _ := json.Marshal(e)
			buf.WriteByte(0x1e)
			buf.Write(b)
			buf.WriteByte('\n')
		}
	case "application/cbor-seq":
		for _, e := range envs {
			buf.Write(mustCBOR(tb, e))
		}
	case "application/vnd.msgpack-seq":
		for _, e := range envs {
			buf.Write(mustMsgpack(tb, e))
		}
	case "application/gob-stream", "application/x-gob-stream":
		enc := gob.NewEncoder(&buf)
		for _, e := range envs {
			data, _ := e["data"].(map[string]any)
			qty, _ := data["qty"].(int)
			name, _ := data["name"].(string)
			ge := gobEnvelope{Id: fmt.Sprint(e["id"]), Data: gobItem{Name: name, Qty: int64(qty)}}
			if err := enc.Encode(ge); err != nil {
				tb.Fatal(err)
			}
		}
	default:
		tb.Fatalf("no encoder for %s", mediaType)
	}
	return buf.Bytes()
}

// exported is one envelope read back from an export.
type exported struct {
	ID       string
	Revision int64
	Version  int64
	Name     string
	Qty      int64
}

// decodeStream reads every envelope of an export body.
func decodeStream(tb testing.TB, mediaType string, body []byte) []exported {
	tb.Helper()
	var out []exported
	add := func(v any) {
		m, ok := normalizeMaps(v).(map[string]any)
		if !ok {
			tb.Fatalf("%s: value %v is not an envelope", mediaType, v)
		}
		data, _ := m["data"].(map[string]any)
		out = append(out, exported{ID: str(m, "id"), Revision: num(tb, m, "revision"), Version: num(tb, m, "version"),
			Name: str(data, "name"), Qty: anyInt(tb, data)})
		if m["updated_at"] == nil {
			tb.Errorf("%s: envelope %v has no updated_at", mediaType, m)
		}
	}
	switch mediaType {
	case "application/jsonl", "application/x-ndjson", "application/json-seq":
		sep := byte('\n')
		if mediaType == "application/json-seq" {
			sep = 0x1e
		}
		for _, part := range bytes.Split(body, []byte{sep}) {
			if len(bytes.TrimSpace(part)) == 0 {
				continue
			}
			if mediaType == "application/json-seq" && !bytes.HasSuffix(part, []byte("\n")) {
				tb.Errorf("json-seq value %q does not end with LF (RFC 7464)", part)
			}
			var v any
			dec := json.NewDecoder(bytes.NewReader(part))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				tb.Fatalf("%s: value %q: %v", mediaType, part, err)
			}
			add(v)
		}
	case "application/cbor-seq":
		dec := cbor.NewDecoder(bytes.NewReader(body))
		for {
			var v any
			if err := dec.Decode(&v); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				tb.Fatalf("cbor-seq: %v", err)
			}
			add(v)
		}
	case "application/vnd.msgpack-seq":
		dec := msgpack.NewDecoder(bytes.NewReader(body))
		for {
			v, err := dec.DecodeInterface()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				tb.Fatalf("msgpack-seq: %v", err)
			}
			add(v)
		}
	case "application/gob-stream", "application/x-gob-stream":
		dec := gob.NewDecoder(bytes.NewReader(body))
		for {
			var e gobEnvelope
			if err := dec.Decode(&e); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				tb.Fatalf("gob-stream: %v", err)
			}
			out = append(out, exported{ID: e.Id, Revision: e.Revision, Version: e.Version, Name: e.Data.Name, Qty: e.Data.Qty})
			if e.UpdatedAt.IsZero() {
				tb.Errorf("gob envelope %s has no UpdatedAt", e.Id)
			}
		}
	default:
		tb.Fatalf("no decoder for %s", mediaType)
	}
	return out
}

func anyInt(tb testing.TB, m map[string]any) int64 {
	tb.Helper()
	if m == nil || m["qty"] == nil {
		return 0
	}
	switch v := m["qty"].(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	if n, ok := toBig(m["qty"]); ok {
		return n.Int64()
	}
	tb.Fatalf("qty = %v (%T)", m["qty"], m["qty"])
	return 0
}

func ids(es []exported) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestExportEveryStreamType(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	var want []string
	for i := 0; i < 12; i++ {
		id := fmt.Sprintf("x%02d", (i*7)%12)
		s.MustPut(t, "item", id, sample(id, i+1))
		want = append(want, id)
	}
	s.MustPut(t, "item", "x03", sample("x03", 3)) // revision 2
	slices.Sort(want)
	for _, mt := range streamTypes {
		t.Run(mt, func(t *testing.T) {
			t.Parallel()
			r := s.Get(t, "/v1/records/item/_export", "Accept", mt).MustStatus(t, 200)
			got, params := mediaType(t, r.Header.Get("Content-Type"))
			if got != mt || params["schema"] != "item" || params["version"] != "1" {
				t.Errorf("Content-Type %q, want %s; schema=item; version=1", r.Header.Get("Content-Type"), mt)
			}
			if !hasVaryNegotiated(r.Header.Values("Vary")) {
				t.Errorf("Vary %q", r.Header.Values("Vary"))
			}
			envs := decodeStream(t, mt, r.Body)
			if !slices.Equal(ids(envs), want) {
				t.Fatalf("export ids\n got %v\nwant %v", ids(envs), want)
			}
			for _, e := range envs {
				if e.Name != e.ID || e.Version != 1 {
					t.Errorf("envelope %+v: data name should be its id, version 1", e)
				}
				if wantRev := int64(1); e.ID == "x03" && e.Revision != 2 || e.ID != "x03" && e.Revision != wantRev {
					t.Errorf("envelope %s revision %d", e.ID, e.Revision)
				}
			}
		})
	}
	t.Run("compressed", func(t *testing.T) {
		t.Parallel()
		r := s.Get(t, "/v1/records/item/_export", "Accept", "application/jsonl", "Accept-Encoding", "zstd").MustStatus(t, 200)
		if r.Header.Get("Content-Encoding") != "zstd" {
			t.Errorf("export with Accept-Encoding zstd: Content-Encoding %q", r.Header.Get("Content-Encoding"))
		}
		if got := ids(decodeStream(t, "application/jsonl", r.Body)); !slices.Equal(got, want) {
			t.Errorf("compressed export ids %v", got)
		}
	})
	t.Run("not a stream type", func(t *testing.T) {
		t.Parallel()
		for _, accept := range []string{"application/json", "text/html", "application/jsonl; version=5"} {
			p := s.Get(t, "/v1/records/item/_export", "Accept", accept).Problem(t, 406)
			if !strings.Contains(accept, "version") && !slices.Contains(strs(p, "acceptable"), "application/jsonl") {
				t.Errorf("Accept %q: acceptable %v, want the stream types", accept, p["acceptable"])
			}
		}
	})
	t.Run("empty schema", func(t *testing.T) {
		t.Parallel()
		s.MustRegister(t, counterV1)
		r := s.Get(t, "/v1/records/counter/_export", "Accept", "application/jsonl").MustStatus(t, 200)
		if len(bytes.TrimSpace(r.Body)) != 0 {
			t.Errorf("export of an empty schema = %q", r.Body)
		}
	})
}

// importSummary checks an import's 200 answer.
func importSummary(tb testing.TB, r *Resp, accepted, rejected int, indexes ...int) map[string]any {
	tb.Helper()
	m := r.MustStatus(tb, 200).JSON(tb)
	checkSummary(tb, m, accepted, rejected, indexes...)
	return m
}

func checkSummary(tb testing.TB, m map[string]any, accepted, rejected int, indexes ...int) {
	tb.Helper()
	var got []int
	for _, e := range objects(m, "errors") {
		got = append(got, int(num(tb, e, "index")))
		if p, _ := e["problem"].(map[string]any); p == nil || p["status"] == nil || p["detail"] == nil {
			tb.Errorf("import error %v has no problem document", e)
		}
	}
	if num(tb, m, "accepted") != int64(accepted) || num(tb, m, "rejected") != int64(rejected) || !slices.Equal(got, indexes) {
		tb.Errorf("import summary accepted %v rejected %v error indexes %v; want %d, %d, %v\n%v",
			m["accepted"], m["rejected"], got, accepted, rejected, indexes, m)
	}
}

func TestImportEveryStreamType(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	for i, mt := range streamTypes {
		t.Run(mt, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("s%d-", i)
			envs := []map[string]any{envelope(prefix+"c", 3), envelope(prefix+"a", 1), envelope(prefix+"b", 2)}
			r := s.Send(t, http.MethodPost, "/v1/records/item/_import", encodeStream(t, mt, envs), "Content-Type", mt)
			if r.Status != 200 {
				t.Fatalf("BUG: import as %s: status %d, want 200 (API.md §1 lists it as an import stream)\n%s", mt, r.Status, r)
			}
			importSummary(t, r, 3, 0)
			for _, e := range envs {
				m := s.Get(t, "/v1/records/item/"+e["id"].(string)).MustStatus(t, 200).JSON(t)
				if str(m, "name") != e["id"] {
					t.Errorf("imported %s = %v", e["id"], m)
				}
			}
		})
	}
}

func TestImportReportsEachEnvelope(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "exists", sample("exists", 1))
	stream := func() []map[string]any {
		return []map[string]any{
			envelope("ok-a", 1), // 0
			{"id": "bad-qty", "data": map[string]any{"name": "x", "qty": 0}}, // 1: rule
			envelope("-bad-id", 1), // 2: id
			{"id": "no-data"},      // 3: no data
			envelope("ok-b", 2),    // 4
			{"id": "bad-version", "version": 9, "data": map[string]any{"name": "x", "qty": 1}},       // 5
			{"id": "ok-c", "version": 1, "data": map[string]any{"name": "ok-c", "qty": 1}},           // 6
			{"id": "exists", "revision": 99, "data": map[string]any{"name": "replaced", "qty": 5}},   // 7: revision ignored
			{"id": "unknown-member", "data": map[string]any{"name": "x", "qty": 1}, "colour": "red"}, // 8
			{"id": "bad-field", "data": map[string]any{"name": "x", "qty": 1, "QTY": 2}},             // 9
		}
	}
	t.Run("per-record errors", func(t *testing.T) {
		// The stream breaks the document's envelope schema on purpose; the
		// contract answers it envelope by envelope.
		body := encodeStream(t, "application/jsonl", stream())
		r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: body,
			Header: hdr("Content-Type", "application/jsonl"), Lax: true})
		m := importSummary(t, r, 4, 6, 1, 2, 3, 5, 8, 9)
		for _, e := range objects(m, "errors") {
			if num(t, e, "index") == 1 {
				p, _ := e["problem"].(map[string]any)
				if str(e, "id") != "bad-qty" || num(t, p, "status") != 422 || !hasFieldError(p, "qty", "min") {
					t.Errorf("error at index 1 = %v, want id bad-qty, a 422 with qty/min", e)
				}
			}
		}
		for _, id := range []string{"ok-a", "ok-b", "ok-c"} {
			s.Get(t, "/v1/records/item/"+id).MustStatus(t, 200)
		}
		for _, id := range []string{"bad-qty", "no-data", "bad-version", "unknown-member", "bad-field"} {
			s.Get(t, "/v1/records/item/"+id).Problem(t, 404)
		}
		ex := s.Get(t, "/v1/records/item/exists").MustStatus(t, 200)
		if ex.Header.Get("Ferry-Revision") != "2" || str(ex.JSON(t), "name") != "replaced" {
			t.Errorf("imported over an existing record: revision %s body %s; want revision 2 (99 ignored) and name replaced", ex.Header.Get("Ferry-Revision"), ex.Body)
		}
	})
	t.Run("atomic refuses all", func(t *testing.T) {
		envs := stream()
		for _, e := range envs {
			if id, ok := e["id"].(string); ok {
				e["id"] = "atomic-" + strings.TrimPrefix(id, "-")
			}
		}
		envs[2]["id"] = "-atomic"
		body := encodeStream(t, "application/jsonl", envs)
		r := s.Send(t, http.MethodPost, "/v1/records/item/_import?atomic=true", body, "Content-Type", "application/jsonl")
		p := r.Problem(t, 422)
		// "accepted" counts what was stored, on an atomic 422 as
		// anywhere: nothing (api/openapi.yaml Problem.accepted).
		checkSummary(t, p, 0, 6, 1, 2, 3, 5, 8, 9)
		if !strings.Contains(str(p, "detail"), "6 of 10") {
			t.Errorf("atomic refusal detail %q, want it to say 6 of 10 envelopes were rejected", str(p, "detail"))
		}
		for _, id := range []string{"atomic-ok-a", "atomic-ok-b", "atomic-ok-c"} {
			s.Get(t, "/v1/records/item/"+id).Problem(t, 404)
		}
		if s.Get(t, "/v1/records/item/exists").Header.Get("Ferry-Revision") != "2" {
			t.Errorf("a refused atomic import changed an existing record")
		}
	})
	t.Run("atomic all good", func(t *testing.T) {
		envs := []map[string]any{envelope("at-1", 1), envelope("at-2", 2)}
		r := s.Send(t, http.MethodPost, "/v1/records/item/_import?atomic=true", encodeStream(t, "application/cbor-seq", envs), "Content-Type", "application/cbor-seq")
		importSummary(t, r, 2, 0)
		s.Get(t, "/v1/records/item/at-2").MustStatus(t, 200)
	})
	t.Run("framing error mid-stream", func(t *testing.T) {
		good := encodeStream(t, "application/jsonl", []map[string]any{envelope("fr-0", 1), envelope("fr-1", 1)})
		body := append(good, []byte("{\"id\": \"fr-2\", \"data\": \n")...)
		body = append(body, encodeStream(t, "application/jsonl", []map[string]any{envelope("fr-3", 1)})...)
		r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: body,
			Header: hdr("Content-Type", "application/jsonl"), Lax: true})
		importSummary(t, r, 2, 1, 2)
		s.Get(t, "/v1/records/item/fr-1").MustStatus(t, 200)
		s.Get(t, "/v1/records/item/fr-3").Problem(t, 404)
	})
	t.Run("undecodable envelopes are rejected alone", func(t *testing.T) {
		// Each line is one JSON value that breaks a rule of decoding, not
		// framing: the envelopes after it are read.
		lines := []string{
			`{"id":"ud-0","data":{"name":"ud-0","qty":1}}`,
			`{"id":"ud-1","data":{"name":"a","name":"b","qty":1}}`,
			`{"id":"ud-2","data":{"name":"ud-2","qty":1e400}}`,
			`{"id":"ud-3","data":{"name":"ud-3","qty":3}}`,
		}
		body := []byte(strings.Join(lines, "\n") + "\n")
		r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: body,
			Header: hdr("Content-Type", "application/jsonl"), Lax: true})
		importSummary(t, r, 2, 2, 1, 2)
		s.Get(t, "/v1/records/item/ud-3").MustStatus(t, 200)
	})
	t.Run("framing error in cbor-seq", func(t *testing.T) {
		good := encodeStream(t, "application/cbor-seq", []map[string]any{envelope("cf-0", 1)})
		body := append(good, 0xa2, 0x62, 'i') // a map cut short
		r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: body,
			Header: hdr("Content-Type", "application/cbor-seq"), Lax: true})
		importSummary(t, r, 1, 1, 1)
		s.Get(t, "/v1/records/item/cf-0").MustStatus(t, 200)
	})
	t.Run("refused values in cbor-seq and msgpack-seq are rejected alone", func(t *testing.T) {
		// Each refused envelope is one well-formed value: a NaN, a foreign
		// tag or extension, a repeated key.
		for _, tc := range []struct {
			contentType, prefix string
			refused             [][]byte
		}{
			{"application/cbor-seq", "rc", [][]byte{
				[]byte("\xa2\x62id\x64rc-1\x64data\xa2\x64name\x61x\x63qty\xf9\x7e\x00"),
				[]byte("\xa2\x62id\x64rc-2\x64data\xd9\xd9\xf7\xa2\x64name\x61x\x63qty\x01"),
				[]byte("\xa2\x62id\x64rc-3\x62id\x64rc-3"),
			}},
			{"application/vnd.msgpack-seq", "rm", [][]byte{
				[]byte("\x82\xa2id\xa4rm-1\xa4data\x82\xa4name\xa1x\xa3qty\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"),
				[]byte("\x82\xa2id\xa4rm-2\xa4data\x82\xa4name\xa1x\xa3qty\xd4\x05\x00"),
				[]byte("\x82\xa2id\xa4rm-3\xa2id\xa4rm-3"),
			}},
		} {
			body := encodeStream(t, tc.contentType, []map[string]any{envelope(tc.prefix+"-0", 1)})
			for _, r := range tc.refused {
				body = append(body, r...)
			}
			body = append(body, encodeStream(t, tc.contentType, []map[string]any{envelope(tc.prefix+"-4", 1)})...)
			r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: body,
				Header: hdr("Content-Type", tc.contentType), Lax: true})
			importSummary(t, r, 2, 3, 1, 2, 3)
			s.Get(t, "/v1/records/item/"+tc.prefix+"-4").MustStatus(t, 200)
		}
	})
	t.Run("envelope at an older version", func(t *testing.T) {
		s2 := newItemServer(t)
		s2.MustRegister(t, itemV2)
		body := encodeStream(t, "application/vnd.msgpack-seq", []map[string]any{
			{"id": "old", "version": 1, "data": map[string]any{"name": "old", "qty": 4}},
			{"id": "new", "data": map[string]any{"name": "new", "quantity": 5, "sku": "S", "lines": []any{}, "attrs": map[string]any{}}},
		})
		importSummary(t, s2.Send(t, http.MethodPost, "/v1/records/item/_import", body, "Content-Type", "application/vnd.msgpack-seq"), 2, 0)
		if m := s2.Get(t, "/v1/records/item/old").JSON(t); num(t, m, "quantity") != 4 {
			t.Errorf("v1 envelope stored as %v, want quantity 4 at v2", m)
		}
		// The Content-Type version is the default for envelopes without one.
		body = encodeStream(t, "application/jsonl", []map[string]any{envelope("ct-v1", 6)})
		importSummary(t, s2.Send(t, http.MethodPost, "/v1/records/item/_import", body, "Content-Type", "application/jsonl; version=1"), 1, 0)
		if m := s2.Get(t, "/v1/records/item/ct-v1").JSON(t); num(t, m, "quantity") != 6 {
			t.Errorf("envelope read at the Content-Type version 1 stored as %v", m)
		}
		// An envelope that says another version than the Content-Type
		// names is refused alone, as in a gob stream; one that says the
		// same is read.
		agrees, disagrees := envelope("ct-agrees", 7), envelope("ct-disagrees", 8)
		agrees["version"], disagrees["version"] = 1, 2
		body = encodeStream(t, "application/jsonl", []map[string]any{agrees, disagrees})
		r := s2.Send(t, http.MethodPost, "/v1/records/item/_import", body, "Content-Type", "application/jsonl; version=1")
		importSummary(t, r, 1, 1, 1)
		if e := objects(r.JSON(t), "errors"); len(e) != 1 || !strings.Contains(fmt.Sprint(e[0]["problem"]), "Content-Type") {
			t.Errorf("envelope at version 2 in a version-1 stream: errors %v, want one naming the Content-Type", e)
		}
		s2.Get(t, "/v1/records/item/ct-disagrees").Problem(t, 404)
		// A gob stream at version 2 whose first envelope says version 1,
		// which cannot read it: that envelope is refused alone.
		type v2Data struct {
			Name     string
			Quantity int64
			Sku      string
		}
		type v2Envelope struct {
			Id      string
			Version int64
			Data    v2Data
		}
		var stream bytes.Buffer
		enc := gob.NewEncoder(&stream)
		for i, said := range []int64{1, 2, 0} {
			if err := enc.Encode(v2Envelope{Id: fmt.Sprintf("says-%d", i), Version: said, Data: v2Data{Name: "x", Quantity: 2, Sku: "s"}}); err != nil {
				t.Fatal(err)
			}
		}
		importSummary(t, s2.Send(t, http.MethodPost, "/v1/records/item/_import", stream.Bytes(), "Content-Type", "application/gob-stream"), 2, 1, 0)
		s2.Get(t, "/v1/records/item/says-2").MustStatus(t, 200)
		// A gob stream exported at version 1 imports back as it is: its
		// first envelope shows which version its type is.
		export := s2.Get(t, "/v1/records/item/_export", "Accept", "application/gob-stream; version=1").MustStatus(t, 200).Body
		s3 := newItemServer(t)
		s3.MustRegister(t, itemV2)
		importSummary(t, s3.Send(t, http.MethodPost, "/v1/records/item/_import", export, "Content-Type", "application/gob-stream"), 6, 0)
		for _, id := range []string{"old", "new", "ct-v1", "ct-agrees", "says-1", "says-2"} {
			want := s2.Get(t, "/v1/records/item/"+id, "Accept", "application/json; version=1").MustStatus(t, 200).Body
			if got := s3.Get(t, "/v1/records/item/"+id, "Accept", "application/json; version=1").MustStatus(t, 200).Body; !bytes.Equal(got, want) {
				t.Errorf("%s after a version-1 gob round trip: %s, want %s", id, got, want)
			}
		}
	})
}

func TestImportLimits(t *testing.T) {
	t.Parallel()
	s := newItemServer(t, WithMaxBody(1500), WithMaxImport(8<<10))
	var envs []map[string]any
	for i := 0; i < 300; i++ {
		envs = append(envs, envelope(fmt.Sprintf("big-%03d", i), 1))
	}
	overLimit := encodeStream(t, "application/jsonl", envs) // about 12 KiB
	for _, q := range []string{"?atomic=true", ""} {
		t.Run("stream over the import limit"+q, func(t *testing.T) {
			r := s.Send(t, http.MethodPost, "/v1/records/item/_import"+q, overLimit, "Content-Type", "application/jsonl")
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("BUG: a %d-byte import with FERRY_MAX_IMPORT_BYTES=8192: status %d, want 413\n%s", len(overLimit), r.Status, r)
			}
			// Its Content-Length said so before a byte was read.
			s.Get(t, "/v1/records/item/big-000").Problem(t, 404)
		})
	}
	t.Run("compressed stream over the import limit", func(t *testing.T) {
		// A server of its own: a stream of unknown length stores the
		// envelopes before the limit without atomic.
		s := newItemServer(t, WithMaxBody(1500), WithMaxImport(8<<10))
		r := s.Send(t, http.MethodPost, "/v1/records/item/_import?atomic=true", gzipBytes(t, overLimit),
			"Content-Type", "application/jsonl", "Content-Encoding", "gzip")
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("BUG: a gzip import that decompresses to %d bytes with FERRY_MAX_IMPORT_BYTES=8192: status %d, want 413\n%s", len(overLimit), r.Status, r)
		}
		s.Get(t, "/v1/records/item/big-000").Problem(t, 404)
		// Without atomic too, a stream whose size shows only as it is
		// read (compressed, or chunked) is read whole before anything is
		// stored, so that a 413 stores nothing.
		for _, c := range []Call{
			{Body: gzipBytes(t, overLimit), Header: hdr("Content-Type", "application/jsonl", "Content-Encoding", "gzip")},
			{Body: overLimit, Header: hdr("Content-Type", "application/jsonl"), Chunked: true},
		} {
			c.Method, c.Path = http.MethodPost, "/v1/records/item/_import"
			s.Do(t, c).Problem(t, http.StatusRequestEntityTooLarge)
			s.Get(t, "/v1/records/item/big-000").Problem(t, 404)
		}
		// Compressed data that stops decoding ends the import there, as
		// a framing error does: what decoded before it is stored.
		var few []map[string]any
		for i := range 40 {
			few = append(few, envelope(fmt.Sprintf("cut-%02d", i), 1))
		}
		whole := gzipBytes(t, encodeStream(t, "application/jsonl", few))
		cut := Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: whole[:len(whole)*3/4],
			Header: hdr("Content-Type", "application/jsonl", "Content-Encoding", "gzip"), Lax: true}
		m := s.Do(t, cut).MustStatus(t, http.StatusOK).JSON(t)
		if num(t, m, "accepted") == 0 || num(t, m, "rejected") != 1 {
			t.Errorf("a gzip stream cut short: %v, want the envelopes before the cut accepted and the cut rejected", m)
		}
		s.Get(t, "/v1/records/item/cut-00").MustStatus(t, http.StatusOK)
		// Under the limit, a chunked stream imports as any other.
		c := Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: overLimit[:bytes.IndexByte(overLimit, '\n')+1],
			Header: hdr("Content-Type", "application/jsonl"), Chunked: true}
		importSummary(t, s.Do(t, c), 1, 0)
	})
	t.Run("atomic stream over the atomic limit", func(t *testing.T) {
		// An atomic import is held in memory, so its limit is lower; the
		// same stream imports without atomic.
		s := newItemServer(t, WithMaxBody(1500), WithMaxImport(64<<10), WithMaxAtomic(8<<10))
		for _, c := range []Call{
			{Body: overLimit, Header: hdr("Content-Type", "application/jsonl")},
			{Body: overLimit, Header: hdr("Content-Type", "application/jsonl"), Chunked: true},
			{Body: gzipBytes(t, overLimit), Header: hdr("Content-Type", "application/jsonl", "Content-Encoding", "gzip")},
			{Body: overLimit, Header: hdr("Content-Type", "application/jsonl", "Content-Digest", "sha-256=:"+sha256Base64(overLimit)+":"), Chunked: true},
		} {
			c.Method, c.Path = http.MethodPost, "/v1/records/item/_import?atomic=true"
			p := s.Do(t, c).Problem(t, http.StatusRequestEntityTooLarge)
			if !strings.Contains(str(p, "detail"), "atomic") || num(t, p, "limit") != 8<<10 {
				t.Errorf("atomic import over its limit: %v, want a detail naming the atomic limit and limit 8192", p)
			}
			s.Get(t, "/v1/records/item/big-000").Problem(t, 404)
		}
		r := s.Send(t, http.MethodPost, "/v1/records/item/_import", overLimit, "Content-Type", "application/jsonl")
		importSummary(t, r, len(envs), 0)
	})
	t.Run("envelope over the body limit", func(t *testing.T) {
		huge := envelope("huge", 1)
		huge["data"].(map[string]any)["note"] = strings.Repeat("n", 2000)
		body := encodeStream(t, "application/jsonl", []map[string]any{envelope("small-0", 1), huge, envelope("small-2", 1)})
		r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: body,
			Header: hdr("Content-Type", "application/jsonl"), Lax: true})
		m := r.MustStatus(t, 200).JSON(t)
		errs := objects(m, "errors")
		if len(errs) == 0 || num(t, errs[0], "index") != 1 {
			t.Fatalf("envelope over the body limit: summary %v, want an error at index 1", m)
		}
		if p, _ := errs[0]["problem"].(map[string]any); num(t, p, "status") != 413 {
			t.Errorf("error at index 1: %v, want a 413 problem", errs[0])
		}
		s.Get(t, "/v1/records/item/small-0").MustStatus(t, 200)
		s.Get(t, "/v1/records/item/huge").Problem(t, 404)
		// A JSON line's end is known without holding it: the import goes on.
		importSummary(t, r, 2, 1, 1)
		s.Get(t, "/v1/records/item/small-2").MustStatus(t, 200)
	})
	t.Run("compressed stream", func(t *testing.T) {
		body := gzipBytes(t, encodeStream(t, "application/jsonl", []map[string]any{envelope("gz-1", 1)}))
		importSummary(t, s.Send(t, http.MethodPost, "/v1/records/item/_import", body, "Content-Type", "application/jsonl", "Content-Encoding", "gzip"), 1, 0)
		zbody := zstdBytes(t, encodeStream(t, "application/jsonl", []map[string]any{envelope("zs-1", 1)}))
		importSummary(t, s.Send(t, http.MethodPost, "/v1/records/item/_import", zbody, "Content-Type", "application/jsonl", "Content-Encoding", "zstd"), 1, 0)
		s.Send(t, http.MethodPost, "/v1/records/item/_import", body, "Content-Type", "application/jsonl", "Content-Encoding", "br").Problem(t, 415)
	})
}

func TestHistory(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	path := "/v1/records/item/h1"
	s.MustPut(t, "item", "h1", sample("one", 1))
	s.MustPut(t, "item", "h1", sample("two", 2))
	s.Send(t, http.MethodPatch, path, []byte(`{"qty":3}`), "Content-Type", "application/merge-patch+json").MustStatus(t, 200)
	s.Send(t, http.MethodDelete, path, nil).MustStatus(t, 204)

	hexRe := regexp.MustCompile(`^[0-9a-f]{64}$`)
	r := s.Get(t, path+"/_history").MustStatus(t, 200)
	revs := objects(r.JSON(t), "revisions")
	wantOps := []string{"delete", "patch", "replace", "create"}
	if len(revs) != 4 {
		t.Fatalf("history has %d revisions, want 4: %s", len(revs), r.Body)
	}
	var prevAt time.Time
	for i, rev := range revs {
		for _, k := range []string{"revision", "op", "at", "by", "version", "size", "sha256"} {
			if _, ok := rev[k]; !ok {
				t.Errorf("revision %v lacks %s", rev, k)
			}
		}
		if rev["data"] != nil {
			t.Errorf("revision %v has data without include=data", rev)
		}
		if str(rev, "op") != wantOps[i] || num(t, rev, "revision") != int64(4-i) {
			t.Errorf("revision %d = %v, want op %s revision %d", i, rev, wantOps[i], 4-i)
		}
		if !hexRe.MatchString(str(rev, "sha256")) {
			t.Errorf("sha256 %q, want 64 hex digits", rev["sha256"])
		}
		if str(rev, "by") != "" {
			t.Errorf("by %q in open mode, want empty", rev["by"])
		}
		at, err := time.Parse(time.RFC3339Nano, str(rev, "at"))
		if err != nil || (i > 0 && at.After(prevAt)) {
			t.Errorf("revision %d at %v is not newest first", i, rev["at"])
		}
		prevAt = at
		if str(rev, "op") != "delete" && (num(t, rev, "size") <= 0 || num(t, rev, "version") != 1) {
			t.Errorf("revision %v: size and version 1 expected", rev)
		}
	}

	data := objects(s.Get(t, path+"/_history?include=data").MustStatus(t, 200).JSON(t), "revisions")
	if len(data) != 4 {
		t.Fatalf("include=data: %d revisions", len(data))
	}
	if v, ok := data[0]["data"]; !ok || v != nil {
		t.Errorf("delete revision data = %v (present %v), want null", v, ok)
	}
	wantQty := []int64{0, 3, 2, 1}
	for i := 1; i < 4; i++ {
		d, _ := data[i]["data"].(map[string]any)
		if d == nil || num(t, d, "qty") != wantQty[i] {
			t.Errorf("revision %d data = %v, want qty %d", i, data[i]["data"], wantQty[i])
		}
	}
	s.Get(t, path+"/_history", "Accept", "application/cbor").Problem(t, 406)
	s.Get(t, "/v1/records/item/never/_history").Problem(t, 404)

	t.Run("at an older version", func(t *testing.T) {
		s2 := newItemServer(t)
		s2.MustPut(t, "item", "hv", sample("hv", 5))
		s2.MustRegister(t, itemV2)
		s2.SendJSON(t, http.MethodPatch, "/v1/records/item/hv", map[string]any{"sku": "Z"}, "Content-Type", "application/merge-patch+json").MustStatus(t, 200)
		latest := objects(s2.Get(t, "/v1/records/item/hv/_history?include=data").MustStatus(t, 200).JSON(t), "revisions")
		if d, _ := latest[len(latest)-1]["data"].(map[string]any); d == nil || num(t, d, "quantity") != 5 {
			t.Errorf("first revision at latest = %v, want quantity 5", latest[len(latest)-1]["data"])
		}
		if num(t, latest[len(latest)-1], "version") != 1 || num(t, latest[0], "version") != 2 {
			t.Errorf("history versions written: %v, want 2 then 1", latest)
		}
		old := objects(s2.Get(t, "/v1/records/item/hv/_history?include=data", "Accept", "application/json; version=1").MustStatus(t, 200).JSON(t), "revisions")
		if d, _ := old[0]["data"].(map[string]any); d == nil || num(t, d, "qty") != 5 || d["sku"] != nil {
			t.Errorf("newest revision at v1 = %v, want qty 5, no sku", old[0]["data"])
		}
	})
	t.Run("retention", func(t *testing.T) {
		s3 := newItemServer(t, WithHistoryLimit(2))
		for i := 1; i <= 5; i++ {
			s3.MustPut(t, "item", "ret", sample("ret", i))
		}
		revs := objects(s3.Get(t, "/v1/records/item/ret/_history").MustStatus(t, 200).JSON(t), "revisions")
		if len(revs) != 2 || num(t, revs[0], "revision") != 5 || num(t, revs[1], "revision") != 4 {
			t.Errorf("history with retention 2: %v, want revisions 5 and 4", revs)
		}
	})
}

// changeList reads a change feed page.
func changeList(tb testing.TB, r *Resp) ([]map[string]any, uint64) {
	tb.Helper()
	m := r.MustStatus(tb, 200).JSON(tb)
	return objects(m, "changes"), uint64(num(tb, m, "last_seq"))
}

func TestChangeFeed(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "a", sample("a", 1))
	s.MustPut(t, "item", "b", sample("b", 1))
	s.MustPut(t, "item", "a", sample("a", 2))
	s.MustPut(t, "item", "c", sample("c", 1))
	s.Send(t, http.MethodDelete, "/v1/records/item/b", nil).MustStatus(t, 204)

	changes, last := changeList(t, s.Get(t, "/v1/records/item/_changes"))
	var got []string
	var prev int64
	for _, c := range changes {
		got = append(got, str(c, "id")+":"+str(c, "op"))
		if seq := num(t, c, "seq"); seq <= prev {
			t.Errorf("seq %d after %d, want growing", seq, prev)
		} else {
			prev = seq
		}
		if c["at"] == nil || num(t, c, "revision") < 1 {
			t.Errorf("change %v lacks at or revision", c)
		}
	}
	if want := []string{"a:replace", "c:create", "b:delete"}; !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v (each id once, at its newest change)", got, want)
	}
	if last != uint64(prev) {
		t.Errorf("last_seq %d, want the last seq %d", last, prev)
	}

	page, mid := changeList(t, s.Get(t, "/v1/records/item/_changes?limit=2"))
	if len(page) != 2 {
		t.Fatalf("limit=2 gave %d changes", len(page))
	}
	rest, end := changeList(t, s.Get(t, "/v1/records/item/_changes?since="+strconv.FormatUint(mid, 10)))
	if len(rest) != 1 || str(rest[0], "id") != "b" || end != last {
		t.Errorf("after since=%d: %v last_seq %d, want b's tombstone and %d", mid, rest, end, last)
	}
	none, same := changeList(t, s.Get(t, "/v1/records/item/_changes?since="+strconv.FormatUint(last, 10)))
	if len(none) != 0 || same != last {
		t.Errorf("since=last_seq: %v last_seq %d, want none and %d", none, same, last)
	}

	t.Run("include data", func(t *testing.T) {
		for _, accept := range []string{"application/json", "application/cbor", "application/vnd.msgpack"} {
			r := s.Get(t, "/v1/records/item/_changes?include=data", "Accept", accept).MustStatus(t, 200)
			if mt, _ := mediaType(t, r.Header.Get("Content-Type")); mt != accept {
				t.Errorf("include=data Accept %s: Content-Type %q", accept, r.Header.Get("Content-Type"))
			}
			m, _ := r.Decode(t).(map[string]any)
			for _, c := range objects(m, "changes") {
				d, _ := c["data"].(map[string]any)
				switch str(c, "id") {
				case "b":
					if c["data"] != nil {
						t.Errorf("%s: tombstone data = %v, want null", accept, c["data"])
					}
				default:
					if str(d, "name") != str(c, "id") {
						t.Errorf("%s: change %v, want data of %s", accept, c, str(c, "id"))
					}
				}
			}
		}
	})
	for _, q := range []string{"since=-1", "since=x", "limit=0", "limit=1001", "wait=61", "wait=-1", "wait=1.5"} {
		t.Run(q, func(t *testing.T) {
			s.Get(t, "/v1/records/item/_changes?"+q).Problem(t, 400)
		})
	}
}

func TestChangeFeedLongPoll(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "first", sample("first", 1))
	_, last := changeList(t, s.Get(t, "/v1/records/item/_changes"))

	type result struct {
		r       *Resp
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		r, err := s.Exchange(context.Background(), t, Call{Method: http.MethodGet,
			Path: fmt.Sprintf("/v1/records/item/_changes?wait=20&since=%d", last), Header: hdr()})
		done <- result{r, err, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case res := <-done:
		t.Fatalf("long-poll answered before any write: %v %v", res.r, res.err)
	default:
	}
	s.MustPut(t, "item", "second", sample("second", 1))
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		changes, _ := changeList(t, res.r)
		if len(changes) != 1 || str(changes[0], "id") != "second" {
			t.Errorf("long-poll answered %v, want the change of second", changes)
		}
		if res.elapsed > 5*time.Second {
			t.Errorf("long-poll took %v after the write", res.elapsed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll did not answer within 10 s of a write")
	}

	start = time.Now()
	_, last = changeList(t, s.Get(t, "/v1/records/item/_changes"))
	changes, got := changeList(t, s.Get(t, fmt.Sprintf("/v1/records/item/_changes?wait=1&since=%d", last)))
	if el := time.Since(start); len(changes) != 0 || got != last || el < 900*time.Millisecond || el > 15*time.Second {
		t.Errorf("wait=1 with no change: %v last_seq %d after %v; want none, %d, about 1 s", changes, got, el, last)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct {
	id, event, data string
}

// openEvents opens the change feed as SSE and delivers its events.
func openEvents(t *testing.T, s *Server, ctx context.Context, path string, kv ...string) <-chan sseEvent {
	t.Helper()
	c := Call{Method: http.MethodGet, Path: path, Header: hdr(append([]string{"Accept", "text/event-stream"}, kv...)...)}
	res := s.Open(ctx, t, c)
	if res.StatusCode != 200 {
		t.Fatalf("SSE %s: status %d", path, res.StatusCode)
	}
	if mt, _ := mediaType(t, res.Header.Get("Content-Type")); mt != "text/event-stream" {
		t.Fatalf("SSE Content-Type %q", res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id:"):
				ev.id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
			case strings.HasPrefix(line, "event:"):
				ev.event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				ev.data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			}
		}
	}()
	return out
}

func nextEvent(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

func TestChangeFeedEvents(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "e1", sample("e1", 1))
	s.MustPut(t, "item", "e2", sample("e2", 1))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, s, ctx, "/v1/records/item/_changes")
	var seen []sseEvent
	for i := 0; i < 2; i++ {
		seen = append(seen, nextEvent(t, events))
	}
	s.MustPut(t, "item", "e3", sample("e3", 1))
	seen = append(seen, nextEvent(t, events))
	s.Send(t, http.MethodDelete, "/v1/records/item/e1", nil).MustStatus(t, 204)
	seen = append(seen, nextEvent(t, events))

	wantIDs := []string{"e1:create", "e2:create", "e3:create", "e1:delete"}
	var prev uint64
	for i, ev := range seen {
		if ev.event != "change" {
			t.Errorf("event %d type %q, want change", i, ev.event)
		}
		var c struct {
			Seq      uint64 `json:"seq"`
			ID       string `json:"id"`
			Revision int64  `json:"revision"`
			Op       string `json:"op"`
			At       string `json:"at"`
		}
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatalf("event data %q: %v", ev.data, err)
		}
		if ev.id != strconv.FormatUint(c.Seq, 10) || c.Seq <= prev {
			t.Errorf("event id %q for seq %d (previous %d), want the growing seq", ev.id, c.Seq, prev)
		}
		prev = c.Seq
		if got := c.ID + ":" + c.Op; got != wantIDs[i] || c.At == "" || c.Revision < 1 {
			t.Errorf("event %d = %+v, want %s", i, c, wantIDs[i])
		}
	}
	cancel()

	// Resume after the second event: Last-Event-ID wins over since.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	resumed := openEvents(t, s, ctx2, "/v1/records/item/_changes?since=0", "Last-Event-ID", seen[1].id)
	ev := nextEvent(t, resumed)
	var c struct {
		ID string `json:"id"`
		Op string `json:"op"`
	}
	_ = json.Unmarshal([]byte(ev.data), &c)
	if c.ID != "e3" || ev.id != seen[2].id {
		t.Errorf("resumed after %s: first event %+v (%s), want e3 with id %s", seen[1].id, c, ev.id, seen[2].id)
	}
	// An id no stream sends is refused, like a since out of range.
	for _, id := range []string{"18446744073709551615", "4611686018427387905", "-1", "abc"} {
		s.Get(t, "/v1/records/item/_changes", "Accept", "text/event-stream", "Last-Event-ID", id).Problem(t, http.StatusBadRequest)
	}
	s.Get(t, "/v1/records/item/_changes?since=4611686018427387905").Problem(t, http.StatusBadRequest)
}

// TestExportJSONMatchesGet holds the JSON export and GET, which copy stored
// documents straight to JSON where they can, to the bytes of the general
// path (view, then encode), which an indented GET takes: at the version
// stored and across a conversion. No cache serves anything here.
func TestExportJSONMatchesGet(t *testing.T) {
	t.Parallel()
	s := newItemServer(t, WithCacheBytes(0))
	full := sample("full", 2)
	full["price"], full["note"], full["paid"] = 1e21, "<tab>\t\"quoted\" é \u2028", true
	full["attrs"] = map[string]any{"z": "last", "a": "first", "mm": "middle", "é": "accent"}
	s.MustPut(t, "item", "full", full)
	s.MustPut(t, "item", "bare", map[string]any{"name": "bare", "qty": 1})
	s.MustRegister(t, itemV2)
	s.MustPut(t, "item", "v2", map[string]any{"name": "v2", "quantity": 3, "price": 0.000001})
	for _, version := range []string{"1", "2"} {
		for _, mt := range []string{"application/jsonl", "application/json-seq"} {
			r := s.Get(t, "/v1/records/item/_export", "Accept", mt+"; version="+version).MustStatus(t, 200)
			lines := bytes.Split(bytes.TrimSpace(r.Body), []byte("\n"))
			if len(lines) != 3 {
				t.Fatalf("%s v%s: %d lines, want 3:\n%s", mt, version, len(lines), r.Body)
			}
			for _, line := range lines {
				line = bytes.TrimPrefix(line, []byte{0x1e})
				var env struct {
					ID        string          `json:"id"`
					Revision  int64           `json:"revision"`
					Version   int             `json:"version"`
					UpdatedAt string          `json:"updated_at"`
					Data      json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal(line, &env); err != nil {
					t.Fatalf("%s v%s: line %s: %v", mt, version, line, err)
				}
				got := s.Get(t, "/v1/records/item/"+env.ID, "Accept", "application/json; version="+version).MustStatus(t, 200)
				if !bytes.Equal(env.Data, got.Body) {
					t.Errorf("%s v%s: exported data of %s\n%s\nGET gives\n%s", mt, version, env.ID, env.Data, got.Body)
				}
				pretty := s.Get(t, "/v1/records/item/"+env.ID+"?pretty=true", "Accept", "application/json; version="+version).MustStatus(t, 200)
				var general bytes.Buffer
				if err := json.Compact(&general, pretty.Body); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Body, general.Bytes()) {
					t.Errorf("v%s: GET of %s gives\n%s\nthe general path gives\n%s", version, env.ID, got.Body, general.Bytes())
				}
				if rev := got.Header.Get("Ferry-Revision"); rev != strconv.FormatInt(env.Revision, 10) {
					t.Errorf("%s v%s: exported revision %d, GET says %s", mt, version, env.Revision, rev)
				}
				if _, err := time.Parse(time.RFC3339Nano, env.UpdatedAt); err != nil || !strings.HasSuffix(env.UpdatedAt, "Z") {
					t.Errorf("%s v%s: updated_at %q is not RFC 3339 in UTC", mt, version, env.UpdatedAt)
				}
			}
		}
	}
}

// TestChangeFeedNegotiation checks that the change feed negotiates between
// its change list in each record format and an event stream like any
// other representation: wildcards and weights count, and a 406 lists the
// event stream among the acceptable types.
func TestChangeFeedNegotiation(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "n1", sample("n1", 1))
	tests := []struct {
		accept string
		status int
		want   string // the response's media type
	}{
		{"", 200, "application/json"},
		{"*/*", 200, "application/json"},
		{"text/event-stream", 200, "text/event-stream"},
		{"text/*", 200, "text/event-stream"},
		// A change list without records is JSON, as API.md §1 has it.
		{"text/event-stream;q=0.2, application/cbor", 200, "text/event-stream"},
		{"application/cbor", 406, ""},
		{"application/json;q=0.2, text/event-stream", 200, "text/event-stream"},
		{"application/json, text/event-stream;q=0", 200, "application/json"},
		{"text/html", 406, ""},
	}
	// A version the schema lacks is refused with or without records.
	for _, tc := range []struct{ path, accept string }{
		{"/v1/records/item/_changes", "application/json; version=9"},
		{"/v1/records/item/_changes", "text/event-stream; version=9"},
		{"/v1/records/item/_changes?include=data", "application/json; version=9"},
		{"/v1/records/item/n1/_history", "application/json; version=9"},
	} {
		p := s.Get(t, tc.path, "Accept", tc.accept).Problem(t, 406)
		if got := p["versions"]; got == nil {
			t.Errorf("GET %s Accept %q: %v, want the versions listed", tc.path, tc.accept, p)
		}
	}
	// With records, a change list comes in any record format.
	if mt, _ := mediaType(t, s.Get(t, "/v1/records/item/_changes?include=data", "Accept", "application/cbor").MustStatus(t, 200).Header.Get("Content-Type")); mt != "application/cbor" {
		t.Errorf("_changes?include=data as CBOR: Content-Type %q", mt)
	}
	for _, tc := range tests {
		t.Run(tc.accept, func(t *testing.T) {
			t.Parallel()
			if tc.status == 406 {
				p := s.Get(t, "/v1/records/item/_changes", "Accept", tc.accept).Problem(t, 406)
				if got := strs(p, "acceptable"); !slices.Contains(got, "text/event-stream") || !slices.Contains(got, "application/json") {
					t.Errorf("Accept %q: acceptable = %v, want the record formats and text/event-stream", tc.accept, got)
				}
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := s.Open(ctx, t, Call{Method: http.MethodGet, Path: "/v1/records/item/_changes", Header: hdr("Accept", tc.accept)})
			defer res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("Accept %q: status %d, want %d", tc.accept, res.StatusCode, tc.status)
			}
			if mt, _ := mediaType(t, res.Header.Get("Content-Type")); mt != tc.want {
				t.Errorf("Accept %q: Content-Type %q, want %s", tc.accept, res.Header.Get("Content-Type"), tc.want)
			}
		})
	}
}

// TestImportRepeatedID imports several envelopes for one id: each is a
// write of its own, in stream order, with its own revision and history
// entry, with and without atomic.
func TestImportRepeatedID(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	for _, tc := range []struct{ id, query string }{{"rep1", ""}, {"rep2", "?atomic=true"}} {
		t.Run(tc.query, func(t *testing.T) {
			var stream []byte
			for qty := 1; qty <= 3; qty++ {
				stream = fmt.Appendf(stream, `{"id":%q,"data":{"name":"n%d","qty":%d}}`+"\n", tc.id, qty, qty)
			}
			r := s.Send(t, http.MethodPost, "/v1/records/item/_import"+tc.query, stream, "Content-Type", "application/jsonl").MustStatus(t, 200)
			if m := r.JSON(t); num(t, m, "accepted") != 3 || num(t, m, "rejected") != 0 {
				t.Fatalf("import = %v, want 3 accepted", m)
			}
			got := s.Get(t, "/v1/records/item/"+tc.id).MustStatus(t, 200)
			if rev := got.Header.Get("Ferry-Revision"); rev != "3" || num(t, got.JSON(t), "qty") != 3 {
				t.Errorf("after the import: revision %s, %s; want revision 3 with the last envelope", rev, got.Body)
			}
			h := s.Get(t, "/v1/records/item/"+tc.id+"/_history?include=data").MustStatus(t, 200).JSON(t)
			revs, _ := h["revisions"].([]any)
			if len(revs) != 3 {
				t.Fatalf("history = %v, want 3 revisions", h)
			}
			for i, want := range []struct {
				op  string
				qty int64
			}{{"replace", 3}, {"replace", 2}, {"create", 1}} {
				e := revs[i].(map[string]any)
				if str(e, "op") != want.op || num(t, e["data"].(map[string]any), "qty") != want.qty {
					t.Errorf("history entry %d = %v, want op %s with qty %v", i, e, want.op, want.qty)
				}
			}
			// After a delete (revision 4), revisions go on from it.
			s.Send(t, http.MethodDelete, "/v1/records/item/"+tc.id, nil).MustStatus(t, 204)
			s.Send(t, http.MethodPost, "/v1/records/item/_import"+tc.query, stream[:len(stream)/3*2], "Content-Type", "application/jsonl").MustStatus(t, 200)
			if rev := s.Get(t, "/v1/records/item/"+tc.id).MustStatus(t, 200).Header.Get("Ferry-Revision"); rev != "6" {
				t.Errorf("two envelopes imported after a delete at revision 4: revision %s, want 6", rev)
			}
		})
	}
}

// TestImportErrorsInOrder checks that rejected envelopes are listed by
// index in every stream type, though an envelope that fails validation may
// be found after a later framing error has ended the stream (a gob
// envelope is validated only when its chunk is committed).
func TestImportErrorsInOrder(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	for _, mt := range []string{"application/jsonl", "application/gob-stream"} {
		t.Run(mt, func(t *testing.T) {
			p := strings.NewReplacer("/", "-", ".", "-").Replace(mt)
			stream := encodeStream(t, mt, []map[string]any{
				{"id": p + "-0", "data": map[string]any{"name": "a", "qty": 1}},
				{"id": p + "-1", "data": map[string]any{"name": "b", "qty": 0}},
			})
			stream = append(stream, "\x05garbage"...)
			m := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: stream,
				Header: hdr("Content-Type", mt), Lax: true}).MustStatus(t, 200).JSON(t)
			errs, _ := m["errors"].([]any)
			var got []int64
			for _, e := range errs {
				got = append(got, num(t, e.(map[string]any), "index"))
			}
			if !slices.Equal(got, []int64{1, 2}) || num(t, m, "accepted") != 1 {
				t.Errorf("import = %v; want one accepted and errors at indexes [1 2], in order", m)
			}
		})
	}
}

// TestChangeFeedEventsWithData checks that include=data puts each record
// into its event, as JSON at the event stream's version, and null for a
// delete.
func TestChangeFeedEventsWithData(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "d1", sample("one", 4))
	s.MustPut(t, "item", "d2", sample("two", 5))
	s.Send(t, http.MethodDelete, "/v1/records/item/d2", nil).MustStatus(t, 204)
	s.MustRegister(t, itemV2)
	for _, tc := range []struct {
		accept, qtyField string
	}{
		{"text/event-stream", "quantity"},
		{"text/event-stream; version=1", "qty"},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events := openEvents(t, s, ctx, "/v1/records/item/_changes?include=data", "Accept", tc.accept)
			for _, want := range []struct {
				id  string
				qty int64
			}{{"d1", 4}, {"d2", 5}, {"d2", 0}} {
				// Every change, d2's create too, with the record that
				// change made, although d2 was deleted since.
				ev := nextEvent(t, events)
				var m map[string]any
				if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
					t.Fatalf("event data %q: %v", ev.data, err)
				}
				if str(m, "id") != want.id {
					t.Fatalf("event %v, want the change of %s", m, want.id)
				}
				data, _ := m["data"].(map[string]any)
				switch {
				case want.qty == 0 && (m["data"] != nil || !hasKey(m, "data")):
					t.Errorf("delete event %v, want data null", m)
				case want.qty != 0 && (data == nil || num(t, data, tc.qtyField) != want.qty):
					t.Errorf("event %v, want data with %s %d", m, tc.qtyField, want.qty)
				}
			}
		})
	}
	s.Get(t, "/v1/records/item/_changes?include=data", "Accept", "text/event-stream; version=9").Problem(t, 406)
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// TestIncludeParameter refuses an include value other than data, rather
// than answering without the records a misspelt request asked for.
func TestIncludeParameter(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "inc", sample("inc", 1))
	for _, path := range []string{"/v1/records/item/inc/_history", "/v1/records/item/_changes"} {
		s.Get(t, path+"?include=datas").Problem(t, 400)
		s.Get(t, path+"?include=data").MustStatus(t, 200)
		s.Get(t, path+"?include=").Problem(t, 400)
		s.Get(t, path).MustStatus(t, 200)
	}
}

// TestChangeFeedEventsGoOnPastARecordTheyCannotShow checks that a record
// that cannot be shown at the event stream's version gets an event with
// null data and the reason, and the stream goes on.
func TestChangeFeedEventsGoOnPastARecordTheyCannotShow(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	registerNum(t, s)
	s.MustPut(t, "num", "half", map[string]any{"n": 7.5})
	s.MustPut(t, "num", "whole", map[string]any{"n": 3.0})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, s, ctx, "/v1/records/num/_changes?include=data", "Accept", "text/event-stream; version=1")
	var first, second map[string]any
	for _, m := range []*map[string]any{&first, &second} {
		if err := json.Unmarshal([]byte(nextEvent(t, events).data), m); err != nil {
			t.Fatal(err)
		}
	}
	if str(first, "id") != "half" || first["data"] != nil || str(first, "error") == "" {
		t.Errorf("event for 7.5 at version 1 = %v, want null data and an error", first)
	}
	if data, _ := second["data"].(map[string]any); str(second, "id") != "whole" || data == nil || num(t, data, "n") != 3 {
		t.Errorf("event after it = %v, want whole with n 3", second)
	}
}

// TestExportPassesOverMissingVersions checks that an export goes to the
// next acceptable range past one naming a version the schema lacks, and
// answers 406 with the versions when nothing else is acceptable.
func TestExportPassesOverMissingVersions(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "ex", sample("ex", 1))
	r := s.Get(t, "/v1/records/item/_export", "Accept", "application/cbor-seq;version=3, application/jsonl;q=0.1").MustStatus(t, 200)
	if mt, _ := mediaType(t, r.Header.Get("Content-Type")); mt != "application/jsonl" {
		t.Errorf("export Content-Type %q, want application/jsonl", r.Header.Get("Content-Type"))
	}
	p := s.Get(t, "/v1/records/item/_export", "Accept", "application/cbor-seq;version=3").Problem(t, 406)
	if got := strs(p, "versions"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("406 versions = %v, want [1]", got)
	}
}

// TestExportBodyStart checks what an export holds back until its start: a
// short export is sent whole, uncompressed, with its digest as a header; a
// long one is compressed with its digest as a trailer; and a record that
// cannot be shown before anything went out is answered with a problem.
func TestExportBodyStart(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "e0", sample("e0", 1))
	sha := func(b []byte) string {
		sum := sha256.Sum256(b)
		return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	}
	short := s.Get(t, "/v1/records/item/_export", "Accept-Encoding", "gzip", "Want-Content-Digest", "sha-256").MustStatus(t, 200)
	if ce := short.Header.Get("Content-Encoding"); ce != "" || short.Header.Get("Content-Length") != strconv.Itoa(len(short.Raw)) {
		t.Errorf("export of %d bytes: Content-Encoding %q, Content-Length %q; want none and the length (no compression under 1 KiB)",
			len(short.Raw), ce, short.Header.Get("Content-Length"))
	}
	if got := short.Header.Get("Content-Digest"); got != sha(short.Raw) {
		t.Errorf("short export Content-Digest %q, want %q", got, sha(short.Raw))
	}
	shortHead := s.Do(t, Call{Method: http.MethodHead, Path: "/v1/records/item/_export", Header: hdr("Accept-Encoding", "gzip", "Want-Content-Digest", "sha-256")}).MustStatus(t, 200)
	for _, k := range []string{"Content-Length", "Content-Digest", "Content-Encoding", "Content-Type"} {
		if got, want := shortHead.Header.Get(k), short.Header.Get(k); got != want {
			t.Errorf("HEAD of a short export: %s %q, GET has %q", k, got, want)
		}
	}
	for i := 1; i < 40; i++ {
		s.MustPut(t, "item", fmt.Sprintf("e%02d", i), sample(fmt.Sprintf("e%02d", i), i))
	}
	long := s.Get(t, "/v1/records/item/_export", "Accept-Encoding", "gzip", "Want-Content-Digest", "sha-256").MustStatus(t, 200)
	if ce := long.Header.Get("Content-Encoding"); ce != "gzip" || len(long.Body) < 1024 {
		t.Fatalf("export of %d bytes: Content-Encoding %q, want gzip", len(long.Body), ce)
	}
	if got := long.Trailer.Get("Content-Digest"); got != sha(long.Raw) {
		t.Errorf("long export Content-Digest trailer %q, want %q (over the gzip bytes)", got, sha(long.Raw))
	}
	// HEAD answers the headers GET does, long stream or short.
	head := s.Do(t, Call{Method: http.MethodHead, Path: "/v1/records/item/_export", Header: hdr("Accept-Encoding", "gzip", "Want-Content-Digest", "sha-256")}).MustStatus(t, 200)
	if ce, tr := head.Header.Get("Content-Encoding"), head.Header.Get("Trailer"); ce != "gzip" || tr != "Content-Digest" || len(head.Raw) != 0 {
		t.Errorf("HEAD of a long export: Content-Encoding %q, Trailer %q, %d body bytes; want gzip, Content-Digest and none", ce, tr, len(head.Raw))
	}

	registerNum(t, s)
	s.MustPut(t, "num", "half", map[string]any{"n": 7.5})
	for _, mt := range []string{"application/jsonl", "application/cbor-seq", "application/gob-stream"} {
		s.Get(t, "/v1/records/num/_export", "Accept", mt+"; version=1").Problem(t, 406)
	}
}

// TestImportIntegerOutOfRange checks that an integer too large for an int
// field is a 422 in an import as in a single write.
func TestImportIntegerOutOfRange(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body := []byte(`{"id":"big","data":{"name":"big","qty":9223372036854775808}}` + "\n")
	m := s.Send(t, http.MethodPost, "/v1/records/item/_import", body, "Content-Type", "application/jsonl").MustStatus(t, 200).JSON(t)
	errs := objects(m, "errors")
	if len(errs) != 1 {
		t.Fatalf("import summary %v, want one error", m)
	}
	p, _ := errs[0]["problem"].(map[string]any)
	if num(t, p, "status") != 422 || !hasFieldError(p, "qty", "int_range") {
		t.Errorf("error %v, want a 422 naming qty with rule int_range", p)
	}
	s.Send(t, http.MethodPut, "/v1/records/item/big", []byte(`{"name":"big","qty":9223372036854775808}`), "Content-Type", "application/json").Problem(t, 422)
}

// TestAtomicImportListsEveryRejection checks that an atomic import refused
// for one envelope still lists every other bad one, in a gob stream too,
// whose envelopes are validated only when they are about to be written.
func TestAtomicImportListsEveryRejection(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	for _, e := range []gobEnvelope{
		{Id: "g0", Data: gobItem{Name: "", Qty: 1}},      // 0: name required
		{Id: "bad id", Data: gobItem{Name: "x", Qty: 1}}, // 1: id
		{Id: "g2", Data: gobItem{Name: "ok", Qty: 1}},
		{Id: "g3", Data: gobItem{Name: "y", Qty: -1}}, // 3: qty min=1
	} {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"?atomic=true", ""} {
		r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import" + q, Body: buf.Bytes(),
			Header: hdr("Content-Type", "application/gob-stream"), Lax: true})
		var m map[string]any
		if q != "" {
			m = r.Problem(t, 422)
		} else {
			m = r.MustStatus(t, 200).JSON(t)
		}
		var idx []int64
		for _, e := range objects(m, "errors") {
			idx = append(idx, num(t, e, "index"))
		}
		if !slices.Equal(idx, []int64{0, 1, 3}) || num(t, m, "rejected") != 3 {
			t.Errorf("import%s: rejected %v at %v, want 3 at [0 1 3]", q, m["rejected"], idx)
		}
	}
}

// putN writes {"n": n} to path with Prefer: return=minimal from any
// goroutine, returning the revision written.
func putN(s *Server, path string, n int64) (int64, error) {
	req, err := http.NewRequest(http.MethodPut, s.URL+path, strings.NewReader(fmt.Sprintf(`{"n":%d}`, n)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "return=minimal")
	r, err := s.Client.Do(req)
	if err != nil {
		return 0, err
	}
	r.Body.Close()
	rev, err := strconv.ParseInt(r.Header.Get("Ferry-Revision"), 10, 64)
	if r.StatusCode >= 300 || err != nil {
		return 0, fmt.Errorf("PUT %s: status %d, revision %q", path, r.StatusCode, r.Header.Get("Ferry-Revision"))
	}
	return rev, nil
}

// TestChangeFeedDataIsTheChangesRecord reads the change list with records
// while one record is written again and again: each change that carries
// data carries the record that change made, never a later revision.
func TestChangeFeedDataIsTheChangesRecord(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"ctr","version":1,"fields":{"n":{"type":"int"}}}`)
	const writes = 300
	done, stop := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-done }()
	go func() {
		defer close(done)
		for i := 1; i <= writes; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Written by one writer, revision i holds n = i.
			if _, err := putN(s, "/v1/records/ctr/c", int64(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	checked, since := 0, int64(0)
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		// Asked from just before the newest change it knows, the list
		// holds the record's change, unless it is overtaken while read:
		// then the list reads on, and an empty one still means that
		// nothing changed (last_seq is since).
		m := s.Get(t, fmt.Sprintf("/v1/records/ctr/_changes?include=data&since=%d", since)).MustStatus(t, http.StatusOK).JSON(t)
		changes := objects(m, "changes")
		for _, c := range changes {
			data, _ := c["data"].(map[string]any)
			if data == nil || num(t, data, "n") != num(t, c, "revision") {
				t.Errorf("change %v carries no record, or that of another revision", c)
				return
			}
			checked++
		}
		want := since
		if len(changes) > 0 {
			want = num(t, changes[len(changes)-1], "seq")
		}
		if got := num(t, m, "last_seq"); got != want {
			t.Fatalf("since %d: last_seq %v with changes %v; want %v, the last change's seq, else since", since, got, changes, want)
		}
		since = max(0, want-1)
	}
	if checked == 0 {
		t.Fatal("no change was checked")
	}
}

// TestChangeFeedEventsSendEveryChange writes one record from several
// writers at once with an event stream open: the stream sends every
// change, superseded ones included, each with the record it made.
func TestChangeFeedEventsSendEveryChange(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"ev","version":1,"fields":{"n":{"type":"int"}}}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, s, ctx, "/v1/records/ev/_changes?include=data")
	const writers, each = 4, 40
	var mu sync.Mutex
	written := make(map[int64]int64) // revision → n
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := int64(w*each + i)
				rev, err := putN(s, "/v1/records/ev/one", n)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				written[rev] = n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for want := int64(1); want <= writers*each; want++ {
		ev := nextEvent(t, events)
		var m map[string]any
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			t.Fatalf("event data %q: %v", ev.data, err)
		}
		data, _ := m["data"].(map[string]any)
		if num(t, m, "revision") != want || data == nil || num(t, data, "n") != written[want] {
			t.Fatalf("event %v, want revision %d with n %d", m, want, written[want])
		}
	}
}

// TestChangeFeedEventsOfRevisionsNoLongerKept opens an event stream after
// a record was written more often than its history keeps: the changes
// still in memory are all sent, those whose revision retention dropped
// with data null and the reason, the others with their record.
func TestChangeFeedEventsOfRevisionsNoLongerKept(t *testing.T) {
	t.Parallel()
	s := MustServer(t, WithHistoryLimit(2))
	s.MustRegister(t, `{"name":"hk","version":1,"fields":{"n":{"type":"int"}}}`)
	for i := 1; i <= 5; i++ {
		want := http.StatusOK
		if i == 1 {
			want = http.StatusCreated
		}
		s.Send(t, http.MethodPut, "/v1/records/hk/a", []byte(fmt.Sprintf(`{"n":%d}`, i)), "Content-Type", "application/json").MustStatus(t, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, s, ctx, "/v1/records/hk/_changes?include=data")
	for rev := int64(1); rev <= 5; rev++ {
		var m map[string]any
		if err := json.Unmarshal([]byte(nextEvent(t, events).data), &m); err != nil {
			t.Fatal(err)
		}
		data, _ := m["data"].(map[string]any)
		kept := rev >= 4 // the record and one revision before it
		switch {
		case num(t, m, "revision") != rev:
			t.Fatalf("event %v, want revision %d", m, rev)
		case kept && (data == nil || num(t, data, "n") != rev):
			t.Errorf("event %v, want the record of revision %d", m, rev)
		case !kept && (m["data"] != nil || str(m, "error") == ""):
			t.Errorf("event %v, want data null and an error for a revision no longer kept", m)
		}
	}
}

// TestImportGobEnvelopeWithoutData imports a gob stream whose envelopes
// carry no Data (left nil, or a type without it): each is rejected at its
// index, and the import answers 200.
func TestImportGobEnvelopeWithoutData(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	type bare struct{ Id string }
	for _, id := range []string{"x1", "x2"} {
		if err := enc.Encode(bare{Id: id}); err != nil {
			t.Fatal(err)
		}
	}
	r := s.Send(t, http.MethodPost, "/v1/records/item/_import", buf.Bytes(), "Content-Type", "application/gob-stream")
	importSummary(t, r, 0, 2, 0, 1)
}

// TestChangeFeedEventsPingWhileChangesFlow keeps a change coming more
// often than the ping interval: the stream pings all the same, on time.
func TestChangeFeedEventsPingWhileChangesFlow(t *testing.T) {
	t.Parallel()
	const ping = 300 * time.Millisecond
	s := MustServer(t, WithEventPing(ping))
	s.MustRegister(t, `{"name":"pg","version":1,"fields":{"n":{"type":"int"}}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*ping)
	defer cancel()
	res := s.Open(ctx, t, Call{Method: http.MethodGet, Path: "/v1/records/pg/_changes", Header: hdr("Accept", "text/event-stream")})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SSE: status %d", res.StatusCode)
	}
	go func() {
		for i := int64(1); ctx.Err() == nil; i++ {
			if _, err := putN(s, "/v1/records/pg/p", i); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
			time.Sleep(ping / 3)
		}
	}()
	var pings, events int
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		switch line := sc.Text(); {
		case line == ": ping":
			pings++
		case strings.HasPrefix(line, "id:"):
			events++
		}
	}
	res.Body.Close()
	if events < 5 || pings < 2 {
		t.Errorf("over %v: %d events and %d pings; want events flowing and a ping every %v all the same", 5*ping, events, pings, ping)
	}
}

// TestImportOfABrokenBody sends imports whose chunked framing breaks after
// a whole envelope: the body did not arrive, so it is a 400 that stores
// nothing, in every stream type, with a Content-Digest or without.
func TestImportOfABrokenBody(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	for i, tc := range []struct{ contentType, extra string }{
		{"application/jsonl", ""},
		{"application/cbor-seq", ""},
		{"application/gob-stream", ""},
		{"application/jsonl", "Content-Digest: sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\r\n"},
	} {
		id := fmt.Sprintf("broken-%d", i)
		first := encodeStream(t, tc.contentType, []map[string]any{envelope(id, 1)})
		req := "POST /v1/records/item/_import HTTP/1.1\r\nHost: ferry\r\nContent-Type: " + tc.contentType + "\r\n" + tc.extra +
			"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\nzz\r\n", len(first), first)
		res, body := s.Raw(t, req, false)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %q import with a broken chunk: %d %s\n%s, want a 400 problem", tc.contentType, tc.extra, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		s.Get(t, "/v1/records/item/"+id).Problem(t, http.StatusNotFound)
	}
}

// TestImportOfAShortBody sends imports over a connection the client shuts
// for writing once it has sent its body. A body shorter than its
// Content-Length did not arrive: a 400 that stores nothing. A whole one
// is imported and answered, though the connection is seen to close.
func TestImportOfAShortBody(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	for _, contentType := range []string{"application/jsonl", "application/cbor-seq"} {
		for _, short := range []bool{true, false} {
			id := fmt.Sprintf("short-%s-%v", strings.TrimPrefix(contentType, "application/"), short)
			body := encodeStream(t, contentType, []map[string]any{envelope(id, 1), envelope(id+"-2", 1)})
			declared := len(body)
			if short {
				declared *= 2
			}
			req := fmt.Sprintf("POST /v1/records/item/_import HTTP/1.1\r\nHost: ferry\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
				contentType, declared, body)
			res, answer := s.Raw(t, req, true)
			want, stored := http.StatusBadRequest, http.StatusNotFound
			if !short {
				want, stored = http.StatusOK, http.StatusOK
			}
			if res.StatusCode != want {
				t.Errorf("%s import of %d bytes declaring %d, then a shut connection: %d\n%s, want %d", contentType, len(body), declared, res.StatusCode, answer, want)
			}
			s.Get(t, "/v1/records/item/"+id).MustStatus(t, stored)
		}
	}
	// A short body past its first commit: what was committed stays and
	// is counted, what was read since is not stored.
	var envs []map[string]any
	for i := range 1000 {
		e := envelope(fmt.Sprintf("long-%03d", i), 1)
		e["data"].(map[string]any)["name"] = strings.Repeat("n", 400)
		envs = append(envs, e)
	}
	long := encodeStream(t, "application/jsonl", envs)
	res, answer := s.Raw(t, fmt.Sprintf("POST /v1/records/item/_import HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/jsonl\r\nContent-Length: %d\r\n\r\n%s", 2*len(long), long), true)
	var p map[string]any
	_ = json.Unmarshal(answer, &p)
	if accepted, _ := p["accepted"].(float64); res.StatusCode != http.StatusBadRequest || accepted == 0 || int(accepted)%256 != 0 || accepted >= 1000 {
		t.Errorf("a short import of 1000 envelopes: %d %v, want 400 with the whole commits before the break accepted", res.StatusCode, p)
	}
	s.Get(t, "/v1/records/item/long-000").MustStatus(t, http.StatusOK)
	s.Get(t, "/v1/records/item/long-999").Problem(t, http.StatusNotFound)

	// So is a single record's write.
	body, _ := json.Marshal(sample("shut", 1))
	res, _ = s.Raw(t, fmt.Sprintf("PUT /v1/records/item/shut HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body), true)
	if res.StatusCode != http.StatusCreated {
		t.Errorf("PUT, then a shut connection: %d, want 201", res.StatusCode)
	}
	s.Get(t, "/v1/records/item/shut").MustStatus(t, http.StatusOK)
}

// TestExportCutShortKeepsWholeEnvelopes checks an export that meets a
// record it cannot show once the stream has started: the stream is cut
// short, so the client sees it is incomplete, but after the last whole
// envelope, so that what came before is all there, compressed or not.
func TestExportCutShortKeepsWholeEnvelopes(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"num","version":1,"fields":{"n":{"type":"int"}}}`)
	s.MustRegister(t, `{"name":"num","version":2,"fields":{"n":{"type":"float"},"pad":{"type":"string","optional":true}},"migrate":[{"op":"retype","field":"n","to":"float"},{"op":"add","field":"pad"}]}`)
	const whole = 3000
	var lines bytes.Buffer
	for i := range whole {
		fmt.Fprintf(&lines, `{"id":"n%05d","data":{"n":%d,"pad":%q}}`+"\n", i, i, strings.Repeat("p", 40))
	}
	fmt.Fprintf(&lines, `{"id":"zz-half","data":{"n":7.5}}`+"\n")
	importSummary(t, s.Send(t, http.MethodPost, "/v1/records/num/_import", lines.Bytes(), "Content-Type", "application/jsonl"), whole+1, 0)
	for _, enc := range []string{"identity", "gzip"} {
		res := getExportV1(t, s, enc)
		var body io.Reader = res.Body
		if res.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		got, err := io.ReadAll(body)
		res.Body.Close()
		if res.StatusCode != 200 || err == nil {
			t.Errorf("%s export past a record it cannot show: %d, read error %v; want 200 cut short", enc, res.StatusCode, err)
		}
		sent := bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n"))
		if len(sent) != whole {
			t.Errorf("%s export cut short: %d lines, want the %d whole envelopes before the record it cannot show", enc, len(sent), whole)
		}
		for i, line := range sent {
			if !json.Valid(line) {
				t.Errorf("%s export cut short: line %d is not whole: %.80q", enc, i, line)
				break
			}
		}
	}
	// Cut short, each is still counted.
	metrics := string(s.Get(t, "/metrics").MustStatus(t, 200).Body)
	if want := `ferry_http_requests_total{code="200",method="GET",route="/v1/records/{schema}/_export"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// getExportV1 starts a GET of schema num's export as JSON Lines at
// version 1 with content coding enc, its body left for the caller to read
// and close: a body cut short is what some tests look at.
func getExportV1(t *testing.T, s *Server, enc string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/records/num/_export", nil)
	req.Header.Set("Accept", "application/jsonl; version=1")
	req.Header.Set("Accept-Encoding", enc)
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestHeadExportAnswersAsGet checks that a HEAD export answers with the
// status and headers of the GET, whether the record that cannot be shown
// comes before the stream starts (a 406 for both) or after (a 200 that the
// GET cuts short), compressed or not.
func TestHeadExportAnswersAsGet(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"num","version":1,"fields":{"n":{"type":"int"}}}`)
	s.MustRegister(t, `{"name":"num","version":2,"fields":{"n":{"type":"float"}},"migrate":[{"op":"retype","field":"n","to":"float"}]}`)
	var lines bytes.Buffer
	for i := range 5000 {
		fmt.Fprintf(&lines, `{"id":"n%05d","data":{"n":%d}}`+"\n", i, i)
	}
	// About 3 KiB into the stream, and about 200 KiB.
	fmt.Fprintf(&lines, `{"id":"n00050-half","data":{"n":7.5}}`+"\n")
	importSummary(t, s.Send(t, http.MethodPost, "/v1/records/num/_import", lines.Bytes(), "Content-Type", "application/jsonl"), 5001, 0)
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"early", http.StatusNotAcceptable},
		{"late", http.StatusOK},
	} {
		if tc.name == "late" {
			s.Send(t, http.MethodDelete, "/v1/records/num/n00050-half", nil).MustStatus(t, http.StatusNoContent)
			s.Send(t, http.MethodPut, "/v1/records/num/n04000-half", []byte(`{"n":7.5}`), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
		}
		for _, enc := range []string{"identity", "gzip"} {
			res := getExportV1(t, s, enc)
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			head := s.Do(t, Call{Method: http.MethodHead, Path: "/v1/records/num/_export",
				Header: hdr("Accept", "application/jsonl; version=1", "Accept-Encoding", enc)})
			if res.StatusCode != tc.status || head.Status != tc.status || len(head.Raw) != 0 {
				t.Errorf("%s record it cannot show, %s: GET %d, HEAD %d with %d body bytes; want %d for both and no body for HEAD",
					tc.name, enc, res.StatusCode, head.Status, len(head.Raw), tc.status)
			}
			for _, k := range []string{"Content-Type", "Content-Encoding", "Vary"} {
				if head.Header.Get(k) != res.Header.Get(k) {
					t.Errorf("%s record it cannot show, %s: HEAD %s %q, GET %q", tc.name, enc, k, head.Header.Get(k), res.Header.Get(k))
				}
			}
		}
	}
}

// sha256Base64 is the base64 of b's SHA-256, as Content-Digest holds it.
func sha256Base64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestAtomicImportsTakeTurns holds an atomic import open mid-body: a
// second atomic import waits for it, since each holds its stream in
// memory, and runs once the first is done; a non-atomic one does not
// wait.
func TestAtomicImportsTakeTurns(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	first := encodeStream(t, "application/jsonl", []map[string]any{envelope("turn-1", 1)})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/records/item/_import?atomic=true HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/jsonl\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(first), first)
	// The first holds its turn once it reads its body.
	time.Sleep(200 * time.Millisecond)

	plain := encodeStream(t, "application/jsonl", []map[string]any{envelope("turn-plain", 1)})
	importSummary(t, s.Send(t, http.MethodPost, "/v1/records/item/_import", plain, "Content-Type", "application/jsonl"), 1, 0)

	second := encodeStream(t, "application/jsonl", []map[string]any{envelope("turn-2", 1)})
	done := make(chan *Resp, 1)
	go func() {
		done <- s.Send(t, http.MethodPost, "/v1/records/item/_import?atomic=true", second, "Content-Type", "application/jsonl")
	}()
	select {
	case r := <-done:
		t.Fatalf("a second atomic import ran while the first held its turn: %d", r.Status)
	case <-time.After(300 * time.Millisecond):
	}
	fmt.Fprint(conn, "0\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the first atomic import: %v, %v; want 200", res, err)
	}
	select {
	case r := <-done:
		importSummary(t, r, 1, 0)
	case <-time.After(10 * time.Second):
		t.Fatal("the second atomic import did not run after the first")
	}
	s.Get(t, "/v1/records/item/turn-2").MustStatus(t, http.StatusOK)
}

// TestJSONNumberLiteralsRoundTrip imports and patches the number literals
// a JSON export writes for floats that no 64-bit integer holds as written:
// an integral float beyond the int64 range (written without a point, as
// 1e20 is) and -0. A float field takes each as the float it is, an int
// field refuses the first as out of range.
func TestJSONNumberLiteralsRoundTrip(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"fl","version":1,"fields":{"f":{"type":"float"},"n":{"type":"int","default":0}}}`)
	s.Send(t, http.MethodPut, "/v1/records/fl/src", []byte(`{"f":-1e20}`), "Content-Type", "application/json").MustStatus(t, 201)
	export := s.Get(t, "/v1/records/fl/_export", "Accept", "application/jsonl").MustStatus(t, 200)
	if !bytes.Contains(export.Body, []byte(`"f":-100000000000000000000`)) {
		t.Fatalf("export %s: want the float written as an integer literal", export.Body)
	}
	stream := bytes.ReplaceAll(export.Body, []byte(`"id":"src"`), []byte(`"id":"back"`))
	stream = append(stream, `{"id":"negzero","data":{"f":-0}}`+"\n"...)
	for _, path := range []string{"/v1/records/fl/_import", "/v1/records/fl/_import?atomic=true"} {
		if m := s.Send(t, http.MethodPost, path, stream, "Content-Type", "application/jsonl").MustStatus(t, 200).JSON(t); num(t, m, "accepted") != 2 {
			t.Fatalf("POST %s of an export and a -0: %v, want both accepted", path, m)
		}
	}
	if got := s.Get(t, "/v1/records/fl/back").JSON(t); floatOf(t, got, "f") != -1e20 {
		t.Errorf("imported back: f = %v, want -1e20", got["f"])
	}
	if r := s.Get(t, "/v1/records/fl/negzero"); !bytes.Contains(r.Body, []byte(`"f":-0`)) {
		t.Errorf("imported -0 reads back as %s, want f -0", r.Body)
	}
	patch := func(body string) *Resp {
		return s.Send(t, http.MethodPatch, "/v1/records/fl/src", []byte(body), "Content-Type", "application/merge-patch+json")
	}
	if r := patch(`{"f":-0}`).MustStatus(t, 200); !bytes.Contains(r.Body, []byte(`"f":-0`)) {
		t.Errorf("PATCH f -0 answered %s, want f -0", r.Body)
	}
	if r := patch(`{"f":100000000000000000001}`).MustStatus(t, 200); floatOf(t, r.JSON(t), "f") != 1e20 {
		t.Errorf("PATCH f 100000000000000000001 answered %s, want f 1e20", r.Body)
	}
	// A null on a defaulted field is found beside such a literal too.
	if p := s.Send(t, http.MethodPut, "/v1/records/fl/nulled", []byte(`{"f":100000000000000000000,"n":null}`), "Content-Type", "application/json").Problem(t, 422); !hasFieldError(p, "n", "present") {
		t.Errorf("PUT n null beside a float written as a long integer: %v, want a 422 naming n with rule present", p)
	}
	if p := patch(`{"n":100000000000000000001}`).Problem(t, 422); !hasFieldError(p, "n", "int_range") {
		t.Errorf("PATCH n beyond 64 bits: %v, want a 422 naming n with rule int_range", p)
	}
	if p := patch(`{"f":1`+strings.Repeat("0", 400)+`}`).Problem(t, 422); !hasFieldError(p, "f", "finite") {
		t.Errorf("PATCH f beyond the float range: %v, want a 422 naming f with rule finite", p)
	}
}

// TestImportNamesUndecodableEnvelopes checks that an envelope rejected
// because it does not decode is listed by its id, where the id can be
// found, as much as one that decodes and fails its rules.
func TestImportNamesUndecodableEnvelopes(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	long := strings.Repeat("x", 200) // no id: it is not one to echo
	body := `{"id":"dup","data":{"name":"a","name":"b","qty":1}}` + "\n" +
		`{"data":{"qty":1,"qty":2},"id":"late"}` + "\n" +
		`{"id":"` + long + `","data":{"qty":1,"qty":2}}` + "\n" +
		`{"id":"ok","data":{"name":"ok","qty":1}}` + "\n"
	m := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: []byte(body),
		Header: hdr("Content-Type", "application/jsonl"), Lax: true}).MustStatus(t, 200).JSON(t)
	var ids []string
	for _, e := range objects(m, "errors") {
		ids = append(ids, str(e, "id"))
		if p, _ := e["problem"].(map[string]any); strings.Contains(fmt.Sprint(p), long) {
			t.Errorf("an error echoes an id that is not one: %v", p)
		}
	}
	if num(t, m, "accepted") != 1 || !slices.Equal(ids, []string{"dup", "late", ""}) {
		t.Errorf("import of three undecodable envelopes and a good one = %v, want errors naming dup, late and none", m)
	}
	// {"id":"c1","data":{"a":1,"a":2}}, in CBOR and in MessagePack.
	for mt, envelope := range map[string]string{
		"application/cbor-seq":        "\xa2\x62id\x62c1\x64data\xa2\x61a\x01\x61a\x02",
		"application/vnd.msgpack-seq": "\x82\xa2id\xa2c1\xa4data\x82\xa1a\x01\xa1a\x02",
	} {
		m := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: []byte(envelope),
			Header: hdr("Content-Type", mt), Lax: true}).MustStatus(t, 200).JSON(t)
		if e := objects(m, "errors"); len(e) != 1 || str(e[0], "id") != "c1" {
			t.Errorf("%s import of an envelope with a repeated key = %v, want an error naming c1", mt, m)
		}
	}
}

// TestImportCommitsAsItArrives sends part of an import's body and waits:
// the envelopes that make up a commit are stored while the client has
// yet to send the rest, however little of the stream that is.
func TestImportCommitsAsItArrives(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	var first, rest bytes.Buffer
	for i := range 600 {
		dst := &first
		if i >= 300 {
			dst = &rest
		}
		fmt.Fprintf(dst, `{"id":"arr-%03d","data":{"name":"a","qty":1}}`+"\n", i)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/records/item/_import HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/jsonl\r\nContent-Length: %d\r\n\r\n%s",
		first.Len()+rest.Len(), first.Bytes())
	stored := false
	for deadline := time.Now().Add(5 * time.Second); !stored && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		stored = s.Get(t, "/v1/records/item/arr-000").Status == http.StatusOK
	}
	if !stored {
		t.Errorf("an import's first %d KB (300 envelopes) sent and waiting: nothing stored, want its first commit", first.Len()>>10)
	}
	if _, err := conn.Write(rest.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"accepted":600`)) {
		t.Errorf("the import once whole: %d %s, want 600 accepted", res.StatusCode, body)
	}
}

// A long-poll or an event stream with data outlives the schema it looked
// up: a version registered while it waits, and a record written at it,
// are shown as any other record is.
func TestChangeFeedWithDataSeesVersionsRegisteredSince(t *testing.T) {
	t.Parallel()
	const v1 = `{"name": "sa", "version": 1, "fields": {"a": {"type": "int"}}}`
	const v2 = `{"name": "sa", "version": 2, "fields": {"b": {"type": "int"}}, "migrate": [{"op": "rename", "from": "a", "to": "b"}]}`
	s := MustServer(t)
	s.MustRegister(t, v1)
	s.MustPut(t, "sa", "x", map[string]any{"a": 1})
	_, last := changeList(t, s.Get(t, "/v1/records/sa/_changes"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, s, ctx, fmt.Sprintf("/v1/records/sa/_changes?include=data&since=%d", last))
	done := make(chan *Resp, 1)
	go func() {
		r, err := s.Exchange(context.Background(), t, Call{Method: http.MethodGet,
			Path: fmt.Sprintf("/v1/records/sa/_changes?include=data&wait=20&since=%d", last), Header: hdr("Accept", "application/json; version=1")})
		if err != nil {
			r = nil
		}
		done <- r
	}()
	time.Sleep(300 * time.Millisecond)
	s.MustRegister(t, v2)
	s.MustPut(t, "sa", "y", map[string]any{"b": 2})

	select {
	case r := <-done:
		if r == nil {
			t.Fatal("long-poll failed")
		}
		r.MustStatus(t, 200)
		changes, _ := changeList(t, r)
		if len(changes) != 1 || str(changes[0], "id") != "y" || floatOf(t, changes[0]["data"].(map[string]any), "a") != 2 {
			t.Errorf("long-poll at version 1 answered %v, want y with a = 2", changes)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll did not answer within 10 s of a write")
	}
	// The stream shows every record at the version it began with.
	ev := nextEvent(t, events)
	if !strings.Contains(ev.data, `"id":"y"`) || !strings.Contains(ev.data, `"a":2`) {
		t.Errorf("event %+v, want y with a = 2", ev)
	}
	// The stream goes on.
	s.MustPut(t, "sa", "z", map[string]any{"b": 3})
	if ev := nextEvent(t, events); !strings.Contains(ev.data, `"id":"z"`) {
		t.Errorf("event %+v, want z", ev)
	}
}

// A gob envelope that is framed and typed soundly but that gob's checks
// refuse, such as one setting a field the version lacks or holding a
// string that is not UTF-8, is rejected alone, as in every other stream
// format: the envelopes after it are imported. That holds for the first
// envelope too, which decides the stream's version.
func TestGobImportRejectsARefusedEnvelopeAlone(t *testing.T) {
	t.Parallel()
	type extraEnvelope struct {
		Id   string
		Data gobItem
		Foo  string
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	item := func(name string) gobItem {
		return gobItem{Name: name, Qty: 1, PlacedAt: &at, Lines: []gobLine{{Qty: 1, Sku: "a"}}, Attrs: map[string]string{"k": "v"}}
	}
	for _, tc := range []struct {
		name     string
		envs     []extraEnvelope
		accepted []string
		refused  []int
	}{
		{"an unknown field in the middle", []extraEnvelope{{Id: "m-1", Data: item("a")}, {Id: "m-2", Data: item("b"), Foo: "bar"}, {Id: "m-3", Data: item("c")}},
			[]string{"m-1", "m-3"}, []int{1}},
		{"invalid UTF-8 in the middle", []extraEnvelope{{Id: "u-1", Data: item("a")}, {Id: "u-2", Data: item("b\xff")}, {Id: "u-3", Data: item("c")}},
			[]string{"u-1", "u-3"}, []int{1}},
		{"an unknown field first", []extraEnvelope{{Id: "f-1", Data: item("a"), Foo: "bar"}, {Id: "f-2", Data: item("b")}},
			[]string{"f-2"}, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newItemServer(t)
			var stream bytes.Buffer
			enc := gob.NewEncoder(&stream)
			for _, e := range tc.envs {
				if err := enc.Encode(e); err != nil {
					t.Fatal(err)
				}
			}
			importSummary(t, s.Send(t, http.MethodPost, "/v1/records/item/_import", stream.Bytes(), "Content-Type", "application/gob-stream"),
				len(tc.accepted), len(tc.refused), tc.refused...)
			for _, id := range tc.accepted {
				s.Get(t, "/v1/records/item/"+id).MustStatus(t, 200)
			}
		})
	}
}

// When every version refuses a version-1 gob stream's first envelope, the
// next envelope decides the stream's version, so that the rest is read at
// version 1 and not refused, or stored without version 2's fields, at the
// latest.
func TestGobImportDecidesItsVersionPastRefusedEnvelopes(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustRegister(t, itemV2)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var stream bytes.Buffer
	enc := gob.NewEncoder(&stream)
	for i, name := range []string{"bad\xff", "also bad\xfe", "good", "fine"} {
		env := gobEnvelope{Id: fmt.Sprintf("v1-%d", i), Data: gobItem{Name: name, Qty: 7, PlacedAt: &at, Attrs: map[string]string{"k": "v"}}}
		if err := enc.Encode(env); err != nil {
			t.Fatal(err)
		}
	}
	importSummary(t, s.Send(t, http.MethodPost, "/v1/records/item/_import", stream.Bytes(), "Content-Type", "application/gob-stream"), 2, 2, 0, 1)
	for _, id := range []string{"v1-2", "v1-3"} {
		got := s.Get(t, "/v1/records/item/"+id, "Accept", "application/json; version=1").MustStatus(t, 200).JSON(t)
		if num(t, got, "qty") != 7 {
			t.Errorf("%s read at version 1: %v, want qty 7", id, got)
		}
	}
}

// A JSON text sequence marks where each text starts, so a text that does
// not parse, or that lacks its closing line feed, is rejected alone and
// the texts after it are imported (RFC 7464 §2.3); so are bytes before
// the first record separator.
func TestImportJSONSeqSkipsBrokenText(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	body := "junk\n" +
		"\x1e{\"id\":\"s1\",\"data\":{\"name\":\"a\",\"qty\":1}}\n" +
		"\x1e{\"id\":\"s2\",\"data\":{\"name\":\"b\",\"qty\":2\n" +
		"\x1e{\"id\":\"s3\",\"data\":{\"name\":\"c\",\"qty\":3}}" +
		"\x1e{\"id\":\"s4\",\"data\":{\"name\":\"d\",\"qty\":4}}\n"
	r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/item/_import", Body: []byte(body),
		Header: hdr("Content-Type", "application/json-seq"), Lax: true})
	importSummary(t, r, 2, 3, 0, 2, 3)
	s.Get(t, "/v1/records/item/s4").MustStatus(t, http.StatusOK)
	s.Get(t, "/v1/records/item/s3").MustStatus(t, http.StatusNotFound)
}
