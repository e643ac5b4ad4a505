package records

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/store"
)

// A Page is one page of records in id order.
type Page struct {
	Records []*Record
	// NextCursor continues after the last record; empty on the last page.
	NextCursor string
}

// List returns up to limit live records after the cursor.
func (s *Service) List(ctx context.Context, schemaName, cursor string, limit int) (*Page, error) {
	if _, err := s.Schema(schemaName); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, problem.New(problem.Invalid, "limit must be between 1 and 1000, got %d", limit).WithReason("query")
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Scan(ctx, schemaName, after, limit+1)
	if err != nil {
		return nil, fmt.Errorf("records: list %s: %w", schemaName, err)
	}
	page := &Page{}
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = encodeCursor(rows[len(rows)-1].ID)
	}
	page.Records = make([]*Record, len(rows))
	for i, r := range rows {
		page.Records[i] = s.recordFrom(r)
	}
	return page, nil
}

// exportBatch is how many records one store read returns during an
// export: large enough to amortise the read, small enough to keep memory
// flat and never hold the store's read view for long.
const exportBatch = 512

// Each calls fn for every live record of the schema in id order, reading
// the store in short batches so that memory stays flat however many
// records there are.
func (s *Service) Each(ctx context.Context, schemaName string, fn func(*Record) error) error {
	return s.eachAfter(ctx, schemaName, "", fn)
}

