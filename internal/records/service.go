// Package records holds the rules of Ferry's records: preconditions,
// conversion between schema versions with the stored record as context,
// history and change entries, imports and migrations. Handlers translate
// HTTP into calls on a Service; the store underneath keeps bytes.
package records

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/schema"
	"github.com/ferry-dev/ferry/internal/store"
)

// Store is what records need from a storage backend.
type Store interface {
	Get(ctx context.Context, schema, id string) (store.Record, error)
	Commit(ctx context.Context, writes []store.Write, atomic bool) ([]store.Result, error)
	Scan(ctx context.Context, schema, after string, limit int) ([]store.Record, error)
	Count(ctx context.Context, schema string) (int64, error)
	History(ctx context.Context, schema, id string) ([]store.HistoryEntry, error)
	// HistorySince is History down to revision from only.
	HistorySince(ctx context.Context, schema, id string, from int64) ([]store.HistoryEntry, error)
	Changes(ctx context.Context, schema string, since uint64, limit int) ([]store.Change, error)
	// RecentChanges is every change after since, superseded ones
	// included, when the store still has them at hand (ok).
	RecentChanges(schema string, since uint64, limit int) (changes []store.Change, ok bool)
	LastSeq(ctx context.Context, schema string) (uint64, error)
	WaitChange(ctx context.Context, schema string, since uint64) error
}

// Schemas finds registered schemas by name.
type Schemas interface {
	Schema(name string) (*schema.Schema, error)
}

// Options tunes a Service.
type Options struct {
	// RequireIfMatch refuses updates and deletes that carry no If-Match.
	RequireIfMatch bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service applies the rules of record reads and writes.
type Service struct {
	store   Store
	schemas Schemas
	opts    Options
}

// New returns a Service over a store and a schema registry.
func New(st Store, schemas Schemas, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: st, schemas: schemas, opts: opts}
}

// maxAttempts bounds the optimistic retries of one write racing with others
// on the same record.
const maxAttempts = 64

// CheckID refuses ids outside Ferry's id pattern,
// ^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$. It runs on every request, so it is a
// loop rather than a regular expression.
func CheckID(id string) error {
	if !validID(id) {
		return problem.New(problem.Invalid,
			"id %q does not match ^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$", problem.Excerpt(id, 140)).WithReason("id")
	}
	return nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '~' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Schema returns the named schema or a NotFound problem.
func (s *Service) Schema(name string) (*schema.Schema, error) {
	sc, err := s.schemas.Schema(name)
	if err != nil {
		if _, ok := problem.As(err); ok {
			return nil, err
		}
		return nil, problem.Wrap(problem.NotFound, err, "no schema named %q", name)
	}
	return sc, nil
}

// A Record is one stored record as the domain sees it.
type Record struct {
	Schema    string
	ID        string
	Revision  int64
	UpdatedAt time.Time
	// Validator identifies this revision for entity tags.
	Validator Validator
	// Stored is the body as kept by the store (the encoded schema.Doc).
	Stored []byte

	doc *schema.Doc
	// schemas is where View finds a version registered after the schema
	// it is given was looked up.
	schemas Schemas
}

// Doc decodes the stored document once.
func (r *Record) Doc() (*schema.Doc, error) {
	if r.doc != nil {
		return r.doc, nil
	}
	var d schema.Doc
	if err := d.UnmarshalBinary(r.Stored); err != nil {
		return nil, fmt.Errorf("records: decode %s/%s revision %d: %w", r.Schema, r.ID, r.Revision, err)
	}
	r.doc = &d
	return r.doc, nil
}

// storedBody returns the stored bytes, or nil for no record.
func (r *Record) storedBody() []byte {
	if r == nil {
		return nil
	}
	return r.Stored
}

// docOrNil is Doc for a record that may be nil (no record).
func (r *Record) docOrNil() (*schema.Doc, error) {
	if r == nil {
		return nil, nil
	}
	return r.Doc()
}

// View returns the record at schema version, as a pointer to that version's
// compiled struct. A record that cannot be shown there is a problem that
// names it.
func (r *Record) View(sc *schema.Schema, version int) (any, error) {
	d, err := r.Doc()
	if err != nil {
		return nil, err
	}
	v, err := covering(r.schemas, sc, d.Version).View(d, version)
	if p, ok := problem.As(err); ok {
		return nil, r.named(p)
	}
	return v, err
}

// covering returns sc, or, when a document is at a version sc lacks, the
// one schemas has now. A request looks its schema up once, and a version
// registered since (before any record could be written at it) is then
// missing from it: a long-poll, an event stream or an import can outlive
// the lookup by minutes.
func covering(schemas Schemas, sc *schema.Schema, version int) *schema.Schema {
	if version <= sc.Latest().Number() {
		return sc
	}
	return newest(schemas, sc)
}

// newest returns the schema schemas has now, when it has versions that sc,
// looked up before, lacks; else sc. A write takes it, so that a record is
// stored at the latest version as it is when the write commits, as a
// migration expects; the versions sc has are the same in both.
func newest(schemas Schemas, sc *schema.Schema) *schema.Schema {
	if schemas == nil {
		return sc
	}
	if now, err := schemas.Schema(sc.Name()); err == nil && now.Latest().Number() > sc.Latest().Number() {
		return now
	}
	return sc
}

// named returns p as a problem about this record: its detail names the
// record and revision and its document carries the id, so that a listing
// refused for one of its records says which.
func (r *Record) named(p *problem.Error) *problem.Error {
	named := *p
	named.Detail = fmt.Sprintf("record %s at revision %d: %s", r.ID, r.Revision, p.Detail)
	named.Extra = maps.Clone(p.Extra)
	return named.With("id", r.ID)
}

func (s *Service) recordFrom(sr store.Record) *Record {
	return &Record{
		schemas:   s.schemas,
		Schema:    sr.Schema,
		ID:        sr.ID,
		Revision:  sr.Revision,
		UpdatedAt: sr.UpdatedAt,
		Validator: newValidator(sr.Schema, sr.ID, sr.Revision, sr.UpdatedAt),
		Stored:    sr.Body,
	}
}

// Get returns the live record, or NotFound.
func (s *Service) Get(ctx context.Context, schemaName, id string) (*Record, error) {
	if _, err := s.Schema(schemaName); err != nil {
		return nil, err
	}
	if err := CheckID(id); err != nil {
		return nil, err
	}
	sr, err := s.store.Get(ctx, schemaName, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sr.Deleted) {
		return nil, problem.New(problem.NotFound, "no record %q in schema %q", id, schemaName)
	}
	if err != nil {
		return nil, fmt.Errorf("records: get %s/%s: %w", schemaName, id, err)
	}
	return s.recordFrom(sr), nil
}

// current reads the record's present state, live or not; a record that
// never existed comes back as the zero Record with its names set.
func (s *Service) current(ctx context.Context, schemaName, id string) (store.Record, error) {
	sr, err := s.store.Get(ctx, schemaName, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Record{Schema: schemaName, ID: id}, nil
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("records: get %s/%s: %w", schemaName, id, err)
	}
	return sr, nil
}
