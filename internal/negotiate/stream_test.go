package negotiate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

func streamCodecs() []StreamCodec {
	return NewDefaultRegistry(Options{Gob: testVetter}).Streams()
}

func valueStreams() []StreamCodec {
	var out []StreamCodec
	for _, s := range streamCodecs() {
		if s.Name() != "gob-stream" {
			out = append(out, s)
		}
	}
	return out
}

// mustEncodeStream writes values to a stream of codec s.
func mustEncodeStream(t *testing.T, s StreamCodec, values []any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := s.NewEncoder(&buf)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			t.Fatalf("%s: Encode(%#v) error: %v", s.Name(), v, err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("%s: Close error: %v", s.Name(), err)
	}
	return buf.Bytes()
}

func TestStreamRoundTrip(t *testing.T) {
	t.Parallel()
	var values []any
	for _, tc := range modelValues {
		values = append(values, tc.v)
	}
	for _, s := range valueStreams() {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			data := mustEncodeStream(t, s, values)
			// One byte per read finds every place a value can be split.
			dec := s.NewDecoder(iotest.OneByteReader(bytes.NewReader(data)), 1<<20)
			for i, want := range values {
				var got any
				if err := dec.Decode(&got); err != nil {
					t.Fatalf("%s: value %d: Decode error: %v", s.Name(), i, err)
				}
				if strings.HasPrefix(s.Name(), "json") {
					want = jsonView(want)
				}
				if !equalModel(want, got) {
					t.Errorf("%s: value %d = %#v, want %#v", s.Name(), i, got, want)
				}
			}
			var extra any
			if err := dec.Decode(&extra); err != io.EOF {
				t.Errorf("%s: Decode after the last value = %#v, %v; want io.EOF", s.Name(), extra, err)
			}
			if err := dec.Decode(&extra); err != io.EOF {
				t.Errorf("%s: Decode after io.EOF = %v, want io.EOF again", s.Name(), err)
			}
		})
	}
}

func TestStreamStructs(t *testing.T) {
	t.Parallel()
	orders := []any{sampleOrder(), sampleOrder(), testOrder{ID: "empty"}}
	for _, s := range valueStreams() {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			data := mustEncodeStream(t, s, orders)
			dec := s.NewDecoder(bytes.NewReader(data), 4096)
			for i := range orders {
				var got testOrder
				if err := dec.Decode(&got); err != nil || got.ID != orders[i].(testOrder).ID {
					t.Fatalf("%s: value %d = %+v, %v", s.Name(), i, got, err)
				}
			}
			var got testOrder
			if err := dec.Decode(&got); err != io.EOF {
				t.Errorf("%s: Decode at the end = %v, want io.EOF", s.Name(), err)
			}
		})
	}
}

func TestStreamFraming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stream string
		data   string
		// good is how many values decode before the error.
		good int
		kind problem.Kind
	}{
		{"jsonl", "1\n2\n{\n3\n", 2, problem.Invalid},
		{"jsonl", "1\n2 3\n", 1, problem.Invalid},
		{"cbor-seq", "\x01\x02\xff\x03", 2, problem.Invalid},
		{"cbor-seq", "\x01\x82\x01", 1, problem.Invalid},
		{"msgpack-seq", "\x01\x02\xc1\x03", 2, problem.Invalid},
		{"msgpack-seq", "\x01\x92\x01", 1, problem.Invalid},
		{"cbor-seq", "\x01\x1c\x03", 1, problem.Invalid},
		// Nested past what the structural walk follows: its end is not
		// known, so the stream ends there.
		{"cbor-seq", "\x01" + strings.Repeat("\x81", wire.MaxExtentDepth+1) + "\x01\x03", 1, problem.Invalid},
		{"msgpack-seq", "\x01" + strings.Repeat("\x91", wire.MaxExtentDepth+1) + "\x01\x03", 1, problem.Invalid},
	}
	byName := map[string]StreamCodec{}
	for _, s := range streamCodecs() {
		byName[s.Name()] = s
	}
	for _, tc := range tests {
		t.Run(tc.stream+"/"+tc.data, func(t *testing.T) {
			t.Parallel()
			dec := byName[tc.stream].NewDecoder(strings.NewReader(tc.data), 1<<16)
			for i := range tc.good {
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("%s %q: value %d error: %v", tc.stream, tc.data, i, err)
				}
			}
			var v any
			err := dec.Decode(&v)
			p, ok := problem.As(err)
			if !ok || p.Kind != tc.kind || p.Extra["index"] != tc.good || errors.Is(err, ErrSkipped) {
				t.Fatalf("%s %.40q: value %d = %#v, %v; want a %v problem with index %d that ends the stream", tc.stream, tc.data, tc.good, v, err, tc.kind, tc.good)
			}
		})
	}
}

