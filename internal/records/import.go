package records

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/schema"
	"github.com/ferry-dev/ferry/internal/store"
)

// An ImportItem is one envelope of an import stream, decoded.
type ImportItem struct {
	ID      string
	Version int
	// Body is the envelope's data, not yet validated: a pointer to the
	// version's wire struct or record struct.
	Body    any
	FromGob bool
	// Size is about how many bytes of the stream the envelope took (what
	// reading it consumed), which bounds what a non-atomic import holds
	// before it commits; 0 when unknown.
	Size int64
	// Err is set when the envelope was read but cannot be imported (bad id,
	// bad data); the import goes on with the next one.
	Err error
}

// An ImportError locates a rejected envelope.
type ImportError struct {
	Index   int
	ID      string
	Problem error
}

// An ImportSummary counts what an import did.
type ImportSummary struct {
	Accepted int
	Rejected int
	// Errors lists the rejected envelopes of lowest index, at most
	// MaxImportErrors of them, then the framing error that ended the
	// import, if one did; Rejected counts them all.
	Errors []ImportError
}

// MaxImportErrors bounds the rejected envelopes an import lists besides
// the framing error that ends it, so that a small stream of many bad
// envelopes (a compressed run of zero bytes is millions of them) cannot
// make the summary outgrow memory.
const MaxImportErrors = 1000

// importChunk and importChunkBytes bound the envelopes that share one
// store commit in a non-atomic import, in number and in the bytes they
// took in the stream: decoded, an envelope can take twenty times those.
const (
	importChunk      = 256
	importChunkBytes = 1 << 20
)

// MaxRejected is how many envelopes an import may reject before it takes
// the stream for something else and ends there, as at a framing error,
// when they are also more than three in four of those it read. Rejecting
// an envelope is cheap, but a few kilobytes of compressed zeros are
// millions of them.
const MaxRejected = 10000

// ImportHooks are told of what an import does with each envelope, as it
// does it, so that nothing of an import of any size is held in memory for
// them. Either may be nil.
type ImportHooks struct {
	// Written is told of each record stored (for the audit log).
	Written func(*Written)
	// Rejected is told of each envelope rejected, with the version it was
	// written at, and of the framing error that ends an import, with
	// version 0 (for metrics).
	Rejected func(version int, err error)
}

// Import stores every envelope next yields until it returns io.EOF. Any
// other error from next is a framing error: the import ends there, what
// came before stays stored, and the error is reported at its index. With
// atomic, any rejected envelope means nothing is stored, and the summary
// comes back inside an Unprocessable problem.
func (s *Service) Import(ctx context.Context, schemaName string, next func() (*ImportItem, error), atomic bool, by string, hooks ImportHooks) (*ImportSummary, error) {
	sc, err := s.Schema(schemaName)
	if err != nil {
		return nil, err
	}
	if hooks.Written == nil {
		hooks.Written = func(*Written) {}
	}
	if hooks.Rejected == nil {
		hooks.Rejected = func(int, error) {}
	}
	imp := &importer{s: s, sc: sc, schema: schemaName, by: by, sum: &ImportSummary{}, written: hooks.Written, rejected: hooks.Rejected}
	for index := 0; ; index++ {
		item, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		imp.read++
		if item != nil {
			// Rejected or not, what it took of the stream was read since
			// the last commit.
			imp.pendingBytes += item.Size
		}
		if err != nil {
			if _, ok := problem.As(err); !ok {
				return nil, fmt.Errorf("records: import %s: %w", schemaName, err)
			}
			// Listed past the bound: it is where the stream was read to.
			imp.sum.Rejected++
			imp.framing = &ImportError{Index: index, Problem: err}
			imp.rejected(0, err)
			break
		}
		if item.Err == nil {
			item.Err = CheckID(item.ID)
		}
		if item.Err != nil {
			imp.reject(index, item, item.Err)
		}
		if imp.sum.Rejected > MaxRejected && 4*imp.sum.Rejected > 3*imp.read {
			imp.framing = &ImportError{Index: index + 1, Problem: problem.New(problem.Invalid,
				"%d of the %d envelopes before this one were rejected; the stream is taken for something else and the import ends here, unread", imp.sum.Rejected, imp.read).WithReason("stream")}
			// Counted as a framing error is.
			imp.read++
			imp.sum.Rejected++
			break
		}
		if item.Err != nil {
			continue
		}
		imp.pending = append(imp.pending, pendingItem{index: index, item: item})
		if !atomic && (len(imp.pending) >= importChunk || imp.pendingBytes >= importChunkBytes) {
			if err := imp.flush(ctx); err != nil {
				return nil, err
			}
		}
	}
	if atomic {
		sum, err := imp.finishAtomic(ctx)
		imp.listFraming()
		return sum, err
	}
	if err := imp.flush(ctx); err != nil {
		return nil, err
	}
	imp.listFraming()
	return imp.sum, nil
}

