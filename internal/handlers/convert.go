package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/metrics"
	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/records"
	"github.com/ferry-dev/ferry/internal/schema"
)

// schemalessOffers are the formats plain data converts between: every
// codec but gob, which needs a schema's types.
func schemalessOffers(codecs *negotiate.Registry) ([]negotiate.Offer, []negotiate.Codec) {
	var offers []negotiate.Offer
	var cs []negotiate.Codec
	for i, c := range codecs.Codecs() {
		if c.Name() == "gob" {
			continue
		}
		offers = append(offers, codecs.Offers()[i])
		cs = append(cs, c)
	}
	return offers, cs
}

// convertSchemaless transcodes plain data between JSON, MessagePack and
// CBOR, keeping integers exact and times to the nanosecond.
func convertSchemaless(codecs *negotiate.Registry, limits Limits, m *metrics.Metrics) errHandler {
	offers, outCodecs := schemalessOffers(codecs)
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		info := requestInfoFrom(w)
		in, _, err := codecs.ForContentType(r.Header.Get("Content-Type"))
		if err != nil {
			return withAcceptPost(w, r, codecs, err)
		}
		if in.Name() == "gob" {
			return withAcceptPost(w, r, codecs, problem.New(problem.UnsupportedMedia,
				"gob bodies carry Go types, so converting one needs a schema: add ?schema=NAME").
				WithReason("gob_needs_schema").With("supported", negotiate.Acceptable(offers)))
		}
		choice, err := negotiate.Choose(acceptHeader(r), offers)
		if err != nil {
			if p, ok := problem.As(err); ok && p.Kind == problem.NotAcceptable {
				p.Detail = "no acceptable format for plain data (gob needs ?schema=NAME)"
			}
			return err
		}
		out := outCodecs[choice.Offer]
		info.formatIn, info.formatOut = in.Name(), out.Name()
		body, err := readBody(w, r, limits.MaxBodyBytes)
		if err != nil {
			return withAcceptPost(w, r, codecs, err)
		}
		m.ObservePayload("in", in.Name(), len(body))
		var v any
		start := time.Now()
		if err := in.Decode(body, &v); err != nil {
			countDecodeFailure(m, in.Name(), err)
			return err
		}
		m.ObserveCodec("decode", in.Name(), time.Since(start))
		pretty, err := queryBool(r, "pretty")
		if err != nil {
			return err
		}
		if pretty {
			out = negotiate.Pretty(out)
		}
		start = time.Now()
		encoded, err := out.Marshal(v)
		if err != nil {
			return err
		}
		m.ObserveCodec("encode", out.Name(), time.Since(start))
		m.ObservePayload("out", out.Name(), len(encoded))
		encoded, enc, err := compress(encoded, responseEncoding(r))
		if err != nil {
			return err
		}
		writeRepresentation(w, r, http.StatusOK, representation{body: encoded, contentType: choice.MediaType, encoding: enc})
		return nil
	})
}

// withAcceptPost returns err; when it is a 415 it first names what is
// accepted in Accept-Post (or Accept-Patch), as RFC 5789 and RFC 9110 ask.
func withAcceptPost(w http.ResponseWriter, r *http.Request, codecs *negotiate.Registry, err error) error {
	if p, ok := problem.As(err); ok && p.Kind == problem.UnsupportedMedia {
		supported := codecs.Supported()
		if s, ok := p.Extra["supported"].([]string); ok {
			supported = s
		} else if _, encoding := p.Extra["accept_encoding"]; !encoding {
			// A 415 for the media type lists those supported, one for a
			// version or schema the body cannot be of too; one for the
			// content coding lists the codings instead.
			p.With("supported", supported)
		}
		list := strings.Join(supported, ", ")
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Accept-Post", list)
		case http.MethodPatch:
			w.Header().Set("Accept-Patch", list)
		}
	}
	return err
}

