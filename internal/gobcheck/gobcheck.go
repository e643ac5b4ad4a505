// Package gobcheck validates gob streams before encoding/gob sees them.
//
// encoding/gob is not hardened against hostile input: a body of a few dozen
// bytes can declare a map of billions of entries, and the decoder sizes the
// map from that count and dies with a fatal out-of-memory error that recover
// cannot catch. gobcheck walks the wire format on its own, without
// allocating in proportion to anything the input claims, and refuses a body
// unless every count and length fits in the bytes that follow, nesting stays
// within a limit, and only the wire types Ferry's schemas produce appear:
// structs, slices, maps with string keys, bool, int, uint, float, string,
// []byte and values sent through GobEncoder or BinaryMarshaler
// (time.Time). Interfaces, arrays, complex numbers and recursive types are
// refused.
//
// Counts alone bound the bytes that encoding/gob reads, not the memory it
// allocates: a slice element that takes one byte on the wire can become a
// large struct in memory. A [Checker] built with the Go type a body will be
// decoded into also estimates that memory and refuses a body that would
// need more than its bytes justify.
//
// A typed Checker also refuses a value that sets a struct field the Go type
// does not have: encoding/gob matches fields by name and drops the rest
// without a word, where Ferry's other formats refuse an unknown member.
// Since gob sends only fields that are not zero, a sender's struct may have
// more fields than the target as long as they are zero.
//
// Every error is a *problem.Error whose detail names the byte offset. Its
// kind is Invalid, with Reason one of "length", "depth", "syntax", "type",
// "trailing", "truncated", "utf8", "duplicate" or "unknown_field", except
// that a message going past Limits.MaxBytes is TooLarge with Reason
// "length".
package gobcheck

import (
	"errors"
	"io"
	"math"
	"reflect"
	"sync"

	"github.com/ferry-dev/ferry/internal/problem"
)

// MaxDepth is the default limit on nesting: the outermost struct is level
// 1, and each struct, slice or map inside it adds a level.
const MaxDepth = 32

// MaxTypes is the most type definitions one stream may carry.
const MaxTypes = 1024

// MaxFields is the most fields one struct type may declare.
const MaxFields = 1024

// ErrTruncated is wrapped by the error returned when the data ends inside a
// message. A Scanner reading a stream returns it to ask for more bytes.
var ErrTruncated = errors.New("gobcheck: truncated")

// Limits bound what a Checker accepts. The zero value holds the defaults.
type Limits struct {
	// MaxDepth bounds nesting; zero means MaxDepth.
	MaxDepth int
	// MaxAlloc bounds the estimated bytes that encoding/gob allocates to
	// decode one value into the Checker's target type. Zero means 64 KiB
	// plus 32 times the length of the value's message. It has no effect
	// without a target type.
	MaxAlloc int
	// MaxBytes bounds the length of one message sequence: the type
	// definitions and the value a call to Next accepts, or a whole body for
	// Check. A message whose declared length goes past it is refused as
	// problem.TooLarge before its bytes arrive. Zero means no bound.
	MaxBytes int
}

// A Checker checks gob bodies against limits and, when it has one, the Go
// type they will be decoded into. It is safe for concurrent use.
type Checker struct {
	maxDepth int
	maxAlloc int64
	maxBytes uint64
	target   *shape
}

// NewChecker returns a Checker for bodies that will be decoded into values
// of type into (a struct type or a pointer to one), or for any body when
// into is nil.
func NewChecker(into reflect.Type, l Limits) *Checker {
	c := &Checker{maxDepth: l.MaxDepth, maxAlloc: int64(l.MaxAlloc), maxBytes: math.MaxUint64}
	if l.MaxBytes > 0 {
		c.maxBytes = uint64(l.MaxBytes)
	}
	if c.maxDepth <= 0 {
		c.maxDepth = MaxDepth
	}
	if into != nil {
		c.target = newShapes().of(into)
	}
	return c
}

