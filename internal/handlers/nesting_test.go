package handlers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// deepObjects is how many objects a schema may nest below its record:
// with the record's own map, the deepest nesting a body may have
// (API.md §1 and §2).
const deepObjects = 31

// deepSchema defines a schema whose record holds objects nested objects
// deep, the innermost with an int and a time.
func deepSchema(name string, objects int) string {
	fields := `{"v": {"type": "int"}, "at": {"type": "time"}}`
	for range objects {
		fields = `{"n": {"type": "object", "fields": ` + fields + `}}`
	}
	return `{"name": "` + name + `", "version": 1, "fields": ` + fields + `}`
}

// deepRecord returns a record of deepSchema(objects) whose innermost
// object is inner.
func deepRecord(objects int, inner map[string]any) map[string]any {
	rec := inner
	for range objects {
		rec = map[string]any{"n": rec}
	}
	return rec
}

func TestExportOfDeepestRecordImports(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, deepSchema("deep", deepObjects))
	rec := deepRecord(deepObjects, map[string]any{"v": 7, "at": sampleTime})
	s.MustPut(t, "deep", "r1", rec)
	want := s.Get(t, "/v1/records/deep/r1").MustStatus(t, 200).Body
	for i, mt := range streamTypes {
		t.Run(mt, func(t *testing.T) {
			t.Parallel()
			into := fmt.Sprintf("deep_%d", i)
			s.MustRegister(t, deepSchema(into, deepObjects))
			export := s.Get(t, "/v1/records/deep/_export", "Accept", mt).MustStatus(t, 200)
			r := s.Send(t, http.MethodPost, "/v1/records/"+into+"/_import", export.Body, "Content-Type", mt)
			importSummary(t, r, 1, 0)
			got := s.Get(t, "/v1/records/"+into+"/r1").MustStatus(t, 200).Body
			if !bytes.Equal(got, want) {
				t.Errorf("record imported from a %s export\n got %s\nwant %s", mt, got, want)
			}
		})
	}
}

func TestRecordNestedTooDeep(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, deepSchema("deep", deepObjects))
	// One map more at the bottom: 33 levels.
	tooDeep := deepRecord(deepObjects, map[string]any{"v": map[string]any{"v": 1}, "at": sampleTime})
	t.Run("body", func(t *testing.T) {
		t.Parallel()
		p := s.SendJSON(t, http.MethodPut, "/v1/records/deep/r1", tooDeep).Problem(t, 400)
		if detail, _ := p["detail"].(string); !strings.Contains(detail, "nested deeper than 32 levels") || p["offset"] == nil {
			t.Errorf("PUT of a record nested 33 deep: problem %v, want the depth limit and the offset", p)
		}
	})
	for _, mt := range streamTypes {
		if strings.Contains(mt, "gob") {
			// A gob stream's values have the schema's own type, which
			// cannot nest deeper than the schema.
			continue
		}
		t.Run("import "+mt, func(t *testing.T) {
			t.Parallel()
			body := encodeStream(t, mt, []map[string]any{{"id": "too-deep", "data": tooDeep}})
			// The envelope breaks the contract, yet the import answers
			// 200, rejecting it alone.
			r := s.Do(t, Call{Method: http.MethodPost, Path: "/v1/records/deep/_import", Body: body,
				Header: hdr("Content-Type", mt), Lax: true})
			m := importSummary(t, r, 0, 1, 0)
			for _, e := range objects(m, "errors") {
				p, _ := e["problem"].(map[string]any)
				if detail, _ := p["detail"].(string); num(t, p, "status") != 400 || !strings.Contains(detail, "nested deeper") || p["offset"] == nil {
					t.Errorf("import of a record nested 33 deep as %s: problem %v, want a 400 naming the depth and the offset", mt, p)
				}
			}
		})
	}
}
