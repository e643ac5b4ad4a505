package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"sigs.k8s.io/yaml"
)

const problemJSON = "application/problem+json"

// Media types of a single record, in the service's order.
var recordTypes = []string{
	"application/json",
	"application/vnd.msgpack", "application/msgpack", "application/x-msgpack",
	"application/cbor",
	"application/gob", "application/x-gob",
}

// Media types of export and import streams.
var streamTypes = []string{
	"application/jsonl", "application/x-ndjson",
	"application/json-seq",
	"application/cbor-seq",
	"application/vnd.msgpack-seq",
	"application/gob-stream", "application/x-gob-stream",
}

// route is one operation of the HTTP contract.
type route struct {
	method, path, operationID string
	// secured reports whether the route accepts a bearer key; every such
	// route also works without one when the service runs open.
	secured bool
}

// routes lists every operation the HTTP contract names, HEAD included for
// every GET.
var routes = []route{
	{http.MethodGet, "/healthz", "healthz", false},
	{http.MethodHead, "/healthz", "headHealthz", false},
	{http.MethodGet, "/readyz", "readyz", false},
	{http.MethodHead, "/readyz", "headReadyz", false},
	{http.MethodGet, "/metrics", "metrics", true},
	{http.MethodHead, "/metrics", "headMetrics", true},
	{http.MethodGet, "/openapi.yaml", "openapiYaml", false},
	{http.MethodHead, "/openapi.yaml", "headOpenapiYaml", false},
	{http.MethodGet, "/openapi.json", "openapiJson", false},
	{http.MethodHead, "/openapi.json", "headOpenapiJson", false},
	{http.MethodGet, "/v1/openapi.json", "openapiTyped", true},
	{http.MethodHead, "/v1/openapi.json", "headOpenapiTyped", true},
	{http.MethodGet, "/docs", "docs", false},
	{http.MethodHead, "/docs", "headDocs", false},
	{http.MethodPost, "/v1/convert", "convert", true},

	{http.MethodGet, "/v1/schemas", "listSchemas", true},
	{http.MethodHead, "/v1/schemas", "headSchemas", true},
	{http.MethodPost, "/v1/schemas", "registerSchema", true},
	{http.MethodGet, "/v1/schemas/{name}", "getSchema", true},
	{http.MethodHead, "/v1/schemas/{name}", "headSchema", true},
	{http.MethodGet, "/v1/schemas/{name}/versions/{version}", "getSchemaVersion", true},
	{http.MethodHead, "/v1/schemas/{name}/versions/{version}", "headSchemaVersion", true},
	{http.MethodPatch, "/v1/schemas/{name}/versions/{version}", "deprecateSchemaVersion", true},
	{http.MethodPut, "/v1/schemas/{name}/compatibility", "setCompatibility", true},
	{http.MethodGet, "/v1/schemas/{name}/changelog", "getChangelog", true},
	{http.MethodHead, "/v1/schemas/{name}/changelog", "headChangelog", true},
	{http.MethodPost, "/v1/schemas/{name}/_migrate", "migrateSchema", true},
	{http.MethodGet, "/v1/jobs/{id}", "getJob", true},
	{http.MethodHead, "/v1/jobs/{id}", "headJob", true},

	{http.MethodGet, "/v1/records/{schema}", "listRecords", true},
	{http.MethodHead, "/v1/records/{schema}", "headRecords", true},
	{http.MethodPost, "/v1/records/{schema}", "createRecord", true},
	{http.MethodPut, "/v1/records/{schema}/{id}", "putRecord", true},
	{http.MethodGet, "/v1/records/{schema}/{id}", "getRecord", true},
	{http.MethodHead, "/v1/records/{schema}/{id}", "headRecord", true},
	{http.MethodPatch, "/v1/records/{schema}/{id}", "patchRecord", true},
	{http.MethodDelete, "/v1/records/{schema}/{id}", "deleteRecord", true},
	{http.MethodGet, "/v1/records/{schema}/_export", "exportRecords", true},
	{http.MethodHead, "/v1/records/{schema}/_export", "headExportRecords", true},
	{http.MethodPost, "/v1/records/{schema}/_import", "importRecords", true},
	{http.MethodGet, "/v1/records/{schema}/{id}/_history", "getRecordHistory", true},
	{http.MethodHead, "/v1/records/{schema}/{id}/_history", "headRecordHistory", true},
	{http.MethodGet, "/v1/records/{schema}/_changes", "getChanges", true},
	{http.MethodHead, "/v1/records/{schema}/_changes", "headChanges", true},
}

// mustLoadDoc parses the embedded document; it does not validate it, so
// that each test reports its own findings even when another part is wrong.
func mustLoadDoc(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIYAML)
	if err != nil {
		tb.Fatalf("load api/openapi.yaml: %v", err)
	}
	return doc
}

// mustOperation returns the operation with the given id and its path item.
func mustOperation(tb testing.TB, doc *openapi3.T, operationID string) (string, *openapi3.PathItem, *openapi3.Operation) {
	tb.Helper()
	for path, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == operationID {
				return path, item, op
			}
		}
	}
	tb.Fatalf("operation %q: not in the document", operationID)
	return "", nil, nil
}

