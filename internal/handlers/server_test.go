package handlers_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/fxamacker/cbor/v2"
	"github.com/klauspost/compress/zstd"
	"github.com/rs/zerolog"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/ferry-dev/ferry/internal/app"
	"github.com/ferry-dev/ferry/internal/handlers"
)

// serverConfig is what a test may change about the service it runs.
type serverConfig struct {
	maxBody        int64
	maxImport      int64
	maxAtomic      int64
	requireIfMatch bool
	historyLimit   int
	cacheBytes     int
	eventPing      time.Duration
	bodyIdle       time.Duration
}

// A ServerOption changes the configuration of a test server.
type ServerOption func(*serverConfig)

// WithBodyIdle sets how long a request body may send nothing.
func WithBodyIdle(d time.Duration) ServerOption { return func(c *serverConfig) { c.bodyIdle = d } }

// WithEventPing sets how often event streams ping.
func WithEventPing(d time.Duration) ServerOption { return func(c *serverConfig) { c.eventPing = d } }

// WithMaxBody sets FERRY_MAX_BODY_BYTES.
func WithMaxBody(n int64) ServerOption { return func(c *serverConfig) { c.maxBody = n } }

// WithMaxImport sets FERRY_MAX_IMPORT_BYTES.
func WithMaxImport(n int64) ServerOption { return func(c *serverConfig) { c.maxImport = n } }

// WithMaxAtomic sets FERRY_MAX_ATOMIC_IMPORT_BYTES.
func WithMaxAtomic(n int64) ServerOption { return func(c *serverConfig) { c.maxAtomic = n } }

// WithRequireIfMatch sets FERRY_REQUIRE_IF_MATCH=true.
func WithRequireIfMatch() ServerOption { return func(c *serverConfig) { c.requireIfMatch = true } }

// WithHistoryLimit keeps only n revisions of each record's history.
func WithHistoryLimit(n int) ServerOption { return func(c *serverConfig) { c.historyLimit = n } }

// WithCacheBytes sizes the caches of records and representations; 0
// disables them.
func WithCacheBytes(n int) ServerOption { return func(c *serverConfig) { c.cacheBytes = n } }

// A Server is the real router over a real store in a temporary directory,
// listening on a loopback port.
type Server struct {
	URL    string
	HTTP   *httptest.Server
	Client *http.Client
}

