package negotiate

import (
	"io"
	"strings"

	"github.com/ferry-dev/ferry/internal/gobcheck"
	"github.com/ferry-dev/ferry/internal/problem"
)

// A Codec turns values into bodies of one format and back.
//
// Values are either structs (a schema compiled to a struct carrying json,
// msgpack and cbor tags) or Ferry's schemaless value model (see Decode).
type Codec interface {
	// Name is a short name of the format: "json", "msgpack", "cbor", "gob".
	Name() string
	// MediaTypes lists the media types of the format, the one emitted by
	// default first.
	MediaTypes() []string
	// Encode writes v to w. It writes nothing when v cannot be encoded, so
	// that a failed response can still be answered with a problem.
	Encode(w io.Writer, v any) error
	// Marshal returns v encoded.
	Marshal(v any) ([]byte, error)
	// Decode reads the single value in data into v, a pointer to a struct
	// or to an any. Decoding is strict and bounded: data is checked by
	// package wire before a library sees it, and every failure is a
	// *problem.Error located by field and byte offset where known.
	//
	// Into *any it builds the schemaless model: nil, bool, int64, uint64
	// (only above math.MaxInt64), float64, string, []byte, time.Time (UTC),
	// []any, map[string]any, and map[any]any for a map with a key that is
	// not a string.
	Decode(data []byte, v any) error
}

// Pretty returns the indenting variant of c when its format has one (JSON),
// and c otherwise. Handlers use it for ?pretty=true.
func Pretty(c Codec) Codec {
	if p, ok := c.(interface{ Pretty() Codec }); ok {
		return p.Pretty()
	}
	return c
}

// A Registry holds the codecs and stream codecs a server speaks, in order
// of preference: that order breaks ties in negotiation, so JSON comes
// first.
type Registry struct {
	codecs       []Codec
	offers       []Offer
	streams      []StreamCodec
	streamOffers []Offer
}

// NewRegistry returns a registry of the given codecs and stream codecs, in
// order of preference.
func NewRegistry(codecs []Codec, streams []StreamCodec) *Registry {
	r := &Registry{codecs: codecs, streams: streams}
	for _, c := range codecs {
		r.offers = append(r.offers, offerOf(c.MediaTypes()))
	}
	for _, s := range streams {
		r.streamOffers = append(r.streamOffers, offerOf(s.MediaTypes()))
	}
	return r
}

func offerOf(mediaTypes []string) Offer {
	return Offer{MediaType: mediaTypes[0], Aliases: mediaTypes[1:]}
}

// Options configures the default registry.
type Options struct {
	// Gob vets gob bodies and streams before encoding/gob decodes them. When it is
	// nil, gob bodies are refused (gob output still works).
	Gob *gobcheck.Vetter
}

// NewDefaultRegistry returns the registry of every format in Ferry's
// contract: JSON, MessagePack, CBOR and gob, and the streams JSON Lines,
// JSON text sequences, CBOR sequences, MessagePack sequences and gob
// streams.
func NewDefaultRegistry(opts Options) *Registry {
	js := NewJSONCodec()
	mp := NewMsgpackCodec()
	cb := NewCBORCodec()
	gb := NewGobCodec(opts.Gob)
	return NewRegistry(
		[]Codec{js, mp, cb, gb},
		[]StreamCodec{
			NewJSONLinesCodec(js),
			NewJSONSeqCodec(js),
			NewCBORSeqCodec(cb),
			NewMsgpackSeqCodec(mp),
			NewGobStreamCodec(gb),
		},
	)
}

// Codecs returns the registry's codecs in order of preference.
func (r *Registry) Codecs() []Codec { return r.codecs }

// Streams returns the registry's stream codecs in order of preference.
func (r *Registry) Streams() []StreamCodec { return r.streams }

// Offers returns the codecs as offers for Choose.
func (r *Registry) Offers() []Offer { return r.offers }

// StreamOffers returns the stream codecs as offers for Choose.
func (r *Registry) StreamOffers() []Offer { return r.streamOffers }

// Supported returns every media type the codecs read, in order; it is what
// Accept-Post and Accept-Patch list and a 415 names.
func (r *Registry) Supported() []string { return Acceptable(r.offers) }

// Codec returns the codec called name, or nil.
func (r *Registry) Codec(name string) Codec {
	for _, c := range r.codecs {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// ForContentType returns the codec that reads a body of the given
// Content-Type, and the schema version its version parameter names (0 when
// none). An empty or unknown media type is a problem.UnsupportedMedia error
// whose "supported" member lists the media types read; a malformed one, or
// a bad version, is problem.Invalid.
func (r *Registry) ForContentType(contentType string) (Codec, int, error) {
	i, version, err := lookup(contentType, r.offers)
	if err != nil {
		return nil, 0, err
	}
	return r.codecs[i], version, nil
}

// StreamForContentType is ForContentType for stream codecs.
func (r *Registry) StreamForContentType(contentType string) (StreamCodec, int, error) {
	i, version, err := lookup(contentType, r.streamOffers)
	if err != nil {
		return nil, 0, err
	}
	return r.streams[i], version, nil
}

// Negotiate chooses the codec for a response from an Accept header value,
// for a representation of res (nil: of no schema) whose default version
// is def; see ChooseVersion.
func (r *Registry) Negotiate(accept string, res Resource, def int) (Codec, Choice, error) {
	ch, err := ChooseVersion(accept, r.offers, res, def)
	if err != nil {
		return nil, Choice{}, err
	}
	return r.codecs[ch.Offer], ch, nil
}

// NegotiateStream chooses the stream codec for a response from an Accept
// header value, for representations of res (nil: of no schema) whose
// default version is def; see ChooseVersion.
func (r *Registry) NegotiateStream(accept string, res Resource, def int) (StreamCodec, Choice, error) {
	ch, err := ChooseVersion(accept, r.streamOffers, res, def)
	if err != nil {
		return nil, Choice{}, err
	}
	return r.streams[ch.Offer], ch, nil
}

// lookup finds the offer that has the media type of contentType among its
// names.
func lookup(contentType string, offers []Offer) (index, version int, err error) {
	essence := strings.Trim(contentType, " \t")
	if essence == "" {
		return 0, 0, unsupportedMedia("the request has no content-type header to say the format of its body", offers)
	}
	// Most requests name a bare media type: skip the parameter parser.
	if strings.ContainsAny(essence, "; \t\"") {
		mt, err := ParseContentType(contentType)
		if err != nil {
			return 0, 0, err
		}
		essence, version = mt.Essence, mt.Version
	}
	for i, o := range offers {
		if strings.EqualFold(essence, o.MediaType) {
			return i, version, nil
		}
		for _, a := range o.Aliases {
			if strings.EqualFold(essence, a) {
				return i, version, nil
			}
		}
	}
	return 0, 0, unsupportedMedia("content-type "+essence+" is not supported", offers)
}

func unsupportedMedia(detail string, offers []Offer) *problem.Error {
	return problem.New(problem.UnsupportedMedia, "%s", detail).
		WithReason("content_type").
		With("supported", Acceptable(offers))
}
