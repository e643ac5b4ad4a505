package handlers

import (
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/records"
	"github.com/ferry-dev/ferry/internal/schema"
)

// schemaDeps is what the schema and job handlers share.
type schemaDeps struct {
	registry *schema.Registry
	records  *records.Service
	jobs     *records.Jobs
	codecs   *negotiate.Registry
	limits   Limits
	docs     *apiDocs
}

func (d *schemaDeps) schemaParam(r *http.Request) (*schema.Schema, error) {
	name, err := pathParam(r, "schema")
	if err != nil {
		return nil, err
	}
	return d.records.Schema(name)
}

// jsonSchemaRequest checks that a request about one schema accepts JSON
// and returns the schema it names.
func (d *schemaDeps) jsonSchemaRequest(r *http.Request) (*schema.Schema, error) {
	if err := acceptJSON(r); err != nil {
		return nil, err
	}
	return d.schemaParam(r)
}

// listErrors makes every 400 of h, a schema or job route, list "errors",
// as the contract asks of those routes: the problem's detail, when it has
// no list of its own.
func listErrors(h http.Handler) http.Handler {
	eh, ok := h.(errHandler)
	if !ok {
		return h
	}
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		err := eh(w, r)
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Invalid || p.Extra["errors"] != nil {
			return err
		}
		// A copy: a problem may be shared.
		listed := *p
		listed.Extra = maps.Clone(p.Extra)
		return listed.With("errors", []string{p.Detail})
	})
}

func (d *schemaDeps) versionParam(r *http.Request, sc *schema.Schema) (*schema.Version, error) {
	raw, err := pathParam(r, "version")
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || strconv.Itoa(n) != raw {
		// Only the canonical spelling: 01 or +1 would name the same
		// version under a second URL.
		return nil, problem.New(problem.Invalid, "version %q is not a positive integer", raw).WithReason("path")
	}
	v, err := sc.Version(n)
	if err != nil {
		return nil, problem.New(problem.NotFound, "schema %q has no version %d", sc.Name(), n).With("versions", sc.Versions())
	}
	return v, nil
}

// definitionDoc is a version's definition as served: as registered, plus
// its deprecation when it has one.
func definitionDoc(v *schema.Version) map[string]any {
	// Members stay as the registered JSON has them: a default of
	// 2^53 + 1 read into an any would come out rounded.
	var members map[string]jsontext.Value
	_ = json.Unmarshal(v.DefinitionJSON(), &members)
	doc := make(map[string]any, len(members)+3)
	for k, m := range members {
		doc[k] = m
	}
	if len(doc) == 0 {
		doc = map[string]any{"name": v.Schema(), "version": v.Number()}
	}
	if at, ok := v.Deprecated(); ok {
		doc["deprecated"] = true
		doc["deprecated_at"] = at.UTC()
		if sunset, ok := v.Sunset(); ok {
			doc["sunset"] = sunset.UTC()
		}
	}
	return doc
}

func (d *schemaDeps) listSchemas() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := acceptJSON(r); err != nil {
			return err
		}
		all := d.registry.Schemas()
		out := make([]map[string]any, 0, len(all))
		for _, sc := range all {
			n, err := d.records.Count(r.Context(), sc.Name())
			if err != nil {
				return err
			}
			out = append(out, map[string]any{
				"name": sc.Name(), "latest_version": sc.Latest().Number(),
				"compatibility": sc.Compatibility(), "record_count": n,
			})
		}
		return writeJSON(w, r, http.StatusOK, map[string]any{"schemas": out})
	})
}

func (d *schemaDeps) getSchema() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		sc, err := d.jsonSchemaRequest(r)
		if err != nil {
			return err
		}
		versions := make([]map[string]any, 0)
		for _, v := range sc.All() {
			versions = append(versions, definitionDoc(v))
		}
		return writeJSON(w, r, http.StatusOK, map[string]any{
			"name": sc.Name(), "compatibility": sc.Compatibility(), "versions": versions,
		})
	})
}

// versionOffers are the representations of a schema version.
var versionOffers = []negotiate.Offer{
	{MediaType: "application/json"},
	{MediaType: "application/schema+json"},
	{MediaType: "text/x-go"},
}

func (d *schemaDeps) getVersion() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		choice, err := negotiate.Choose(acceptHeader(r), versionOffers)
		if err != nil {
			return err
		}
		sc, err := d.schemaParam(r)
		if err != nil {
			return err
		}
		v, err := d.versionParam(r, sc)
		if err != nil {
			return err
		}
		markVersionDeprecated(w, v)
		switch choice.MediaType {
		case "application/schema+json":
			body, err := v.JSONSchema()
			if err != nil {
				return err
			}
			return d.writeDocument(w, r, body, "application/schema+json")
		case "text/x-go":
			return d.writeDocument(w, r, v.GoSource(), "text/x-go; charset=utf-8")
		default:
			return writeJSON(w, r, http.StatusOK, definitionDoc(v))
		}
	})
}

func (d *schemaDeps) writeDocument(w http.ResponseWriter, r *http.Request, body []byte, contentType string) error {
	body, enc, err := compress(body, responseEncoding(r))
	if err != nil {
		return err
	}
	writeRepresentation(w, r, http.StatusOK, representation{body: body, contentType: contentType, encoding: enc})
	return nil
}

// markVersionDeprecated adds Deprecation (RFC 9745) and Sunset (RFC 8594)
// headers for a deprecated version, and reports whether it is one.
func markVersionDeprecated(w http.ResponseWriter, v *schema.Version) bool {
	at, ok := v.Deprecated()
	if !ok {
		return false
	}
	w.Header().Set("Deprecation", "@"+strconv.FormatInt(at.Unix(), 10))
	// One version's marks, whole: another's Sunset does not stay.
	if sunset, ok := v.Sunset(); ok {
		w.Header().Set("Sunset", httpDate(sunset))
	} else {
		w.Header().Del("Sunset")
	}
	return true
}

