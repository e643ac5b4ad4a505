// Package store holds the vocabulary shared by Ferry's storage backends: the
// values a backend keeps and returns, and the errors it reports. It has no
// logic, so that the embedded backend and a database backend can
// satisfy one interface declared by their consumer, and the consumer can test
// outcomes with errors.Is whichever backend is in use.
//
// A backend keeps bytes and metadata. It knows no record formats and no HTTP:
// a body is opaque, and the meaning of an operation name such as "patch" is
// the caller's.
package store

import (
	"errors"
	"fmt"
	"time"
)

// Errors reported by every backend. Test for them with errors.Is.
var (
	// ErrNotFound reports a record, history, schema, meta or job that does
	// not exist, and a delete of a record that is not live.
	ErrNotFound = errors.New("store: not found")

	// ErrConflict reports a write whose IfRevision condition did not hold,
	// and a schema version registered again with different bytes. A failed
	// write condition comes as a *ConflictError that unwraps to it.
	ErrConflict = errors.New("store: conflict")

	// ErrAborted is the result of a write that met its condition but was not
	// applied because another write of the same atomic commit failed.
	ErrAborted = errors.New("store: not applied: another write of the atomic commit failed")

	// ErrClosed reports an operation on a closed store.
	ErrClosed = errors.New("store: closed")
)

// AnyRevision as Write.IfRevision makes a write unconditional.
const AnyRevision int64 = -1

// A Record is the stored state of one record: metadata and an opaque body.
// A deleted record stays as a tombstone (Deleted set, Body nil), so that its
// revisions continue when it is created again. Body is read-only: a backend
// may share it with its cache and with other readers.
type Record struct {
	Schema, ID string
	Revision   int64     // 1, 2, 3, … per record, continuing across delete and re-create
	Deleted    bool      // a tombstone
	Body       []byte    // opaque; nil for a tombstone
	UpdatedAt  time.Time // UTC, from Write.At of the write that made this revision
	Seq        uint64    // the schema's change sequence number of this revision
}

// HistoryMeta describes a write for the record's history.
type HistoryMeta struct {
	// Op names the operation: "create", "replace", "patch" or "delete".
	// When empty, the backend uses "delete" for a delete, "create" for a
	// write that creates the record and "replace" otherwise.
	Op string
	// By names who wrote it (a key's name; empty in open mode).
	By string
	// Version is the schema version the client wrote.
	Version int
	// Extra is kept with the entry and given back as it is.
	Extra []byte
}

// A Write is one conditional mutation of a record.
type Write struct {
	Schema, ID string
	// IfRevision is the write's condition: AnyRevision makes it
	// unconditional; 0 requires that the record does not exist or is a
	// tombstone; n > 0 requires that the record is live at revision n.
	// Any other value is invalid.
	IfRevision int64
	// Delete writes a tombstone. The record must be live, else the write
	// fails with ErrNotFound (after its condition has been checked).
	Delete bool
	// Body is the new body; ignored for a delete. The backend does not
	// retain it after Commit returns.
	Body []byte
	// At is the write's time, stored in UTC. The zero time means now.
	At time.Time
	// History describes the write in the record's history.
	History HistoryMeta
}

// A Result is the outcome of one Write.
type Result struct {
	Revision int64  // the revision written; 0 when Err is set
	Seq      uint64 // the change sequence number of the write; 0 when Err is set
	Created  bool   // the record did not exist or was a tombstone before the write
	// Err is nil when the write was applied, else a *ConflictError (its
	// condition failed), ErrNotFound (a delete of a record that is not
	// live) or ErrAborted (another write of an atomic commit failed).
	Err error
}

// A ConflictError reports a write whose IfRevision condition did not hold.
// It unwraps to ErrConflict.
type ConflictError struct {
	// Current is the record's state when the condition was checked, without
	// its body; the zero Revision when the record never existed.
	Current Record
	// Want is the condition that failed (Write.IfRevision).
	Want int64
}

// Error describes the condition and the revision the record was at.
func (e *ConflictError) Error() string {
	state := fmt.Sprintf("at revision %d", e.Current.Revision)
	switch {
	case e.Current.Revision == 0:
		state = "absent"
	case e.Current.Deleted:
		state = fmt.Sprintf("deleted at revision %d", e.Current.Revision)
	}
	want := fmt.Sprintf("revision %d", e.Want)
	if e.Want == 0 {
		want = "absence"
	}
	return fmt.Sprintf("store: conflict: %s/%s is %s, write required %s", e.Current.Schema, e.Current.ID, state, want)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// A HistoryEntry is one revision in a record's history.
type HistoryEntry struct {
	Revision int64
	Op, By   string
	Version  int       // the schema version the client wrote
	At       time.Time // UTC
	Extra    []byte    // HistoryMeta.Extra of the write
	Body     []byte    // the body written; nil for a delete
}

// A Change is an entry of a schema's change feed: a record at its newest
// change.
type Change struct {
	Seq      uint64
	ID       string
	Revision int64
	Op       string    // the history Op of the write
	At       time.Time // UTC
}