func TestDocumentValidates(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want %q", doc.OpenAPI, "3.0.3")
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		var urls []string
		for _, s := range doc.Servers {
			urls = append(urls, s.URL)
		}
		t.Errorf("servers = %q, want exactly [\"/\"]", urls)
	}
	if doc.Info == nil || doc.Info.Title == "" || doc.Info.Version == "" {
		t.Errorf("info = %+v, want a title and a version", doc.Info)
	}
}

// TestJSONFormValidates checks the document as /openapi.json serves it,
// converted from YAML, since generators read that form.
func TestJSONFormValidates(t *testing.T) {
	t.Parallel()
	asJSON, err := yaml.YAMLToJSON(OpenAPIYAML)
	if err != nil {
		t.Fatalf("YAMLToJSON: %v", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(asJSON)
	if err != nil {
		t.Fatalf("load JSON form: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("Validate JSON form: %v", err)
	}
	if got, want := len(doc.Paths.Map()), len(mustLoadDoc(t).Paths.Map()); got != want {
		t.Errorf("JSON form has %d paths, YAML %d", got, want)
	}
}

func TestEveryRouteIsDescribed(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			t.Parallel()
			item := doc.Paths.Value(rt.path)
			if item == nil {
				t.Fatalf("path %s: missing", rt.path)
			}
			op := item.GetOperation(rt.method)
			if op == nil {
				t.Fatalf("%s %s: no operation", rt.method, rt.path)
			}
			if op.OperationID != rt.operationID {
				t.Errorf("%s %s: operationId = %q, want %q", rt.method, rt.path, op.OperationID, rt.operationID)
			}
			if strings.TrimSpace(op.Summary) == "" || strings.TrimSpace(op.Description) == "" {
				t.Errorf("%s %s: summary %q, description %q; want both", rt.method, rt.path, op.Summary, op.Description)
			}
			if len(op.Tags) == 0 {
				t.Errorf("%s %s: no tags", rt.method, rt.path)
			}
			var problems []string
			for code, ref := range op.Responses.Map() {
				if ref.Value == nil || ref.Value.Description == nil || *ref.Value.Description == "" {
					t.Errorf("%s %s: response %s has no description", rt.method, rt.path, code)
				}
				if ref.Value != nil && ref.Value.Content.Get(problemJSON) != nil {
					problems = append(problems, code)
				}
			}
			if len(problems) == 0 {
				t.Errorf("%s %s: no response with %s", rt.method, rt.path, problemJSON)
			}
			if op.Responses.Default() == nil {
				t.Errorf("%s %s: no default (problem) response", rt.method, rt.path)
			}
		})
	}
}

// TestNothingUndescribedIsDocumented keeps the table above complete: an
// operation added to the document without a row here fails.
func TestNothingUndescribedIsDocumented(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	want := make(map[string]string, len(routes))
	for _, rt := range routes {
		want[rt.method+" "+rt.path] = rt.operationID
	}
	seen := make(map[string]bool)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			if _, ok := want[key]; !ok {
				t.Errorf("%s (operationId %q): in the document but not in the contract table", key, op.OperationID)
			}
			if seen[op.OperationID] {
				t.Errorf("operationId %q: used twice", op.OperationID)
			}
			seen[op.OperationID] = true
		}
	}
	for path, item := range doc.Paths.Map() {
		if item.Get != nil && item.Head == nil {
			t.Errorf("%s: GET without HEAD", path)
		}
	}
}

