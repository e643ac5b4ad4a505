package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ferry-dev/ferry/internal/metrics"
	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/records"
	"github.com/ferry-dev/ferry/internal/repcache"
	"github.com/ferry-dev/ferry/internal/schema"
)

// recordDeps is what the record handlers share.
type recordDeps struct {
	svc     *records.Service
	codecs  *negotiate.Registry
	cache   *repcache.Cache
	metrics *metrics.Metrics
	limits  Limits
	types   *envelopeTypes
	// eventPing is how often an event stream pings.
	eventPing time.Duration
	// atomicTurn holds a token while an atomic import runs: each holds
	// its whole stream in memory, so they take turns.
	atomicTurn chan struct{}
}

// target is the schema and id a record request names.
type target struct {
	schema *schema.Schema
	name   string
	id     string
}

func (d *recordDeps) target(r *http.Request, withID bool) (target, error) {
	name, err := pathParam(r, "schema")
	if err != nil {
		return target{}, err
	}
	sc, err := d.svc.Schema(name)
	if err != nil {
		return target{}, err
	}
	t := target{schema: sc, name: name}
	if withID {
		if t.id, err = pathParam(r, "id"); err != nil {
			return target{}, err
		}
		// The record routes also take a reserved name for an id, for the
		// methods its own route lacks: that is a 405 of the name's
		// resource. Below it (its _history), the name is a bad id.
		if allowed, reserved := reservedAllow[t.id]; reserved && isRecordRoute(r) {
			return target{}, &notAllowedError{allowed: allowed}
		}
		if err := records.CheckID(t.id); err != nil {
			return target{}, err
		}
	}
	return t, nil
}

// isRecordRoute reports whether r was routed to a record itself, not to
// one of its sub-resources.
func isRecordRoute(r *http.Request) bool {
	rctx := chi.RouteContext(r.Context())
	return rctx != nil && strings.HasSuffix(rctx.RoutePattern(), "/{id}")
}

// conditions reads the precondition headers of a write of t in format f.
func (d *recordDeps) conditions(r *http.Request, t target, f recordFormat) records.Conditions {
	return records.Conditions{
		Repr: f.tagRepr(),
		// An If-Match with no entity tag (a client's empty variable)
		// names no revision, so it holds for none: it is not absent.
		IfMatch:           d.headerTags(r, "If-Match", t),
		IfNoneMatch:       d.headerTags(r, "If-None-Match", t),
		IfUnmodifiedSince: headerTime(r, "If-Unmodified-Since"),
	}
}

// headerTags returns the entity tags of the list field name, given in
// canonical form, that Ferry issues for t (see issuedTags): nil when the
// field is absent, and empty, not nil, when it names none of them.
func (d *recordDeps) headerTags(r *http.Request, name string, t target) []string {
	if len(r.Header[name]) == 0 {
		return nil
	}
	return d.issuedTags(records.SplitETags(listField(r.Header, name)), t)
}

// headerTime returns the HTTP date of header name, given in canonical
// form, or the zero time when it is absent or not a date, which RFC 9110
// §13.1.3 and §13.1.4 say to ignore.
func headerTime(r *http.Request, name string) time.Time {
	v := r.Header[name] // canonical already: every read asks, rarely with one
	if len(v) == 0 {
		return time.Time{}
	}
	t, err := http.ParseTime(v[0])
	if err != nil {
		return time.Time{}
	}
	return t
}

