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
	r.Method(http.MethodPost, v1("/convert"), takes(convert(d.Codecs, d.Schemas, d.Limits, d.Metrics), "schema"))
	getAndHead(r, v1("/openapi.json"), takes(sch.typedOpenAPI()))

	getAndHead(r, v1("/schemas"), listErrors(takes(sch.listSchemas())))
	r.Method(http.MethodPost, v1("/schemas"), listErrors(takes(sch.registerSchema(), "dry_run")))
	getAndHead(r, v1("/schemas/{schema}"), listErrors(takes(sch.getSchema())))
	r.Method(http.MethodPut, v1("/schemas/{schema}/compatibility"), listErrors(takes(sch.setCompatibility())))
	getAndHead(r, v1("/schemas/{schema}/versions/{version}"), listErrors(takes(sch.getVersion())))
	r.Method(http.MethodPatch, v1("/schemas/{schema}/versions/{version}"), listErrors(takes(sch.deprecateVersion())))
	getAndHead(r, v1("/schemas/{schema}/changelog"), listErrors(takes(sch.changelog())))
	r.Method(http.MethodPost, v1("/schemas/{schema}/_migrate"), listErrors(takes(sch.migrate())))
	getAndHead(r, v1("/jobs/{id}"), listErrors(takes(sch.getJob())))

	getAndHead(r, v1("/records/{schema}"), takes(rec.listRecords(), "limit", "cursor"))
	r.Method(http.MethodPost, v1("/records/{schema}"), takes(rec.putRecord(true)))
	getAndHead(r, v1("/records/{schema}/_export"), takes(rec.exportRecords()))
	r.Method(http.MethodPost, v1("/records/{schema}/_import"), takes(rec.importRecords(), "atomic"))
	getAndHead(r, v1("/records/{schema}/_changes"), takes(rec.recordChanges(d.Shutdown), "since", "limit", "wait", "include"))
	getAndHead(r, v1("/records/{schema}/{id}"), takes(rec.getRecord()))
	r.Method(http.MethodPut, v1("/records/{schema}/{id}"), takes(rec.putRecord(false)))
	r.Method(http.MethodPatch, v1("/records/{schema}/{id}"), takes(rec.patchRecord()))
	r.Method(http.MethodDelete, v1("/records/{schema}/{id}"), takes(rec.deleteRecord()))
	getAndHead(r, v1("/records/{schema}/{id}/_history"), takes(rec.recordHistory(), "include"))
}

// getAndHead routes GET and HEAD of pattern to h; net/http drops the body
// of a HEAD response, so one handler serves both.
func getAndHead(r chi.Router, pattern string, h http.Handler) {
	r.Method(http.MethodGet, pattern, h)
	r.Method(http.MethodHead, pattern, h)
}