// Check verifies that data is exactly one gob stream holding exactly one
// struct value, preceded by the type definitions it needs, and reports the
// first problem found.
func (c *Checker) Check(data []byte) error {
	s := Scanner{checker: c}
	n, err := s.Next(data)
	var ve *ValueError
	switch {
	case err == io.EOF:
		return truncated("the gob body ends at byte 0, before any message")
	case errors.As(err, &ve):
		return ve.Err
	case err != nil:
		return err
	case n != len(data):
		return invalid("trailing", "%d bytes follow the gob value at byte %d", len(data)-n, n)
	}
	return nil
}

// NewScanner returns a Scanner that applies c's limits to a stream.
func (c *Checker) NewScanner() *Scanner {
	return &Scanner{checker: c}
}

// NewScannerDeeper returns a Scanner that applies c's limits to a stream,
// except that its values may nest levels deeper than c's limit on
// nesting: for a stream whose every value wraps a body that the limit
// bounds in that many more structs, as an envelope wraps a record.
func (c *Checker) NewScannerDeeper(levels int) *Scanner {
	return &Scanner{checker: c, deeper: levels}
}

// Check verifies that data is exactly one gob stream holding exactly one
// struct value, preceded by the type definitions it needs, under the
// default limits. It bounds every count by the bytes that follow but, not
// knowing the type the body is decoded into, cannot bound the memory each
// element takes once decoded; [NewChecker] with that type does.
func Check(data []byte) error {
	return defaultChecker.Check(data)
}

// NewScanner returns a Scanner with the default limits and no target type.
func NewScanner() *Scanner {
	return defaultChecker.NewScanner()
}

// defaultChecker is never modified after initialization.
var defaultChecker = NewChecker(nil, Limits{})

// A Scanner checks a gob stream written by one Encoder, value by value. It
// keeps the type definitions it has seen, as a gob Decoder does, so the
// bytes it accepts must be passed to a single Decoder in the same order.
// A Scanner is not safe for concurrent use.
type Scanner struct {
	checker *Checker
	types   table
	offset  int64 // stream offset of the data passed to the next call
	err     error // sticky: the stream cannot be resynchronized
	// deeper is how many levels deeper than the checker's limit a value
	// may nest.
	deeper int
}

// Next checks the message sequence at the start of data: the type
// definitions, if any, and the one value that ends it. It returns the
// sequence's length. When data ends inside the sequence, Next returns an
// error wrapping ErrTruncated and keeps no state from the call, so it can
// be called again with the same bytes and more. When data is empty it
// returns io.EOF. A *ValueError refuses the sequence's value alone: the
// stream goes on after the sequence. Any other error ends the stream:
// later calls return it again.
func (s *Scanner) Next(data []byte) (n int, err error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(data) == 0 {
		return 0, io.EOF
	}
	n, err = s.next(data)
	var ve *ValueError
	switch {
	case errors.As(err, &ve):
		s.offset += int64(ve.Len)
		return 0, err
	case err != nil:
		if !errors.Is(err, ErrTruncated) {
			s.err = err
		}
		return 0, err
	}
	s.offset += int64(n)
	return n, nil
}

// A ValueError refuses the value of a message sequence whose framing and
// type definitions are sound, so that a reader can pass over it: the
// sequence takes Len bytes, of which the first Defs are type definitions
// that a decoder must still read, as later values may use them.
type ValueError struct {
	Err       error
	Len, Defs int
}

func (e *ValueError) Error() string { return e.Err.Error() }

func (e *ValueError) Unwrap() error { return e.Err }

func (s *Scanner) next(data []byte) (int, error) {
	end, err := s.frame(data)
	if err != nil {
		return 0, err
	}
	pos := 0
	for pos < end {
		msg := pos
		length, w, _ := readUint(data[pos:])
		start := pos + w
		pos = start + int(length)
		c := cursor{b: data[:pos], pos: start, base: s.offset, maxDepth: s.checker.maxDepth + s.deeper}
		id, err := c.int()
		if err != nil {
			return 0, err
		}
		if id < 0 {
			if err := s.define(&c, -id); err != nil {
				return 0, err
			}
			continue
		}
		if err := s.value(&c, id, start); err != nil {
			if v, ok := err.(valueError); ok {
				return 0, &ValueError{Err: v.error, Len: end, Defs: msg}
			}
			return 0, err
		}
	}
	return end, nil
}

