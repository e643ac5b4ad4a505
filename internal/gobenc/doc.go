// Package gobenc writes gob streams that encoding/gob reads, with the same
// values, but writes the same bytes for the same value every time.
//
// encoding/gob writes a map's entries in Go's random iteration order, and
// numbers types by the order in which the whole process first met them, so
// one value can be written as many different streams. A strong entity tag
// must name exactly one. This package writes map entries in the order of
// their encoded keys and numbers a stream's types from the first id a
// stream may use, in the order the stream describes them. Everything else
// follows encoding/gob: which fields are sent, zero values left out,
// GobEncode and MarshalBinary, and the order of type descriptions (of
// which it leaves out those gob sends for the fields of a type with its
// own GobEncode or MarshalBinary, which no decoder needs).
//
// It writes what Ferry's records are made of: structs, pointers, booleans,
// integers, floats, strings, byte slices, slices, arrays, maps and types
// with their own marshaling method (time.Time). Interfaces, complex
// numbers and the other types ErrUnsupported lists are refused.
package gobenc
