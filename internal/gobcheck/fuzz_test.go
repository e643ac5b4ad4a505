package gobcheck

import (
	"bytes"
	"encoding/gob"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
)

var reasons = map[string]bool{
	"length": true, "depth": true, "syntax": true, "type": true, "trailing": true,
	"truncated": true, "utf8": true, "duplicate": true, "unknown_field": true,
}

// FuzzCheck checks that Check never panics, that every error it returns is
// a located Invalid problem, that a typed Checker accepts nothing the
// untyped one refuses, and that encoding/gob decodes what a typed Checker
// accepts without crashing. gob never sees a body that was refused.
func FuzzCheck(f *testing.F) {
	schema := schemaType()
	targets := []reflect.Type{
		reflect.TypeFor[envelope](),
		reflect.TypeFor[record](),
		reflect.TypeFor[mapBody](),
		reflect.TypeFor[struct{ A, B int64 }](),
		schema,
		envelopeOf(schema),
		structOf(fieldOf("Items", reflect.SliceOf(wideType()))),
	}
	checkers := make([]*Checker, len(targets))
	for i, t := range targets {
		checkers[i] = NewChecker(t, Limits{})
	}

	env := &envelope{Id: "r1", Revision: 2, Version: 1, UpdatedAt: time.Unix(1700000000, 5), Data: *fullRecord()}
	f.Add(mustEncode(f, env))
	f.Add(mustEncode(f, env, env, &envelope{}))
	f.Add(mustEncode(f, fullRecord()))
	f.Add(mustEncode(f, &record{}))
	f.Add(mustEncode(f, mapBody{map[string]int64{"a": 1, "b": 2}}))
	f.Add(mustEncode(f, filled(schema, 2)))
	f.Add(mustEncode(f, filled(envelopeOf(schema), 1)))
	f.Add(mustEncode(f, filled(mixedChain(32), 1)))
	for _, tc := range rejectCases(f) {
		f.Add(tc.data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		untyped := Check(data)
		if untyped != nil {
			p, ok := problem.As(untyped)
			if !ok || p.Kind != problem.Invalid || !reasons[p.Reason] || !detailOffset.MatchString(p.Detail) {
				t.Fatalf("Check(% x) = %#v; want a located invalid problem", data, untyped)
			}
		}
		for i, c := range checkers {
			if c.Check(data) != nil {
				continue
			}
			if untyped != nil {
				t.Fatalf("typed Check into %v accepted % x, which Check refused: %v", targets[i], data, untyped)
			}
			// Errors are expected (the body may not match the type); a
			// crash or a runaway allocation is not.
			_ = gob.NewDecoder(bytes.NewReader(data)).DecodeValue(reflect.New(targets[i]))
		}

		// A stream read as the gob stream decoder reads it: a refused
		// value is passed over, its type definitions kept.
		s := checkers[0].NewScanner()
		var vetted []byte
		read, values := 0, 0
		for {
			n, err := s.Next(data[read:])
			var refused *ValueError
			if errors.As(err, &refused) {
				if refused.Defs > refused.Len || refused.Len > len(data)-read || refused.Len == 0 {
					t.Fatalf("ValueError of %d bytes with %d of definitions, %d left", refused.Len, refused.Defs, len(data)-read)
				}
				vetted = append(vetted, data[read:read+refused.Defs]...)
				read += refused.Len
				continue
			}
			if err != nil {
				break
			}
			vetted = append(vetted, data[read:read+n]...)
			read += n
			values++
		}
		dec := gob.NewDecoder(bytes.NewReader(vetted))
		for range values {
			if dec.DecodeValue(reflect.New(targets[0])) != nil {
				break
			}
		}
	})
}
