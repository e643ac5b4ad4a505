// Package negotiate knows Ferry's wire formats: media types, content
// negotiation (RFC 9110 §12), the codecs that turn values into JSON,
// MessagePack, CBOR and gob bodies and back, the stream formats used by
// export and import, and content codings (compression).
//
// It knows nothing of schemas, storage or HTTP: header values arrive as
// strings and bodies as byte slices or io types. Every failure a client can
// cause is a *problem.Error whose Kind and Reason say what was wrong.
//
// Decoding is strict and bounded. Every body is first checked by package
// wire (nesting depth, declared lengths, duplicate keys, UTF-8, trailing
// bytes) before a library decoder sees it, and the decoders are configured
// to reject unknown and case-variant field names.
package negotiate
