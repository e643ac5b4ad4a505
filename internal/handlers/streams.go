package handlers

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/records"
	"github.com/ferry-dev/ferry/internal/schema"
)

func (d *recordDeps) listRecords() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, false)
		if err != nil {
			return err
		}
		limit, err := queryInt(r, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		f, err := negotiateRecord(r, d.codecs, t.schema, t.schema.Latest().Number())
		if err != nil {
			return err
		}
		// Marked before the page is made, so that a page refused at a
		// deprecated version says so too.
		d.markDeprecated(w, t.schema, f.version)
		requestInfoFrom(w).formatOut = f.codec.Name()
		page, err := d.svc.List(r.Context(), t.name, r.URL.Query().Get("cursor"), int(limit))
		if err != nil {
			return err
		}
		// A page shows its records at one version: when one of them
		// cannot be shown at the version asked for, the whole page is
		// shown in the next format the request accepts.
		fb := &fallback{r: r, codecs: d.codecs, sc: t.schema, defaultVersion: t.schema.Latest().Number()}
		asked := f
		var env reflect.Type
		var items reflect.Value
		_, err = records.ShowFirst(f.version, fb.next, func(version int) (err error) {
			f = fb.format(asked, version)
			env, items, err = d.pageItems(t, page.Records, version)
			return err
		})
		if err != nil {
			return err
		}
		if f.version != asked.version {
			requestInfoFrom(w).formatOut = f.codec.Name()
			markServed(w, d.metrics, t.schema, f.version)
		}
		out := reflect.New(d.types.pageOf(env)).Elem()
		out.Field(0).Set(items)
		out.Field(1).SetString(page.NextCursor)
		body, err := f.codec.Marshal(out.Addr().Interface())
		if err != nil {
			return err
		}
		body, enc, err := compress(body, f.encoding)
		if err != nil {
			return err
		}
		if page.NextCursor != "" {
			next := *r.URL
			q := next.Query()
			q.Set("cursor", page.NextCursor)
			q.Set("limit", strconv.FormatInt(limit, 10))
			next.RawQuery = q.Encode()
			w.Header().Set("Link", "<"+next.RequestURI()+`>; rel="next"`)
		}
		writeRepresentation(w, r, http.StatusOK, representation{body: body, contentType: f.contentType(t.name), encoding: enc})
		return nil
	})
}

// pageItems returns the envelope type of version and a slice of it that
// holds recs at version.
func (d *recordDeps) pageItems(t target, recs []*records.Record, version int) (env reflect.Type, items reflect.Value, err error) {
	v, err := t.schema.Version(version)
	if err != nil {
		return nil, reflect.Value{}, err
	}
	env = d.types.of(reflect.PointerTo(v.Type()))
	items = reflect.MakeSlice(reflect.SliceOf(env), 0, len(recs))
	for _, rec := range recs {
		view, err := rec.View(t.schema, version)
		if err != nil {
			return nil, reflect.Value{}, err
		}
		items = reflect.Append(items, d.types.envelope(rec.ID, rec.Revision, version, rec.UpdatedAt, view))
	}
	return env, items, nil
}

// streamFlushEvery is how many records an export writes between flushes.
const streamFlushEvery = 256

