package handlers

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"sigs.k8s.io/yaml"

	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
)

// apiDocs is the API description in the three forms Ferry serves it.
type apiDocs struct {
	yaml []byte
	json []byte
	html []byte
}

func newAPIDocs(doc []byte) (*apiDocs, error) {
	if len(doc) == 0 {
		return &apiDocs{}, nil
	}
	asJSON, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("handlers: openapi document: %w", err)
	}
	page, err := renderReference(asJSON)
	if err != nil {
		return nil, err
	}
	return &apiDocs{yaml: doc, json: asJSON, html: page}, nil
}

func serveBytes(contentType string, body []byte) http.Handler {
	// The documents are fixed: each content coding is applied once, on
	// first use.
	var mu sync.Mutex
	coded := make(map[string][]byte)
	codedAs := func(encoding string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if b, ok := coded[encoding]; ok {
			return b, nil
		}
		b, _, err := compress(body, encoding)
		if err == nil {
			coded[encoding] = b
		}
		return b, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Vary", "Accept-Encoding")
		if enc := responseEncoding(r); enc != "" && len(body) >= negotiate.MinCompressBytes {
			if b, err := codedAs(enc); err == nil {
				h.Set("Content-Encoding", enc)
				h.Set("Content-Length", strconv.Itoa(len(b)))
				if r.Method != http.MethodHead {
					_, _ = w.Write(b)
				}
				return
			}
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
}

func readyz(store Pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if store != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := store.Ping(ctx); err != nil {
				requestInfoFrom(w).logger.Warn().Err(err).Msg("store not ready")
				writeProblem(w, r, problem.New(problem.Unavailable, "the store does not answer"))
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
}

// referenceOperation is one row of the /docs page.
type referenceOperation struct {
	Method, Path, Summary, Description string
	Responses                          []string
}

var referencePage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — API reference</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,.m{font-family:ui-monospace,monospace}.op{border-top:1px solid #ddd;padding:.6rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}.r{color:#666;font-size:13px}</style></head>
<body><h1>{{.Title}} {{.Version}}</h1><p>{{.Description}}</p>
<p>Machine-readable: <a href="/openapi.yaml">openapi.yaml</a>, <a href="/openapi.json">openapi.json</a>,
and <a href="/v1/openapi.json">/v1/openapi.json</a> with typed paths for every registered schema.</p>
{{range .Operations}}<div class="op"><span class="m">{{.Method}}</span><code>{{.Path}}</code>
<div>{{.Summary}}</div>{{if .Description}}<div class="r">{{.Description}}</div>{{end}}
<div class="r">responses: {{range .Responses}}{{.}} {{end}}</div></div>{{end}}
</body></html>`))

// renderReference builds the offline API reference page from the OpenAPI
// document, so the page can never disagree with it.
func renderReference(docJSON []byte) ([]byte, error) {
	doc, err := openapi3.NewLoader().LoadFromData(docJSON)
	if err != nil {
		return nil, fmt.Errorf("handlers: openapi document: %w", err)
	}
	var ops []referenceOperation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			var codes []string
			for code := range op.Responses.Map() {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			ops = append(ops, referenceOperation{
				Method: method, Path: path, Summary: op.Summary,
				Description: strings.TrimSpace(op.Description), Responses: codes,
			})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	var buf bytes.Buffer
	err = referencePage.Execute(&buf, map[string]any{
		"Title": doc.Info.Title, "Version": doc.Info.Version,
		"Description": doc.Info.Description, "Operations": ops,
	})
	if err != nil {
		return nil, fmt.Errorf("handlers: render reference: %w", err)
	}
	return buf.Bytes(), nil
}