// readPrecondition evaluates the preconditions of a GET or HEAD of rec in
// the order of RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since, then
// If-None-Match, else If-Modified-Since; the dates are weighed against the
// representation's, lastModified. It returns the problem of a failed
// precondition (412), or reports whether the answer is 304.
func (d *recordDeps) readPrecondition(r *http.Request, t target, rec *records.Record, etag string, lastModified time.Time) (notModifiedAnswer bool, err error) {
	// The names are canonical: every read asks, and few carry any.
	if ifMatch := d.headerTags(r, "If-Match", t); ifMatch != nil {
		if !rec.Validator.MatchesAny(ifMatch) {
			return false, records.PreconditionFailed(rec.Revision, etag, "%s", records.IfMatchFailed(rec.Revision, ifMatch))
		}
	} else if records.ModifiedSince(lastModified, headerTime(r, "If-Unmodified-Since")) {
		return false, records.PreconditionFailed(rec.Revision, etag, "If-Unmodified-Since: the representation was modified at %s", httpDate(lastModified))
	}
	if len(r.Header["If-None-Match"]) > 0 {
		return notModified(r, etag), nil
	}
	since := headerTime(r, "If-Modified-Since")
	return !since.IsZero() && !records.ModifiedSince(lastModified, since), nil
}

// notModified reports whether If-None-Match names etag (weak comparison,
// RFC 9110 §13.1.2).
func notModified(r *http.Request, etag string) bool {
	values := r.Header.Values("If-None-Match")
	if len(values) == 0 {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range records.SplitETags(strings.Join(values, ",")) {
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// recordRepresentation starts the representation of a record in format
// f: its metadata, worked out once per request. The media type is built per
// request because clients naming an alias (application/x-msgpack) share the
// representation but get their name back.
func recordRepresentation(t target, rec *records.Record, f recordFormat) representation {
	return representation{
		lastModified: lastModified(t.schema, rec, f.version),
		contentType:  f.contentType(t.name),
		etag:         rec.Validator.ETag(f.tagRepr()),
	}
}

// lastModified is when the representation of rec at version last changed:
// when the record did, or, if later, when the version was registered, as
// no record was shown at it before. A request naming no version is
// answered at the latest, so registering a version changes its answer.
func lastModified(sc *schema.Schema, rec *records.Record, version int) time.Time {
	if v, err := sc.Version(version); err == nil && v.Registered().After(rec.UpdatedAt) {
		return v.Registered()
	}
	return rec.UpdatedAt
}

// encodeBody fills in the body of rep, from the cache when it holds this
// revision's representation. view may be nil: the record is then viewed at
// f's version only if the cache misses.
//
// A body under the compression threshold goes out unencoded although a
// coding was negotiated, and so its ETag is the unencoded
// representation's: the ETag always names what was sent.
func (d *recordDeps) encodeBody(rep *representation, t target, rec *records.Record, f recordFormat, view any) error {
	key := repcache.Key{Schema: t.name, ID: rec.ID, Revision: rec.Revision, Repr: f.repr()}
	e, ok := d.cache.Get(key)
	if !ok {
		start := time.Now()
		body, err := d.marshalRecord(t, rec, f, view)
		if err != nil {
			return err
		}
		d.metrics.ObserveCodec("encode", f.codec.Name(), time.Since(start))
		d.metrics.ObservePayload("out", f.codec.Name(), len(body))
		if e.Body, e.Encoding, err = compress(body, f.encoding); err != nil {
			return err
		}
		d.cache.Put(key, e)
	}
	rep.body, rep.encoding = e.Body, e.Encoding
	sent := f
	if f.encoding != "" && e.Encoding == "" {
		sent = f.unencoded()
	}
	if sent.encoding != f.encoding {
		rep.etag = rec.Validator.ETag(sent.tagRepr())
	}
	return nil
}

// settleETag makes rep's ETag the one a read sends: when f names a
// content coding, whether the body gets it depends on the body's size, so
// the body is encoded (or found in the cache) first. Otherwise the ETag is
// settled already and nothing is encoded.
func (d *recordDeps) settleETag(rep *representation, t target, rec *records.Record, f recordFormat, view any) error {
	if f.encoding == "" {
		return nil
	}
	return d.encodeBody(rep, t, rec, f, view)
}

// represent starts rec's representation in f, its ETag settled. Below the
// latest version whether rec can be shown decides the format, so the body
// is made here, and a record that cannot be shown at f's version is shown
// in the next format the request accepts (fallback); the error is f's
// when none can show it.
func (d *recordDeps) represent(r *http.Request, t target, rec *records.Record, f recordFormat) (representation, recordFormat, error) {
	rep := recordRepresentation(t, rec, f)
	latest := t.schema.Latest().Number()
	if f.version == latest {
		return rep, f, d.settleETag(&rep, t, rec, f, nil)
	}
	first := d.encodeBody(&rep, t, rec, f, nil)
	if !problem.Is(first, problem.NotAcceptable) {
		return rep, f, first
	}
	fb := &fallback{r: r, codecs: d.codecs, sc: t.schema, defaultVersion: latest}
	shown := f
	_, err := records.ShowFirst(f.version, fb.next, func(version int) error {
		if version == f.version {
			return first
		}
		shown = fb.format(f, version)
		rep = recordRepresentation(t, rec, shown)
		return d.encodeBody(&rep, t, rec, shown, nil)
	})
	if err != nil {
		return representation{}, f, err
	}
	return rep, shown, nil
}

// marshalRecord encodes the record in format f: compact JSON straight from
// the stored document when no conversion is needed, else its view (given,
// or made here) through the codec.
func (d *recordDeps) marshalRecord(t target, rec *records.Record, f recordFormat, view any) ([]byte, error) {
	if view == nil && f.codec.Name() == "json" && !f.pretty {
		body, err := t.schema.AppendJSON(nil, rec.Stored, f.version)
		if !errors.Is(err, schema.ErrNoDirectJSON) {
			return body, err
		}
	}
	if view == nil {
		d.countConversion(t.schema, t.schema.Latest().Number(), f.version)
		var err error
		if view, err = rec.View(t.schema, f.version); err != nil {
			return nil, err
		}
	}
	return f.codec.Marshal(view)
}

func (d *recordDeps) getRecord() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, true)
		if err != nil {
			return err
		}
		f, err := negotiateRecord(r, d.codecs, t.schema, t.schema.Latest().Number())
		if err != nil {
			return err
		}
		requestInfoFrom(w).formatOut = f.codec.Name()
		rec, err := d.svc.Get(r.Context(), t.name, t.id)
		if err != nil {
			return err
		}
		d.markDeprecated(w, t.schema, f.version)
		w.Header()["Ferry-Revision"] = []string{strconv.FormatInt(rec.Revision, 10)}
		// Preconditions compare the ETag a read sends.
		asked := f.version
		rep, f, err := d.represent(r, t, rec, f)
		if err != nil {
			return err
		}
		if f.version != asked {
			requestInfoFrom(w).formatOut = f.codec.Name()
			markServed(w, d.metrics, t.schema, f.version)
		}
		unchanged, err := d.readPrecondition(r, t, rec, rep.etag, rep.lastModified)
		if err != nil {
			return err
		}
		if unchanged {
			writeValidators(w, http.StatusNotModified, rep)
			return nil
		}
		if rep.body == nil {
			if err := d.encodeBody(&rep, t, rec, f, nil); err != nil {
				return err
			}
		}
		writeRepresentation(w, r, http.StatusOK, rep)
		return nil
	})
}

