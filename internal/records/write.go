package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/schema"
	"github.com/ferry-dev/ferry/internal/store"
)

// Conditions are a write's preconditions (RFC 9110 §13.1).
type Conditions struct {
	// IfMatch holds the entity tags of If-Match, or "*"; nil when absent.
	IfMatch []string
	// IfNoneMatch holds the entity tags of If-None-Match, or "*"; nil when
	// absent.
	IfNoneMatch []string
	// IfUnmodifiedSince is the time of If-Unmodified-Since, or zero when
	// absent; If-Match overrides it (RFC 9110 §13.1.4).
	IfUnmodifiedSince time.Time
	// Repr names the representation the client asked for, so that a 412
	// can tell it the current entity tag in that representation.
	Repr string
}

// A Write is a request to store a body at a schema version.
type Write struct {
	Schema  string
	ID      string
	Version int // the schema version Body is written at
	// Body is the decoded body, not yet validated: a pointer to the
	// version's wire struct (Version.New) or record struct, or what
	// Version.DecodeJSON returned.
	Body any
	// FromGob says the body came as gob, where every field counts as
	// present.
	FromGob bool
	By      string
	Cond    Conditions
	// ViewVersion, when set, is the version the response shows the record
	// at. The write is refused, before anything is stored, when the record
	// cannot be shown at that version, nor at any NextView names.
	ViewVersion int
	// NextView, when set, names the version to show the record at when it
	// cannot be shown at those tried, or 0 when there is none.
	NextView func(tried []int) int
}

// A Written record is the outcome of a write.
type Written struct {
	Record  *Record
	Created bool
	Op      string
	Version int // the schema version the client wrote
	// View is the record at ViewVersion: a pointer to that version's
	// compiled struct; nil for a delete or when none was asked.
	View any
	// ViewVersion is the version of View: the asked one, or one NextView
	// named.
	ViewVersion int
}

// Sha256 returns the hex SHA-256 of the stored bytes, computed when asked:
// only an audit line needs it. A delete stores no bytes, so its sum is
// that of none, as its history entry has it.
func (w *Written) Sha256() string {
	return sha256Hex(w.Record.Stored)
}

// Put creates or replaces a record.
func (s *Service) Put(ctx context.Context, w Write) (*Written, error) {
	if err := CheckID(w.ID); err != nil {
		return nil, err
	}
	sc, err := s.Schema(w.Schema)
	if err != nil {
		return nil, err
	}
	v, err := sc.Version(w.Version)
	if err != nil {
		return nil, err
	}
	record, err := v.Validate(w.Body, w.FromGob)
	if err != nil {
		return nil, err
	}
	op := writeOp{
		sc: sc, id: w.ID, cond: w.Cond, by: w.By, version: w.Version, viewVersion: w.ViewVersion, nextView: w.NextView,
		build: func(sc *schema.Schema, prev *Record) (*schema.Doc, error) {
			return sc.WriteStored(record, w.Version, prev.storedBody())
		},
	}
	if w.Version == sc.Latest().Number() {
		op.latest = record
	}
	return s.write(ctx, op)
}

// Create stores a new record under a server-made id (a UUIDv7, so ids sort
// by creation time).
func (s *Service) Create(ctx context.Context, w Write) (*Written, error) {
	if err := CheckCreateConditions(w.Cond); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("records: make id: %w", err)
	}
	w.ID = id.String()
	w.Cond = Conditions{IfNoneMatch: []string{"*"}, Repr: w.Cond.Repr}
	return s.Put(ctx, w)
}

// CheckCreateConditions weighs the preconditions of a Create: a record
// about to be made has no representation an entity tag could name, so an
// If-Match, even "*", fails (RFC 9110 §13.1.1).
func CheckCreateConditions(cond Conditions) error {
	if cond.IfMatch != nil {
		return PreconditionFailed(0, "", "If-Match: the record a POST creates does not exist yet")
	}
	return nil
}

// A Patch is a JSON merge patch (RFC 7396) of a record as seen at a schema
// version.
type Patch struct {
	Schema  string
	ID      string
	Version int
	// Merge is the decoded merge patch document: a JSON object.
	Merge map[string]any
	By    string
	Cond  Conditions
	// ViewVersion and NextView are as in Write.
	ViewVersion int
	NextView    func(tried []int) int
}

