package handlers

import (
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/metrics"
	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/records"
	"github.com/ferry-dev/ferry/internal/schema"
)

// A recordFormat is the representation negotiated for a record response:
// format, schema version, content coding.
type recordFormat struct {
	codec     negotiate.Codec
	mediaType string
	alias     bool // mediaType is an alias of the format's own
	version   int
	encoding  string
	pretty    bool
	key       string // repr, worked out once
	tag       string // tagRepr, worked out once
}

// repr names the representation for entity tags and the cache.
func (f recordFormat) repr() string {
	if f.key != "" {
		return f.key
	}
	s := f.codec.Name() + ".v" + strconv.Itoa(f.version)
	if f.encoding != "" {
		s += "." + f.encoding
	}
	if f.pretty {
		s += ".pretty"
	}
	return s
}

// tagRepr names the representation in entity tags: repr, and the media
// type when it is an alias of the format's, since representations that
// differ only in their Content-Type need entity tags of their own (RFC
// 9110 §8.8.1), where the cache shares their bytes.
func (f recordFormat) tagRepr() string {
	if f.tag != "" {
		return f.tag
	}
	s := f.repr()
	if f.alias {
		_, subtype, _ := strings.Cut(f.mediaType, "/")
		s += "+" + subtype
	}
	return s
}

// settled is f with its names worked out.
func (f recordFormat) settled() recordFormat {
	f.key, f.tag = "", ""
	f.key = f.repr()
	f.tag = f.tagRepr()
	return f
}

// unencoded is f without its content coding.
func (f recordFormat) unencoded() recordFormat {
	f.encoding = ""
	return f.settled()
}

func (f recordFormat) contentType(schemaName string) string {
	return f.mediaType + "; schema=" + schemaName + "; version=" + strconv.Itoa(f.version)
}

// negotiateRecord chooses the representation of a record response: the
// format and version from Accept, else defaultVersion. A version the
// schema lacks is a 406 listing the versions it has.
func negotiateRecord(r *http.Request, codecs *negotiate.Registry, sc *schema.Schema, defaultVersion int) (recordFormat, error) {
	return negotiateRecordAmong(r, codecs, sc, sc, defaultVersion)
}

// negotiateRecordAmong is negotiateRecord among the versions of sc that
// res has.
func negotiateRecordAmong(r *http.Request, codecs *negotiate.Registry, res negotiate.Resource, sc *schema.Schema, defaultVersion int) (recordFormat, error) {
	accept := acceptHeader(r)
	codec, choice, defaultVersion, err := anyVersion(sc, res, defaultVersion, func(def int) (negotiate.Codec, negotiate.Choice, error) {
		return codecs.Negotiate(accept, res, def)
	})
	if err != nil {
		return recordFormat{}, err
	}
	version := choice.Version
	if version == 0 {
		version = defaultVersion
	}
	if err := acceptableVersion(sc, version); err != nil {
		return recordFormat{}, err
	}
	pretty, err := queryBool(r, "pretty")
	if err != nil {
		return recordFormat{}, err
	}
	if pretty {
		codec = negotiate.Pretty(codec)
	}
	f := recordFormat{codec: codec, mediaType: choice.MediaType, alias: choice.Alias, version: version, encoding: responseEncoding(r), pretty: pretty}
	return f.settled(), nil
}

// anyVersion runs a negotiation in which a range without a version takes
// any version of sc that res has, def first: choose negotiates with the
// version such a range asks for. When its answer for def is a 406, or a
// version res lacks, or when a range names a version (so that another
// default could weigh more), choose is asked again with each other
// version, from the latest down, and the answer that weighs most wins,
// the earliest at a tie: json;version=3;q=0, json gets version 2, and so
// does json;version=3;q=0.2, json, and json;version=3;q=0, json, cbor
// (JSON before CBOR at a tie, as always). The first answer stands when
// none does better: its 406, or its version the schema lacks, which names the
// versions there are. It returns the answer and the version choose was
// given for it.
func anyVersion[T any](sc *schema.Schema, res negotiate.Resource, def int, choose func(def int) (T, negotiate.Choice, error)) (T, negotiate.Choice, int, error) {
	x, ch, err := choose(def)
	missing := err == nil && ch.Version != 0 && !res.Has(ch.Version)
	failed := missing || problem.Is(err, problem.NotAcceptable)
	if !failed && (err != nil || !ch.VersionNamed) {
		return x, ch, def, err
	}
	found := !failed
	for v := sc.Latest().Number(); v >= 1; v-- {
		if v == def || !res.Has(v) {
			continue
		}
		y, vch, verr := choose(v)
		if verr != nil || vch.Version != 0 && !res.Has(vch.Version) {
			continue
		}
		// Heavier wins; at a tie, the server's order of formats, as
		// within one negotiation, then the answer found first.
		if found && (vch.Quality < ch.Quality || vch.Quality == ch.Quality && vch.Offer >= ch.Offer) {
			continue
		}
		x, ch, def, err, found = y, vch, v, nil, true
	}
	return x, ch, def, err
}