func (d *recordDeps) exportRecords() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, false)
		if err != nil {
			return err
		}
		accept := acceptHeader(r)
		sc, choice, version, err := anyVersion(t.schema, t.schema, t.schema.Latest().Number(), func(def int) (negotiate.StreamCodec, negotiate.Choice, error) {
			return d.codecs.NegotiateStream(accept, t.schema, def)
		})
		if err != nil {
			return err
		}
		if choice.Version != 0 {
			version = choice.Version
		}
		if err := acceptableVersion(t.schema, version); err != nil {
			return err
		}
		requestInfoFrom(w).formatOut = sc.Name()
		rc := http.NewResponseController(w)
		// An export may take longer than any fixed write timeout; it is
		// bounded by the client reading it.
		_ = rc.SetWriteDeadline(time.Time{})
		h := w.Header()
		h.Set("Content-Type", choice.MediaType+"; schema="+t.name+"; version="+strconv.Itoa(version))
		h.Set("Vary", varyNegotiated)
		d.markDeprecated(w, t.schema, version)
		// HEAD makes the stream as far as a GET's status and headers
		// depend on it: to the stream encoder's first write, or the whole
		// of a shorter one. A record that cannot be shown before that point
		// is a 406 for both.
		body := newStreamBody(w, r, responseEncoding(r))
		se := sc.NewEncoder(body)
		raw, direct := se.(negotiate.RawJSONEncoder)
		n := 0
		err = d.svc.Each(r.Context(), t.name, func(rec *records.Record) error {
			err := schema.ErrNoDirectJSON
			if direct {
				err = raw.EncodeRaw(func(dst []byte) ([]byte, error) {
					return appendEnvelopeJSON(dst, t.schema, rec, version)
				})
			}
			if errors.Is(err, schema.ErrNoDirectJSON) {
				err = d.encodeEnvelope(se, t.schema, rec, version)
			}
			if err != nil {
				return err
			}
			if n++; n%streamFlushEvery == 0 {
				return body.Flush()
			}
			return nil
		})
		if err == nil {
			err = se.Close()
		}
		if err == nil {
			err = body.Close()
		}
		if body.HeadersSent() {
			return nil
		}
		// Counted as for the records read one by one: each envelope
		// sent, and the stream as one payload.
		d.countConversions(t.schema, t.schema.Latest().Number(), version, n)
		if err == nil {
			d.metrics.ObservePayload("out", sc.Name(), int(body.Len()))
		}
		if err != nil && !body.Started() {
			// Nothing went out yet: the failure can be answered.
			return err
		}
		if err != nil {
			// Headers are gone: all that is left is to cut the stream
			// short, after the last whole envelope, so that the client
			// keeps what came before and sees the rest is missing (no
			// last chunk, or a connection closed before its length),
			// and to log why.
			info := requestInfoFrom(w)
			level, msg := zerolog.WarnLevel, "export cut short"
			info.failure = "export_cut_short"
			if r.Context().Err() != nil {
				// The client left: its own doing, counted as 499.
				level, msg = zerolog.InfoLevel, "export left by its client"
				info.failure = reasonCancelled
			}
			info.logger.WithLevel(level).Err(err).Str("request_id", info.id).Str("schema", t.name).Int("envelopes_sent", n).Msg(msg)
			// HTTP/1.0 has no framing to show a body incomplete: its
			// end is the connection's, and a stream cut between two
			// envelopes would look whole, so it is not flushed.
			if r.ProtoAtLeast(1, 1) && se.Flush() == nil {
				_ = body.Flush()
			}
			body.Abort()
			panic(http.ErrAbortHandler)
		}
		return nil
	})
}

// encodeEnvelope writes a record at version through its compiled struct.
func (d *recordDeps) encodeEnvelope(se negotiate.StreamEncoder, sc *schema.Schema, rec *records.Record, version int) error {
	view, err := rec.View(sc, version)
	if err != nil {
		return err
	}
	return se.Encode(d.types.envelope(rec.ID, rec.Revision, version, rec.UpdatedAt, view).Addr().Interface())
}