func TestStreamRefusedValueKeepsStream(t *testing.T) {
	t.Parallel()
	// A well-formed value refused for what it holds is reported with its
	// index, and the values after it still read.
	deep := func(b byte) string { return strings.Repeat(string([]byte{b}), 40) + "\x01" }
	tests := []struct {
		stream, refused string
		kind            problem.Kind
	}{
		{"cbor-seq", "\xa2\x61a\x01\x61a\x02", problem.Invalid},     // a repeated key
		{"cbor-seq", "\x61\xff", problem.Invalid},                   // invalid UTF-8
		{"cbor-seq", deep(0x81), problem.Invalid},                   // nested too deep
		{"cbor-seq", "\xf9\x7e\x00", problem.Unprocessable},         // NaN
		{"cbor-seq", "\xd8\x20\x61a", problem.Unprocessable},        // a foreign tag (URI)
		{"cbor-seq", "\x81\xd9\xd9\xf7\x01", problem.Unprocessable}, // self-described inside
		{"cbor-seq", "\xc2\x41\x01", problem.Unprocessable},         // a bignum
		{"cbor-seq", "\xa1\x61a\xf7", problem.Unprocessable},        // undefined
		{"cbor-seq", "\x3b\xff\xff\xff\xff\xff\xff\xff\xff", problem.Unprocessable},
		{"cbor-seq", "\xc0\x63abc", problem.Unprocessable}, // tag 0 on text that is no time
		{"msgpack-seq", "\x82\xa1a\x01\xa1a\x02", problem.Invalid},
		{"msgpack-seq", "\xa1\xff", problem.Invalid},
		{"msgpack-seq", deep(0x91), problem.Invalid},
		{"msgpack-seq", "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", problem.Unprocessable},
		{"msgpack-seq", "\xd4\x05\x00", problem.Unprocessable},
	}
	byName := map[string]StreamCodec{}
	for _, s := range streamCodecs() {
		byName[s.Name()] = s
	}
	for _, tc := range tests {
		t.Run(tc.stream+"/"+fmt.Sprintf("%x", tc.refused), func(t *testing.T) {
			t.Parallel()
			data := "\x01" + tc.refused + "\x03"
			dec := byName[tc.stream].NewDecoder(strings.NewReader(data), 1024)
			var v any
			if err := dec.Decode(&v); err != nil || !equalModel(int64(1), v) {
				t.Fatalf("%x: value 0 = %#v, %v; want 1", data, v, err)
			}
			err := dec.Decode(&v)
			p, ok := problem.As(err)
			if !ok || p.Kind != tc.kind || p.Extra["index"] != 1 || !errors.Is(err, ErrSkipped) {
				t.Fatalf("%x: value 1 error = %v; want a %v problem at index 1 that the stream goes on after", data, err, tc.kind)
			}
			v = nil
			if err := dec.Decode(&v); err != nil || !equalModel(int64(3), v) {
				t.Fatalf("%x: value 2 = %#v, %v; want 3", data, v, err)
			}
			if err := dec.Decode(&v); err != io.EOF {
				t.Errorf("%x: Decode at the end = %v; want io.EOF", data, err)
			}
		})
	}
}

func TestStreamSkipsBlank(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stream string
		data   string
		want   []any
	}{
		{"jsonl", "1\r\n\n  \n2", []any{int64(1), int64(2)}},
		{"jsonl", "\n\n", nil},
		{"json-seq", "\x1e\x1e1\n\x1e \n\x1e2\n", []any{int64(1), int64(2)}},
		{"cbor-seq", "", nil},
	}
	byName := map[string]StreamCodec{}
	for _, s := range streamCodecs() {
		byName[s.Name()] = s
	}
	for _, tc := range tests {
		dec := byName[tc.stream].NewDecoder(strings.NewReader(tc.data), 1024)
		for i, want := range tc.want {
			var v any
			if err := dec.Decode(&v); err != nil || !equalModel(want, v) {
				t.Fatalf("%s %q: value %d = %#v, %v; want %#v", tc.stream, tc.data, i, v, err, want)
			}
		}
		var v any
		if err := dec.Decode(&v); err != io.EOF {
			t.Errorf("%s %q: Decode at the end = %#v, %v; want io.EOF", tc.stream, tc.data, v, err)
		}
	}
}