// everyFailure returns the failures of a body whose decoding into its
// record struct stopped at err. Read as record data, as an import's
// envelope is, the body's every failure is listed: for a value the struct
// cannot hold (an integer out of range, a float that is not finite), the
// absent fields and failed rules beside it; for a value of the wrong type
// or an unknown field, the other such fields, beside the decoder's own
// report, which says where the first one is. It returns err when the body
// does not read so.
func everyFailure(in negotiate.Codec, v *schema.Version, body []byte, err error) error {
	kind := problem.KindOf(err)
	if kind != problem.Unprocessable && kind != problem.Invalid {
		return err
	}
	var plain any
	if negotiate.DecodeData(in, body, &plain) != nil {
		return err
	}
	m, ok := plain.(map[string]any)
	if !ok {
		return err
	}
	_, all := v.FromMap(m, in.Name() == "cbor")
	if all == nil {
		return err
	}
	if kind == problem.Unprocessable {
		return all
	}
	var first, listed *problem.Error
	if !errors.As(err, &first) || !errors.As(all, &listed) || listed.Kind != problem.Invalid {
		return err
	}
	e := *first
	e.Fields = listed.Fields
	// The decoders are stricter than plain data (a MessagePack string is
	// no time): the first failure is listed too when the rest missed it.
	field, _ := first.Extra["field"].(string)
	if field == "" {
		return err
	}
	if !slices.ContainsFunc(listed.Fields, func(f problem.FieldError) bool { return f.Field == field }) {
		e.Fields = slices.Concat([]problem.FieldError{{Field: field, Rule: first.Reason, Message: first.Detail}}, listed.Fields)
	}
	return &e
}