// eachAfter is Each from the first record after the id after.
func (s *Service) eachAfter(ctx context.Context, schemaName, after string, fn func(*Record) error) error {
	if _, err := s.Schema(schemaName); err != nil {
		return err
	}
	for {
		rows, err := s.store.Scan(ctx, schemaName, after, exportBatch)
		if err != nil {
			return fmt.Errorf("records: export %s: %w", schemaName, err)
		}
		for _, r := range rows {
			if err := fn(s.recordFrom(r)); err != nil {
				return err
			}
		}
		if len(rows) < exportBatch {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	// The decoder skips line breaks: only the form Ferry issues is one.
	if err != nil || CheckID(string(b)) != nil || encodeCursor(string(b)) != c {
		return "", problem.New(problem.Invalid, "cursor %q is not one this service issued", problem.Excerpt(c, 64)).WithReason("query")
	}
	return string(b), nil
}

// A Revision is one entry of a record's history.
type Revision struct {
	Revision int64
	Op       string
	At       time.Time
	By       string
	Version  int
	Size     int
	Sha256   string
	// Record is the record as written, or nil for a delete.
	Record *Record
}

// History returns the record's revisions, newest first. It outlives a
// delete until retention drops it.
func (s *Service) History(ctx context.Context, schemaName, id string) ([]Revision, error) {
	if _, err := s.Schema(schemaName); err != nil {
		return nil, err
	}
	if err := CheckID(id); err != nil {
		return nil, err
	}
	entries, err := s.store.History(ctx, schemaName, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(entries) == 0) {
		return nil, problem.New(problem.NotFound, "no history for record %q in schema %q", id, schemaName)
	}
	if err != nil {
		return nil, fmt.Errorf("records: history %s/%s: %w", schemaName, id, err)
	}
	out := make([]Revision, len(entries))
	for i, e := range entries {
		rev := Revision{
			Revision: e.Revision, Op: e.Op, At: e.At.UTC(), By: e.By, Version: e.Version,
			Size: len(e.Body), Sha256: sha256Hex(e.Body),
		}
		if e.Op != "delete" && e.Body != nil {
			rev.Record = s.recordFrom(store.Record{Schema: schemaName, ID: id, Revision: e.Revision, UpdatedAt: e.At, Body: e.Body})
		}
		out[i] = rev
	}
	return out, nil
}

// A Change is an entry of the change feed.
type Change struct {
	Seq      uint64
	ID       string
	Revision int64
	Op       string
	At       time.Time
}

// Changes returns up to limit changes after since, and the seq to pass as
// the next since. With wait > 0 and nothing to return, it waits up to that
// long for a change; it returns early, with what it has, when ctx ends.
func (s *Service) Changes(ctx context.Context, schemaName string, since uint64, limit int, wait time.Duration) ([]Change, uint64, error) {
	if _, err := s.Schema(schemaName); err != nil {
		return nil, since, err
	}
	if limit < 1 || limit > 1000 {
		return nil, since, problem.New(problem.Invalid, "limit must be between 1 and 1000, got %d", limit).WithReason("query")
	}
	changes, err := s.changesAfter(ctx, schemaName, since, limit)
	if err != nil || len(changes) > 0 || wait <= 0 {
		return changes, lastSeq(changes, since), err
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := s.store.WaitChange(waitCtx, schemaName, since); err != nil {
		// The wait ran out or the server is shutting down: an empty answer.
		return nil, since, nil
	}
	// The changes came: they are read even if ctx, which may end the
	// wait at a shutdown, ends now.
	changes, err = s.changesAfter(context.WithoutCancel(ctx), schemaName, since, limit)
	return changes, lastSeq(changes, since), err
}

// ChangeEvents returns up to limit changes of the schema after since for
// an event stream, which sends every change: the ones a record has since
// superseded too, while the store has them at hand, else (after a
// restart, or for a reader far behind) each record's newest change, as
// Changes does. It does not wait.
func (s *Service) ChangeEvents(ctx context.Context, schemaName string, since uint64, limit int) ([]Change, uint64, error) {
	if _, err := s.Schema(schemaName); err != nil {
		return nil, since, err
	}
	rows, ok := s.store.RecentChanges(schemaName, since, limit)
	if !ok {
		return s.Changes(ctx, schemaName, since, limit, 0)
	}
	out := changesOf(rows)
	return out, lastSeq(out, since), nil
}

// RecordAt returns the record as revision made it: the current record
// when it is at that revision, else the revision from its history. It is
// a problem.NotFound when the record has no such revision at hand (never
// made, dropped by retention, or a delete).
func (s *Service) RecordAt(ctx context.Context, schemaName, id string, revision int64) (*Record, error) {
	rec, err := s.Get(ctx, schemaName, id)
	if err == nil && rec.Revision == revision {
		return rec, nil
	}
	if err != nil && !problem.Is(err, problem.NotFound) {
		return nil, err
	}
	// Only the revisions from the one asked for up are read: an event
	// stream asks for one a few writes behind.
	entries, err := s.store.HistorySince(ctx, schemaName, id, revision)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("records: history %s/%s: %w", schemaName, id, err)
	}
	if n := len(entries); n > 0 {
		if e := entries[n-1]; e.Revision == revision && e.Op != "delete" && e.Body != nil {
			return s.recordFrom(store.Record{Schema: schemaName, ID: id, Revision: e.Revision, UpdatedAt: e.At, Body: e.Body}), nil
		}
	}
	return nil, problem.New(problem.NotFound, "record %q of schema %q has no revision %d at hand", id, schemaName, revision)
}

// WaitChange blocks until the schema has a change after since or ctx ends.
func (s *Service) WaitChange(ctx context.Context, schemaName string, since uint64) error {
	return s.store.WaitChange(ctx, schemaName, since)
}

func (s *Service) changesAfter(ctx context.Context, schemaName string, since uint64, limit int) ([]Change, error) {
	rows, err := s.store.Changes(ctx, schemaName, since, limit)
	if err != nil {
		return nil, fmt.Errorf("records: changes %s: %w", schemaName, err)
	}
	return changesOf(rows), nil
}

// changesOf turns the store's change entries into the feed's.
func changesOf(rows []store.Change) []Change {
	out := make([]Change, len(rows))
	for i, c := range rows {
		out[i] = Change{Seq: c.Seq, ID: c.ID, Revision: c.Revision, Op: c.Op, At: c.At.UTC()}
	}
	return out
}

func lastSeq(changes []Change, since uint64) uint64 {
	if len(changes) == 0 {
		return since
	}
	return changes[len(changes)-1].Seq
}

// Count returns how many live records the schema has.
func (s *Service) Count(ctx context.Context, schemaName string) (int64, error) {
	n, err := s.store.Count(ctx, schemaName)
	if err != nil {
		return 0, fmt.Errorf("records: count %s: %w", schemaName, err)
	}
	return n, nil
}