func TestStreamValueErrorKeepsStream(t *testing.T) {
	t.Parallel()
	// A value that is framed but cannot be decoded is reported with its
	// index, and the values after it still read.
	for _, s := range valueStreams() {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			data := mustEncodeStream(t, s, []any{
				map[string]any{"id": "a"},
				map[string]any{"id": "b", "bogus": true},
				map[string]any{"id": "c"},
			})
			dec := s.NewDecoder(bytes.NewReader(data), 1024)
			var o testOrder
			if err := dec.Decode(&o); err != nil || o.ID != "a" {
				t.Fatalf("%s: first value = %+v, %v", s.Name(), o, err)
			}
			err := dec.Decode(&o)
			if p, ok := problem.As(err); !ok || p.Reason != "unknown_field" || p.Extra["index"] != 1 || !strings.HasPrefix(p.Detail, "value 1: ") {
				t.Fatalf("%s: second value error = %v, want unknown_field at index 1", s.Name(), err)
			}
			o = testOrder{}
			if err := dec.Decode(&o); err != nil || o.ID != "c" {
				t.Errorf("%s: third value = %+v, %v; want id c", s.Name(), o, err)
			}
		})
	}
}

func TestStreamValueLimit(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 5000)
	for _, s := range valueStreams() {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			data := mustEncodeStream(t, s, []any{"small", big, "after"})
			dec := s.NewDecoder(bytes.NewReader(data), 1000)
			var v any
			if err := dec.Decode(&v); err != nil || v != "small" {
				t.Fatalf("%s: first value = %#v, %v", s.Name(), v, err)
			}
			err := dec.Decode(&v)
			if p, ok := problem.As(err); !ok || p.Kind != problem.TooLarge || p.Extra["index"] != 1 {
				t.Fatalf("%s: value over the limit error = %v, want too large at index 1", s.Name(), err)
			}
			delimited := s.Name() == "jsonl" || s.Name() == "json-seq"
			if got := errors.Is(err, ErrSkipped); got != delimited {
				t.Errorf("%s: value over the limit skipped = %v, want %v", s.Name(), got, delimited)
			}
			if !delimited {
				// Its end is unknown: the stream ends there.
				if err2 := dec.Decode(&v); err2 != err {
					t.Errorf("%s: Decode after the limit = %v, want the same error %v", s.Name(), err2, err)
				}
				return
			}
			if err := dec.Decode(&v); err != nil || v != "after" {
				t.Errorf("%s: value after the skipped one = %#v, %v; want \"after\"", s.Name(), v, err)
			}
			if err := dec.Decode(&v); err != io.EOF {
				t.Errorf("%s: Decode at the end = %v, want io.EOF", s.Name(), err)
			}
		})
	}
}

func TestStreamSkipsOversizedValueInBoundedMemory(t *testing.T) {
	t.Parallel()
	// A delimited value over the limit is passed over without being held:
	// the window never grows past the limit, even for the last value of a
	// stream, which ends without its delimiter.
	for _, s := range valueStreams() {
		var big, tail string
		switch s.Name() {
		case "jsonl":
			big, tail = `{"id":"`+strings.Repeat("x", 1<<20)+`"}`+"\n", `"after"`+"\n"
		case "json-seq":
			big, tail = "\x1e\""+strings.Repeat("x", 1<<20)+"\"\n", "\x1e\"after\"\n"
		default:
			continue
		}
		for _, last := range []bool{false, true} {
			data := big + tail
			if last {
				data = tail + strings.TrimSuffix(big, "\n")
			}
			dec := s.NewDecoder(strings.NewReader(data), 1024).(*framedDecoder)
			var got []any
			skipped := 0
			for {
				var v any
				err := dec.Decode(&v)
				if err == io.EOF {
					break
				}
				if errors.Is(err, ErrSkipped) && problem.Is(err, problem.TooLarge) {
					skipped++
					continue
				}
				if err != nil {
					t.Fatalf("%s (last %v): Decode: %v", s.Name(), last, err)
				}
				got = append(got, v)
			}
			if skipped != 1 || len(got) != 1 || got[0] != "after" {
				t.Errorf("%s (last %v): values %v and %d skipped, want [after] and 1", s.Name(), last, got, skipped)
			}
			if n := len(dec.win.buf); n > 1024+3 {
				t.Errorf("%s (last %v): window grew to %d bytes for a limit of 1024", s.Name(), last, n)
			}
		}
	}
}