func (d *recordDeps) importRecords() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, false)
		if err != nil {
			return err
		}
		if err := acceptJSON(r); err != nil {
			return err
		}
		atomic, err := queryBool(r, "atomic")
		if err != nil {
			return err
		}
		sc, ctVersion, err := d.codecs.StreamForContentType(r.Header.Get("Content-Type"))
		if err != nil {
			return withAcceptPost(w, r, d.codecs, withStreamSupported(err, d.codecs))
		}
		defaultVersion, err := bodyVersion(t.schema, r.Header.Get("Content-Type"), ctVersion)
		if err != nil {
			return withAcceptPost(w, r, d.codecs, withStreamSupported(err, d.codecs))
		}
		requestInfoFrom(w).formatIn = sc.Name()
		limit := d.limits.importLimit(atomic)
		if r.ContentLength > limit {
			// Refused before anything is read, so nothing is stored.
			return d.limits.importTooLarge(atomic)
		}
		if atomic {
			// Before its body is read: a client waiting for its turn
			// sends nothing yet, or is told so on leaving.
			select {
			case d.atomicTurn <- struct{}{}:
				defer func() { <-d.atomicTurn }()
			case <-r.Context().Done():
				return r.Context().Err()
			}
		}
		digest, err := parseDigest(listField(r.Header, "Content-Digest"))
		if err != nil {
			return err
		}
		reqBody := http.MaxBytesReader(w, r.Body, limit)
		received := negotiate.NewSourceReader(reqBody)
		var body io.Reader = received
		coding := listField(r.Header, "Content-Encoding")
		if digest != nil || !atomic && (r.ContentLength < 0 || coding != "") {
			// Envelopes are stored as they are read. A stream whose
			// digest is to be checked, or whose size is known only once
			// read (chunked or compressed), is read whole first, so that
			// a mismatch, or a stream over the limit, stores nothing. An
			// atomic import stores nothing on either anyway.
			spooled, err := spoolStream(body, coding, digest, limit)
			if problem.Is(err, problem.TooLarge) {
				err = d.limits.importTooLarge(atomic)
			}
			if err != nil {
				return withAcceptPost(w, r, d.codecs, err)
			}
			defer spooled.Close()
			body, coding = spooled, ""
		}
		raw, err := negotiate.NewBodyReader(body, coding, limit)
		if err != nil {
			return withAcceptPost(w, r, d.codecs, err)
		}
		defer raw.Close()
		watch := &limitWatch{r: raw}
		var items func() (*records.ImportItem, error)
		if sc.Name() == "gob-stream" {
			items = d.gobItems(t.schema, sc, watch, defaultVersion, ctVersion != 0)
		} else {
			items = importItems(t.schema, sc, sc.NewDecoder(watch, d.limits.MaxBodyBytes), defaultVersion, ctVersion != 0)
		}
		versions := map[int]bool{} // the versions envelopes were written at
		read := int64(0)           // the stream's bytes read before the envelope
		next := func() (*records.ImportItem, error) {
			start := time.Now()
			item, err := items()
			if item != nil {
				item.Size = watch.n - read
				d.metrics.ObserveCodec("decode", sc.Name(), time.Since(start))
			}
			read = watch.n
			if brokeOff(received) != nil {
				// Not a framing error of the stream but a body that did
				// not arrive: the import stops, and the envelopes not
				// yet committed are not. (An error that is no problem
				// says so to the importer; the answer is made below.)
				return nil, errBodyBroken
			}
			if err == nil && item.Err == nil {
				versions[item.Version] = true
			}
			return item, err
		}
		stored := 0
		hooks := records.ImportHooks{
			Written: func(written *records.Written) {
				stored++
				d.audit(w, t.name, written)
				d.countConversion(t.schema, written.Version, t.schema.Latest().Number())
			},
			// Counted as a single record's failures are, by the
			// stream's format: a rule or a missing field as a failed
			// validation, any other 400 or 422 of the body (a value no
			// record can hold) as a failed decode.
			Rejected: func(version int, err error) {
				p, ok := problem.As(err)
				switch {
				case !ok:
				case p.Kind == problem.Unprocessable && p.Reason == "validation":
					d.countValidation(t, version, err)
				case p.Kind == problem.Unprocessable || p.Kind == problem.Invalid:
					countDecodeFailure(d.metrics, sc.Name(), err)
				}
			},
		}
		summary, err := d.svc.Import(writeContext(r), t.name, next, atomic, "", hooks)
		d.metrics.ObservePayload("in", sc.Name(), int(watch.n))
		// An import that stopped early (a framing error) leaves the rest
		// of the body unread; net/http would close the connection on a
		// client still sending it, which then never sees the summary.
		// The body is within the limit, so it is read to its end.
		_, _ = io.Copy(io.Discard, reqBody)
		d.markDeprecated(w, t.schema, slices.Sorted(maps.Keys(versions))...)
		if err := brokeOff(received); err != nil {
			if p, ok := problem.As(err); ok && p.Kind == problem.Timeout {
				return p.With("accepted", stored)
			}
			return problem.Wrap(problem.Invalid, err, "the request body broke off after %d bytes (%v); the %d records committed before then are stored", received.N(), err, stored).
				WithReason("body").With("accepted", stored)
		}
		if watch.over {
			// The stream broke the import limit: that is the answer, even
			// though the envelopes before the limit (without atomic) are
			// stored and say so in the problem.
			p := d.limits.importTooLarge(atomic)
			if summary != nil {
				p.With("accepted", summary.Accepted).With("rejected", summary.Rejected).With("errors", importErrors(w, summary))
			}
			err = p
		}
		if err != nil {
			if p, ok := problem.As(err); ok {
				if s, ok := p.Extra["summary"].(*records.ImportSummary); ok {
					delete(p.Extra, "summary")
					p.With("accepted", s.Accepted).With("rejected", s.Rejected).With("errors", importErrors(w, s))
				}
			}
			return err
		}
		return writeJSON(w, r, http.StatusOK, map[string]any{
			"accepted": summary.Accepted,
			"rejected": summary.Rejected,
			"errors":   importErrors(w, summary),
		})
	})
}