// MustServer builds the service as cmd/api does and serves it until the test
// ends.
func MustServer(tb testing.TB, opts ...ServerOption) *Server {
	tb.Helper()
	cfg := serverConfig{cacheBytes: 8 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	service, err := app.Open(context.Background(), app.Config{
		DataDir:        tb.TempDir(),
		HistoryLimit:   cfg.historyLimit,
		CacheBytes:     cfg.cacheBytes,
		RequireIfMatch: cfg.requireIfMatch,
		EventPing:      cfg.eventPing,
		BodyIdle:       cfg.bodyIdle,
		Limits:         handlers.Limits{MaxBodyBytes: cfg.maxBody, MaxImportBytes: cfg.maxImport, MaxAtomicBytes: cfg.maxAtomic},
		Logger:         zerolog.Nop(),
		Version:        "test",
	})
	if err != nil {
		tb.Fatalf("app.Open: %v", err)
	}
	h := service.Handler
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	tb.Cleanup(func() {
		service.Shutdown()
		srv.CloseClientConnections()
		srv.Close()
		if err := service.Close(); err != nil {
			tb.Errorf("closing the service: %v", err)
		}
	})
	client := srv.Client()
	// The tests set Accept-Encoding themselves and look at the coded bytes.
	client.Transport.(*http.Transport).DisableCompression = true
	client.Timeout = 90 * time.Second
	return &Server{URL: srv.URL, HTTP: srv, Client: client}
}

// A Call is one request a test sends.
type Call struct {
	Method string
	Path   string // with the query
	Body   []byte
	Header http.Header
	// Lax marks a request that breaks the contract's schema on purpose
	// but that the contract still answers with 2xx (a framing error in the
	// middle of an import).
	Lax bool
	// Bulk skips the contract check of the request body only (parameters,
	// headers and the response are still checked): a bulk load repeats a
	// body shape that smaller requests check in full.
	Bulk bool
	// Chunked sends the body without a Content-Length.
	Chunked bool
}

// hdr builds a header from key, value pairs.
func hdr(kv ...string) http.Header {
	if len(kv)%2 != 0 {
		panic("hdr: odd number of arguments")
	}
	h := make(http.Header)
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// A Resp is a response as received.
type Resp struct {
	Status int
	Header http.Header
	// Trailer holds the trailer fields sent after a streamed body.
	Trailer http.Header
	// Raw is the body as sent, Body with its content coding removed.
	Raw  []byte
	Body []byte
	call Call
}

func (r *Resp) String() string {
	b := r.Body
	if len(b) > 600 {
		b = append(b[:600:600], "…"...)
	}
	return fmt.Sprintf("%s %s → %d %v %q", r.call.Method, r.call.Path, r.Status, r.Header, b)
}

// Get sends a GET with header pairs.
func (s *Server) Get(tb testing.TB, path string, kv ...string) *Resp {
	tb.Helper()
	return s.Do(tb, Call{Method: http.MethodGet, Path: path, Header: hdr(kv...)})
}

// Send sends a request with a body and header pairs.
func (s *Server) Send(tb testing.TB, method, path string, body []byte, kv ...string) *Resp {
	tb.Helper()
	return s.Do(tb, Call{Method: method, Path: path, Body: body, Header: hdr(kv...)})
}

// SendJSON sends v as application/json with header pairs.
func (s *Server) SendJSON(tb testing.TB, method, path string, v any, kv ...string) *Resp {
	tb.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal %T: %v", v, err)
	}
	h := hdr(kv...)
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	return s.Do(tb, Call{Method: method, Path: path, Body: body, Header: h})
}

// NewRequest builds the HTTP request of c.
func (s *Server) NewRequest(tb testing.TB, ctx context.Context, c Call) *http.Request {
	tb.Helper()
	var body io.Reader = http.NoBody
	if c.Body != nil {
		body = bytes.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, s.URL+c.Path, body)
	if err != nil {
		tb.Fatalf("new request %s %s: %v", c.Method, c.Path, err)
	}
	for k, v := range c.Header {
		req.Header[k] = slices.Clone(v)
	}
	if c.Chunked {
		req.ContentLength, req.GetBody = -1, nil
		req.Body = io.NopCloser(io.MultiReader(body))
	}
	return req
}

// Do sends c, reads the whole response, and checks both against the
// contract: a response must always match the document; a request that does
// not must be refused with a 4xx. Every error must be a problem document
// and no request may cause a 5xx.
func (s *Server) Do(tb testing.TB, c Call) *Resp {
	tb.Helper()
	r, err := s.Exchange(context.Background(), tb, c)
	if err != nil {
		tb.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	return r
}

// Exchange is Do for any goroutine: it reports transport failures as an
// error instead of ending the test.
func (s *Server) Exchange(ctx context.Context, tb testing.TB, c Call) (*Resp, error) {
	tb.Helper()
	req := s.NewRequest(tb, ctx, c)
	res, err := s.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	r := &Resp{Status: res.StatusCode, Header: res.Header, Trailer: res.Trailer, Raw: raw, Body: raw, call: c}
	if ce := res.Header.Get("Content-Encoding"); ce != "" && req.Method != http.MethodHead {
		plain, err := decodeContent(ce, raw)
		if err != nil {
			return nil, fmt.Errorf("Content-Encoding %q does not decode: %w", ce, err)
		}
		r.Body = plain
	}
	CheckExchange(tb, req, c, r)
	return r, nil
}

// Open sends c and returns the response with its body unread, for streams
// that a test reads at its own pace. The request and the response headers
// are checked against the contract; the body is the caller's to check.
func (s *Server) Open(ctx context.Context, tb testing.TB, c Call) *http.Response {
	tb.Helper()
	req := s.NewRequest(tb, ctx, c)
	res, err := s.Client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	route, reqErr, respErr := validateAgainstContract(req, c.Body, res.StatusCode, res.Header, nil, true)
	if route == nil || reqErr != nil || respErr != nil {
		tb.Errorf("contract: %s %s: route found %v, request %v, response %v", c.Method, c.Path, route != nil, reqErr, respErr)
	}
	if res.StatusCode >= 400 {
		tb.Errorf("%s %s: status %d", c.Method, c.Path, res.StatusCode)
	}
	return res
}

// CheckExchange applies the contract and the general rules to one exchange.
func CheckExchange(tb testing.TB, req *http.Request, c Call, r *Resp) {
	tb.Helper()
	reqBody := c.Body
	if ce := c.Header.Get("Content-Encoding"); ce != "" {
		if plain, err := decodeContent(ce, c.Body); err == nil && len(plain) < 64<<20 {
			reqBody = plain
		}
	}
	if c.Bulk {
		reqBody = nil
	}
	route, reqErr, respErr := validateAgainstContract(req, reqBody, r.Status, r.Header, r.Body, false)
	switch {
	case route == nil:
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			tb.Errorf("contract: %s %s is not in the document, yet answered %d (%v)", c.Method, c.Path, r.Status, reqErr)
		}
	case reqErr != nil && r.Status < 400 && !c.Lax:
		tb.Errorf("contract: the request breaks the document (%v), yet the service answered %d; want a 4xx\n%s",
			shortErr(reqErr), r.Status, r)
	}
	if respErr != nil {
		tb.Errorf("contract: the response breaks the document: %v\n%s", shortErr(respErr), r)
	}
	if r.Status >= 500 {
		tb.Errorf("%s %s answered %d; a 5xx for anything a client sent is a bug\n%s", c.Method, c.Path, r.Status, r)
	}
	if r.Status >= 400 && c.Method != http.MethodHead {
		checkProblem(tb, r)
	}
	negotiated := strings.HasPrefix(c.Path, "/v1/") && !strings.HasPrefix(c.Path, "/v1/openapi.json")
	if negotiated && (r.Status == http.StatusOK || r.Status == http.StatusCreated || r.Status == http.StatusNotModified) &&
		!hasVaryNegotiated(r.Header.Values("Vary")) {
		tb.Errorf("%s %s → %d: Vary %q; every negotiated response carries Vary: Accept, Accept-Encoding", c.Method, c.Path, r.Status, r.Header.Values("Vary"))
	}
	if r.Status == http.StatusMethodNotAllowed && r.Header.Get("Allow") == "" {
		tb.Errorf("%s %s: 405 without Allow", c.Method, c.Path)
	}
	if c.Method == http.MethodHead && len(r.Raw) != 0 {
		tb.Errorf("HEAD %s: %d body bytes, want none", c.Path, len(r.Raw))
	}
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}

// checkProblem holds an error response to RFC 9457 as API.md §5 shapes it.
func checkProblem(tb testing.TB, r *Resp) {
	tb.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Errorf("error response Content-Type = %q, want application/problem+json\n%s", ct, r)
		return
	}
	var p map[string]any
	if err := json.Unmarshal(r.Body, &p); err != nil {
		tb.Errorf("problem body does not decode: %v\n%s", err, r)
		return
	}
	if st, _ := p["status"].(float64); int(st) != r.Status {
		tb.Errorf("problem status = %v, want %d\n%s", p["status"], r.Status, r)
	}
	if typ, _ := p["type"].(string); !strings.HasPrefix(typ, "/problems/") {
		tb.Errorf("problem type = %q, want /problems/<slug>\n%s", typ, r)
	}
	if title, _ := p["title"].(string); title == "" {
		tb.Errorf("problem has no title\n%s", r)
	}
	if inst, _ := p["instance"].(string); inst == "" || (r.Header.Get("X-Request-Id") != "" && inst != r.Header.Get("X-Request-Id")) {
		tb.Errorf("problem instance %q, want the request id %q\n%s", inst, r.Header.Get("X-Request-Id"), r)
	}
	if detail, _ := p["detail"].(string); detail == "" {
		tb.Errorf("problem has no detail\n%s", r)
	}
}

