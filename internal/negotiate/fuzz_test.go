package negotiate

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// Hostile inputs known from the decoders' histories, shared by the seeds.
var hostile = map[string][]string{
	"json": {
		strings.Repeat("[", 100000), `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `1e999999`,
		`123456789012345678901234567890`, `{"id":"x"} trailing`, `{"ID":"x","id":"y"}`,
		`"\ud800"`, `{"created_at":"2024-13-45T99:99:99Z"}`, `{"items":[{"qty":"1"}]}`,
	},
	"msgpack": {
		"\xdf\xff\xff\xff\xff", "\xdd\xff\xff\xff\xff\x00", "\xc6\xff\xff\xff\xff",
		strings.Repeat("\x91", 100000), "\x82\xa1a\x01\xa1a\x01", "\xa1\xff",
		"\xd6\x01\x00\x00\x00\x00", "\xc7\x0c\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00",
		"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", "\x81\xc4\x01a\x01", "\xc1",
	},
	"cbor": {
		"\x9b\xff\xff\xff\xff\xff\xff\xff\xff", "\xbf\x61a\x01\x61a\x02\xff", "\x5f\x41a\x61b\xff",
		strings.Repeat("\x81", 100000), "\xc2\x41\x01", "\xc0\x61x", "\xc1\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00",
		"\x3b\xff\xff\xff\xff\xff\xff\xff\xff", "\xf7", "\xf8\x20", "\x7f\x61a\xff", "\xa1\x80\x01",
	},
}

func seedCodec(f *testing.F, c Codec) {
	for _, tc := range modelValues {
		if data, err := c.Marshal(tc.v); err == nil {
			f.Add(data)
		}
	}
	if data, err := c.Marshal(sampleOrder()); err == nil {
		f.Add(data)
	}
	for _, s := range hostile[c.Name()] {
		f.Add([]byte(s))
	}
}

// fuzzCodec decodes arbitrary bytes into a schemaless value and into a
// struct. Decoding must not panic and must fail with a client error; what
// decodes must encode, and decode again to an equal value.
func fuzzCodec(t *testing.T, c Codec, data []byte) {
	var v any
	if err := c.Decode(data, &v); err != nil {
		mustBeClientError(t, c.Name(), data, err)
	} else {
		again, err := c.Marshal(v)
		if err != nil {
			// JSON cannot hold the non-string keys the binary formats
			// can; nothing else may fail.
			if !problem.Is(err, problem.Unprocessable) {
				t.Fatalf("%s: Marshal(Decode(%q) = %#v) error: %v", c.Name(), data, v, err)
			}
		} else {
			var w any
			if err := c.Decode(again, &w); err != nil {
				t.Fatalf("%s: Decode(Marshal(%#v) = %q) error: %v", c.Name(), v, again, err)
			}
			if !equalModel(v, w) {
				t.Fatalf("%s: %q decodes to %#v, which encodes to %q, which decodes to %#v", c.Name(), data, v, again, w)
			}
		}
	}

	var o testOrder
	if err := c.Decode(data, &o); err != nil {
		mustBeClientError(t, c.Name(), data, err)
		return
	}
	again, err := c.Marshal(o)
	if err != nil {
		t.Fatalf("%s: Marshal(%+v) error: %v", c.Name(), o, err)
	}
	var o2 testOrder
	if err := c.Decode(again, &o2); err != nil {
		t.Fatalf("%s: Decode(Marshal(%+v) = %q) error: %v", c.Name(), o, again, err)
	}
}

func mustBeClientError(t *testing.T, format string, data []byte, err error) {
	t.Helper()
	p, ok := problem.As(err)
	if !ok || p.Kind == problem.Internal || p.Detail == "" {
		t.Fatalf("%s: Decode(%q) error is not a client problem: %#v", format, data, err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	c := NewJSONCodec()
	seedCodec(f, c)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCodec(t, c, data) })
}

func FuzzDecodeMsgpack(f *testing.F) {
	c := NewMsgpackCodec()
	seedCodec(f, c)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCodec(t, c, data) })
}

func FuzzDecodeCBOR(f *testing.F) {
	c := NewCBORCodec()
	seedCodec(f, c)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCodec(t, c, data) })
}

// FuzzStreamDecoder reads arbitrary bytes as each value stream, with a
// small per-value limit. Every Decode must end in a value, io.EOF or a
// client error, and the stream must end within as many calls as it has
// bytes.
func FuzzStreamDecoder(f *testing.F) {
	streams := valueStreams()
	for _, s := range streams {
		var buf bytes.Buffer
		enc := s.NewEncoder(&buf)
		for _, tc := range modelValues[:12] {
			enc.Encode(tc.v)
		}
		enc.Close()
		f.Add(buf.Bytes())
	}
	f.Add([]byte("1\n\x1e2\n\xff\x01\x02"))
	f.Add([]byte("\x1e\x1e\x1e"))
	f.Add([]byte("\xc6\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range streams {
			dec := s.NewDecoder(bytes.NewReader(data), 256)
			var last error
			for i := 0; ; i++ {
				if i > len(data)+1 {
					t.Fatalf("%s: %q gave more values than bytes", s.Name(), data)
				}
				var v any
				err := dec.Decode(&v)
				if err == io.EOF {
					break
				}
				if err != nil {
					mustBeClientError(t, s.Name(), data, err)
					if err == last {
						break // the stream ended with err
					}
					last = err
				}
			}
		}
	})
}