// listFraming lists the framing error that ended the import, if one did,
// after the envelopes rejected before it.
func (imp *importer) listFraming() {
	if imp.framing != nil {
		imp.sum.Errors = append(imp.sum.Errors, *imp.framing)
		imp.framing = nil
	}
}

type pendingItem struct {
	index int
	item  *ImportItem
}

type importer struct {
	s       *Service
	sc      *schema.Schema
	schema  string
	by      string
	pending []pendingItem
	// pendingBytes is the size of the envelopes read since the last
	// commit, the rejected ones included.
	pendingBytes int64
	sum          *ImportSummary
	written      func(*Written)
	rejected     func(version int, err error)
	read         int // envelopes read from the stream, framing errors included
	framing      *ImportError
}

// reject records a rejected envelope. An envelope is rejected when it is
// read or when its chunk is prepared, so the errors are kept in index
// order as they come.
func (imp *importer) reject(index int, item *ImportItem, err error) {
	imp.sum.Rejected++
	imp.rejected(item.Version, err)
	id := item.ID
	errs := imp.sum.Errors
	if len(errs) == MaxImportErrors && index > errs[len(errs)-1].Index {
		return
	}
	e := ImportError{Index: index, ID: id, Problem: err}
	i, _ := slices.BinarySearchFunc(errs, index, func(e ImportError, index int) int { return cmp.Compare(e.Index, index) })
	errs = slices.Insert(errs, i, e)
	if len(errs) > MaxImportErrors {
		errs = errs[:MaxImportErrors]
	}
	imp.sum.Errors = errs
}

// prepared is an envelope converted and ready to commit.
type prepared struct {
	pendingItem
	write store.Write
	doc   *schema.Doc
}

// prepare converts the pending envelopes against the stored records. An id
// that repeats is written once per envelope, in order, each taking the
// envelope before it as its context and its revision as the condition;
// repeats reports whether one did.
func (imp *importer) prepare(ctx context.Context) (out []prepared, repeats bool, err error) {
	out = make([]prepared, 0, len(imp.pending))
	// latest holds, per id, the index in out of its last envelope and the
	// revision that envelope's write makes.
	type written struct {
		at       int
		revision int64
	}
	latest := make(map[string]written)
	// An import may run for minutes: its records go to the latest version
	// as it is when each chunk is prepared, as a migration expects.
	imp.sc = newest(imp.s.schemas, imp.sc)
	for _, p := range imp.pending {
		var prev *schema.Doc
		expect, revision := int64(0), int64(1)
		if w, seen := latest[p.item.ID]; seen {
			repeats = true
			prev = out[w.at].doc
			expect, revision = w.revision, w.revision+1
		} else {
			cur, err := imp.s.current(ctx, imp.schema, p.item.ID)
			if err != nil {
				return nil, false, err
			}
			// A deleted record's revisions go on from its delete.
			revision = cur.Revision + 1
			if cur.Revision > 0 && !cur.Deleted {
				expect = cur.Revision
				if prev, err = imp.s.recordFrom(cur).Doc(); err != nil {
					return nil, false, err
				}
			}
		}
		if expect > 0 && imp.s.opts.RequireIfMatch {
			// An envelope carries no If-Match, so where updates require
			// one, an import only creates.
			imp.reject(p.index, p.item, problem.New(problem.PreconditionRequired,
				"this service requires If-Match on updates, which an import cannot carry: record %q exists", p.item.ID))
			continue
		}
		doc, err := convert(imp.sc, p.item, prev)
		if err != nil {
			if _, ok := problem.As(err); !ok {
				return nil, false, err
			}
			imp.reject(p.index, p.item, err)
			continue
		}
		body, err := doc.MarshalBinary()
		if err != nil {
			return nil, false, fmt.Errorf("records: encode %s/%s: %w", imp.schema, p.item.ID, err)
		}
		w := store.Write{
			Schema: imp.schema, ID: p.item.ID, IfRevision: expect, Body: body, At: imp.s.opts.Now().UTC(),
			History: store.HistoryMeta{By: imp.by, Version: p.item.Version},
		}
		latest[p.item.ID] = written{at: len(out), revision: revision}
		out = append(out, prepared{pendingItem: p, write: w, doc: doc})
	}
	return out, repeats, nil
}