// decodeBody reads a record body and decodes it at version v.
func (d *recordDeps) decodeBody(w http.ResponseWriter, r *http.Request, in negotiate.Codec, v *schema.Version) (any, error) {
	return decodeRecordBody(w, r, in, v, d.limits.MaxBodyBytes, d.metrics)
}

// decodeRecordBody reads a record body of at most maxBody bytes and
// decodes it at version v, for Validate, observing its size and decode
// time in m.
func decodeRecordBody(w http.ResponseWriter, r *http.Request, in negotiate.Codec, v *schema.Version, maxBody int64, m *metrics.Metrics) (any, error) {
	body, err := readBody(w, r, maxBody)
	if err != nil {
		return nil, err
	}
	m.ObservePayload("in", in.Name(), len(body))
	start := time.Now()
	var decoded any
	ok := false
	if in.Name() == "json" {
		// The common case, read straight into a record struct; anything
		// else, failures included, is the codec's to read and report.
		decoded, ok = v.DecodeJSON(body)
	}
	if !ok {
		decoded = v.New()
		if err := in.Decode(body, decoded); err != nil {
			err = everyFailure(in, v, body, err)
			countDecodeFailure(m, in.Name(), err)
			return nil, err
		}
		cbor := in.Name() == "cbor"
		if (v.HasDefaults() || cbor && v.HasTimes()) && negotiate.MayHoldNull(in.Name(), body) {
			// Decoded into a record struct, a null field looks left out:
			// the body is read as plain data too, to tell them apart.
			var plain any
			if err := negotiate.DecodeData(in, body, &plain); err != nil {
				countDecodeFailure(m, in.Name(), err)
				return nil, err
			}
			if err := v.NullDefaults(plain, cbor); err != nil {
				return nil, err
			}
			if cbor {
				// CBOR writes the zero time as null.
				v.NullTimes(decoded, plain)
			}
		}
	}
	m.ObserveCodec("decode", in.Name(), time.Since(start))
	return decoded, nil
}