func TestStreamSyntaxErrorEndsJSONStream(t *testing.T) {
	t.Parallel()
	// A line that is not one JSON value is a framing error, as it may be
	// part of a value written across lines; a JSON value that cannot be
	// decoded is the value's own error. In a JSON text sequence the record
	// separator says where the next text starts, so a text that does not
	// parse, or lacks its line feed, is rejected alone (RFC 7464 §2.3).
	tests := []struct {
		codec, data string
		skipped     bool
	}{
		{"jsonl", "{\"a\":\n\"after\"\n", false},
		{"jsonl", "{} {}\n\"after\"\n", false},
		{"jsonl", "\"\xff\"\n\"after\"\n", false},
		{"jsonl", "{\"a\":1,\"a\":2}\n\"after\"\n", true},
		{"jsonl", "1e400\n\"after\"\n", true},
		{"json-seq", "\x1e{\"a\":\n\x1e\"after\"\n", true},
		{"json-seq", "\x1e{\"a\":1}\x1e\"after\"\n", true},
		{"json-seq", "\x1e1\n2\n\x1e\"after\"\n", true},
		{"json-seq", "junk\n\x1e\"after\"\n", true}, // before the first separator
		{"json-seq", "\x1e{\"a\":1,\"a\":2}\n\x1e\"after\"\n", true},
		// A rule of decoding broken before the syntax is: still framing.
		{"jsonl", "{\"a\":1,\"a\":2\n\"after\"\n", false},
		{"jsonl", "{\"a\":1,\"a\":2}}}\n\"after\"\n", false},
		{"jsonl", "[1e400,\n\"after\"\n", false},
		{"jsonl", strings.Repeat("[", 40) + "x\n\"after\"\n", false},
		{"json-seq", "\x1e[1e400,\n\x1e\"after\"\n", true},
		{"jsonl", strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n\"after\"\n", true},
	}
	codecs := make(map[string]StreamCodec)
	for _, s := range valueStreams() {
		codecs[s.Name()] = s
	}
	for _, tt := range tests {
		dec := codecs[tt.codec].NewDecoder(strings.NewReader(tt.data), 1024)
		var v any
		err := dec.Decode(&v)
		if err == nil || errors.Is(err, ErrSkipped) != tt.skipped {
			t.Errorf("%s %q: error %v, want skipped %v", tt.codec, tt.data, err, tt.skipped)
			continue
		}
		err2 := dec.Decode(&v)
		if tt.skipped && (err2 != nil || v != "after") {
			t.Errorf("%s %q: after a skipped value: %#v, %v; want \"after\"", tt.codec, tt.data, v, err2)
		}
		if !tt.skipped && err2 != err {
			t.Errorf("%s %q: after a framing error: %v, want the same error", tt.codec, tt.data, err2)
		}
	}
}

func TestStreamDeclaredLengthBounded(t *testing.T) {
	t.Parallel()
	// A value that declares 4 GiB of content is refused once the window
	// reaches the limit, without reading or buffering further.
	tests := map[string]string{
		"msgpack-seq": "\xc6\xff\xff\xff\xff" + strings.Repeat("a", 3000),
		"cbor-seq":    "\x5a\xff\xff\xff\xff" + strings.Repeat("a", 3000),
	}
	for _, s := range valueStreams() {
		data, ok := tests[s.Name()]
		if !ok {
			continue
		}
		src := &countingReader{r: io.MultiReader(strings.NewReader(data), endless{})}
		dec := s.NewDecoder(src, 1024)
		var v any
		if err := dec.Decode(&v); !problem.Is(err, problem.TooLarge) {
			t.Errorf("%s: Decode error = %v, want too large", s.Name(), err)
		}
		if src.n > 4096 {
			t.Errorf("%s: read %d bytes to refuse a value over 1024", s.Name(), src.n)
		}
	}
}

func TestStreamReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	for _, s := range valueStreams() {
		dec := s.NewDecoder(iotest.ErrReader(boom), 1024)
		var v any
		err := dec.Decode(&v)
		if !errors.Is(err, boom) || !problem.Is(err, problem.Invalid) {
			t.Errorf("%s: Decode error = %v, want an invalid problem wrapping %v", s.Name(), err, boom)
		}
	}
}