// Patch applies a merge patch to the record as seen at p.Version.
func (s *Service) Patch(ctx context.Context, p Patch) (*Written, error) {
	if err := CheckID(p.ID); err != nil {
		return nil, err
	}
	sc, err := s.Schema(p.Schema)
	if err != nil {
		return nil, err
	}
	version, err := sc.Version(p.Version)
	if err != nil {
		return nil, err
	}
	if err := version.CheckMergePatch(p.Merge); err != nil {
		return nil, err
	}
	return s.write(ctx, writeOp{sc: sc, id: p.ID, cond: p.Cond, by: p.By, version: p.Version, op: "patch", viewVersion: p.ViewVersion,
		nextView: p.NextView, mustExist: true,
		build: func(sc *schema.Schema, prev *Record) (*schema.Doc, error) {
			// Merging would take a null as removal, and the default
			// would fill the field in again.
			if err := version.NullDefaults(p.Merge, false); err != nil {
				return nil, err
			}
			stored, err := prev.Doc()
			if err != nil {
				return nil, err
			}
			view, err := sc.MergeBase(stored, p.Version, func(path []string) bool { return replaces(p.Merge, path) })
			if err != nil {
				return nil, err
			}
			current, err := version.ToMap(view)
			if err != nil {
				return nil, err
			}
			body, err := version.FromMap(MergePatch(current, p.Merge), false)
			if err != nil {
				return nil, err
			}
			return sc.Write(body, p.Version, stored)
		}})
}

// Delete deletes a live record.
func (s *Service) Delete(ctx context.Context, schemaName, id string, cond Conditions, by string) (*Written, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if _, err := s.Schema(schemaName); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.current(ctx, schemaName, id)
		if err != nil {
			return nil, err
		}
		if cur.Revision == 0 || cur.Deleted {
			return nil, problem.New(problem.NotFound, "no record %q in schema %q", id, schemaName)
		}
		rec := s.recordFrom(cur)
		if err := s.checkConditions(rec, cond, true); err != nil {
			return nil, err
		}
		doc, err := rec.Doc()
		if err != nil {
			return nil, err
		}
		// The delete's history entry names the version the record was
		// stored at when it went.
		res, err := s.store.Commit(ctx, []store.Write{{
			Schema: schemaName, ID: id, IfRevision: cur.Revision, Delete: true,
			At: s.opts.Now(), History: store.HistoryMeta{Op: "delete", By: by, Version: doc.Version},
		}}, false)
		if err != nil {
			return nil, fmt.Errorf("records: delete %s/%s: %w", schemaName, id, err)
		}
		if res[0].Err == nil {
			rec := &Record{Schema: schemaName, ID: id, Revision: res[0].Revision}
			return &Written{Record: rec, Op: "delete", Version: doc.Version}, nil
		}
		if !errors.Is(res[0].Err, store.ErrConflict) || attempt >= maxAttempts {
			return nil, fmt.Errorf("records: delete %s/%s: %w", schemaName, id, res[0].Err)
		}
	}
}

// A writeOp describes one write of a body for Service.write.
type writeOp struct {
	sc          *schema.Schema
	id          string
	cond        Conditions
	by          string
	version     int                   // the version the client wrote
	op          string                // history op; "" lets the store choose create or replace
	viewVersion int                   // when set, the version the record must be viewable at
	nextView    func(tried []int) int // when set, the versions to try after it
	mustExist   bool                  // a record that is not live is NotFound, whatever the preconditions
	// build makes the document to store from the stored record (nil when
	// the record is not live), through sc.
	build func(sc *schema.Schema, prev *Record) (*schema.Doc, error)
	// latest, when set, is a record at the schema's latest version, which
	// is encoded directly when the stored record needs no conversion
	// (schema.EncodeLatest); build is the way otherwise. It is also the
	// view of the result at that version.
	latest any
}