// readJSONBody reads a small JSON (or, where allowed, YAML) request body
// for the schema endpoints.
func (d *schemaDeps) readJSONBody(w http.ResponseWriter, r *http.Request, allowYAML bool) ([]byte, bool, error) {
	supported := []string{"application/json"}
	if allowYAML {
		supported = append(supported, "application/yaml")
	}
	mt, err := negotiate.ParseContentType(r.Header.Get("Content-Type"))
	isYAML := false
	switch {
	case err != nil && r.Header.Get("Content-Type") != "":
		return nil, false, err
	case err == nil && mt.Essence == "application/json":
	case err == nil && allowYAML && (mt.Essence == "application/yaml" || mt.Essence == "application/x-yaml" || mt.Essence == "text/yaml"):
		isYAML = true
	default:
		return nil, false, problem.New(problem.UnsupportedMedia, "this endpoint reads %s", strings.Join(supported, " or ")).
			WithReason("content_type").With("supported", supported)
	}
	body, err := readBody(w, r, d.limits.MaxBodyBytes)
	return body, isYAML, err
}

// decodeJSONBody reads a small JSON request body into v, strictly: an
// unknown member or a value of the wrong type is a 400 that shows the
// shape the endpoint takes.
func (d *schemaDeps) decodeJSONBody(w http.ResponseWriter, r *http.Request, v any, shape string) error {
	body, _, err := d.readJSONBody(w, r, false)
	if err != nil {
		return withAcceptPost(w, r, d.codecs, err)
	}
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(true)); err != nil {
		return problem.Wrap(problem.Invalid, err, "body must be %s", shape).WithReason("syntax")
	}
	return nil
}

func (d *schemaDeps) registerSchema() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := acceptJSON(r); err != nil {
			return err
		}
		dryRun, err := queryBool(r, "dry_run")
		if err != nil {
			return err
		}
		body, isYAML, err := d.readJSONBody(w, r, true)
		if err != nil {
			return withAcceptPost(w, r, d.codecs, err)
		}
		def, err := schema.ParseDefinition(body, isYAML)
		if err != nil {
			return err
		}
		v, err := d.registry.Register(writeContext(r), def, dryRun)
		if err != nil {
			return err
		}
		if dryRun {
			return writeJSON(w, r, http.StatusOK, definitionDoc(v))
		}
		w.Header().Set("Location", "/v1/schemas/"+url.PathEscape(v.Schema())+"/versions/"+strconv.Itoa(v.Number()))
		return writeJSON(w, r, http.StatusCreated, definitionDoc(v))
	})
}

func (d *schemaDeps) setCompatibility() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		sc, err := d.jsonSchemaRequest(r)
		if err != nil {
			return err
		}
		var req struct {
			Compatibility string `json:"compatibility"`
		}
		if err := d.decodeJSONBody(w, r, &req, `{"compatibility": MODE}`); err != nil {
			return err
		}
		if err := d.registry.SetCompatibility(writeContext(r), sc.Name(), req.Compatibility); err != nil {
			return err
		}
		sc, err = d.records.Schema(sc.Name())
		if err != nil {
			return err
		}
		return writeJSON(w, r, http.StatusOK, map[string]any{"name": sc.Name(), "compatibility": sc.Compatibility()})
	})
}

func (d *schemaDeps) deprecateVersion() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		sc, err := d.jsonSchemaRequest(r)
		if err != nil {
			return err
		}
		v, err := d.versionParam(r, sc)
		if err != nil {
			return err
		}
		var req struct {
			Deprecated *bool      `json:"deprecated"`
			Sunset     *time.Time `json:"sunset"`
		}
		const shape = `{"deprecated": true|false, "sunset": RFC 3339 time (optional)}`
		if err := d.decodeJSONBody(w, r, &req, shape); err != nil {
			return err
		}
		if req.Deprecated == nil {
			return problem.New(problem.Invalid, "body must be %s: deprecated is missing", shape).WithReason("syntax")
		}
		if req.Sunset == nil && *req.Deprecated {
			// A PATCH that leaves sunset out keeps the one already set.
			if sunset, ok := v.Sunset(); ok {
				req.Sunset = &sunset
			}
		}
		v, err = d.registry.Deprecate(writeContext(r), sc.Name(), v.Number(), *req.Deprecated, req.Sunset)
		if err != nil {
			return err
		}
		markVersionDeprecated(w, v)
		return writeJSON(w, r, http.StatusOK, definitionDoc(v))
	})
}

func (d *schemaDeps) changelog() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		sc, err := d.jsonSchemaRequest(r)
		if err != nil {
			return err
		}
		return writeJSON(w, r, http.StatusOK, map[string]any{"schema": sc.Name(), "versions": sc.Changelog()})
	})
}

func (d *schemaDeps) migrate() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		sc, err := d.jsonSchemaRequest(r)
		if err != nil {
			return err
		}
		// The request takes no body: it is read only to check a
		// Content-Digest, as a delete's is.
		if err := checkDigestOnly(w, r, d.limits.MaxBodyBytes); err != nil {
			return err
		}
		job, err := d.jobs.StartMigration(writeContext(r), sc.Name(), "")
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/jobs/"+job.ID)
		return writeJSON(w, r, http.StatusAccepted, job)
	})
}

func (d *schemaDeps) getJob() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := acceptJSON(r); err != nil {
			return err
		}
		id, err := pathParam(r, "id")
		if err != nil {
			return err
		}
		job, err := d.jobs.Get(r.Context(), id)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		return writeJSON(w, r, http.StatusOK, job)
	})
}