// versionsLeft is a schema as negotiation sees it, less the versions a
// record could not be shown at.
type versionsLeft struct {
	*schema.Schema
	tried []int
}

// Has reports whether the schema has version and it was not tried.
func (v versionsLeft) Has(version int) bool {
	return !slices.Contains(v.tried, version) && v.Schema.Has(version)
}

// A fallback finds, for a record that cannot be shown at the version a
// request prefers, the next format the request accepts: RFC 9110 has a
// 406 mean that no acceptable representation can be made, so a range the
// client weighed lower serves when those above it cannot.
type fallback struct {
	r              *http.Request
	codecs         *negotiate.Registry
	sc             *schema.Schema
	defaultVersion int
	formats        []recordFormat // those next has given
}

// next returns the version of the format the request accepts best after
// the versions tried, or 0 when it accepts no other.
func (fb *fallback) next(tried []int) int {
	f, err := negotiateRecordAmong(fb.r, fb.codecs, versionsLeft{fb.sc, tried}, fb.sc, fb.defaultVersion)
	if err != nil || slices.Contains(tried, f.version) {
		return 0
	}
	fb.formats = append(fb.formats, f)
	return f.version
}

// nextView is fb.next, or nil for a nil fb.
func (fb *fallback) nextView() func(tried []int) int {
	if fb == nil {
		return nil
	}
	return fb.next
}

// format returns the format of version, which is f's or one next gave.
func (fb *fallback) format(f recordFormat, version int) recordFormat {
	if version == f.version {
		return f
	}
	for _, g := range fb.formats {
		if g.version == version {
			return g
		}
	}
	return f
}

// acceptHeader is the request's Accept field.
func acceptHeader(r *http.Request) string { return listField(r.Header, "Accept") }

// listField is the value of a list-valued field whose canonical name is
// name: several lines of it are one comma-separated list (RFC 9110 §5.3).
func listField(h http.Header, name string) string {
	v := h[name]
	if len(v) == 0 {
		return ""
	}
	if len(v) == 1 {
		return v[0]
	}
	return strings.Join(v, ", ")
}

// jsonFormat is compact JSON at version, or at the latest when version is
// 0: the format of records inside server-sent events. A version the schema
// lacks is a 406 listing the versions it has.
func jsonFormat(codecs *negotiate.Registry, sc *schema.Schema, version int) (recordFormat, error) {
	if version == 0 {
		version = sc.Latest().Number()
	}
	if err := acceptableVersion(sc, version); err != nil {
		return recordFormat{}, err
	}
	f := recordFormat{codec: codecs.Codec("json"), mediaType: negotiate.MediaTypeJSON, version: version}
	return f.settled(), nil
}

// bodyVersion resolves the schema version of a request body: the
// Content-Type version, else the latest. A version the schema lacks is a
// 415 listing the versions it has; so is a Content-Type whose schema
// parameter names another schema (the body is not of this one).
func bodyVersion(sc *schema.Schema, contentType string, ctVersion int) (*schema.Version, error) {
	if name := negotiate.ContentTypeSchema(contentType); name != "" && name != sc.Name() {
		return nil, problem.New(problem.UnsupportedMedia, "the content-type says the body is of schema %q, not %q", name, sc.Name()).
			WithReason("content_type")
	}
	if ctVersion == 0 {
		return sc.Latest(), nil
	}
	v, err := sc.Version(ctVersion)
	if err != nil {
		return nil, problem.New(problem.UnsupportedMedia, "schema %q has no version %s", sc.Name(), versionLabel(ctVersion)).
			With("versions", sc.Versions())
	}
	return v, nil
}

// acceptableVersion answers a response asked at version n of sc: nil when
// sc has it, else a 406 listing the versions it has.
func acceptableVersion(sc *schema.Schema, n int) error {
	if sc.Has(n) {
		return nil
	}
	return problem.New(problem.NotAcceptable, "schema %q has no version %s", sc.Name(), versionLabel(n)).
		With("versions", sc.Versions())
}