// countDecodeFailure counts a refused body by format and reason; a
// listing of misfits (a body that does not fit its version) by its first
// one's rule, as the decoder reports one misfit.
func countDecodeFailure(m *metrics.Metrics, format string, err error) {
	reason := "other"
	if p, ok := problem.As(err); ok && p.Reason != "" {
		reason = p.Reason
		if reason == "schema" && len(p.Fields) > 0 {
			reason = p.Fields[0].Rule
		}
	}
	m.DecodeFailures.WithLabelValues(format, reason).Inc()
}

// convert serves POST /v1/convert: plain data between JSON, MessagePack
// and CBOR, or, with ?schema=NAME, a record validated and converted between
// the schema's versions and any two formats, gob included. Nothing is
// stored.
func convert(codecs *negotiate.Registry, schemas *schema.Registry, limits Limits, m *metrics.Metrics) http.Handler {
	plain := convertSchemaless(codecs, limits, m)
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		if !r.URL.Query().Has("schema") {
			return plain(w, r)
		}
		name := r.URL.Query().Get("schema")
		if name == "" {
			return problem.New(problem.Invalid, "query parameter schema is empty; leave it out to convert without a schema").WithReason("query")
		}
		sc, err := schemas.Schema(name)
		if err != nil {
			return problem.New(problem.NotFound, "no schema named %q", name)
		}
		in, ctVersion, err := codecs.ForContentType(r.Header.Get("Content-Type"))
		if err != nil {
			return withAcceptPost(w, r, codecs, err)
		}
		v, err := bodyVersion(sc, r.Header.Get("Content-Type"), ctVersion)
		if err != nil {
			return withAcceptPost(w, r, codecs, err)
		}
		// Nothing is stored, so this is no write's response: without a
		// version in Accept it is at the latest (API §1).
		f, err := negotiateRecord(r, codecs, sc, sc.Latest().Number())
		if err != nil {
			return err
		}
		// Marked before the body is read, so that a refused conversion at
		// a deprecated version says so too.
		markDeprecated(w, m, sc, v.Number(), f.version)
		info := requestInfoFrom(w)
		info.formatIn, info.formatOut = in.Name(), f.codec.Name()
		decoded, err := decodeRecordBody(w, r, in, v, limits.MaxBodyBytes, m)
		if err != nil {
			return withAcceptPost(w, r, codecs, err)
		}
		rec, err := v.Validate(decoded, in.Name() == "gob")
		// The record goes out as a read shows it: through View, which also
		// shows an optional array or map the body left out as empty.
		if err == nil && (f.version != v.Number() || v.ShowsOptionalContainers()) {
			var doc *schema.Doc
			if doc, err = sc.Write(rec, v.Number(), nil); err == nil {
				// Shown as a read would be, in the next format the
				// request accepts when its first cannot show it.
				fb := &fallback{r: r, codecs: codecs, sc: sc, defaultVersion: sc.Latest().Number()}
				asked := f
				_, err = records.ShowFirst(f.version, fb.next, func(version int) (err error) {
					f = fb.format(asked, version)
					rec, err = sc.View(doc, version)
					return err
				})
				if err != nil {
					f = asked
				} else if f.version != asked.version {
					info.formatOut = f.codec.Name()
					markServed(w, m, sc, f.version, v.Number())
				}
				if f.version != v.Number() {
					m.VersionConversions.WithLabelValues(name, strconv.Itoa(v.Number()), strconv.Itoa(f.version)).Inc()
				}
			}
		}
		if err != nil {
			if problem.Is(err, problem.Unprocessable) {
				m.ValidationFailures.WithLabelValues(name, strconv.Itoa(v.Number())).Inc()
			}
			return err
		}
		start := time.Now()
		out, err := f.codec.Marshal(rec)
		if err != nil {
			return err
		}
		m.ObserveCodec("encode", f.codec.Name(), time.Since(start))
		m.ObservePayload("out", f.codec.Name(), len(out))
		out, enc, err := compress(out, f.encoding)
		if err != nil {
			return err
		}
		writeRepresentation(w, r, http.StatusOK, representation{body: out, contentType: f.contentType(name), encoding: enc})
		return nil
	})
}