func TestSecurity(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	if scheme == nil || scheme.Value == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Fatalf("components.securitySchemes.bearerAuth = %+v, want an http bearer scheme", scheme)
	}
	if len(doc.Security) != 0 {
		t.Errorf("top-level security = %v, want none (set per operation)", doc.Security)
	}
	for _, rt := range routes {
		t.Run(rt.operationID, func(t *testing.T) {
			t.Parallel()
			op := doc.Paths.Value(rt.path).GetOperation(rt.method)
			if !rt.secured {
				if op.Security != nil && len(*op.Security) != 0 {
					t.Errorf("%s: security = %v, want none", rt.operationID, *op.Security)
				}
				return
			}
			if op.Security == nil {
				t.Fatalf("%s: no security, want [{}, {bearerAuth: []}]", rt.operationID)
			}
			sec := *op.Security
			if len(sec) != 2 || len(sec[0]) != 0 || sec[1]["bearerAuth"] == nil || len(sec[1]) != 1 {
				t.Errorf("%s: security = %v, want [{}, {bearerAuth: []}]", rt.operationID, sec)
			}
		})
	}
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	tests := []struct {
		operationID string
		want        []string
	}{
		{"healthz", []string{"200"}},
		{"readyz", []string{"200", "503"}},
		{"metrics", []string{"200", "401", "403"}},
		{"openapiTyped", []string{"200", "401", "403"}},
		{"convert", []string{"200", "400", "401", "403", "404", "406", "413", "415", "422"}},
		{"listSchemas", []string{"200", "401", "403", "406"}},
		{"getSchema", []string{"200", "400", "404", "406"}},
		{"getSchemaVersion", []string{"200", "400", "404", "406"}},
		{"registerSchema", []string{"200", "201", "400", "401", "403", "409", "413", "415"}},
		{"setCompatibility", []string{"200", "400", "404", "409", "415"}},
		{"deprecateSchemaVersion", []string{"200", "400", "404", "415"}},
		{"getChangelog", []string{"200", "404", "406"}},
		{"migrateSchema", []string{"202", "404"}},
		{"getJob", []string{"200", "404"}},
		{"putRecord", []string{"200", "201", "204", "400", "401", "403", "404", "406", "412", "413", "415", "422", "428", "503"}},
		{"createRecord", []string{"201", "400", "404", "406", "413", "415", "422"}},
		{"getRecord", []string{"200", "304", "400", "404", "406"}},
		{"headRecord", []string{"200", "304", "400", "404", "406"}},
		{"patchRecord", []string{"200", "204", "400", "404", "406", "412", "413", "415", "422", "428"}},
		{"deleteRecord", []string{"204", "400", "404", "412", "428"}},
		{"listRecords", []string{"200", "400", "404", "406"}},
		{"exportRecords", []string{"200", "400", "404", "406"}},
		{"importRecords", []string{"200", "400", "404", "413", "415", "422"}},
		{"getRecordHistory", []string{"200", "400", "404", "406"}},
		{"getChanges", []string{"200", "400", "404", "406"}},
	}
	for _, tc := range tests {
		t.Run(tc.operationID, func(t *testing.T) {
			t.Parallel()
			_, _, op := mustOperation(t, doc, tc.operationID)
			for _, code := range tc.want {
				if op.Responses.Value(code) == nil {
					t.Errorf("%s: no %s response; has %v", tc.operationID, code, responseCodes(op))
				}
			}
			if op.Responses.Value("405") != nil {
				t.Errorf("%s: declares 405, which belongs to undeclared methods", tc.operationID)
			}
		})
	}
}

func responseCodes(op *openapi3.Operation) []string {
	var codes []string
	for code := range op.Responses.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	return codes
}