// versionLabel names version n of a media type in a problem's detail.
func versionLabel(n int) string {
	if n == negotiate.NoVersion {
		return "named by a version parameter that is not a version number (a positive integer without leading zeros, below 1000000000)"
	}
	return strconv.Itoa(n)
}

// markDeprecated adds Deprecation and Sunset headers when a request or
// response uses a deprecated version, and counts the use per version and
// key, so operators see who still uses it (the key is empty in open mode).
func markDeprecated(w http.ResponseWriter, m *metrics.Metrics, sc *schema.Schema, versions ...int) {
	for i, n := range versions {
		v, err := sc.Version(n)
		if err != nil || slices.Contains(versions[:i], n) {
			continue
		}
		if markVersionDeprecated(w, v) {
			m.DeprecatedRequests.WithLabelValues(sc.Name(), strconv.Itoa(n), "").Inc()
		}
	}
}

// markServed corrects the deprecation marks of a response that a fallback
// moved to version served: they become served's when it is deprecated,
// else those of a version also in use (a write's own), one version's
// marks whole; served is counted unless also counted it already.
func markServed(w http.ResponseWriter, m *metrics.Metrics, sc *schema.Schema, served int, also ...int) {
	h := w.Header()
	h.Del("Deprecation")
	h.Del("Sunset")
	if v, err := sc.Version(served); err == nil && markVersionDeprecated(w, v) {
		if !slices.Contains(also, served) {
			m.DeprecatedRequests.WithLabelValues(sc.Name(), strconv.Itoa(served), "").Inc()
		}
		return
	}
	for _, n := range also {
		if v, err := sc.Version(n); err == nil && markVersionDeprecated(w, v) {
			return
		}
	}
}

func (d *recordDeps) markDeprecated(w http.ResponseWriter, sc *schema.Schema, versions ...int) {
	markDeprecated(w, d.metrics, sc, versions...)
}

// envelopeTypes builds, once per record struct type, the typed envelope
// {id, revision, version, updated_at, data} that every format (gob
// included) encodes directly.
type envelopeTypes struct {
	mu       sync.Mutex
	types    map[reflect.Type]reflect.Type
	wrappers map[wrapperKey]reflect.Type
}

var (
	stringType = reflect.TypeFor[string]()
	int64Type  = reflect.TypeFor[int64]()
	timeType   = reflect.TypeFor[time.Time]()
)

func tagged(name, goName string, t reflect.Type) reflect.StructField {
	return reflect.StructField{
		Name: goName, Type: t,
		Tag: reflect.StructTag(`json:"` + name + `" msgpack:"` + name + `" cbor:"` + name + `"`),
	}
}

// of returns the envelope type whose Data field is of type data (a pointer
// to a compiled struct).
func (e *envelopeTypes) of(data reflect.Type) reflect.Type {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.types[data]; ok {
		return t
	}
	if e.types == nil {
		e.types = make(map[reflect.Type]reflect.Type)
	}
	t := reflect.StructOf([]reflect.StructField{
		tagged("id", "Id", stringType),
		tagged("revision", "Revision", int64Type),
		tagged("version", "Version", int64Type),
		tagged("updated_at", "UpdatedAt", timeType),
		tagged("data", "Data", data),
	})
	e.types[data] = t
	return t
}

// envelope builds an envelope value around data.
func (e *envelopeTypes) envelope(id string, revision int64, version int, updated time.Time, data any) reflect.Value {
	dv := reflect.ValueOf(data)
	env := reflect.New(e.of(dv.Type())).Elem()
	env.Field(0).SetString(id)
	env.Field(1).SetInt(revision)
	env.Field(2).SetInt(int64(version))
	env.Field(3).Set(reflect.ValueOf(updated.UTC()))
	env.Field(4).Set(dv)
	return env
}

