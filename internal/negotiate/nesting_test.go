package negotiate

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// bodyDepth is the deepest nesting of a body, the outermost array or map
// being level 1 (API.md §1).
const bodyDepth = 32

// nestedMaps returns levels maps nested in one another, the innermost
// holding an int.
func nestedMaps(levels int) map[string]any {
	m := map[string]any{"v": int64(7)}
	for range levels - 1 {
		m = map[string]any{"n": m}
	}
	return m
}

// checkDepthProblem fails unless err refuses a value for its nesting, at
// a byte offset.
func checkDepthProblem(t *testing.T, what string, err error) {
	t.Helper()
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid || p.Reason != "depth" || p.Extra["offset"] == nil {
		t.Errorf("%s: error %v; want an invalid problem with reason depth and an offset", what, err)
	}
}

// An import envelope holds a record one level below its own map, so a
// stream value may nest one level deeper than a body: a record of the
// deepest nesting a body allows is read in every stream format, and one
// level more is refused, that value alone.
func TestStreamEnvelopeHoldsDeepestRecord(t *testing.T) {
	t.Parallel()
	envelope := func(id string, levels int) map[string]any {
		return map[string]any{"id": id, "data": nestedMaps(levels)}
	}
	for _, s := range valueStreams() {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			values := []any{envelope("a", bodyDepth), envelope("b", bodyDepth+1), envelope("c", bodyDepth)}
			dec := s.NewDecoder(bytes.NewReader(mustEncodeStream(t, s, values)), 1<<20)
			for i, want := range values {
				var got any
				err := dec.Decode(&got)
				if i == 1 {
					checkDepthProblem(t, s.Name()+": envelope of a record nested 33 deep", err)
					if !errors.Is(err, ErrSkipped) {
						t.Errorf("%s: envelope of a record nested 33 deep: error %v does not let the stream go on", s.Name(), err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: envelope %d of a record nested 32 deep: %v", s.Name(), i, err)
				} else if !equalModel(want, got) {
					t.Errorf("%s: envelope %d of a record nested 32 deep = %#v; want %#v", s.Name(), i, got, want)
				}
			}
			var extra any
			if err := dec.Decode(&extra); err != io.EOF {
				t.Errorf("%s: Decode after the last value = %#v, %v; want io.EOF", s.Name(), extra, err)
			}
			// A body keeps its own limit: the record alone, not in an
			// envelope.
			codec := s.(*framedCodec).codec
			for levels, ok := range map[int]bool{bodyDepth: true, bodyDepth + 1: false} {
				body, err := codec.Marshal(nestedMaps(levels))
				if err != nil {
					t.Fatalf("%s: Marshal of %d levels: %v", codec.Name(), levels, err)
				}
				var got any
				err = DecodeData(codec, body, &got)
				if ok && err != nil {
					t.Errorf("%s: DecodeData of a body of %d levels: %v", codec.Name(), levels, err)
				}
				if !ok {
					checkDepthProblem(t, codec.Name()+": DecodeData of a body of 33 levels", err)
					checkDepthProblem(t, codec.Name()+": Decode of a body of 33 levels", codec.Decode(body, &got))
				}
			}
		})
	}
}

// structChain returns a struct type nesting levels structs, the innermost
// holding an int64 V.
func structChain(levels int) reflect.Type {
	t := reflect.StructOf([]reflect.StructField{{Name: "V", Type: reflect.TypeFor[int64]()}})
	for range levels - 1 {
		t = reflect.StructOf([]reflect.StructField{{Name: "N", Type: t}})
	}
	return t
}

// gobEnvelope returns a value of an envelope type around a record of
// structChain(levels) whose innermost V is set.
func gobEnvelope(id string, levels int) reflect.Value {
	env := reflect.StructOf([]reflect.StructField{
		{Name: "Id", Type: reflect.TypeFor[string]()},
		{Name: "Data", Type: structChain(levels)},
	})
	v := reflect.New(env).Elem()
	v.Field(0).SetString(id)
	inner := v.Field(1)
	for range levels - 1 {
		inner = inner.Field(0)
	}
	inner.Field(0).SetInt(7)
	return v
}

func TestGobStreamEnvelopeHoldsDeepestRecord(t *testing.T) {
	t.Parallel()
	s := NewGobStreamCodec(NewGobCodec(testVetter))
	for _, tc := range []struct {
		levels int
		ok     bool
	}{
		{bodyDepth, true},
		{bodyDepth + 1, false},
	} {
		want := gobEnvelope("a", tc.levels)
		data := mustEncodeStream(t, s, []any{want.Addr().Interface()})
		got := reflect.New(want.Type())
		err := s.NewDecoder(bytes.NewReader(data), 1<<20).Decode(got.Interface())
		if !tc.ok {
			// gob names the offset in the detail only.
			if p, ok := problem.As(err); !ok || p.Kind != problem.Invalid || p.Reason != "depth" || !strings.Contains(p.Detail, "at byte") || !errors.Is(err, ErrSkipped) {
				t.Errorf("gob stream: envelope of a record nested 33 deep: error %v; want an invalid problem with reason depth, naming the byte, refusing that value alone", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("gob stream: envelope of a record nested 32 deep: %v", err)
		} else if !reflect.DeepEqual(got.Elem().Interface(), want.Interface()) {
			t.Errorf("gob stream: envelope of a record nested 32 deep = %+v; want %+v", got.Elem(), want)
		}
	}
}