func TestMediaTypes(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	// status "request" means the request body.
	tests := []struct {
		operationID, status string
		want                []string
	}{
		{"healthz", "200", []string{"application/json"}},
		{"metrics", "200", []string{"text/plain"}},
		{"openapiYaml", "200", []string{"application/yaml"}},
		{"openapiJson", "200", []string{"application/json"}},
		{"openapiTyped", "200", []string{"application/json"}},
		{"docs", "200", []string{"text/html"}},
		{"convert", "request", recordTypes},
		{"convert", "200", recordTypes},
		{"listSchemas", "200", []string{"application/json"}},
		{"registerSchema", "request", []string{"application/json"}},
		{"getSchemaVersion", "200", []string{"application/json", "application/schema+json", "text/x-go"}},
		{"deprecateSchemaVersion", "request", []string{"application/json"}},
		{"setCompatibility", "request", []string{"application/json"}},
		{"getChangelog", "200", []string{"application/json"}},
		{"migrateSchema", "202", []string{"application/json"}},
		{"getJob", "200", []string{"application/json"}},
		{"putRecord", "request", recordTypes},
		{"putRecord", "200", recordTypes},
		{"putRecord", "201", recordTypes},
		{"createRecord", "request", recordTypes},
		{"createRecord", "201", recordTypes},
		{"getRecord", "200", recordTypes},
		{"patchRecord", "request", []string{"application/merge-patch+json"}},
		{"patchRecord", "200", recordTypes},
		{"listRecords", "200", recordTypes},
		{"exportRecords", "200", streamTypes},
		{"importRecords", "request", streamTypes},
		{"importRecords", "200", []string{"application/json"}},
		{"getRecordHistory", "200", []string{"application/json"}},
		{"getChanges", "200", append(slices.Clone(recordTypes), "text/event-stream")},
		{"putRecord", "415", []string{problemJSON}},
		{"readyz", "503", []string{problemJSON}},
	}
	for _, tc := range tests {
		t.Run(tc.operationID+" "+tc.status, func(t *testing.T) {
			t.Parallel()
			_, _, op := mustOperation(t, doc, tc.operationID)
			var content openapi3.Content
			if tc.status == "request" {
				if op.RequestBody == nil || op.RequestBody.Value == nil {
					t.Fatalf("%s: no request body", tc.operationID)
				}
				if !op.RequestBody.Value.Required {
					t.Errorf("%s: request body not required", tc.operationID)
				}
				content = op.RequestBody.Value.Content
			} else {
				ref := op.Responses.Value(tc.status)
				if ref == nil || ref.Value == nil {
					t.Fatalf("%s: no %s response", tc.operationID, tc.status)
				}
				content = ref.Value.Content
			}
			var got []string
			for mt, m := range content {
				got = append(got, mt)
				if m.Schema == nil || m.Schema.Value == nil {
					t.Errorf("%s %s %s: no schema", tc.operationID, tc.status, mt)
				}
			}
			sort.Strings(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: media types\n got %q\nwant %q", tc.operationID, tc.status, got, want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	tests := []struct {
		operationID, status string
		want                []string
		required            []string
	}{
		{"getRecord", "200", []string{"ETag", "Last-Modified", "Ferry-Revision", "Vary", "Deprecation", "Sunset", "Content-Digest"}, []string{"ETag", "Last-Modified", "Ferry-Revision", "Vary"}},
		{"headRecord", "200", []string{"ETag", "Last-Modified", "Ferry-Revision", "Vary"}, []string{"ETag", "Ferry-Revision"}},
		{"getRecord", "304", []string{"ETag", "Vary"}, []string{"ETag", "Vary"}},
		{"putRecord", "201", []string{"Location", "ETag", "Ferry-Revision", "Preference-Applied"}, []string{"Location", "ETag", "Ferry-Revision"}},
		{"putRecord", "204", []string{"ETag", "Ferry-Revision", "Preference-Applied"}, []string{"ETag", "Ferry-Revision", "Preference-Applied"}},
		{"createRecord", "201", []string{"Location", "ETag", "Ferry-Revision"}, []string{"Location"}},
		{"patchRecord", "204", []string{"ETag", "Ferry-Revision", "Preference-Applied"}, nil},
		{"listRecords", "200", []string{"Link", "Vary"}, []string{"Vary"}},
		{"registerSchema", "201", []string{"Location"}, []string{"Location"}},
		{"migrateSchema", "202", []string{"Location"}, []string{"Location"}},
		{"getSchemaVersion", "200", []string{"Deprecation", "Sunset", "Vary"}, nil},
		{"createRecord", "415", []string{"Accept-Post", "Accept-Encoding"}, []string{"Accept-Post"}},
		{"importRecords", "415", []string{"Accept-Post"}, []string{"Accept-Post"}},
		{"patchRecord", "415", []string{"Accept-Patch", "Accept-Encoding"}, []string{"Accept-Patch"}},
		{"putRecord", "415", []string{"Accept-Encoding"}, nil},
		{"getRecord", "401", []string{"WWW-Authenticate"}, []string{"WWW-Authenticate"}},
		{"metrics", "401", []string{"WWW-Authenticate"}, []string{"WWW-Authenticate"}},
		{"getRecord", "default", []string{"Allow"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.operationID+" "+tc.status, func(t *testing.T) {
			t.Parallel()
			_, _, op := mustOperation(t, doc, tc.operationID)
			ref := op.Responses.Value(tc.status)
			if tc.status == "default" {
				ref = op.Responses.Default()
			}
			if ref == nil || ref.Value == nil {
				t.Fatalf("%s: no %s response", tc.operationID, tc.status)
			}
			for _, name := range tc.want {
				if ref.Value.Headers[name] == nil {
					t.Errorf("%s %s: no %s header", tc.operationID, tc.status, name)
				}
			}
			for _, name := range tc.required {
				if h := ref.Value.Headers[name]; h == nil || h.Value == nil || !h.Value.Required {
					t.Errorf("%s %s: header %s not required", tc.operationID, tc.status, name)
				}
			}
		})
	}
}

// parameters returns an operation's parameters, those of its path item
// included, keyed by "in:name".
func parameters(item *openapi3.PathItem, op *openapi3.Operation) map[string]*openapi3.Parameter {
	ps := make(map[string]*openapi3.Parameter)
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, ref := range list {
			ps[ref.Value.In+":"+ref.Value.Name] = ref.Value
		}
	}
	return ps
}

func TestParameters(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	tests := []struct {
		operationID, param string
		good, bad          []any
	}{
		{"getRecord", "path:id", []any{"a", "ord-0001", "A.b_c~d-e", strings.Repeat("x", 128)}, []any{"", "_export", "-a", "a/b", "a b", strings.Repeat("x", 129)}},
		{"putRecord", "path:schema", []any{"order", "a1_b"}, []any{"", "_x", "Order", "1a"}},
		{"getSchema", "path:name", []any{"order"}, []any{"_reserved"}},
		{"getSchemaVersion", "path:version", []any{1.0, 7.0}, []any{0.0, -1.0, 1.5}},
		{"listRecords", "query:limit", []any{1.0, 100.0, 1000.0}, []any{0.0, 1001.0}},
		{"listRecords", "query:cursor", []any{"opaque"}, nil},
		{"getChanges", "query:since", []any{0.0, 42.0}, []any{-1.0}},
		{"getChanges", "query:wait", []any{0.0, 60.0}, []any{-1.0, 61.0, 2.5}},
		{"getChanges", "query:include", []any{"data"}, []any{"body"}},
		{"getChanges", "header:Last-Event-ID", []any{"17"}, nil},
		{"getRecordHistory", "query:include", []any{"data"}, []any{"all"}},
		{"importRecords", "query:atomic", []any{true, false}, []any{"yes"}},
		{"getRecord", "query:pretty", []any{true}, []any{"1"}},
		{"registerSchema", "query:dry_run", []any{true}, nil},
		{"convert", "query:schema", []any{"order"}, []any{"_x"}},
		{"putRecord", "header:If-Match", []any{`"r1"`}, nil},
		{"putRecord", "header:If-None-Match", []any{"*", `"r1"`}, nil},
		{"getRecord", "header:If-None-Match", []any{`"r1"`}, nil},
		{"putRecord", "header:Prefer", []any{"return=minimal"}, nil},
		{"patchRecord", "header:If-Match", []any{`"r1"`}, nil},
		{"patchRecord", "header:Prefer", []any{"return=minimal"}, nil},
		{"deleteRecord", "header:If-Match", []any{`"r1"`}, nil},
		{"createRecord", "header:Content-Digest", []any{"sha-256=:AA==:"}, nil},
		{"getRecord", "header:Want-Content-Digest", []any{"sha-256=1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.operationID+" "+tc.param, func(t *testing.T) {
			t.Parallel()
			_, item, op := mustOperation(t, doc, tc.operationID)
			p := parameters(item, op)[tc.param]
			if p == nil {
				t.Fatalf("%s: no parameter %s", tc.operationID, tc.param)
			}
			if p.In == openapi3.ParameterInPath && !p.Required {
				t.Errorf("%s %s: path parameter not required", tc.operationID, tc.param)
			}
			for _, v := range tc.good {
				if err := p.Schema.Value.VisitJSON(v); err != nil {
					t.Errorf("%s %s: %#v refused, want accepted: %v", tc.operationID, tc.param, v, err)
				}
			}
			for _, v := range tc.bad {
				if err := p.Schema.Value.VisitJSON(v); err == nil {
					t.Errorf("%s %s: %#v accepted, want refused", tc.operationID, tc.param, v)
				}
			}
		})
	}
}

// TestHeadMatchesGet checks that each HEAD operation takes the parameters
// of its GET, so that a client may ask either.
func TestHeadMatchesGet(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	for path, item := range doc.Paths.Map() {
		if item.Get == nil || item.Head == nil {
			continue
		}
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			get, head := parameters(item, item.Get), parameters(item, item.Head)
			for key := range get {
				if head[key] == nil {
					t.Errorf("HEAD %s: lacks parameter %s of GET", path, key)
				}
			}
			for code := range item.Get.Responses.Map() {
				if code != "200" && item.Head.Responses.Value(code) == nil {
					t.Errorf("HEAD %s: lacks response %s of GET", path, code)
				}
			}
			if ok := item.Head.Responses.Value("200"); ok == nil || len(ok.Value.Content) != 0 {
				t.Errorf("HEAD %s: want a 200 without content", path)
			}
		})
	}
}

func TestComponentSchemas(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	schema := func(t *testing.T, name string) *openapi3.Schema {
		t.Helper()
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			t.Fatalf("components.schemas.%s: missing", name)
		}
		return ref.Value
	}
	tests := []struct {
		name       string
		good, bad  []any
		properties []string
	}{
		{
			name: "Job",
			good: []any{map[string]any{
				"id": "j1", "kind": "migrate", "schema": "order", "state": "queued",
				"done": 0.0, "total": 10.0, "errors": 0.0, "started_at": nil, "finished_at": nil,
			}},
			bad: []any{
				map[string]any{
					"id": "j1", "kind": "migrate", "schema": "order", "state": "paused",
					"done": 0.0, "total": 10.0, "errors": 0.0, "started_at": nil, "finished_at": nil,
				},
				map[string]any{"id": "j1", "kind": "migrate", "schema": "order", "state": "queued"},
			},
		},
		{
			name: "Envelope",
			good: []any{map[string]any{
				"id": "a1", "revision": 3.0, "version": 2.0, "updated_at": "2026-01-02T03:04:05.123456789Z",
				"data": map[string]any{"customer": "x@example.com"},
			}},
			bad: []any{map[string]any{"id": "a1", "data": map[string]any{}}},
		},
		{
			name: "Page",
			good: []any{
				map[string]any{"items": []any{}},
				map[string]any{"items": []any{}, "next_cursor": "c2"},
			},
			bad: []any{map[string]any{"next_cursor": "c2"}},
		},
		{
			name: "History",
			good: []any{map[string]any{"revisions": []any{
				map[string]any{
					"revision": 2.0, "op": "delete", "at": "2026-01-02T03:04:05Z", "by": "",
					"version": 1.0, "size": 0.0, "sha256": strings.Repeat("0", 64), "data": nil,
				},
				map[string]any{
					"revision": 1.0, "op": "create", "at": "2026-01-02T03:04:05Z", "by": "ci",
					"version": 1.0, "size": 12.0, "sha256": strings.Repeat("ab", 32),
				},
			}}},
			bad: []any{
				map[string]any{"revisions": []any{map[string]any{
					"revision": 1.0, "op": "create", "at": "2026-01-02T03:04:05Z", "by": "",
					"version": 1.0, "size": 0.0, "sha256": strings.Repeat("A", 64),
				}}},
				map[string]any{"revisions": []any{map[string]any{
					"revision": 1.0, "op": "upsert", "at": "2026-01-02T03:04:05Z", "by": "",
					"version": 1.0, "size": 0.0, "sha256": strings.Repeat("a", 64),
				}}},
			},
		},
		{
			name: "Changes",
			good: []any{
				map[string]any{"changes": []any{}, "last_seq": 0.0},
				map[string]any{"changes": []any{map[string]any{
					"seq": 7.0, "id": "a1", "revision": 2.0, "op": "delete", "at": "2026-01-02T03:04:05Z", "data": nil,
				}}, "last_seq": 7.0},
			},
			bad: []any{map[string]any{"changes": []any{}}},
		},
		{
			name: "Problem",
			good: []any{
				map[string]any{"type": "/problems/not-acceptable", "title": "Not Acceptable", "status": 406.0,
					"detail": "no format", "instance": "req-1", "acceptable": []any{"application/json"}},
				map[string]any{"type": "/problems/unprocessable", "title": "Unprocessable", "status": 422.0,
					"errors": []any{map[string]any{"field": "items[2].qty", "rule": "min", "param": "1", "message": "too small", "version": 2.0}}},
				map[string]any{"type": "/problems/unprocessable", "title": "Unprocessable", "status": 422.0,
					"accepted": 1.0, "rejected": 1.0, "errors": []any{map[string]any{"index": 1.0, "id": "a",
						"problem": map[string]any{"type": "/problems/invalid", "title": "Bad Request", "status": 400.0}}}},
				map[string]any{"type": "/problems/precondition-failed", "title": "Precondition Failed", "status": 412.0,
					"current_revision": 3.0, "current_etag": `"r3"`, "reason": "extra members are allowed"},
			},
			bad:        []any{map[string]any{"title": "no type"}},
			properties: []string{"type", "title", "status", "detail", "instance", "errors", "acceptable", "supported", "versions", "violations", "current_revision", "current_etag", "accepted", "rejected"},
		},
		{
			name: "SchemaDefinition",
			good: []any{map[string]any{
				"name": "order", "version": 2.0, "compatibility": "BACKWARD",
				"fields": map[string]any{
					"customer": map[string]any{"type": "string", "validate": "required,email"},
					"items": map[string]any{"type": "array", "items": map[string]any{"type": "object", "fields": map[string]any{
						"qty": map[string]any{"type": "int", "validate": "min=1"},
					}}},
					"attrs":   map[string]any{"type": "map", "values": map[string]any{"type": "string"}},
					"channel": map[string]any{"type": "string", "default": "web"},
					"note":    map[string]any{"type": "string", "optional": true},
				},
				"migrate": []any{
					map[string]any{"op": "rename", "from": "amount", "to": "amount_cents"},
					map[string]any{"op": "retype", "field": "qty", "to": "float"},
				},
			}},
			bad: []any{
				map[string]any{"name": "order", "version": 1.0, "fields": map[string]any{"x": map[string]any{"type": "uint"}}},
				map[string]any{"name": "order", "version": 2.0, "fields": map[string]any{}, "migrate": []any{map[string]any{"op": "drop"}}},
				map[string]any{"name": "order", "version": 1.0, "compatibility": "SIDEWAYS", "fields": map[string]any{}},
			},
		},
		{
			name: "ImportSummary",
			good: []any{map[string]any{"accepted": 2.0, "rejected": 0.0, "errors": []any{}}},
			bad:  []any{map[string]any{"accepted": 2.0}},
		},
		{
			name: "Changelog",
			good: []any{map[string]any{"schema": "order", "versions": []any{
				map[string]any{"version": 1.0, "changes": []any{"created"}},
			}}},
			bad: []any{map[string]any{"schema": "order"}},
		},
		{
			name: "SchemaList",
			good: []any{map[string]any{"schemas": []any{map[string]any{
				"name": "order", "latest_version": 2.0, "compatibility": "FULL_TRANSITIVE", "record_count": 0.0,
			}}}},
			bad: []any{map[string]any{"schemas": []any{map[string]any{"name": "order"}}}},
		},
		{
			name: "SchemaDetail",
			good: []any{map[string]any{"name": "order", "compatibility": "NONE", "versions": []any{}}},
			bad:  []any{map[string]any{"name": "order"}},
		},
		{
			name: "Health",
			good: []any{map[string]any{"status": "ok"}, map[string]any{"status": "ready"}},
			bad:  []any{map[string]any{}},
		},
		{
			name: "Record",
			good: []any{map[string]any{}, map[string]any{"any": []any{1.0, "two"}}},
			bad:  []any{"not an object", []any{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := schema(t, tc.name)
			for i, v := range tc.good {
				if err := s.VisitJSON(v); err != nil {
					t.Errorf("%s good[%d]: refused, want accepted: %v", tc.name, i, err)
				}
			}
			for i, v := range tc.bad {
				if err := s.VisitJSON(v); err == nil {
					t.Errorf("%s bad[%d] = %v: accepted, want refused", tc.name, i, v)
				}
			}
			for _, p := range tc.properties {
				if s.Properties[p] == nil {
					t.Errorf("%s: no property %q", tc.name, p)
				}
			}
		})
	}
}

// TestFilterRoutesAndValidates runs requests and responses through
// openapi3filter, the way the HTTP tests check the service against this
// document: underscore sub-resources must not be taken for record ids, and
// the rules of parameters and headers must hold.
func TestFilterRoutesAndValidates(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("gorillamux.NewRouter: %v", err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}

	tests := []struct {
		name, method, target, contentType, body string
		header                                  http.Header
		wantOperationID                         string
		wantValid                               bool
	}{
		{name: "read", method: http.MethodGet, target: "/v1/records/order/a1", wantOperationID: "getRecord", wantValid: true},
		{name: "head", method: http.MethodHead, target: "/v1/records/order/a1", wantOperationID: "headRecord", wantValid: true},
		{name: "export", method: http.MethodGet, target: "/v1/records/order/_export", wantOperationID: "exportRecords", wantValid: true},
		{name: "changes", method: http.MethodGet, target: "/v1/records/order/_changes?since=3&wait=60&include=data", wantOperationID: "getChanges", wantValid: true},
		{name: "changes wait too long", method: http.MethodGet, target: "/v1/records/order/_changes?wait=61", wantOperationID: "getChanges"},
		{name: "history", method: http.MethodGet, target: "/v1/records/order/a1/_history?include=data", wantOperationID: "getRecordHistory", wantValid: true},
		{name: "page", method: http.MethodGet, target: "/v1/records/order?limit=1000&cursor=abc", wantOperationID: "listRecords", wantValid: true},
		{name: "page limit zero", method: http.MethodGet, target: "/v1/records/order?limit=0", wantOperationID: "listRecords"},
		{name: "id with a dot", method: http.MethodGet, target: "/v1/records/order/a.b~c", wantOperationID: "getRecord", wantValid: true},
		{name: "reserved schema name", method: http.MethodGet, target: "/v1/records/_order/a1", wantOperationID: "getRecord"},
		{name: "put json", method: http.MethodPut, target: "/v1/records/order/a1", contentType: "application/json; version=1",
			body: `{"customer":"a@example.com"}`, header: http.Header{"If-None-Match": {"*"}, "Prefer": {"return=minimal"}},
			wantOperationID: "putRecord", wantValid: true},
		{name: "put not an object", method: http.MethodPut, target: "/v1/records/order/a1", contentType: "application/json",
			body: `[1]`, wantOperationID: "putRecord"},
		{name: "put gob", method: http.MethodPut, target: "/v1/records/order/a1", contentType: "application/gob",
			body: "\x0f\xff", wantOperationID: "putRecord", wantValid: true},
		{name: "patch", method: http.MethodPatch, target: "/v1/records/order/a1", contentType: "application/merge-patch+json",
			body: `{"note":null}`, header: http.Header{"If-Match": {`"r1"`}}, wantOperationID: "patchRecord", wantValid: true},
		{name: "patch as plain json", method: http.MethodPatch, target: "/v1/records/order/a1", contentType: "application/json",
			body: `{"note":null}`, wantOperationID: "patchRecord"},
		{name: "delete", method: http.MethodDelete, target: "/v1/records/order/a1", wantOperationID: "deleteRecord", wantValid: true},
		{name: "register dry run", method: http.MethodPost, target: "/v1/schemas?dry_run=true", contentType: "application/json",
			body:            `{"name":"order","version":1,"fields":{"customer":{"type":"string","validate":"required,email"}}}`,
			wantOperationID: "registerSchema", wantValid: true},
		{name: "register unknown type", method: http.MethodPost, target: "/v1/schemas", contentType: "application/json",
			body: `{"name":"order","version":1,"fields":{"x":{"type":"uint"}}}`, wantOperationID: "registerSchema"},
		{name: "schema version zero", method: http.MethodGet, target: "/v1/schemas/order/versions/0", wantOperationID: "getSchemaVersion"},
		{name: "compatibility", method: http.MethodPut, target: "/v1/schemas/order/compatibility", contentType: "application/json",
			body: `{"compatibility":"FULL"}`, wantOperationID: "setCompatibility", wantValid: true},
		{name: "deprecate", method: http.MethodPatch, target: "/v1/schemas/order/versions/1", contentType: "application/json",
			body: `{"deprecated":true,"sunset":"2027-06-30T00:00:00Z"}`, wantOperationID: "deprecateSchemaVersion", wantValid: true},
		{name: "migrate", method: http.MethodPost, target: "/v1/schemas/order/_migrate", wantOperationID: "migrateSchema", wantValid: true},
		{name: "job", method: http.MethodGet, target: "/v1/jobs/0190b7a4-7c1e-7000-8000-000000000001", wantOperationID: "getJob", wantValid: true},
		{name: "convert plain", method: http.MethodPost, target: "/v1/convert", contentType: "application/json",
			body: `[1,"two",null]`, wantOperationID: "convert", wantValid: true},
		{name: "convert with schema", method: http.MethodPost, target: "/v1/convert?schema=order", contentType: "application/json",
			body: `{"customer":"a@example.com"}`, wantOperationID: "convert", wantValid: true},
		{name: "metrics", method: http.MethodGet, target: "/metrics", wantOperationID: "metrics", wantValid: true},
		{name: "typed openapi", method: http.MethodGet, target: "/v1/openapi.json", wantOperationID: "openapiTyped", wantValid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, tc.target, body)
			for k, vs := range tc.header {
				req.Header[k] = vs
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			route, pathParams, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("%s %s: FindRoute: %v", tc.method, tc.target, err)
			}
			if route.Operation.OperationID != tc.wantOperationID {
				t.Fatalf("%s %s: routed to %q, want %q", tc.method, tc.target, route.Operation.OperationID, tc.wantOperationID)
			}
			err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
				Request: req, PathParams: pathParams, Route: route, Options: opts,
			})
			if tc.wantValid && err != nil {
				t.Errorf("%s %s: refused, want valid: %v", tc.method, tc.target, err)
			}
			if !tc.wantValid && err == nil {
				t.Errorf("%s %s: valid, want refused", tc.method, tc.target)
			}
		})
	}
}

