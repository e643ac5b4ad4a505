package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// addRoutes lists every route of the service.
func addRoutes(r chi.Router, d Deps, docs *apiDocs) {
	getAndHead(r, "/healthz", withContentDigest(healthz()))
	getAndHead(r, "/readyz", withContentDigest(readyz(d.Store)))
	getAndHead(r, "/metrics", withContentDigest(d.Metrics.Handler()))
	getAndHead(r, "/openapi.yaml", withContentDigest(serveBytes("application/yaml", docs.yaml)))
	getAndHead(r, "/openapi.json", withContentDigest(serveBytes("application/json", docs.json)))
	getAndHead(r, "/docs", withContentDigest(serveBytes("text/html; charset=utf-8", docs.html)))

	rec := &recordDeps{
		svc: d.Records, codecs: d.Codecs, cache: d.Cache, metrics: d.Metrics,
		limits: d.Limits, types: &envelopeTypes{}, eventPing: d.EventPing,
		atomicTurn: make(chan struct{}, 1),
	}
	sch := &schemaDeps{registry: d.Schemas, records: d.Records, jobs: d.Jobs, codecs: d.Codecs, limits: d.Limits, docs: docs}

	// Routes are listed flat, on one router: chi's Match, which builds
	// Allow for a 405, does not look inside a sub-router from its bare
	// mount path, and every request routed once is one tree walk and a
	// route pattern (the metrics label) with nothing to join.
	v1 := func(pattern string) string { return "/v1" + pattern }
	r.Method(http.MethodPost, v1("/convert"), convert(d.Codecs, d.Schemas, d.Limits, d.Metrics))
	getAndHead(r, v1("/openapi.json"), sch.typedOpenAPI())

	getAndHead(r, v1("/schemas"), listErrors(sch.listSchemas()))
	r.Method(http.MethodPost, v1("/schemas"), listErrors(sch.registerSchema()))
	getAndHead(r, v1("/schemas/{schema}"), listErrors(sch.getSchema()))
	r.Method(http.MethodPut, v1("/schemas/{schema}/compatibility"), listErrors(sch.setCompatibility()))
	getAndHead(r, v1("/schemas/{schema}/versions/{version}"), listErrors(sch.getVersion()))
	r.Method(http.MethodPatch, v1("/schemas/{schema}/versions/{version}"), listErrors(sch.deprecateVersion()))
	getAndHead(r, v1("/schemas/{schema}/changelog"), listErrors(sch.changelog()))
	r.Method(http.MethodPost, v1("/schemas/{schema}/_migrate"), listErrors(sch.migrate()))
	getAndHead(r, v1("/jobs/{id}"), listErrors(sch.getJob()))

	getAndHead(r, v1("/records/{schema}"), rec.listRecords())
	r.Method(http.MethodPost, v1("/records/{schema}"), rec.putRecord(true))
	getAndHead(r, v1("/records/{schema}/_export"), rec.exportRecords())
	r.Method(http.MethodPost, v1("/records/{schema}/_import"), rec.importRecords())
	getAndHead(r, v1("/records/{schema}/_changes"), rec.recordChanges(d.Shutdown))
	getAndHead(r, v1("/records/{schema}/{id}"), rec.getRecord())
	r.Method(http.MethodPut, v1("/records/{schema}/{id}"), rec.putRecord(false))
	r.Method(http.MethodPatch, v1("/records/{schema}/{id}"), rec.patchRecord())
	r.Method(http.MethodDelete, v1("/records/{schema}/{id}"), rec.deleteRecord())
	getAndHead(r, v1("/records/{schema}/{id}/_history"), rec.recordHistory())
}

// getAndHead routes GET and HEAD of pattern to h; net/http drops the body
// of a HEAD response, so one handler serves both.
func getAndHead(r chi.Router, pattern string, h http.Handler) {
	r.Method(http.MethodGet, pattern, h)
	r.Method(http.MethodHead, pattern, h)
}