// decodeContent removes a content coding.
func decodeContent(coding string, b []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(coding)) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return io.ReadAll(zr)
	case "br":
		return io.ReadAll(brotli.NewReader(bytes.NewReader(b)))
	case "identity":
		return b, nil
	}
	return nil, fmt.Errorf("unknown content coding %q", coding)
}

// MustStatus fails the test unless r has the status.
func (r *Resp) MustStatus(tb testing.TB, want int) *Resp {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status = %d, want %d\n%s", r.Status, want, r)
	}
	return r
}

// JSON decodes the body as JSON into a generic map.
func (r *Resp) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("body is not a JSON object: %v\n%s", err, r)
	}
	return m
}

// Decode decodes the body in the format its Content-Type names.
func (r *Resp) Decode(tb testing.TB) any {
	tb.Helper()
	v, err := decodeAs(r.Header.Get("Content-Type"), r.Body)
	if err != nil {
		tb.Fatalf("body does not decode as %s: %v\n%s", r.Header.Get("Content-Type"), err, r)
	}
	return v
}

// Problem decodes an error body, after checking the status.
func (r *Resp) Problem(tb testing.TB, status int) map[string]any {
	tb.Helper()
	r.MustStatus(tb, status)
	return r.JSON(tb)
}

func decodeAs(contentType string, body []byte) (any, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	var v any
	switch strings.TrimSpace(mt) {
	case "application/json", "application/problem+json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		err := dec.Decode(&v)
		return v, err
	case "application/vnd.msgpack", "application/msgpack", "application/x-msgpack":
		dec := msgpack.NewDecoder(bytes.NewReader(body))
		dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
		dec.UseLooseInterfaceDecoding(true)
		err := dec.Decode(&v)
		return normalizeMaps(v), err
	case "application/cbor":
		err := cbor.Unmarshal(body, &v)
		return normalizeMaps(v), err
	}
	return nil, fmt.Errorf("no test decoder for %q", contentType)
}