// putRecord serves PUT (create or replace at a given id) and POST (create
// with a server-made id).
func (d *recordDeps) putRecord(create bool) http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, !create)
		if err != nil {
			return err
		}
		in, ctVersion, err := d.codecs.ForContentType(r.Header.Get("Content-Type"))
		if err != nil {
			return withAcceptPost(w, r, d.codecs, err)
		}
		v, err := bodyVersion(t.schema, r.Header.Get("Content-Type"), ctVersion)
		if err != nil {
			return withAcceptPost(w, r, d.codecs, err)
		}
		// The response's representation is settled before anything is
		// stored, so a write is never stored and then answered with 406.
		f, err := negotiateRecord(r, d.codecs, t.schema, v.Number())
		if err != nil {
			return err
		}
		// Marked before the write, so that a refused write at a
		// deprecated version says so too.
		d.markDeprecated(w, t.schema, v.Number(), f.version)
		// Preconditions come before the body (RFC 9110 §13.2.1).
		cond := d.conditions(r, t, f)
		if create {
			if err := records.CheckCreateConditions(cond); err != nil {
				return err
			}
		} else if err := d.svc.CheckConditions(r.Context(), t.name, t.id, cond, false); err != nil {
			return d.currentETag(r, t, f, err)
		}
		body, err := d.decodeBody(w, r, in, v)
		if err != nil {
			return withAcceptPost(w, r, d.codecs, err)
		}
		info := requestInfoFrom(w)
		info.formatIn, info.formatOut = in.Name(), f.codec.Name()
		write := records.Write{
			Schema: t.name, ID: t.id, Version: v.Number(), Body: body, FromGob: in.Name() == "gob",
			Cond: cond, ViewVersion: viewVersion(r, t.schema, f),
		}
		fb := d.writeFallback(r, t, v.Number(), write.ViewVersion)
		write.NextView = fb.nextView()
		var written *records.Written
		if create {
			written, err = d.svc.Create(writeContext(r), write)
		} else {
			written, err = d.svc.Put(writeContext(r), write)
		}
		if err != nil {
			d.countValidation(t, v.Number(), err)
			return d.currentETag(r, t, f, err)
		}
		d.countConversion(t.schema, v.Number(), t.schema.Latest().Number())
		d.audit(w, t.name, written)
		f = d.shownIn(w, t, fb, f, written)
		status := http.StatusOK
		if written.Created {
			status = http.StatusCreated
			w.Header().Set("Location", recordPath(t.name, written.Record.ID))
		}
		return d.answerWrite(w, r, t, f, written, status)
	})
}

// currentETag makes the current_etag of a write's 412 the ETag that a
// read sends of the representation the write answers in, f, where that is
// not the tag the records package gave, which f names: where the body
// decides it (a content coding a small body does not get) and where f's
// version is not the latest (the record may only be shown in the next
// format the request accepts, or in none, which makes it null). Any other
// error comes back as it is.
func (d *recordDeps) currentETag(r *http.Request, t target, f recordFormat, err error) error {
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.PreconditionFailed || p.Extra["current_etag"] == nil {
		return err
	}
	if f.encoding == "" && f.version == t.schema.Latest().Number() {
		return err
	}
	// The tag is of the revision the 412 names, which a write since may
	// have superseded, so that current_revision and current_etag agree.
	revision, _ := p.Extra["current_revision"].(int64)
	rec, gerr := d.svc.RecordAt(r.Context(), t.name, t.id, revision)
	if gerr != nil {
		return err
	}
	switch rep, _, rerr := d.represent(r, t, rec, f); {
	case rerr == nil:
		p.With("current_etag", rep.etag)
	case problem.Is(rerr, problem.NotAcceptable):
		p.With("current_etag", nil)
	}
	return err
}

// writeFallback is the fallback of a write at version whose answer shows
// its record at view, or nil when it shows none.
func (d *recordDeps) writeFallback(r *http.Request, t target, version, view int) *fallback {
	if view == 0 {
		return nil
	}
	return &fallback{r: r, codecs: d.codecs, sc: t.schema, defaultVersion: version}
}

// shownIn returns the format a write's answer shows its record in: f, or
// the one fb found when the record could not be shown in f.
func (d *recordDeps) shownIn(w http.ResponseWriter, t target, fb *fallback, f recordFormat, written *records.Written) recordFormat {
	if written.ViewVersion == 0 || written.ViewVersion == f.version {
		return f
	}
	f = fb.format(f, written.ViewVersion)
	requestInfoFrom(w).formatOut = f.codec.Name()
	markServed(w, d.metrics, t.schema, f.version, written.Version)
	return f
}