func TestStreamEncoderLeavesStreamOnError(t *testing.T) {
	t.Parallel()
	for _, s := range valueStreams() {
		var buf bytes.Buffer
		enc := s.NewEncoder(&buf)
		if err := enc.Encode(int64(1)); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(map[string]any{"bad": nan()}); !problem.Is(err, problem.Unprocessable) {
			t.Errorf("%s: Encode(NaN) error = %v, want unprocessable", s.Name(), err)
		}
		if err := enc.Encode(int64(2)); err != nil {
			t.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(int64(3)); err == nil {
			t.Errorf("%s: Encode after Close succeeded", s.Name())
		}
		dec := s.NewDecoder(&buf, 1024)
		for _, want := range []int64{1, 2} {
			var v any
			if err := dec.Decode(&v); err != nil || v != want {
				t.Errorf("%s: Decode = %#v, %v; want %d", s.Name(), v, err, want)
			}
		}
	}
}

func TestJSONSeqFraming(t *testing.T) {
	t.Parallel()
	s := NewJSONSeqCodec(NewJSONCodec())
	got := mustEncodeStream(t, s, []any{int64(1), "a"})
	if want := "\x1e1\n\x1e\"a\"\n"; string(got) != want {
		t.Errorf("json-seq of 1, \"a\" = %q, want %q", got, want)
	}
	lines := mustEncodeStream(t, NewJSONLinesCodec(NewJSONCodec()), []any{map[string]any{"a": "x\ny"}, int64(2)})
	if want := "{\"a\":\"x\\ny\"}\n2\n"; string(lines) != want {
		t.Errorf("jsonl = %q, want %q", lines, want)
	}
}

func TestGobStream(t *testing.T) {
	t.Parallel()
	s := NewGobStreamCodec(NewGobCodec(testVetter))
	var buf bytes.Buffer
	enc := s.NewEncoder(&buf)
	for range 3 {
		if err := enc.Encode(sampleOrder()); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Encode(map[string]any{"a": int64(1)}); !problem.Is(err, problem.NotAcceptable) {
		t.Errorf("Encode of a map error = %v, want not acceptable", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	// One encoder: the type is described once, so three records cost far
	// less than three separate bodies.
	one, _ := NewGobCodec(nil).Marshal(sampleOrder())
	if buf.Len() >= 3*len(one) {
		t.Errorf("gob stream of 3 records is %d bytes, not less than 3 bodies of %d", buf.Len(), len(one))
	}
	stream := bytes.Clone(buf.Bytes())
	dec := s.NewDecoder(&buf, 4096)
	for i := range 3 {
		var v testOrder
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("gob stream Decode #%d: %v", i, err)
		}
		if !reflect.DeepEqual(v, sampleOrder()) {
			t.Errorf("gob stream value #%d = %+v, want %+v", i, v, sampleOrder())
		}
	}
	var v testOrder
	if err := dec.Decode(&v); err != io.EOF {
		t.Errorf("Decode after the last value = %v, want io.EOF", err)
	}
	// Cut inside the last value: two values, then a framing error.
	dec = s.NewDecoder(bytes.NewReader(stream[:len(stream)-3]), 4096)
	for range 2 {
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("Decode of a complete value in a cut stream: %v", err)
		}
	}
	if err := dec.Decode(&v); !problem.Is(err, problem.Invalid) {
		t.Errorf("Decode of a cut value = %v, want invalid", err)
	}
	// A value over the limit, which the problem names.
	err := s.NewDecoder(bytes.NewReader(stream), 64).Decode(&v)
	if p, ok := problem.As(err); !ok || p.Kind != problem.TooLarge || p.Extra["limit"] != int64(64) {
		t.Errorf("Decode under a 64-byte limit = %v, want too large, naming the limit", err)
	}
	// Schemaless targets are refused.
	var anyValue any
	if err := s.NewDecoder(bytes.NewReader(stream), 4096).Decode(&anyValue); !problem.Is(err, problem.UnsupportedMedia) {
		t.Errorf("Decode into *any = %v, want unsupported media", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// endless is a reader of 'a' bytes without end.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func nan() float64 { return math.NaN() }

func TestStreamValueOfExactlyTheLimit(t *testing.T) {
	t.Parallel()
	// A value of exactly the limit is within it, whatever its framing.
	value := `"` + strings.Repeat("x", 98) + `"` // 100 bytes
	for _, s := range valueStreams() {
		if s.Name() != "jsonl" && s.Name() != "json-seq" {
			continue
		}
		data := value + "\n"
		if s.Name() == "json-seq" {
			data = "\x1e" + data
		}
		var v any
		if err := s.NewDecoder(strings.NewReader(data), 100).Decode(&v); err != nil {
			t.Errorf("%s: a value of exactly the limit: %v", s.Name(), err)
		}
		if err := s.NewDecoder(strings.NewReader(data), 99).Decode(&v); !problem.Is(err, problem.TooLarge) {
			t.Errorf("%s: a value one byte over the limit: %v, want too large", s.Name(), err)
		}
	}
}