// importLimit is the largest import stream: an atomic one is held in
// memory until it commits, so it has a lower limit of its own.
func (l Limits) importLimit(atomic bool) int64 {
	if atomic {
		return min(l.MaxImportBytes, l.MaxAtomicBytes)
	}
	return l.MaxImportBytes
}

// importTooLarge is the problem of an import stream over its limit
// (importLimit), which names the atomic streams' own when that is lower.
func (l Limits) importTooLarge(atomic bool) *problem.Error {
	limit := l.importLimit(atomic)
	if atomic && limit < l.MaxImportBytes {
		return problem.New(problem.TooLarge, "an atomic import stream may have at most %d bytes; send a larger one without atomic=true", limit).
			WithReason("too_large").With("limit", limit)
	}
	return problem.New(problem.TooLarge, "the import stream is larger than %d bytes", limit).WithReason("too_large").With("limit", limit)
}

// errBodyBroken stops an import whose body did not arrive whole.
var errBodyBroken = errors.New("the request body broke off")

// brokeOff returns the error with which a request body read through src
// broke off, shorter than the client declared or with its connection
// failed, or that stalled: any read error but its size limit's, which is
// a 413 of its own.
func brokeOff(src *negotiate.SourceReader) error {
	var mbe *http.MaxBytesError
	if err := src.Err(); err != nil && !errors.As(err, &mbe) {
		return err
	}
	return nil
}

// A limitWatch notes whether reading a request stream ran into a size
// limit, compressed (http.MaxBytesReader) or decompressed.
type limitWatch struct {
	r    io.Reader
	n    int64 // bytes read
	over bool
}

// Read reads and watches.
func (l *limitWatch) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			// Reported at the envelope it cut, as what it is.
			err = problem.Wrap(problem.TooLarge, err, "the import stream is larger than %d bytes", mbe.Limit).WithReason("too_large").With("limit", mbe.Limit)
		}
		if problem.Is(err, problem.TooLarge) {
			l.over = true
		}
	}
	return n, err
}

// withStreamSupported makes a 415 of an import name the stream types.
func withStreamSupported(err error, codecs *negotiate.Registry) error {
	if p, ok := problem.As(err); ok && p.Kind == problem.UnsupportedMedia {
		p.With("supported", negotiate.Acceptable(codecs.StreamOffers()))
	}
	return err
}

// importErrors renders each rejected envelope with its problem document.
func importErrors(w http.ResponseWriter, s *records.ImportSummary) []map[string]any {
	info := requestInfoFrom(w)
	out := make([]map[string]any, 0, len(s.Errors))
	for _, e := range s.Errors {
		out = append(out, map[string]any{"index": e.Index, "id": e.ID, "problem": problemMembers(info, e.Problem)})
	}
	return out
}

// importItems adapts a stream decoder to the records importer: each
// envelope is read as plain data, then its data member is built at the
// envelope's version.
func importItems(sc *schema.Schema, stream negotiate.StreamCodec, dec negotiate.StreamDecoder, def *schema.Version, named bool) func() (*records.ImportItem, error) {
	return func() (*records.ImportItem, error) {
		var raw any
		err := dec.Decode(&raw)
		switch {
		case errors.Is(err, negotiate.ErrSkipped):
			// An envelope over the body limit, or that does not decode, is
			// rejected alone, by its id when that can be found.
			item := &records.ImportItem{Version: def.Number(), Err: err}
			if id, ok := negotiate.StringMember(stream, negotiate.SkippedValue(err), "id"); ok && records.CheckID(id) == nil {
				item.ID = id
			}
			return item, nil
		case err != nil:
			return nil, err
		}
		return envelopeItem(sc, raw, def, named, stream.Name() == "cbor-seq"), nil
	}
}