// answerWrite answers a successful write: the stored record as a read
// would show it, or only headers with Prefer: return=minimal.
func (d *recordDeps) answerWrite(w http.ResponseWriter, r *http.Request, t target, f recordFormat, written *records.Written, status int) error {
	rec := written.Record
	w.Header().Set("Ferry-Revision", strconv.FormatInt(rec.Revision, 10))
	rep := recordRepresentation(t, rec, f)
	switch preferredReturn(r) {
	case "minimal":
		if err := d.settleETag(&rep, t, rec, f, written.View); err != nil {
			return err
		}
		w.Header().Set("Preference-Applied", "return=minimal")
		if status == http.StatusOK {
			status = http.StatusNoContent
		}
		writeValidators(w, status, rep)
		return nil
	case "representation":
		// What a write answers anyway; saying so tells the client its
		// preference was understood.
		w.Header().Set("Preference-Applied", "return=representation")
	}
	if err := d.encodeBody(&rep, t, rec, f, written.View); err != nil {
		return err
	}
	writeRepresentation(w, r, status, rep)
	return nil
}

// viewVersion is the version a write's response shows the record at, or 0
// when the client asked for no body at the latest version, where every
// record can be shown. At an older version the record is viewed even
// for no body: its ETag names that representation, and a write whose
// record cannot be shown there is refused (406) before it is stored.
func viewVersion(r *http.Request, sc *schema.Schema, f recordFormat) int {
	if preferMinimal(r) && f.version == sc.Latest().Number() {
		return 0
	}
	return f.version
}

// preferMinimal reports whether the request prefers return=minimal.
func preferMinimal(r *http.Request) bool { return preferredReturn(r) == "minimal" }

// preferredReturn returns the request's return preference, lower-cased:
// "minimal", "representation", another word, or "" when there is none.
// Only the first return preference counts (RFC 7240 §2), across every
// Prefer field in order.
func preferredReturn(r *http.Request) string {
	for _, v := range r.Header.Values("Prefer") {
		for v != "" {
			var p string
			p, v = nextListElement(v)
			// preference = token [ BWS "=" BWS word ] *( OWS ";" ... )
			// (RFC 7240); its parameters do not change it.
			name, value, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(name), "return") {
				value, _, _ = strings.Cut(value, ";")
				return strings.ToLower(strings.Trim(strings.TrimSpace(value), `"`))
			}
		}
	}
	return ""
}

// nextListElement splits the first element off a comma-separated list
// (RFC 9110 §5.6.1), whose elements may hold commas in quoted strings.
func nextListElement(list string) (elem, rest string) {
	quoted := false
	for i := 0; i < len(list); i++ {
		switch c := list[i]; {
		case quoted && c == '\\':
			i++ // a quoted-pair
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return list[:i], list[i+1:]
		}
	}
	return list, ""
}

func recordPath(schemaName, id string) string {
	return "/v1/records/" + url.PathEscape(schemaName) + "/" + url.PathEscape(id)
}

// countConversion counts a record converted between schema versions.
func (d *recordDeps) countConversion(sc *schema.Schema, from, to int) {
	d.countConversions(sc, from, to, 1)
}

// countConversions counts n records converted between schema versions.
func (d *recordDeps) countConversions(sc *schema.Schema, from, to, n int) {
	if from != to && n > 0 {
		d.metrics.VersionConversions.WithLabelValues(sc.Name(), strconv.Itoa(from), strconv.Itoa(to)).Add(float64(n))
	}
}

func (d *recordDeps) countValidation(t target, version int, err error) {
	if problem.Is(err, problem.Unprocessable) {
		d.metrics.ValidationFailures.WithLabelValues(t.name, strconv.Itoa(version)).Inc()
	}
}

