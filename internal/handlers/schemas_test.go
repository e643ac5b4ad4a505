package handlers_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitJob polls a job until it ends and returns its last state.
func waitJob(tb testing.TB, s *Server, path string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		job := s.Get(tb, path).MustStatus(tb, 200).JSON(tb)
		switch str(job, "state") {
		case "succeeded", "failed":
			return job
		case "queued", "running":
		default:
			tb.Fatalf("job state %q, want queued, running, succeeded or failed", str(job, "state"))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("job %s still %s after 30 s", path, str(job, "state"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSchemaLifecycle(t *testing.T) {
	t.Parallel()
	s := MustServer(t)

	// Register version 1.
	r := s.Send(t, http.MethodPost, "/v1/schemas", []byte(itemV1), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	if loc := r.Header.Get("Location"); loc != "/v1/schemas/item/versions/1" {
		t.Errorf("register v1: Location %q, want /v1/schemas/item/versions/1", loc)
	}
	def := r.JSON(t)
	if str(def, "name") != "item" || num(t, def, "version") != 1 {
		t.Errorf("register v1: body name %v version %v, want item 1", def["name"], def["version"])
	}

	// The list counts records.
	list := s.Get(t, "/v1/schemas").MustStatus(t, 200).JSON(t)
	if got := objects(list, "schemas"); len(got) != 1 || num(t, got[0], "record_count") != 0 ||
		num(t, got[0], "latest_version") != 1 || str(got[0], "compatibility") != "BACKWARD" {
		t.Errorf("GET /v1/schemas = %v, want item at version 1, BACKWARD, 0 records", list)
	}
	s.MustPut(t, "item", "r1", sample("one", 1))
	s.MustPut(t, "item", "r2", sample("two", 2))
	list = s.Get(t, "/v1/schemas").MustStatus(t, 200).JSON(t)
	if got := objects(list, "schemas"); len(got) != 1 || num(t, got[0], "record_count") != 2 {
		t.Errorf("GET /v1/schemas after two writes = %v, want record_count 2", list)
	}

	// One schema, its versions.
	detail := s.Get(t, "/v1/schemas/item").MustStatus(t, 200).JSON(t)
	if str(detail, "name") != "item" || str(detail, "compatibility") != "BACKWARD" || len(objects(detail, "versions")) != 1 {
		t.Errorf("GET /v1/schemas/item = %v", detail)
	}

	// A dry run of version 2 stores nothing.
	r = s.Send(t, http.MethodPost, "/v1/schemas?dry_run=true", []byte(itemV2), "Content-Type", "application/json").MustStatus(t, 200)
	if r.Header.Get("Location") != "" {
		t.Errorf("dry run: Location %q, want none", r.Header.Get("Location"))
	}
	if n := len(objects(s.Get(t, "/v1/schemas/item").JSON(t), "versions")); n != 1 {
		t.Fatalf("after a dry run the schema has %d versions, want 1", n)
	}
	s.Get(t, "/v1/schemas/item/versions/2").Problem(t, 404)

	// Version 2 renames qty to quantity and adds sku.
	r = s.Send(t, http.MethodPost, "/v1/schemas", []byte(itemV2), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	if loc := r.Header.Get("Location"); loc != "/v1/schemas/item/versions/2" {
		t.Errorf("register v2: Location %q", loc)
	}
	versions := objects(s.Get(t, "/v1/schemas/item").JSON(t), "versions")
	if len(versions) != 2 || num(t, versions[0], "version") != 1 || num(t, versions[1], "version") != 2 {
		t.Errorf("versions = %v, want 1 then 2", versions)
	}

	// An old record reads at both versions.
	v2 := s.Get(t, "/v1/records/item/r1").MustStatus(t, 200)
	if _, p := mediaType(t, v2.Header.Get("Content-Type")); p["version"] != "2" {
		t.Errorf("GET without a version: Content-Type %q, want version=2", v2.Header.Get("Content-Type"))
	}
	m := v2.JSON(t)
	if num(t, m, "quantity") != 1 || str(m, "sku") != "none" || m["qty"] != nil {
		t.Errorf("r1 at v2 = %v, want quantity 1, sku none, no qty", m)
	}
	v1 := s.Get(t, "/v1/records/item/r1", "Accept", "application/json; version=1").MustStatus(t, 200)
	if _, p := mediaType(t, v1.Header.Get("Content-Type")); p["version"] != "1" {
		t.Errorf("GET version=1: Content-Type %q", v1.Header.Get("Content-Type"))
	}
	if m := v1.JSON(t); num(t, m, "qty") != 1 || m["quantity"] != nil || m["sku"] != nil {
		t.Errorf("r1 at v1 = %v, want qty 1 and no v2 fields", m)
	}
	if v1.Header.Get("ETag") == v2.Header.Get("ETag") {
		t.Errorf("versions 1 and 2 share ETag %s", v1.Header.Get("ETag"))
	}

	// A v2 client sets sku; a v1 client's PUT keeps it (lossless).
	withSku := map[string]any{"name": "one", "quantity": 5, "sku": "SKU-9", "lines": []any{}, "attrs": map[string]any{}}
	s.SendJSON(t, http.MethodPut, "/v1/records/item/r1", withSku).MustStatus(t, 200)
	old := sample("one-renamed", 7)
	r = s.SendJSON(t, http.MethodPut, "/v1/records/item/r1", old, "Content-Type", "application/json; version=1").MustStatus(t, 200)
	if _, p := mediaType(t, r.Header.Get("Content-Type")); p["version"] != "1" {
		t.Errorf("v1 PUT answered at Content-Type %q, want version=1 (the version written)", r.Header.Get("Content-Type"))
	}
	if m := r.JSON(t); num(t, m, "qty") != 7 {
		t.Errorf("v1 PUT answer = %v, want qty 7", m)
	}
	m = s.Get(t, "/v1/records/item/r1").MustStatus(t, 200).JSON(t)
	if str(m, "sku") != "SKU-9" || num(t, m, "quantity") != 7 || str(m, "name") != "one-renamed" {
		t.Errorf("after a v1 PUT, r1 at v2 = %v; want sku SKU-9 kept, quantity 7, name one-renamed", m)
	}
	// A v1 body validated at v1: errors name v1 fields.
	bad := sample("", 0)
	p := s.SendJSON(t, http.MethodPut, "/v1/records/item/r1", bad, "Content-Type", "application/json; version=1").Problem(t, 422)
	var fields []string
	for _, e := range objects(p, "errors") {
		fields = append(fields, str(e, "field"))
	}
	if !slices.Contains(fields, "qty") || !slices.Contains(fields, "name") {
		t.Errorf("v1 body with name \"\" and qty 0: error fields %v, want name and qty", fields)
	}

	// The changelog in words.
	cl := s.Get(t, "/v1/schemas/item/changelog").MustStatus(t, 200).JSON(t)
	entries := objects(cl, "versions")
	if str(cl, "schema") != "item" || len(entries) != 2 {
		t.Fatalf("changelog = %v, want two versions", cl)
	}
	if got := strs(entries[0], "changes"); num(t, entries[0], "version") != 1 || !slices.Equal(got, []string{"created"}) {
		t.Errorf("changelog v1 = %v, want [created]", entries[0])
	}
	words := strings.Join(strs(entries[1], "changes"), "; ")
	if num(t, entries[1], "version") != 2 || !strings.Contains(words, "renamed qty to quantity") || !strings.Contains(words, "sku") {
		t.Errorf("changelog v2 = %q, want \"renamed qty to quantity\" and the added sku", words)
	}

	// Compatibility mode.
	r = s.SendJSON(t, http.MethodPut, "/v1/schemas/item/compatibility", map[string]any{"compatibility": "FULL"}).MustStatus(t, 200)
	if str(r.JSON(t), "compatibility") != "FULL" {
		t.Errorf("PUT compatibility FULL answered %s", r.Body)
	}
	if str(s.Get(t, "/v1/schemas/item").JSON(t), "compatibility") != "FULL" {
		t.Errorf("compatibility not stored")
	}
	s.SendJSON(t, http.MethodPut, "/v1/schemas/item/compatibility", map[string]any{"compatibility": "SIDEWAYS"}).Problem(t, 400)
	s.SendJSON(t, http.MethodPut, "/v1/schemas/nope/compatibility", map[string]any{"compatibility": "FULL"}).Problem(t, 404)

	// Deprecation marks requests and responses that use the version.
	sunset := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	r = s.SendJSON(t, http.MethodPatch, "/v1/schemas/item/versions/1",
		map[string]any{"deprecated": true, "sunset": sunset.Format(time.RFC3339)}).MustStatus(t, 200)
	if m := r.JSON(t); m["deprecated"] != true {
		t.Errorf("PATCH deprecated answered %v, want deprecated true", m)
	}
	depRe := regexp.MustCompile(`^@[0-9]+$`)
	// refusedAt checks that an invalid record was refused with 422, then
	// passes the answer on as a success: its headers are what is checked.
	refusedAt := func(t *testing.T, r *Resp) *Resp {
		t.Helper()
		if r.Status != 422 {
			t.Fatalf("%s %s of an invalid record at v1: status %d, want 422", r.call.Method, r.call.Path, r.Status)
		}
		r.Status = 200
		return r
	}
	wantSunset := sunset.Format(http.TimeFormat)
	deprecatedUses := []struct {
		name string
		do   func() *Resp
	}{
		{"GET at v1", func() *Resp {
			return s.Get(t, "/v1/records/item/r1", "Accept", "application/json; version=1")
		}},
		{"GET cbor at v1", func() *Resp {
			return s.Get(t, "/v1/records/item/r1", "Accept", "application/cbor; version=1")
		}},
		{"PUT at v1", func() *Resp {
			return s.SendJSON(t, http.MethodPut, "/v1/records/item/r2", sample("two", 2), "Content-Type", "application/json; version=1")
		}},
		{"list at v1", func() *Resp {
			return s.Get(t, "/v1/records/item", "Accept", "application/json; version=1")
		}},
		{"schema version", func() *Resp { return s.Get(t, "/v1/schemas/item/versions/1") }},
		{"history with data at v1", func() *Resp {
			return s.Get(t, "/v1/records/item/r1/_history?include=data", "Accept", "application/json; version=1")
		}},
		{"changes with data at v1", func() *Resp {
			return s.Get(t, "/v1/records/item/_changes?include=data", "Accept", "application/json; version=1")
		}},
		{"import at v1", func() *Resp {
			return s.Send(t, http.MethodPost, "/v1/records/item/_import", importLine(t, "r3", sample("three", 3), 0),
				"Content-Type", "application/jsonl; version=1")
		}},
		{"refused PUT at v1", func() *Resp {
			return refusedAt(t, s.SendJSON(t, http.MethodPut, "/v1/records/item/r9", sample("", 0), "Content-Type", "application/json; version=1"))
		}},
		{"refused conversion at v1", func() *Resp {
			return refusedAt(t, s.SendJSON(t, http.MethodPost, "/v1/convert?schema=item", sample("", 0), "Content-Type", "application/json; version=1"))
		}},
		{"import of an envelope at v1", func() *Resp {
			return s.Send(t, http.MethodPost, "/v1/records/item/_import", importLine(t, "r4", sample("four", 4), 1),
				"Content-Type", "application/jsonl")
		}},
	}
	for _, u := range deprecatedUses {
		t.Run("deprecated "+u.name, func(t *testing.T) {
			r := u.do()
			if r.Status >= 300 {
				t.Fatalf("%s: status %d\n%s", u.name, r.Status, r)
			}
			if d := r.Header.Get("Deprecation"); !depRe.MatchString(d) {
				t.Errorf("%s: Deprecation %q, want @<unix seconds>", u.name, d)
			}
			if got := r.Header.Get("Sunset"); got != wantSunset {
				t.Errorf("%s: Sunset %q, want %q", u.name, got, wantSunset)
			}
		})
	}
	if d := s.Get(t, "/v1/records/item/r1").Header.Get("Deprecation"); d != "" {
		t.Errorf("GET at v2 carries Deprecation %q; only v1 is deprecated", d)
	}
	if d := s.Get(t, "/v1/records/item/r1/_history", "Accept", "application/json; version=1").Header.Get("Deprecation"); d != "" {
		t.Errorf("history without data carries Deprecation %q; it serves no record at v1", d)
	}

	// Migrate rewrites every record in the background.
	r = s.Send(t, http.MethodPost, "/v1/schemas/item/_migrate", nil).MustStatus(t, http.StatusAccepted)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/v1/jobs/") {
		t.Fatalf("_migrate Location %q", loc)
	}
	if j := r.JSON(t); str(j, "kind") != "migrate" || str(j, "schema") != "item" || "/v1/jobs/"+str(j, "id") != loc {
		t.Errorf("_migrate body = %v, want kind migrate, schema item, id matching %s", j, loc)
	}
	job := waitJob(t, s, loc)
	if str(job, "state") != "succeeded" || num(t, job, "done") != num(t, job, "total") || num(t, job, "total") != 4 || num(t, job, "errors") != 0 {
		t.Errorf("migration job = %v, want succeeded with done == total == 4 (two written, two imported), no errors", job)
	}
	if job["started_at"] == nil || job["finished_at"] == nil {
		t.Errorf("finished job = %v, want started_at and finished_at", job)
	}
	s.Get(t, "/v1/jobs/no-such-job").Problem(t, 404)
	s.Send(t, http.MethodPost, "/v1/schemas/nope/_migrate", nil).Problem(t, 404)
}

func TestSchemaVersionRepresentations(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, itemV1)
	tests := []struct {
		accept     string
		wantStatus int
		wantType   string
		check      func(t *testing.T, r *Resp)
	}{
		{"", 200, "application/json", func(t *testing.T, r *Resp) {
			if m := r.JSON(t); str(m, "name") != "item" || m["fields"] == nil {
				t.Errorf("definition = %v", m)
			}
		}},
		{"application/json", 200, "application/json", nil},
		{"application/schema+json", 200, "application/schema+json", func(t *testing.T, r *Resp) {
			m := r.JSON(t)
			if str(m, "$schema") != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %v, want the 2020-12 dialect", m["$schema"])
			}
			if !slices.Contains(strs(m, "required"), "qty") {
				t.Errorf("JSON Schema required = %v, want qty", m["required"])
			}
		}},
		{"text/x-go", 200, "text/x-go", func(t *testing.T, r *Resp) {
			src := string(r.Body)
			for _, want := range []string{"type Item struct", "PlacedAt", "*time.Time", "Qty ", "int64", "Lines "} {
				if !strings.Contains(src, want) {
					t.Errorf("Go source lacks %q:\n%s", want, src)
				}
			}
		}},
		{"application/cbor", 406, "", nil},
		{"text/html", 406, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.accept, func(t *testing.T) {
			t.Parallel()
			r := s.Get(t, "/v1/schemas/item/versions/1", "Accept", tc.accept)
			if r.Status != tc.wantStatus {
				t.Fatalf("Accept %q: status %d, want %d\n%s", tc.accept, r.Status, tc.wantStatus, r)
			}
			if tc.wantStatus != 200 {
				return
			}
			if mt, _ := mediaType(t, r.Header.Get("Content-Type")); mt != tc.wantType {
				t.Errorf("Accept %q: Content-Type %q, want %s", tc.accept, r.Header.Get("Content-Type"), tc.wantType)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	for _, path := range []string{"/v1/schemas", "/v1/schemas/item", "/v1/schemas/item/changelog"} {
		t.Run("json only "+path, func(t *testing.T) {
			t.Parallel()
			s.Get(t, path, "Accept", "application/cbor").Problem(t, 406)
		})
	}
}

func TestSchemaRegistrationRefusals(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, itemV1)
	tests := []struct {
		name          string
		def           string
		wantStatus    int
		wantViolation string // a word the violations must contain
	}{
		{"version not next", strings.Replace(itemV2, `"version": 2`, `"version": 3`, 1), 409, ""},
		{"version 1 again", itemV1, 409, ""},
		{"new name must start at 1", `{"name":"other","version":2,"fields":{"a":{"type":"string"}}}`, 409, ""},
		{"field disappears silently", `{"name":"item","version":2,"fields":{"name":{"type":"string"}},
			"migrate":[]}`, 409, "qty"},
		{"field appears silently", strings.Replace(itemV2, `{"op": "add", "field": "sku", "default": "none"}`, `{"op": "add", "field": "note2", "default": "x"}`, 1), 409, "sku"},
		{"unknown rule", `{"name":"bad","version":1,"fields":{"a":{"type":"string","validate":"no_such_rule"}}}`, 400, ""},
		{"unknown type", `{"name":"bad","version":1,"fields":{"a":{"type":"decimal"}}}`, 400, ""},
		{"bad field name", `{"name":"bad","version":1,"fields":{"A":{"type":"string"}}}`, 400, ""},
		{"go name clash", `{"name":"bad","version":1,"fields":{"a1":{"type":"string"},"a_1":{"type":"string"}}}`, 400, ""},
		{"unknown member", `{"name":"bad","version":1,"fields":{},"colour":"red"}`, 400, ""},
		{"not JSON", `{"name":`, 400, ""},
		{"compatibility differs", strings.Replace(itemV2, `"version": 2,`, `"version": 2, "compatibility": "NONE",`, 1), 409, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, q := range []string{"?dry_run=true", ""} {
				r := s.Send(t, http.MethodPost, "/v1/schemas"+q, []byte(tc.def), "Content-Type", "application/json")
				p := r.Problem(t, tc.wantStatus)
				if tc.wantStatus == 409 {
					v := strs(p, "violations")
					if len(v) == 0 {
						t.Errorf("409%s without violations: %v", q, p)
					}
					if tc.wantViolation != "" && !strings.Contains(strings.Join(v, " "), tc.wantViolation) {
						t.Errorf("violations %q, want one about %s", v, tc.wantViolation)
					}
				}
				if tc.wantStatus == 400 && len(strs(p, "errors")) == 0 {
					t.Errorf("400%s without errors: %v", q, p)
				}
			}
		})
	}
	if n := len(objects(s.Get(t, "/v1/schemas/item").JSON(t), "versions")); n != 1 {
		t.Errorf("after refused registrations item has %d versions, want 1", n)
	}
}

func TestCompatibilityBreakListsViolations(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, `{"name":"stock","version":1,"compatibility":"FORWARD","fields":{"qty":{"type":"int"}}}`)
	// FORWARD refuses every retype: it cannot be inverted for every value.
	def := `{"name":"stock","version":2,"fields":{"qty":{"type":"float"}},"migrate":[{"op":"retype","field":"qty","to":"float"}]}`
	p := s.Send(t, http.MethodPost, "/v1/schemas", []byte(def), "Content-Type", "application/json").Problem(t, 409)
	v := strs(p, "violations")
	if len(v) == 0 || !strings.Contains(strings.Join(v, " "), "qty") {
		t.Errorf("FORWARD retype: violations %q, want one naming qty", v)
	}
	// Under NONE the same step registers.
	s.SendJSON(t, http.MethodPut, "/v1/schemas/stock/compatibility", map[string]any{"compatibility": "NONE"}).MustStatus(t, 200)
	s.Send(t, http.MethodPost, "/v1/schemas", []byte(def), "Content-Type", "application/json").MustStatus(t, 201)
}

func TestSchemaNotFound(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, itemV1)
	for _, path := range []string{
		"/v1/schemas/nope", "/v1/schemas/nope/versions/1", "/v1/schemas/item/versions/9",
		"/v1/schemas/nope/changelog", "/v1/records/nope", "/v1/records/nope/x", "/v1/records/nope/_export",
		"/v1/records/nope/_changes", "/v1/records/nope/x/_history", "/v1/jobs/nope", "/v1/nothing", "/nothing",
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			s.Get(t, path).Problem(t, 404)
		})
	}
}

// importLine is one JSON Lines envelope of data at id, naming version
// unless it is 0.
func importLine(t *testing.T, id string, data any, version int) []byte {
	t.Helper()
	env := map[string]any{"id": id, "data": data}
	if version != 0 {
		env["version"] = version
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestStrictParameters refuses a second spelling of a version in a path
// and an empty schema on /v1/convert.
func TestStrictParameters(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.Get(t, "/v1/schemas/item/versions/1").MustStatus(t, 200)
	for _, v := range []string{"01", "+1", "1.0", "0"} {
		s.Get(t, "/v1/schemas/item/versions/"+v).Problem(t, 400)
	}
	s.Send(t, http.MethodPost, "/v1/convert?schema=", []byte(`{"name":"a","qty":1}`), "Content-Type", "application/json").Problem(t, 400)
}

// TestSchemaRoutesListErrors checks that every 400 of a schema or job
// route lists "errors", as registration's do.
func TestSchemaRoutesListErrors(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	for _, r := range []*Resp{
		s.Get(t, "/v1/schemas/item/versions/abc"),
		s.SendJSON(t, http.MethodPatch, "/v1/schemas/item/versions/1", map[string]any{"deprecated": "yes"}),
		s.SendJSON(t, http.MethodPut, "/v1/schemas/item/compatibility", map[string]any{"mode": "FULL"}),
		s.Send(t, http.MethodPost, "/v1/schemas?dry_run=maybe", []byte(itemV2), "Content-Type", "application/json"),
	} {
		p := r.Problem(t, 400)
		if errs := strs(p, "errors"); len(errs) == 0 || errs[0] == "" {
			t.Errorf("400 %v, want an errors list", p)
		}
	}
}

// TestMigrateHistory checks that a record the migration job rewrites gets
// a history entry at the version the job wrote it, the latest.
func TestMigrateHistory(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	s.MustPut(t, "item", "old", sample("old", 1))
	s.MustRegister(t, itemV2)
	job := waitJob(t, s, s.Send(t, http.MethodPost, "/v1/schemas/item/_migrate", nil).MustStatus(t, http.StatusAccepted).Header.Get("Location"))
	if str(job, "state") != "succeeded" || num(t, job, "done") != 1 {
		t.Fatalf("migration job = %v, want succeeded with one record done", job)
	}
	revs := objects(s.Get(t, "/v1/records/item/old/_history").MustStatus(t, 200).JSON(t), "revisions")
	if len(revs) != 2 || str(revs[0], "op") != "replace" || num(t, revs[0], "version") != 2 || num(t, revs[1], "version") != 1 {
		t.Errorf("history after the migration = %v, want a replace at version 2 over the create at 1", revs)
	}
}

// TestDefinitionKeepsExactDefaults registers int defaults beyond 2^53:
// the definition comes back with them exact, as registered, so that it
// can be registered (or loaded from a file) again as the same.
func TestDefinitionKeepsExactDefaults(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	def := `{"name":"big","version":1,"fields":{"a":{"type":"int","default":9007199254740993},"b":{"type":"int","default":-9223372036854775808}}}`
	reg := s.Send(t, http.MethodPost, "/v1/schemas", []byte(def), "Content-Type", "application/json").MustStatus(t, http.StatusCreated)
	for _, r := range []*Resp{reg, s.Get(t, "/v1/schemas/big/versions/1"), s.Get(t, "/v1/schemas/big")} {
		for _, want := range []string{`"default":9007199254740993`, `"default":-9223372036854775808`} {
			if !strings.Contains(string(r.Body), want) {
				t.Errorf("definition %s lacks %s", r.Body, want)
			}
		}
	}
	// What was served registers again as the next version.
	again := strings.Replace(string(s.Get(t, "/v1/schemas/big/versions/1").Body), `"version":1`, `"version":2`, 1)
	s.Send(t, http.MethodPost, "/v1/schemas?dry_run=true", []byte(again), "Content-Type", "application/json").MustStatus(t, http.StatusOK)
}

// A listing refused at a deprecated version, because one of its records
// cannot be shown there, still says the version is deprecated, and names
// the record it could not show. A change list is not refused: the change
// whose record cannot be shown carries null data and an error, so that a
// client reads past it, as an event stream does.
func TestRefusedListingAtDeprecatedVersion(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	registerNum(t, s)
	s.MustPut(t, "num", "whole", map[string]any{"n": 7.0})
	s.MustPut(t, "num", "half", map[string]any{"n": 7.5})
	s.SendJSON(t, http.MethodPatch, "/v1/schemas/num/versions/1", map[string]any{"deprecated": true}).MustStatus(t, 200)
	for _, path := range []string{"/v1/records/num", "/v1/records/num/half", "/v1/records/num/half/_history?include=data"} {
		r := s.Get(t, path, "Accept", "application/json; version=1")
		p := r.Problem(t, http.StatusNotAcceptable)
		if r.Header.Get("Deprecation") == "" {
			t.Errorf("GET %s at deprecated version 1, refused: no Deprecation", path)
		}
		if !strings.Contains(str(p, "detail"), "half") || str(p, "id") != "half" {
			t.Errorf("GET %s at version 1: problem %v, want one naming record half", path, p)
		}
	}
	r := s.Get(t, "/v1/records/num/_changes?include=data", "Accept", "application/json; version=1").MustStatus(t, http.StatusOK)
	if r.Header.Get("Deprecation") == "" {
		t.Errorf("change list at deprecated version 1: no Deprecation")
	}
	changes := objects(r.JSON(t), "changes")
	if len(changes) != 2 {
		t.Fatalf("change list at version 1 = %s, want both changes", r.Body)
	}
	for _, c := range changes {
		switch str(c, "id") {
		case "whole":
			if c["data"] == nil || c["error"] != nil {
				t.Errorf("change of whole at version 1 = %v, want its data and no error", c)
			}
		case "half":
			if c["data"] != nil || !strings.Contains(str(c, "error"), "7.5") {
				t.Errorf("change of half at version 1 = %v, want null data and an error naming the value", c)
			}
		}
	}
}

// _migrate takes no parameter but pretty: one it does not take, such as
// the dry_run of a registration, is a 400 that starts no job, since a job
// rewrites every record.
func TestMigrateRefusesParameters(t *testing.T) {
	t.Parallel()
	s := newItemServer(t)
	p := s.Send(t, http.MethodPost, "/v1/schemas/item/_migrate?dry_run=true", nil).Problem(t, http.StatusBadRequest)
	if !strings.Contains(str(p, "detail"), "dry_run") {
		t.Errorf("400 detail %q does not name the parameter", str(p, "detail"))
	}
	s.Send(t, http.MethodPost, "/v1/schemas/item/_migrate?pretty=true", nil).MustStatus(t, http.StatusAccepted)
}