// gobItems adapts a gob stream to the records importer. A gob stream has
// one Go type for all its envelopes, that of one version: the one the
// Content-Type names (named), else the one gobFirst finds.
func (d *recordDeps) gobItems(sc *schema.Schema, stream negotiate.StreamCodec, r io.Reader, def *schema.Version, named bool) func() (*records.ImportItem, error) {
	var dec negotiate.StreamDecoder
	if named {
		dec = stream.NewDecoder(r, d.limits.MaxBodyBytes)
	}
	latest := def
	replay := &replayReader{r: r, recording: true}
	refused := 0 // the leading envelopes that every version refuses
	return func() (*records.ImportItem, error) {
		if dec == nil {
			var first reflect.Value
			var err error
			dec, def, first, err = d.gobFirst(sc, stream, replay, latest, refused)
			if dec != nil {
				replay.stop()
			}
			switch {
			case errors.Is(err, negotiate.ErrSkipped):
				// Refused at every version: rejected alone, and, until
				// gobFirst gives up, the next envelope decides.
				refused++
				return &records.ImportItem{Version: latest.Number(), Err: err}, nil
			case err != nil:
				return nil, err
			}
			return gobItem(first, def), nil
		}
		ptr := reflect.New(d.types.of(reflect.TypeOf(def.New())))
		switch err := dec.Decode(ptr.Interface()); {
		case errors.Is(err, negotiate.ErrSkipped):
			// A well-framed envelope that gob's checks refuse (a field
			// the version lacks, a string that is not UTF-8) is rejected
			// alone.
			return &records.ImportItem{Version: def.Number(), Err: err}, nil
		case err != nil:
			return nil, err
		}
		return gobItem(ptr.Elem(), def), nil
	}
}

// maxUndecided is how many leading envelopes that every version refuses
// gobFirst passes over to find the stream's version in the one after;
// the stream up to there is kept in memory. Past them, the latest version
// reads the stream.
const maxUndecided = 8

// gobFirst reads the first envelope after the refused leading ones (which
// every version refuses alone) of a gob stream whose version no
// Content-Type names, and returns the decoder for the rest at the version
// that reads it: the stream is read again from its start (replay keeps it
// up to that envelope) at each version tried, the latest first, until one
// takes the envelope's fields and, when it gives one, its Version; when
// the version it names cannot read it, the first that could reads the
// stream. When none does, the error is the latest version's. When that
// refuses the envelope alone (negotiate.ErrSkipped), the decoder is nil
// and the next envelope decides, or, past maxUndecided of them, the
// latest version reads the rest of the stream.
func (d *recordDeps) gobFirst(sc *schema.Schema, stream negotiate.StreamCodec, replay *replayReader, latest *schema.Version, refused int) (negotiate.StreamDecoder, *schema.Version, reflect.Value, error) {
	tried := map[int]bool{}
	versions := sc.Versions()
	var latestErr error
	// fits is the first version whose type took the envelope, kept for
	// when the version its Version names does not.
	var fits struct {
		dec negotiate.StreamDecoder
		v   *schema.Version
		env reflect.Value
		pos int // where in the stream that decoder stopped reading
	}
	// skipped is the latest version's decoder when it refused the
	// envelope alone.
	var skipped struct {
		dec negotiate.StreamDecoder
		pos int
	}
	for v := latest; ; {
		tried[v.Number()] = true
		replay.rewind()
		dec := stream.NewDecoder(replay, d.limits.MaxBodyBytes)
		ptr := reflect.New(d.types.of(reflect.TypeOf(v.New())))
		var err error
		for range refused + 1 {
			if err = dec.Decode(ptr.Interface()); !errors.Is(err, negotiate.ErrSkipped) {
				break
			}
		}
		if err == nil {
			said := int(ptr.Elem().Field(2).Int())
			if said == 0 || said == v.Number() || tried[said] || !sc.Has(said) {
				return dec, v, ptr.Elem(), nil
			}
			if fits.dec == nil {
				fits.dec, fits.v, fits.env, fits.pos = dec, v, ptr.Elem(), replay.pos
			}
			v, _ = sc.Version(said)
			continue
		}
		if fits.dec != nil {
			// The version the envelope names does not read it; the one
			// that did reads the stream, and the envelope is refused
			// for naming another.
			replay.pos = fits.pos
			return fits.dec, fits.v, fits.env, nil
		}
		if _, ok := problem.As(err); !ok {
			return nil, nil, reflect.Value{}, err
		}
		if latestErr == nil {
			latestErr = err
			if errors.Is(err, negotiate.ErrSkipped) {
				skipped.dec, skipped.pos = dec, replay.pos
			}
		}
		v = nil
		for i := len(versions) - 1; i >= 0 && v == nil; i-- {
			if !tried[versions[i]] {
				v, _ = sc.Version(versions[i])
			}
		}
		if v != nil {
			continue
		}
		if skipped.dec == nil {
			return nil, nil, reflect.Value{}, latestErr
		}
		if refused+1 < maxUndecided {
			return nil, latest, reflect.Value{}, latestErr
		}
		replay.pos = skipped.pos
		return skipped.dec, latest, reflect.Value{}, latestErr
	}
}