// convert validates an envelope's data and builds its document through sc.
func convert(sc *schema.Schema, item *ImportItem, prev *schema.Doc) (*schema.Doc, error) {
	v, err := sc.Version(item.Version)
	if err != nil {
		return nil, err
	}
	record, err := v.Validate(item.Body, item.FromGob)
	if err != nil {
		return nil, err
	}
	return sc.Write(record, item.Version, prev)
}

// flush commits the pending envelopes of a non-atomic import; an envelope
// that lost a race with another writer is written again on its own.
func (imp *importer) flush(ctx context.Context) error {
	imp.pendingBytes = 0
	if len(imp.pending) == 0 {
		return nil
	}
	// A commit whose ids repeat is atomic, so that an envelope that loses
	// a race with another writer cannot take the next one for its id with
	// it.
	ready, atomic, err := imp.prepare(ctx)
	if err != nil {
		return err
	}
	imp.pending = imp.pending[:0]
	results, err := imp.s.store.Commit(ctx, writesOf(ready), atomic)
	if err != nil {
		return fmt.Errorf("records: import %s: %w", imp.schema, err)
	}
	for i, r := range results {
		p := ready[i]
		if r.Err == nil {
			imp.accept(p, r)
			continue
		}
		// Lost a race, or aborted with an envelope that did: written
		// again on its own, in order, built on what is stored.
		if !errors.Is(r.Err, store.ErrConflict) && !errors.Is(r.Err, store.ErrAborted) {
			return fmt.Errorf("records: import %s/%s: %w", imp.schema, p.item.ID, r.Err)
		}
		item := p.item
		written, err := imp.s.write(ctx, writeOp{sc: imp.sc, id: item.ID, by: imp.by, version: item.Version,
			build: func(sc *schema.Schema, prev *Record) (*schema.Doc, error) {
				stored, err := prev.docOrNil()
				if err != nil {
					return nil, err
				}
				return convert(sc, item, stored)
			}})
		if err != nil {
			if _, ok := problem.As(err); ok {
				imp.reject(p.index, p.item, err)
				continue
			}
			return err
		}
		imp.sum.Accepted++
		imp.written(written)
	}
	return nil
}

// writesOf lists the writes to commit.
func writesOf(ready []prepared) []store.Write {
	writes := make([]store.Write, len(ready))
	for i, p := range ready {
		writes[i] = p.write
	}
	return writes
}

func (imp *importer) accept(p prepared, r store.Result) {
	imp.sum.Accepted++
	sr := store.Record{Schema: imp.schema, ID: p.item.ID, Revision: r.Revision, UpdatedAt: p.write.At, Body: p.write.Body, Seq: r.Seq}
	rec := imp.s.recordFrom(sr)
	rec.doc = p.doc
	op := "replace"
	if r.Created {
		op = "create"
	}
	imp.written(&Written{Record: rec, Created: r.Created, Op: op, Version: p.item.Version})
}

// finishAtomic writes every envelope in one commit, or none.
func (imp *importer) finishAtomic(ctx context.Context) (*ImportSummary, error) {
	for attempt := 0; ; attempt++ {
		// Every envelope is checked, even when one was already rejected,
		// so that the refusal lists them all.
		ready, _, err := imp.prepare(ctx)
		if err != nil {
			return nil, err
		}
		if imp.sum.Rejected > 0 {
			return nil, imp.atomicRefusal()
		}
		if len(ready) == 0 {
			return imp.sum, nil
		}
		results, err := imp.s.store.Commit(ctx, writesOf(ready), true)
		if err != nil {
			return nil, fmt.Errorf("records: import %s: %w", imp.schema, err)
		}
		conflicted := false
		for _, r := range results {
			if r.Err != nil && errors.Is(r.Err, store.ErrConflict) {
				conflicted = true
			} else if r.Err != nil && !errors.Is(r.Err, store.ErrAborted) {
				return nil, fmt.Errorf("records: import %s: %w", imp.schema, r.Err)
			}
		}
		if !conflicted {
			for i, r := range results {
				imp.accept(ready[i], r)
			}
			return imp.sum, nil
		}
		if attempt >= maxAttempts {
			return nil, fmt.Errorf("records: import %s: records kept changing during an atomic import", imp.schema)
		}
	}
}

// atomicRefusal reports an atomic import that stored nothing: its accepted
// is 0, since in every summary it counts what was stored, and the detail
// says how many of the envelopes read were rejected.
func (imp *importer) atomicRefusal() error {
	p := problem.New(problem.Unprocessable, "atomic import refused: %d of %d envelope(s) were rejected, nothing was stored", imp.sum.Rejected, imp.read)
	p.Slug = "import-rejected"
	return p.With("summary", imp.sum)
}