// appendEnvelopeJSON appends the envelope of a record at version as the
// JSON codec writes envelope(…), with the data copied from the stored
// document (schema.AppendJSON). It returns schema.ErrNoDirectJSON for a
// record that must be viewed first.
func appendEnvelopeJSON(dst []byte, sc *schema.Schema, rec *records.Record, version int) ([]byte, error) {
	updated := rec.UpdatedAt.UTC()
	if y := updated.Year(); y < 0 || y > 9999 {
		return dst, schema.ErrNoDirectJSON
	}
	dst = append(dst, `{"id":`...)
	// Record ids (^[A-Za-z0-9][A-Za-z0-9._~-]*$) need no escaping.
	dst = append(append(append(dst, '"'), rec.ID...), '"')
	dst = strconv.AppendInt(append(dst, `,"revision":`...), rec.Revision, 10)
	dst = strconv.AppendInt(append(dst, `,"version":`...), int64(version), 10)
	dst = updated.AppendFormat(append(dst, `,"updated_at":"`...), time.RFC3339Nano)
	dst, err := sc.AppendJSON(append(dst, `","data":`...), rec.Stored, version)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// pageOf returns the page type {items: [envelope…], next_cursor} for an
// envelope type.
func (e *envelopeTypes) pageOf(env reflect.Type) reflect.Type {
	return e.wrapper("page", env, func() reflect.Type {
		next := tagged("next_cursor", "NextCursor", stringType)
		next.Tag = `json:"next_cursor,omitempty" msgpack:"next_cursor,omitempty" cbor:"next_cursor,omitempty"`
		return reflect.StructOf([]reflect.StructField{
			tagged("items", "Items", reflect.SliceOf(env)),
			next,
		})
	})
}

// changeOf returns the change type {seq, id, revision, op, at, data} for a
// record struct pointer type.
func (e *envelopeTypes) changeOf(data reflect.Type) reflect.Type {
	return e.wrapper("change", data, func() reflect.Type {
		return reflect.StructOf([]reflect.StructField{
			tagged("seq", "Seq", reflect.TypeFor[uint64]()),
			tagged("id", "Id", stringType),
			tagged("revision", "Revision", int64Type),
			tagged("op", "Op", stringType),
			tagged("at", "At", timeType),
			tagged("data", "Data", data),
			// Why data is null for a change that is not a delete: the
			// record cannot be shown at the asked version. The list goes
			// on past it, as an event stream does.
			{Name: "Error", Type: stringType, Tag: `json:"error,omitempty" msgpack:"error,omitempty" cbor:"error,omitempty"`},
		})
	})
}

// changesOf returns {changes: [change…], last_seq} for a change type.
func (e *envelopeTypes) changesOf(change reflect.Type) reflect.Type {
	return e.wrapper("changes", change, func() reflect.Type {
		return reflect.StructOf([]reflect.StructField{
			tagged("changes", "Changes", reflect.SliceOf(change)),
			tagged("last_seq", "LastSeq", reflect.TypeFor[uint64]()),
		})
	})
}

type wrapperKey struct {
	kind string
	of   reflect.Type
}

func (e *envelopeTypes) wrapper(kind string, of reflect.Type, build func() reflect.Type) reflect.Type {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wrappers == nil {
		e.wrappers = make(map[wrapperKey]reflect.Type)
	}
	k := wrapperKey{kind, of}
	if t, ok := e.wrappers[k]; ok {
		return t
	}
	t := build()
	e.wrappers[k] = t
	return t
}

// issuedTags keeps of tags "*" and the entity tags whose representation
// part is one Ferry issues for t's schema, as tagRepr builds it: a
// format, a version the schema has, then a content coding, ".pretty" and
// an alias's subtype, each if any. The revision and tag before it are the
// records package's to weigh; a tag made up around them names nothing.
// The result is never nil: a header of no entity tag holds for none.
func (d *recordDeps) issuedTags(tags []string, t target) []string {
	kept := make([]string, 0, len(tags))
	for _, tag := range tags {
		if tag == "*" || d.issuedRepr(tag, t) {
			kept = append(kept, tag)
		}
	}
	return kept
}

// issuedRepr reports whether tag, strong or weak, ends in a representation
// Ferry issues for t's schema.
func (d *recordDeps) issuedRepr(tag string, t target) bool {
	repr, ok := records.ETagRepr(tag)
	if !ok {
		return false
	}
	repr, alias, aliased := strings.Cut(repr, "+")
	name, rest, _ := strings.Cut(repr, ".")
	codec := d.codecs.Codec(name)
	if codec == nil {
		return false
	}
	version, rest, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(strings.TrimPrefix(version, "v"))
	if err != nil || "v"+strconv.Itoa(n) != version || !t.schema.Has(n) {
		return false
	}
	if coding, after, _ := strings.Cut(rest, "."); negotiate.ResponseCoding(coding) {
		rest = after
	}
	if pretty, after, _ := strings.Cut(rest, "."); pretty == "pretty" {
		rest = after
	}
	if rest != "" {
		return false
	}
	if !aliased {
		return true
	}
	for _, mt := range codec.MediaTypes()[1:] {
		if _, subtype, _ := strings.Cut(mt, "/"); subtype == alias {
			return true
		}
	}
	return false
}