// frame finds the end of the message sequence at the start of data without
// looking inside the type definitions, so that a stream arriving in pieces
// costs one parse per sequence however often it is found incomplete.
func (s *Scanner) frame(data []byte) (end int, err error) {
	pos, defs := 0, 0
	for {
		off := s.offset + int64(pos)
		if pos == len(data) {
			return 0, truncated("the gob stream ends before a value at byte %d", off)
		}
		length, w, st := readUint(data[pos:])
		switch {
		case st == uintShort:
			return 0, truncated("the gob stream ends inside a message length at byte %d", off)
		case st == uintBad:
			return 0, invalid("syntax", "invalid message length at byte %d", off)
		case length == 0:
			return 0, invalid("syntax", "empty message at byte %d", off)
		case uint64(pos+w) > s.checker.maxBytes || length > s.checker.maxBytes-uint64(pos+w):
			return 0, problem.New(problem.TooLarge, "the gob message at byte %d declares %d bytes, which takes its sequence past the limit of %d", off, length, s.checker.maxBytes).WithReason("length")
		case length > uint64(len(data)-pos-w):
			return 0, truncated("the gob message at byte %d declares %d bytes but the data ends after %d", off, length, len(data)-pos-w)
		}
		start := pos + w
		pos = start + int(length)
		id, _, st := readUint(data[start:pos])
		if st != uintOK {
			return 0, invalid("syntax", "invalid type id at byte %d", s.offset+int64(start))
		}
		if id&1 == 0 {
			return pos, nil
		}
		// A negative id announces a type definition.
		defs++
		if s.types.len()+defs > MaxTypes {
			return 0, invalid("type", "the gob stream defines more than %d types by byte %d", MaxTypes, s.offset+int64(start))
		}
	}
}

// value checks the value message that c is positioned in, after its type
// id; start is where the message's content begins.
func (s *Scanner) value(c *cursor, id int64, start int) error {
	off := c.base + int64(start)
	t, ok := s.lookup(id)
	if !ok {
		return invalid("type", "the gob value at byte %d has type id %d, which is not defined", off, id)
	}
	if t.kind != kindStruct {
		return invalid("type", "the gob value at byte %d is of kind %s, not a struct", off, t.kind)
	}
	if err := s.resolve(t); err != nil {
		return err
	}
	var root *edge
	if target := s.checker.target; target != nil {
		budget := s.checker.maxAlloc
		if budget <= 0 {
			budget = 64<<10 + 32*int64(len(c.b)-start)
		}
		c.budget = budget
		root = &edge{p: t.planFor(target, &s.types)}
		if err := c.charge(target.size, off); err != nil {
			return valueError{err}
		}
	}
	if err := c.value(t, root, 1); err != nil {
		return valueError{err}
	}
	if c.pos != len(c.b) {
		return valueError{invalid("trailing", "%d bytes follow the gob value in its message at byte %d", len(c.b)-c.pos, c.off())}
	}
	return nil
}

// A valueError is an error in the content of a value message, which is
// framed and typed soundly: it refuses that value alone.
type valueError struct{ error }

func invalid(reason, format string, args ...any) *problem.Error {
	return problem.New(problem.Invalid, format, args...).WithReason(reason)
}

func truncated(format string, args ...any) *problem.Error {
	return problem.Wrap(problem.Invalid, ErrTruncated, format, args...).WithReason("truncated")
}

// A Vetter keeps one Checker per target type, so that what a type may
// cost is worked out once, and hands out Checkers and Scanners for it. It
// is safe for concurrent use.
type Vetter struct {
	limits   Limits
	checkers sync.Map // reflect.Type → *Checker
}

// NewVetter returns a Vetter whose Checkers use the limits l.
func NewVetter(l Limits) *Vetter { return &Vetter{limits: l} }

// Checker returns the Checker of bodies decoded into values of type into.
func (v *Vetter) Checker(into reflect.Type) *Checker {
	if c, ok := v.checkers.Load(into); ok {
		return c.(*Checker)
	}
	c, _ := v.checkers.LoadOrStore(into, NewChecker(into, v.limits))
	return c.(*Checker)
}

// Check vets a body holding one value to be decoded into type into.
func (v *Vetter) Check(into reflect.Type, body []byte) error { return v.Checker(into).Check(body) }