// normalizeMaps turns map[any]any with string keys into map[string]any, so
// that values decoded from every format compare alike.
func normalizeMaps(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalizeMaps(e)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeMaps(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeMaps(e)
		}
		return x
	}
	return v
}

// MustRegister registers a schema version from its JSON definition.
func (s *Server) MustRegister(tb testing.TB, def string) {
	tb.Helper()
	r := s.Send(tb, http.MethodPost, "/v1/schemas", []byte(def), "Content-Type", "application/json")
	if r.Status != http.StatusCreated {
		tb.Fatalf("register schema: status %d, want 201\n%s", r.Status, r)
	}
}

// MustPut stores a JSON record and returns the response.
func (s *Server) MustPut(tb testing.TB, schemaName, id string, body any) *Resp {
	tb.Helper()
	r := s.SendJSON(tb, http.MethodPut, "/v1/records/"+schemaName+"/"+id, body)
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		tb.Fatalf("PUT %s/%s: status %d, want 200 or 201\n%s", schemaName, id, r.Status, r)
	}
	return r
}

// str returns m[key] as a string, for assertions on decoded JSON.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// num returns m[key] as an int64, for assertions on decoded bodies of any
// format.
func num(tb testing.TB, m map[string]any, key string) int64 {
	tb.Helper()
	switch v := m[key].(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			tb.Fatalf("%s = %v, want an integer", key, v)
		}
		return n
	case float64:
		return int64(v)
	}
	if n, ok := toBig(m[key]); ok && n.IsInt64() {
		return n.Int64()
	}
	tb.Fatalf("%s = %v (%T), want a number", key, m[key], m[key])
	return 0
}

// floatOf returns m[key], a JSON number, as a float64.
func floatOf(tb testing.TB, m map[string]any, key string) float64 {
	tb.Helper()
	n, ok := m[key].(json.Number)
	if !ok {
		tb.Fatalf("%s = %v (%T), want a JSON number", key, m[key], m[key])
	}
	f, err := n.Float64()
	if err != nil {
		tb.Fatalf("%s = %v, want a float", key, n)
	}
	return f
}

// strs returns m[key] as a list of strings.
func strs(m map[string]any, key string) []string {
	list, _ := m[key].([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// objects returns m[key] as a list of objects.
func objects(m map[string]any, key string) []map[string]any {
	list, _ := m[key].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if o, ok := e.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

// Raw sends request, written as it is, over a connection of its own,
// shuts the connection's write side after it when shut is set, and
// returns the answer and its body: for what a client library will not
// send, such as a body shorter than its Content-Length.
func (s *Server) Raw(tb testing.TB, request string, shut bool) (*http.Response, []byte) {
	tb.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		tb.Fatal(err)
	}
	if shut {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			tb.Fatal(err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("reading the answer to %.60q: %v", request, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("reading the answer to %.60q: %v", request, err)
	}
	return res, body
}