// gobItem reads e, a gob envelope decoded at version def.
func gobItem(e reflect.Value, def *schema.Version) *records.ImportItem {
	item := &records.ImportItem{ID: e.Field(0).String(), Version: def.Number(), Body: e.Field(4).Interface(), FromGob: true}
	switch v := e.Field(2).Int(); {
	case v != 0 && int(v) != def.Number():
		item.Err = problem.New(problem.Invalid, "a gob stream carries one version (%d); this envelope says %d", def.Number(), v)
	case e.Field(4).Kind() == reflect.Pointer && e.Field(4).IsNil():
		// Gob leaves a nil Data, or one the sender's type lacks, off the
		// wire.
		item.Err = problem.New(problem.Invalid, "the envelope has no Data").WithReason("envelope")
	}
	return item
}

// A replayReader reads r and keeps what it read while recording, so that
// rewind can read it again from the start; once stopped, it serves what
// it kept and not yet read again, then r.
type replayReader struct {
	r         io.Reader
	kept      []byte
	pos       int
	recording bool
}

// Read reads what was kept first, then r.
func (p *replayReader) Read(b []byte) (int, error) {
	if p.pos < len(p.kept) {
		n := copy(b, p.kept[p.pos:])
		p.pos += n
		return n, nil
	}
	n, err := p.r.Read(b)
	if p.recording {
		p.kept = append(p.kept, b[:n]...)
		p.pos = len(p.kept)
	}
	return n, err
}

// rewind reads again from the start.
func (p *replayReader) rewind() { p.pos = 0 }

// stop keeps nothing more.
func (p *replayReader) stop() { p.recording = false }

// envelopeItem reads an envelope decoded as plain data, at its version
// member, else at def. When the Content-Type named def (named), an
// envelope whose version says another is rejected alone, as in a gob
// stream: the client said two things, and Ferry does not pick one.
func envelopeItem(sc *schema.Schema, raw any, def *schema.Version, named, cbor bool) *records.ImportItem {
	m, ok := raw.(map[string]any)
	if !ok {
		return &records.ImportItem{Err: problem.New(problem.Invalid, "an envelope must be a map with id and data")}
	}
	item := &records.ImportItem{Version: def.Number()}
	id, ok := m["id"].(string)
	if !ok {
		item.Err = problem.New(problem.Invalid, "envelope member id must be a string")
		return item
	}
	item.ID = id
	for k := range m {
		switch k {
		case "id", "data", "version", "revision", "updated_at":
		default:
			item.Err = problem.New(problem.Invalid, "unknown envelope member %q", k).WithReason("unknown_field")
			return item
		}
	}
	if rawVersion, present := m["version"]; present && rawVersion != nil {
		n, ok := rawVersion.(int64)
		if !ok || n < 1 {
			item.Err = problem.New(problem.Invalid, "envelope member version must be a positive integer")
			return item
		}
		if named && int(n) != def.Number() {
			item.Err = problem.New(problem.Invalid, "the envelope says version %d, but the Content-Type says the stream is at version %d", n, def.Number()).WithReason("version")
			return item
		}
		v, err := sc.Version(int(n))
		if err != nil {
			item.Err = problem.New(problem.Invalid, "schema %q has no version %d", sc.Name(), n).With("versions", sc.Versions())
			return item
		}
		def = v
		item.Version = v.Number()
	}
	data, ok := m["data"].(map[string]any)
	if !ok {
		item.Err = problem.New(problem.Invalid, "envelope member data must be a map")
		return item
	}
	item.Body, item.Err = def.FromMap(data, cbor)
	return item
}