// write runs the optimistic read-convert-commit loop shared by every write
// of a body: read the current record, check the preconditions, build the new
// document with the stored one as context, and commit on the condition
// that nothing changed in between; on a race, start again.
func (s *Service) write(ctx context.Context, w writeOp) (*Written, error) {
	schemaName, id := w.sc.Name(), w.id
	for attempt := 0; ; attempt++ {
		cur, err := s.current(ctx, schemaName, id)
		if err != nil {
			return nil, err
		}
		live := cur.Revision > 0 && !cur.Deleted
		if w.mustExist && !live {
			return nil, notFound(schemaName, id)
		}
		stored := s.recordFrom(cur)
		if err := s.checkConditions(stored, w.cond, live); err != nil {
			return nil, err
		}
		if sc := newest(s.schemas, w.sc); sc != w.sc {
			// A version was registered since the write looked its schema
			// up: the record goes to it, and the version the client
			// wrote at is no longer the latest.
			w.sc, w.latest = sc, nil
		}
		var prev *Record
		if live {
			prev = stored
		}
		doc, body, view, viewed, err := w.encode(prev)
		if err != nil {
			return nil, err
		}
		expect := cur.Revision
		if !live {
			expect = 0
		}
		at := s.opts.Now().UTC()
		res, err := s.store.Commit(ctx, []store.Write{{
			Schema: schemaName, ID: id, IfRevision: expect, Body: body, At: at,
			History: store.HistoryMeta{Op: w.op, By: w.by, Version: w.version},
		}}, false)
		if err != nil {
			return nil, fmt.Errorf("records: write %s/%s: %w", schemaName, id, err)
		}
		r := res[0]
		if r.Err == nil {
			sr := store.Record{Schema: schemaName, ID: id, Revision: r.Revision, UpdatedAt: at, Body: body, Seq: r.Seq}
			rec := s.recordFrom(sr)
			rec.doc = doc // nil when encoded directly: decoded if needed
			written := &Written{Record: rec, Created: r.Created, Op: w.op, Version: w.version, View: view, ViewVersion: viewed}
			if written.Op == "" {
				written.Op = "replace"
				if r.Created {
					written.Op = "create"
				}
			}
			return written, nil
		}
		if !errors.Is(r.Err, store.ErrConflict) || attempt >= maxAttempts {
			return nil, fmt.Errorf("records: write %s/%s: %w", schemaName, id, r.Err)
		}
	}
}

// encode makes the stored bytes of the write over prev, and its view at
// w.viewVersion, or the version after it that can show it, when that is
// set (viewed). doc is the document built on the way, or nil when the
// record was encoded directly.
func (w *writeOp) encode(prev *Record) (doc *schema.Doc, body []byte, view any, viewed int, err error) {
	latest := w.sc.Latest()
	// The record as written is its own view at the latest version, unless
	// the version has an optional array or map, which a view shows empty
	// where the record has none: that view is taken from the document.
	asWritten := w.viewVersion == 0 || w.viewVersion == latest.Number() && !latest.ShowsOptionalContainers()
	if w.latest != nil && asWritten {
		body, ok, err := w.sc.EncodeLatest(w.latest, latest.Number(), prev.storedBody())
		if err != nil {
			return nil, nil, nil, 0, err
		}
		if ok {
			if w.viewVersion > 0 {
				view = w.latest
			}
			return nil, body, view, w.viewVersion, nil
		}
	}
	if doc, err = w.build(w.sc, prev); err != nil {
		return nil, nil, nil, 0, err
	}
	if w.viewVersion > 0 {
		if view, viewed, err = w.view(doc); err != nil {
			return nil, nil, nil, 0, err
		}
	}
	if body, err = doc.MarshalBinary(); err != nil {
		return nil, nil, nil, 0, fmt.Errorf("records: encode %s/%s: %w", w.sc.Name(), w.id, err)
	}
	return doc, body, view, viewed, nil
}

// view shows doc at w.viewVersion, or, when it cannot be shown there, at
// the first version w.nextView names that can; the error is that of
// w.viewVersion when none can.
func (w *writeOp) view(doc *schema.Doc) (view any, version int, err error) {
	version, err = ShowFirst(w.viewVersion, w.nextView, func(v int) (err error) {
		view, err = w.sc.View(doc, v)
		return err
	})
	return view, version, err
}