func (d *recordDeps) patchRecord() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, true)
		if err != nil {
			return err
		}
		mt, err := negotiate.ParseContentType(r.Header.Get("Content-Type"))
		if err == nil && mt.Essence != "application/merge-patch+json" {
			err = problem.New(problem.UnsupportedMedia, "PATCH takes application/merge-patch+json, not %q", mt.Essence).
				WithReason("content_type").With("supported", []string{"application/merge-patch+json"})
		}
		if err != nil {
			if problem.Is(err, problem.UnsupportedMedia) || r.Header.Get("Content-Type") == "" {
				w.Header().Set("Accept-Patch", "application/merge-patch+json")
				if !problem.Is(err, problem.UnsupportedMedia) {
					err = problem.New(problem.UnsupportedMedia, "PATCH takes application/merge-patch+json").
						WithReason("content_type").With("supported", []string{"application/merge-patch+json"})
				}
			}
			return err
		}
		v, err := bodyVersion(t.schema, r.Header.Get("Content-Type"), mt.Version)
		if err != nil {
			w.Header().Set("Accept-Patch", "application/merge-patch+json")
			if p, ok := problem.As(err); ok && p.Kind == problem.UnsupportedMedia {
				p.With("supported", []string{"application/merge-patch+json"})
			}
			return err
		}
		f, err := negotiateRecord(r, d.codecs, t.schema, v.Number())
		if err != nil {
			return err
		}
		d.markDeprecated(w, t.schema, v.Number(), f.version)
		// Preconditions come before the body (RFC 9110 §13.2.1).
		cond := d.conditions(r, t, f)
		if err := d.svc.CheckConditions(r.Context(), t.name, t.id, cond, true); err != nil {
			return d.currentETag(r, t, f, err)
		}
		body, err := readBody(w, r, d.limits.MaxBodyBytes)
		if err != nil {
			return err
		}
		var doc any
		if err := negotiate.DecodeData(d.codecs.Codec("json"), body, &doc); err != nil {
			countDecodeFailure(d.metrics, "json", err)
			return err
		}
		merge, ok := doc.(map[string]any)
		if !ok {
			return problem.New(problem.Invalid, "a merge patch must be a JSON object").WithReason("type")
		}
		info := requestInfoFrom(w)
		info.formatIn, info.formatOut = "json", f.codec.Name()
		view := viewVersion(r, t.schema, f)
		fb := d.writeFallback(r, t, v.Number(), view)
		written, err := d.svc.Patch(writeContext(r), records.Patch{
			Schema: t.name, ID: t.id, Version: v.Number(), Merge: merge,
			Cond: cond, ViewVersion: view, NextView: fb.nextView(),
		})
		if err != nil {
			d.countValidation(t, v.Number(), err)
			return d.currentETag(r, t, f, err)
		}
		d.audit(w, t.name, written)
		f = d.shownIn(w, t, fb, f, written)
		return d.answerWrite(w, r, t, f, written, http.StatusOK)
	})
}

func (d *recordDeps) deleteRecord() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, true)
		if err != nil {
			return err
		}
		f, err := negotiateRecord(r, d.codecs, t.schema, t.schema.Latest().Number())
		if err != nil {
			// A delete answers no body: an Accept it cannot meet does not
			// stop it; the representation only names the 412's ETag.
			f = recordFormat{codec: d.codecs.Codecs()[0], version: t.schema.Latest().Number()}
		}
		// A delete takes no body: it is read only to check a
		// Content-Digest, after the preconditions (RFC 9110 §13.2.1),
		// which the delete weighs again as it commits.
		cond := d.conditions(r, t, f)
		if len(r.Header["Content-Digest"]) > 0 {
			if err := d.svc.CheckConditions(r.Context(), t.name, t.id, cond, true); err != nil {
				return d.currentETag(r, t, f, err)
			}
			if err := checkDigestOnly(w, r, d.limits.MaxBodyBytes); err != nil {
				return err
			}
		}
		written, err := d.svc.Delete(writeContext(r), t.name, t.id, cond, "")
		if err != nil {
			return d.currentETag(r, t, f, err)
		}
		d.audit(w, t.name, written)
		w.Header().Set("Ferry-Revision", strconv.FormatInt(written.Record.Revision, 10))
		if preferMinimal(r) {
			// A delete's answer is minimal anyway; saying so tells the
			// client its preference was understood, as on other writes.
			w.Header().Set("Preference-Applied", "return=minimal")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