func (d *recordDeps) recordHistory() http.Handler {
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, true)
		if err != nil {
			return err
		}
		withData, err := includeData(r)
		if err != nil {
			return err
		}
		version := t.schema.Latest().Number()
		if err := acceptJSON(r); err != nil {
			return err
		}
		// A version the schema lacks is refused even without data: the
		// client asked for a representation there is not.
		accept := acceptHeader(r)
		_, ch, version, err := anyVersion(t.schema, t.schema, version, func(def int) (struct{}, negotiate.Choice, error) {
			ch, err := negotiate.ChooseVersion(accept, jsonOnly, t.schema, def)
			return struct{}{}, ch, err
		})
		if err != nil {
			return err
		}
		if ch.Version != 0 {
			if err := acceptableVersion(t.schema, ch.Version); err != nil {
				return err
			}
			version = ch.Version
		}
		revs, err := d.svc.History(r.Context(), t.name, t.id)
		if err != nil {
			return err
		}
		if withData {
			d.markDeprecated(w, t.schema, version)
		}
		out := make([]map[string]any, len(revs))
		for i, rev := range revs {
			entry := map[string]any{
				"revision": rev.Revision, "op": rev.Op, "at": rev.At, "by": rev.By,
				"version": rev.Version, "size": rev.Size, "sha256": rev.Sha256,
			}
			if withData {
				entry["data"] = nil
				if rev.Record != nil {
					view, err := rev.Record.View(t.schema, version)
					if err != nil {
						return err
					}
					entry["data"] = view
				}
			}
			out[i] = entry
		}
		return writeJSON(w, r, http.StatusOK, map[string]any{"revisions": out})
	})
}

// changeFeedWaitLimit is the longest a long-poll may wait.
const changeFeedWaitLimit = 60

func (d *recordDeps) recordChanges(shutdown context.Context) http.Handler {
	// The feed is a change list, or an event stream, offered last so that
	// a wildcard picks a change list. A change list that carries records
	// comes in any record format; without them it is JSON, like every
	// body that is not a record.
	offers := append(slices.Clip(d.codecs.Offers()), negotiate.Offer{MediaType: eventStream})
	listOffers := append(slices.Clip(jsonOnly), negotiate.Offer{MediaType: eventStream})
	return errHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := d.target(r, false)
		if err != nil {
			return err
		}
		since, err := queryInt(r, "since", 0, 0, maxSeq)
		if err != nil {
			return err
		}
		limit, err := queryInt(r, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		wait, err := queryInt(r, "wait", 0, 0, changeFeedWaitLimit)
		if err != nil {
			return err
		}
		withData, err := includeData(r)
		if err != nil {
			return err
		}
		offered := listOffers
		if withData {
			offered = offers
		}
		// A range naming another schema, or a version this one lacks,
		// matches none, with records or without.
		accept := acceptHeader(r)
		_, choice, version, err := anyVersion(t.schema, t.schema, t.schema.Latest().Number(), func(def int) (struct{}, negotiate.Choice, error) {
			ch, err := negotiate.ChooseVersion(accept, offered, t.schema, def)
			return struct{}{}, ch, err
		})
		if err != nil {
			return err
		}
		if choice.Version != 0 {
			if err := acceptableVersion(t.schema, choice.Version); err != nil {
				return err
			}
			version = choice.Version
		}
		if choice.Offer == len(offered)-1 {
			// Records in events are JSON, at the version the event
			// stream's media range names, else the latest.
			var data *recordFormat
			if withData {
				f, err := jsonFormat(d.codecs, t.schema, version)
				if err != nil {
					return err
				}
				d.markDeprecated(w, t.schema, f.version)
				data = &f
			}
			from, err := lastEventID(r, uint64(since))
			if err != nil {
				return err
			}
			d.streamChanges(w, r, t, from, data, shutdown)
			return nil
		}
		var f recordFormat
		if withData {
			if f, err = negotiateRecord(r, d.codecs, t.schema, t.schema.Latest().Number()); err != nil {
				return err
			}
			d.markDeprecated(w, t.schema, f.version)
		}
		ctx := r.Context()
		if wait > 0 {
			// A long-poll outlives any fixed write timeout, and answers
			// with what it has when the server shuts down.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(wait+10) * time.Second))
			var cancel context.CancelFunc
			ctx, cancel = mergeDone(ctx, shutdown)
			defer cancel()
		}
		if !withData {
			changes, last, err := d.svc.Changes(ctx, t.name, uint64(since), int(limit), time.Duration(wait)*time.Second)
			if err != nil {
				return err
			}
			return writeJSON(w, r, http.StatusOK, plainChanges(changes, last))
		}
		body, err := d.changesWithData(r.Context(), ctx, t, f, uint64(since), int(limit), time.Now().Add(time.Duration(wait)*time.Second))
		if err != nil {
			return err
		}
		body, enc, err := compress(body, f.encoding)
		if err != nil {
			return err
		}
		writeRepresentation(w, r, http.StatusOK, representation{body: body, contentType: f.contentType(t.name), encoding: enc})
		return nil
	})
}