// ShowFirst calls show with version, then, while show fails with a
// problem.NotAcceptable (the record cannot be shown at that version), with
// each version next names given those tried, until next names none (0)
// or is nil. It returns the version shown, or the first failure.
func ShowFirst(version int, next func(tried []int) int, show func(version int) error) (int, error) {
	err := show(version)
	if err == nil || next == nil || !problem.Is(err, problem.NotAcceptable) {
		return version, err
	}
	for tried := []int{version}; ; {
		v := next(tried)
		if v == 0 {
			return version, err
		}
		if nextErr := show(v); !problem.Is(nextErr, problem.NotAcceptable) {
			return v, nextErr
		}
		tried = append(tried, v)
	}
}

// CheckConditions weighs the preconditions of a write of (schemaName, id)
// against the record as it is now, so that a write can be refused before
// its body is read: RFC 9110 §13.2.1 evaluates preconditions before the
// request's content, so a stale If-Match is a 412 even with a body that
// would fail validation. The write weighs them again as it commits. With
// mustExist, as for a patch, a record that is not live is NotFound
// whatever the preconditions, as the write would answer, and before its
// body too; that costs such a write a second read of the record even when
// it carries no preconditions.
func (s *Service) CheckConditions(ctx context.Context, schemaName, id string, cond Conditions, mustExist bool) error {
	if !mustExist && cond.IfMatch == nil && cond.IfNoneMatch == nil && cond.IfUnmodifiedSince.IsZero() && !s.opts.RequireIfMatch {
		return nil
	}
	cur, err := s.current(ctx, schemaName, id)
	if err != nil {
		return err
	}
	live := cur.Revision > 0 && !cur.Deleted
	if mustExist && !live {
		return notFound(schemaName, id)
	}
	return s.checkConditions(s.recordFrom(cur), cond, live)
}

// notFound is the problem of a write that needs a live record.
func notFound(schemaName, id string) error {
	return problem.New(problem.NotFound, "no record %q in schema %q", id, schemaName)
}

// checkConditions evaluates If-Match, If-None-Match and the If-Match
// requirement against the record's present state.
func (s *Service) checkConditions(cur *Record, cond Conditions, live bool) error {
	v := cur.Validator
	failed := func(format string, args ...any) error {
		etag := ""
		if live {
			etag = v.ETag(cond.Repr)
		}
		return PreconditionFailed(cur.Revision, etag, format, args...)
	}
	if cond.IfMatch != nil {
		if !live {
			return failed("If-Match: the record does not exist")
		}
		if !v.MatchesAny(cond.IfMatch) {
			return failed("%s", IfMatchFailed(cur.Revision, cond.IfMatch))
		}
	} else if live && ModifiedSince(cur.UpdatedAt, cond.IfUnmodifiedSince) {
		return failed("If-Unmodified-Since: the record was modified at %s", cur.UpdatedAt.UTC().Format(time.RFC3339))
	}
	if cond.IfNoneMatch != nil && live {
		for _, t := range cond.IfNoneMatch {
			if t == "*" {
				return failed("If-None-Match: *: the record exists")
			}
		}
		if !v.NoneMatch(cond.IfNoneMatch) {
			return failed("If-None-Match: the record is at that revision")
		}
	}
	// A create-only write (If-None-Match: *) that finds the record has
	// failed above: it carried a precondition, and it did not hold.
	if cond.IfMatch == nil && s.opts.RequireIfMatch && live {
		return problem.New(problem.PreconditionRequired,
			"this service requires If-Match on updates and deletes; read the record for its ETag first")
	}
	return nil
}

// PreconditionFailed is the 412 of a request whose precondition failed
// on a record now at revision, whose entity tag in the representation the
// client asked for is etag: "" for a record that does not exist or is
// deleted, which has none, and then the member is null.
func PreconditionFailed(revision int64, etag string, format string, args ...any) *problem.Error {
	var current any
	if etag != "" {
		current = etag
	}
	return problem.New(problem.PreconditionFailed, format, args...).
		With("current_revision", revision).With("current_etag", current)
}

// ModifiedSince reports whether a record last modified at modified has
// changed since since, an HTTP date, which counts whole seconds. A zero
// since is no condition.
func ModifiedSince(modified, since time.Time) bool {
	return !since.IsZero() && modified.Truncate(time.Second).After(since)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