func TestFilterValidatesResponses(t *testing.T) {
	t.Parallel()
	doc := mustLoadDoc(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("gorillamux.NewRouter: %v", err)
	}
	recordHeaders := func(extra ...string) http.Header {
		h := http.Header{
			"Content-Type":   {"application/json; schema=order; version=2"},
			"Etag":           {`"r1-json-v2"`},
			"Last-Modified":  {"Fri, 02 Jan 2026 03:04:05 GMT"},
			"Ferry-Revision": {"1"},
			"Vary":           {"Accept, Accept-Encoding"},
		}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				h.Del(extra[i])
			} else {
				h.Set(extra[i], extra[i+1])
			}
		}
		return h
	}
	tests := []struct {
		name, method, target string
		status               int
		header               http.Header
		body                 string
		wantValid            bool
	}{
		{"record", http.MethodGet, "/v1/records/order/a1", 200, recordHeaders(), `{"customer":"a@example.com"}`, true},
		{"record without etag", http.MethodGet, "/v1/records/order/a1", 200, recordHeaders("Etag", ""), `{}`, false},
		{"record revision not a number", http.MethodGet, "/v1/records/order/a1", 200, recordHeaders("Ferry-Revision", "one"), `{}`, false},
		{"record deprecated", http.MethodGet, "/v1/records/order/a1", 200,
			recordHeaders("Deprecation", "@1767323045", "Sunset", "Wed, 30 Jun 2027 00:00:00 GMT"), `{}`, true},
		{"minimal write", http.MethodPut, "/v1/records/order/a1", 204,
			http.Header{"Etag": {`"r2"`}, "Ferry-Revision": {"2"}, "Preference-Applied": {"return=minimal"}}, "", true},
		{"minimal write without preference-applied", http.MethodPut, "/v1/records/order/a1", 204,
			http.Header{"Etag": {`"r2"`}, "Ferry-Revision": {"2"}}, "", false},
		{"problem", http.MethodGet, "/v1/records/order/a1", 404,
			http.Header{"Content-Type": {problemJSON}}, `{"type":"/problems/not-found","title":"Not Found","status":404,"detail":"no record a1","instance":"r-1"}`, true},
		{"problem as json", http.MethodGet, "/v1/records/order/a1", 404,
			http.Header{"Content-Type": {"application/json"}}, `{"type":"/problems/not-found","title":"Not Found","status":404}`, false},
		{"unauthorized without challenge", http.MethodGet, "/v1/records/order/a1", 401,
			http.Header{"Content-Type": {problemJSON}}, `{"type":"/problems/unauthorized","title":"Unauthorized","status":401}`, false},
		{"job", http.MethodGet, "/v1/jobs/j1", 200, http.Header{"Content-Type": {"application/json"}},
			`{"id":"j1","kind":"migrate","schema":"order","state":"running","done":3,"total":10,"errors":0,"started_at":"2026-01-02T03:04:05Z","finished_at":null}`, true},
		{"page", http.MethodGet, "/v1/records/order", 200,
			http.Header{"Content-Type": {"application/json; schema=order; version=2"}, "Vary": {"Accept, Accept-Encoding"},
				"Link": {`</v1/records/order?cursor=c2&limit=1>; rel="next"`}},
			`{"items":[{"id":"a1","revision":1,"version":2,"updated_at":"2026-01-02T03:04:05.5Z","data":{}}],"next_cursor":"c2"}`, true},
		{"health", http.MethodGet, "/healthz", 200, http.Header{"Content-Type": {"application/json"}}, `{"status":"ok"}`, true},
		{"ready problem", http.MethodGet, "/readyz", 503, http.Header{"Content-Type": {problemJSON}},
			`{"type":"/problems/unavailable","title":"Service Unavailable","status":503}`, true},
		{"method not allowed", http.MethodGet, "/v1/records/order/a1", 405,
			http.Header{"Content-Type": {problemJSON}, "Allow": {"GET, HEAD, PUT, PATCH, DELETE"}},
			`{"type":"/problems/method-not-allowed","title":"Method Not Allowed","status":405}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, tc.target, nil)
			route, pathParams, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("%s %s: FindRoute: %v", tc.method, tc.target, err)
			}
			input := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route},
				Status:                 tc.status,
				Header:                 tc.header,
				Options:                &openapi3filter.Options{IncludeResponseStatus: true},
			}
			input.SetBodyBytes([]byte(tc.body))
			err = openapi3filter.ValidateResponse(context.Background(), input)
			if tc.wantValid && err != nil {
				t.Errorf("%s %s -> %d: refused, want valid: %v", tc.method, tc.target, tc.status, err)
			}
			if !tc.wantValid && err == nil {
				t.Errorf("%s %s -> %d: valid, want refused", tc.method, tc.target, tc.status)
			}
		})
	}
}