// changedRecord reads the record that c, a change that is not a delete,
// made, for a change list: nil when the record has changed again since
// (or been deleted), as a later change in the list, with a higher seq,
// then carries it.
func (d *recordDeps) changedRecord(ctx context.Context, t target, c records.Change) (*records.Record, error) {
	rec, err := d.svc.Get(ctx, t.name, c.ID)
	switch {
	case problem.Is(err, problem.NotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case rec.Revision != c.Revision:
		return nil, nil
	}
	return rec, nil
}

// changesWithData encodes the change list after since in which each change
// carries the record at the negotiated version (null for a delete),
// waiting until deadline for a change when there is none. A change whose
// record has changed again since the list was read is left out, so that
// no change carries a record it did not make; the later change, with a
// higher seq, carries it. When every change read was left out, the list
// reads on after them, so that an empty list always means that nothing
// has changed, and last_seq is always the seq of the last change listed,
// else since. It waits under waitCtx, which a shutdown ends so that a
// long-poll answers with what it has, and reads records under ctx.
func (d *recordDeps) changesWithData(ctx, waitCtx context.Context, t target, f recordFormat, since uint64, limit int, deadline time.Time) ([]byte, error) {
	v, err := t.schema.Version(f.version)
	if err != nil {
		return nil, err
	}
	change := d.types.changeOf(reflect.PointerTo(v.Type()))
	list := reflect.MakeSlice(reflect.SliceOf(change), 0, limit)
	last := since
	for from := since; list.Len() == 0; {
		listCtx, wait := waitCtx, max(0, time.Until(deadline))
		if waitCtx.Err() != nil {
			listCtx, wait = ctx, 0 // shutting down: no more waiting
		}
		changes, scanned, err := d.svc.Changes(listCtx, t.name, from, limit, wait)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			break
		}
		if list, err = d.appendChanges(ctx, t, f, change, list, changes); err != nil {
			return nil, err
		}
		if list.Len() > 0 {
			last = list.Index(list.Len() - 1).Field(0).Uint()
		}
		from = scanned
	}
	out := reflect.New(d.types.changesOf(change)).Elem()
	out.Field(0).Set(list)
	out.Field(1).SetUint(last)
	return f.codec.Marshal(out.Addr().Interface())
}

// appendChanges appends to list, a slice of change (the struct of a change
// carrying a record), those of changes whose records are as they made them.
func (d *recordDeps) appendChanges(ctx context.Context, t target, f recordFormat, change reflect.Type, list reflect.Value, changes []records.Change) (reflect.Value, error) {
	for _, c := range changes {
		cv := reflect.New(change).Elem()
		cv.Field(0).SetUint(c.Seq)
		cv.Field(1).SetString(c.ID)
		cv.Field(2).SetInt(c.Revision)
		cv.Field(3).SetString(c.Op)
		cv.Field(4).Set(reflect.ValueOf(c.At))
		if c.Op != "delete" {
			rec, err := d.changedRecord(ctx, t, c)
			if err != nil {
				return list, err
			}
			if rec == nil {
				// Changed again since the list was read: the later
				// change carries the record.
				continue
			}
			view, err := rec.View(t.schema, f.version)
			if why, ok := unshowable(err); ok {
				// One record that cannot be shown does not stop a
				// client from reading past it.
				cv.Field(6).SetString(why)
			} else if err != nil {
				return list, err
			} else {
				cv.Field(5).Set(reflect.ValueOf(view))
			}
		}
		list = reflect.Append(list, cv)
	}
	return list, nil
}
