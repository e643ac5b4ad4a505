package negotiate

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
)

// isFinite reports whether f is neither NaN nor infinite.
func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// A rangeChecker finds the values no Ferry format can carry: NaN and
// infinite floats, and times outside the years 0000 to 9999 that RFC 3339
// (and so JSON and CBOR) can write. Libraries that would write them
// (MessagePack, gob) are stopped before encoding, and times a library
// decoded without looking (CBOR epoch numbers) are refused after decoding.
//
// Each type gets a plan, built once, of where in it such values can be, so
// a check visits only those places: a record without floats or times costs
// one map lookup.
type rangeChecker struct {
	format string
	// tags name struct fields in paths, as in shapeCache.
	tags []string
	// floats is set to check floats as well as times.
	floats bool
	plans  sync.Map // reflect.Type → *rangePlan (nil: nothing to check)
}

// A rangePlan says where in a value of one type to look.
type rangePlan struct {
	kind   planKind
	fields []planField // of a struct: only those that need a look
	elem   *rangePlan  // of a slice, array, map (values) or pointer
	key    *rangePlan  // of a map
}

type planKind uint8

const (
	planFloat planKind = iota
	planTime
	planStruct
	planList // slice or array
	planMap
	planPointer
	planInterface // anything: checked by its dynamic type
)

type planField struct {
	index int
	name  string
	plan  *rangePlan
}

// check returns a *valueError locating the first value out of range in v.
func (c *rangeChecker) check(v reflect.Value) error {
	return c.visit(v, inRange)
}

// holdsZeroTime reports whether v holds a zero time.Time.
func (c *rangeChecker) holdsZeroTime(v reflect.Value) bool {
	return errors.Is(c.visit(v, isZeroTime), errZeroTime)
}

// A leafFunc looks at a float or time found in a value in format.
type leafFunc func(format string, v reflect.Value, kind planKind) error

// visit calls leaf on each float (when the checker looks at floats) and
// each time in v, where its plan says they can be, and returns the first
// error leaf returns, located by its path when it is a *valueError.
func (c *rangeChecker) visit(v reflect.Value, leaf leafFunc) error {
	if !v.IsValid() {
		return nil
	}
	p := c.planOf(v.Type())
	if p == nil {
		return nil
	}
	return c.walk(v, p, leaf)
}

// inRange is the leaf of check.
func inRange(format string, v reflect.Value, kind planKind) error {
	if kind == planFloat {
		if f := v.Float(); !isFinite(f) {
			return nonFinite(format, f)
		}
		return nil
	}
	if t := v.Interface().(time.Time); !timeInRange(t) {
		return timeOutOfRange(format, t)
	}
	return nil
}

// errZeroTime stops a visit at a zero time.
var errZeroTime = errors.New("negotiate: zero time")

// isZeroTime is the leaf of holdsZeroTime.
func isZeroTime(_ string, v reflect.Value, kind planKind) error {
	if kind == planTime && v.Interface().(time.Time).IsZero() {
		return errZeroTime
	}
	return nil
}

func (c *rangeChecker) planOf(t reflect.Type) *rangePlan {
	if p, ok := c.plans.Load(t); ok {
		return p.(*rangePlan)
	}
	p := c.build(t, map[reflect.Type]*rangePlan{})
	c.plans.Store(t, p)
	return p
}

// build returns the plan of t, or nil when t holds nothing to check. seen
// holds the plans under construction, so that a recursive type refers back
// to itself.
func (c *rangeChecker) build(t reflect.Type, seen map[reflect.Type]*rangePlan) *rangePlan {
	if p, ok := seen[t]; ok {
		return p
	}
	if t == timeType {
		return &rangePlan{kind: planTime}
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if c.floats {
			return &rangePlan{kind: planFloat}
		}
		return nil
	case reflect.Interface:
		return &rangePlan{kind: planInterface}
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map, reflect.Struct:
	default:
		return nil
	}
	p := &rangePlan{}
	seen[t] = p
	switch t.Kind() {
	case reflect.Pointer:
		p.kind, p.elem = planPointer, c.build(t.Elem(), seen)
	case reflect.Slice, reflect.Array:
		p.kind, p.elem = planList, c.build(t.Elem(), seen)
	case reflect.Map:
		p.kind, p.key, p.elem = planMap, c.build(t.Key(), seen), c.build(t.Elem(), seen)
		if p.key == nil && p.elem == nil {
			p = nil
		}
	case reflect.Struct:
		p.kind = planStruct
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if fp := c.build(f.Type, seen); fp != nil {
				p.fields = append(p.fields, planField{index: i, name: c.fieldName(f), plan: fp})
			}
		}
		if len(p.fields) == 0 {
			p = nil
		}
	}
	if p != nil && (p.kind == planPointer || p.kind == planList) && p.elem == nil {
		p = nil
	}
	seen[t] = p
	return p
}

func (c *rangeChecker) walk(v reflect.Value, p *rangePlan, leaf leafFunc) error {
	switch p.kind {
	case planFloat, planTime:
		return leaf(c.format, v, p.kind)
	case planInterface:
		if !v.IsNil() {
			return c.visit(v.Elem(), leaf)
		}
	case planPointer:
		if !v.IsNil() {
			return c.walk(v.Elem(), p.elem, leaf)
		}
	case planStruct:
		for _, f := range p.fields {
			if err := c.walk(v.Field(f.index), f.plan, leaf); err != nil {
				return atPath(err, "."+f.name)
			}
		}
	case planList:
		for i := range v.Len() {
			if err := c.walk(v.Index(i), p.elem, leaf); err != nil {
				return atPath(err, indexSegment(i))
			}
		}
	case planMap:
		for it := v.MapRange(); it.Next(); {
			if p.key != nil {
				if err := c.walk(it.Key(), p.key, leaf); err != nil {
					return err
				}
			}
			if p.elem != nil {
				if err := c.walk(it.Value(), p.elem, leaf); err != nil {
					return atPath(err, keySegment(it.Key().Interface()))
				}
			}
		}
	}
	return nil
}

func (c *rangeChecker) fieldName(f reflect.StructField) string {
	for _, tag := range c.tags {
		if v, ok := f.Tag.Lookup(tag); ok {
			for i := range len(v) {
				if v[i] == ',' {
					v = v[:i]
					break
				}
			}
			if v != "" {
				return v
			}
		}
	}
	return f.Name
}

// Times RFC 3339 can write: years 0000 to 9999.
var (
	minTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

func timeInRange(t time.Time) bool { return !t.Before(minTime) && !t.After(maxTime) }

func timeOutOfRange(format string, t time.Time) *valueError {
	return &valueError{kind: problem.Unprocessable, reason: "time",
		msg: fmt.Sprintf("%s cannot hold the time %s, outside the years 0000 to 9999", format, t.UTC().Format(time.RFC3339Nano))}
}

// encodeProblem classifies an encoding failure: a value the format cannot
// hold is the client's (422); anything else is Ferry's.
func encodeProblem(err error, format string) error {
	if ve, ok := err.(*valueError); ok {
		return ve.problem()
	}
	if _, ok := err.(*problem.Error); ok {
		return err
	}
	return fmt.Errorf("negotiate: encode %s: %w", format, err)
}
