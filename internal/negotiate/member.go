package negotiate

import (
	"bytes"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/vmihailenco/msgpack/v5"
)

// StringMember returns the text member key of value, a map that a stream
// of c held but that did not decode as a whole (see SkippedValue), so that
// a caller can say which value it was: duplicate keys, invalid text or
// numbers out of range elsewhere in it are passed over. It reports false
// when value is not a map with such a member, and for gob streams, whose
// values are never skipped.
func StringMember(c StreamCodec, value []byte, key string) (string, bool) {
	if fc, ok := c.(*framedCodec); ok {
		if mr, ok := fc.codec.(memberReader); ok {
			return mr.stringMember(value, key)
		}
	}
	return "", false
}

// A memberReader reads one text member out of a map it may not decode.
type memberReader interface {
	stringMember(value []byte, key string) (string, bool)
}

func (c *JSONCodec) stringMember(value []byte, key string) (string, bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(value), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return "", false
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return "", false
		}
		if name.String() == key && dec.PeekKind() == '"' {
			v, err := dec.ReadToken()
			return v.String(), err == nil
		}
		if err := dec.SkipValue(); err != nil {
			return "", false
		}
	}
	return "", false
}

func (c *CBORCodec) stringMember(value []byte, key string) (string, bool) {
	var m map[string]cbor.RawMessage
	var s string
	if c.lenient.Unmarshal(value, &m) != nil || c.lenient.Unmarshal(m[key], &s) != nil {
		return "", false
	}
	return s, true
}

func (c *MsgpackCodec) stringMember(value []byte, key string) (string, bool) {
	var m map[string]msgpack.RawMessage
	var s string
	if msgpack.Unmarshal(value, &m) != nil || msgpack.Unmarshal(m[key], &s) != nil {
		return "", false
	}
	return s, true
}
