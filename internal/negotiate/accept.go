package negotiate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-dev/ferry/internal/problem"
)

// An Offer is one representation a handler can produce, under one or more
// names.
type Offer struct {
	// MediaType is the lower-case name emitted unless the client asked for
	// an alias by name.
	MediaType string
	// Aliases are other lower-case names of the same representation. A
	// client that names one gets that name back.
	Aliases []string
}

// A Choice is the outcome of negotiation.
type Choice struct {
	// Offer is the index of the chosen offer.
	Offer int
	// MediaType is the exact media type to emit: the offer's name that the
	// client asked for, or its MediaType when the client named none.
	MediaType string
	// Version is the version parameter of the media range that selected the
	// offer, or 0 when it had none.
	Version int
	// Alias reports whether MediaType is one of the offer's aliases.
	Alias bool
	// Quality is the weight of the choice, in thousandths.
	Quality int
	// VersionNamed reports whether a range that counted named a version,
	// so that representations at another default version could weigh
	// otherwise.
	VersionNamed bool
}

// Specificity of a media range, lowest first. A range with parameters is
// more specific than the same range without them (RFC 9110 §12.5.1).
const (
	specAny      = iota // */*
	specType            // type/*
	specExact           // type/subtype
	qualityScale = 1000 // q=1 in thousandths
)

// A mediaRange is one element of an Accept header. The strings point into
// the header, so parsing one allocates nothing.
type mediaRange struct {
	typ, sub string
	quality  int // in thousandths
	version  int
	// schema is the schema parameter, or empty.
	schema string
	// others is set when the range carries parameters other than q and
	// version.
	others bool
	// unmatchable is set when the range carries a parameter that no Ferry
	// representation has, so that it matches none of them.
	unmatchable bool
}

// Choose picks the offer that best satisfies an Accept header value.
//
// A representation is an offered name at a version: the one a range
// without a version parameter asks for, or one a range names. The weight
// of each is set by the most specific media range that matches it
// (type/subtype with parameters, then type/subtype, then type/*, then
// */*), a range with a version matching that version only; among equally
// specific ranges the highest q counts. A representation whose weight is
// q=0 is excluded: `application/json;version=1;q=0.1, application/json`
// weighs version 1 at 0.1 and JSON at any other version at 1.
//
// The highest weight wins; on a tie the order of offers decides, however
// specifically each was named: `*/*, application/cbor` chooses the first
// offer, JSON in Ferry's order. Within an offer, a tie goes to the
// representation matched most specifically, then to the first name:
// `application/x-msgpack, */*` with JSON excluded chooses the alias the
// client named, and `application/json, application/json;version=1` the
// version it named.
// An empty header means */*.
//
// The parameters version (the schema version), charset and schema are
// understood; a range with any other parameter before q matches nothing,
// since no Ferry representation carries one. Parameters after q are accept
// extensions and are ignored. Choose is for representations of no schema,
// which every schema parameter fits.
//
// A malformed header is a problem.Invalid error; a header that no offer
// satisfies is a problem.NotAcceptable error listing the acceptable media
// types under "acceptable".
func Choose(accept string, offers []Offer) (Choice, error) {
	return ChooseVersion(accept, offers, nil, 0)
}

// A Resource is what versioned representations are of: a schema, with
// its name and the versions it has.
type Resource interface {
	Name() string
	Has(version int) bool
}

// ChooseVersion is Choose for representations of res, which also come in
// versions: a media range whose version parameter names a version that
// res lacks matches nothing, as it asks for a representation there is
// not, and so does one whose schema parameter names another schema. When
// only ranges naming a missing version match, the best of them is chosen
// all the same, its Version one res lacks, so that the caller answers
// with the versions there are rather than with the media types. A nil
// res accepts every version and schema.
//
// A range without a version asks for version def (the latest, a pin, or a
// write's own; 0 when unknown), and a range naming def weighs it too:
// `application/json;version=3;q=0, application/json` with def 3 excludes
// JSON.
func ChooseVersion(accept string, offers []Offer, res Resource, def int) (Choice, error) {
	if res == nil {
		return choose(accept, offers, "", nil, def)
	}
	return choose(accept, offers, res.Name(), res.Has, def)
}

// choose is ChooseVersion for a schema named schema ("": any) with the
// versions has reports true for (nil: any), of which def (0: unknown) is
// the one a range without a version asks for.
func choose(accept string, offers []Offer, schema string, has func(version int) bool, def int) (Choice, error) {
	if len(offers) == 0 {
		return Choice{}, notAcceptable(offers)
	}
	accept = strings.Trim(accept, " \t")
	if accept == "" || accept == "*/*" {
		return Choice{MediaType: offers[0].MediaType, Quality: qualityScale}, nil
	}
	// A client that names one media type usually names it exactly.
	if !strings.ContainsAny(accept, ",;*") {
		for i, o := range offers {
			if strings.EqualFold(accept, o.MediaType) {
				return Choice{Offer: i, MediaType: o.MediaType, Quality: qualityScale}, nil
			}
			for _, a := range o.Aliases {
				if strings.EqualFold(accept, a) {
					return Choice{Offer: i, MediaType: a, Alias: true, Quality: qualityScale}, nil
				}
			}
		}
	}

	// Room for the usual headers on the stack keeps Choose free of
	// allocations on every request.
	var stack [16]mediaRange
	ranges, err := parseAccept(accept, stack[:0])
	if err != nil {
		return Choice{}, err
	}
	// Ranges that name another schema, a version the schema lacks or a
	// parameter no representation has match nothing.
	usable, versioned := ranges[:0], false
	for i := range ranges {
		mr := &ranges[i]
		if !mr.unmatchable && (mr.schema == "" || schema == "" || mr.schema == schema) && (mr.version == 0 || has == nil || has(mr.version)) {
			usable = append(usable, *mr)
			versioned = versioned || mr.version != 0
		}
	}

	// Each representation is a name at a version: the one a range
	// without a version asks for (the latest, or the pin), and each
	// version a range names.
	best := candidate{offer: -1}
	var named []int
	for oi, o := range offers {
		for ni := 0; ni <= len(o.Aliases); ni++ {
			name := o.MediaType
			if ni > 0 {
				name = o.Aliases[ni-1]
			}
			// The default first: at a tie it wins over a version a
			// range names, unless that range weighs it more
			// specifically.
			best.consider(oi, name, ni > 0, 0, def, usable)
			if versioned {
				// Then the versions ranges name, from the latest down,
				// so that among versions weighed alike the latest wins,
				// whatever order the client listed them in.
				named = named[:0]
				for i := range usable {
					mr := &usable[i]
					if _, ok := mr.match(name); ok && mr.version != 0 && !slices.Contains(named, mr.version) {
						named = append(named, mr.version)
					}
				}
				slices.SortFunc(named, func(a, b int) int { return cmp.Compare(b, a) })
				for _, v := range named {
					best.consider(oi, name, ni > 0, v, def, usable)
				}
			}
		}
	}
	if best.offer < 0 {
		if has != nil {
			if ch, err := choose(accept, offers, schema, nil, def); err == nil && ch.Version != 0 {
				return ch, nil
			}
		}
		return Choice{}, notAcceptable(offers)
	}
	return Choice{Offer: best.offer, MediaType: best.name, Version: best.version, Alias: best.name != offers[best.offer].MediaType,
		Quality: best.quality, VersionNamed: versioned}, nil
}

// maxMediaRanges bounds the media ranges of an Accept header: weighing
// each representation takes a pass over them, and real clients name a
// handful.
const maxMediaRanges = 64

// parseAccept appends the media ranges of an Accept header to ranges.
func parseAccept(accept string, ranges []mediaRange) ([]mediaRange, error) {
	for i := 0; ; {
		i = skipOWS(accept, i)
		if i == len(accept) {
			break
		}
		if accept[i] == ',' {
			// Empty list elements are allowed (RFC 9110 §5.6.1.2).
			i++
			continue
		}
		mr, next, err := parseMediaRange(accept, i)
		if err != nil {
			return nil, err
		}
		if len(ranges) == maxMediaRanges {
			return nil, acceptError("the header names more than %d media ranges", maxMediaRanges)
		}
		ranges = append(ranges, mr)
		i = skipOWS(accept, next)
		if i < len(accept) {
			if accept[i] != ',' {
				return nil, acceptError("unexpected %q at offset %d", accept[i], i)
			}
			i++
		}
	}
	if len(ranges) == 0 {
		return nil, acceptError("the header names no media range")
	}
	return ranges, nil
}

// A candidate is the best representation found so far.
type candidate struct {
	offer   int // -1 while there is none
	name    string
	version int
	spec    int // of the range that set its weight
	quality int
}

// consider weighs the representation named name at version (0: the one a
// range without a version asks for, def when known) by the most specific
// of ranges that matches it, and keeps it if it beats c. A range with a
// version matches only that version. A weight of 0 excludes it. A tie goes to the earlier
// offer; within one offer, to the representation matched most
// specifically (the alias or the version the client named, over a
// wildcard or no version). An alias is a representation only where a
// range names it: a wildcard gives an offer's own media type.
func (c *candidate) consider(offer int, name string, alias bool, version, def int, ranges []mediaRange) {
	spec, quality, named := -1, 0, 0
	for i := range ranges {
		mr := &ranges[i]
		if mr.version != 0 && mr.version != version && (version != 0 || mr.version != def) {
			continue
		}
		s, ok := mr.specificity(name)
		if ok && (s > spec || s == spec && mr.quality > quality) {
			spec, quality, named = s, mr.quality, mr.version
		}
	}
	if version == 0 {
		// The default, as a range naming it says.
		version = named
	}
	if spec < 0 || quality == 0 || alias && spec < specExact<<2 {
		return
	}
	if c.offer >= 0 && (quality < c.quality || quality == c.quality && (offer != c.offer || spec <= c.spec)) {
		return
	}
	*c = candidate{offer: offer, name: name, version: version, spec: spec, quality: quality}
}

// specificity reports whether mr matches the media type name and how
// specifically (RFC 9110 §12.5.1): by its type first (a wildcard below
// type/* below type/subtype), then by its parameters, a version above the
// others (schema=, which clients echo from Content-Type, says nothing of
// the version a range with version= weighs), both above either.
func (mr *mediaRange) specificity(name string) (spec int, ok bool) {
	level, ok := mr.match(name)
	if !ok {
		return 0, false
	}
	spec = level << 2
	if mr.version != 0 {
		spec |= 2
	}
	if mr.others {
		spec |= 1
	}
	return spec, true
}

// match reports whether mr matches the media type name, and at which
// level: specAny, specType or specExact.
func (mr *mediaRange) match(name string) (level int, ok bool) {
	if mr.typ == "*" {
		return specAny, true
	}
	slash := len(mr.typ)
	if len(name) <= slash || name[slash] != '/' || !strings.EqualFold(name[:slash], mr.typ) {
		return 0, false
	}
	if mr.sub == "*" {
		return specType, true
	}
	if !strings.EqualFold(name[slash+1:], mr.sub) {
		return 0, false
	}
	return specExact, true
}

// parseMediaRange parses the media range starting at s[i] with its
// parameters and returns the offset just after it.
func parseMediaRange(s string, i int) (mediaRange, int, error) {
	start := i
	slash := scanToken(s, i)
	if slash == i {
		return mediaRange{}, 0, acceptError("expected a media range at offset %d, found %q", i, s[i])
	}
	if slash == len(s) || s[slash] != '/' {
		return mediaRange{}, 0, acceptError("media range %q has no subtype", s[start:slash])
	}
	end := scanToken(s, slash+1)
	if end == slash+1 {
		return mediaRange{}, 0, acceptError("media range %q has no subtype", s[start:end])
	}
	mr := mediaRange{typ: s[start:slash], sub: s[slash+1 : end], quality: qualityScale}
	if mr.typ == "*" && mr.sub != "*" {
		return mediaRange{}, 0, acceptError("%q is not a media range", s[start:end])
	}

	seenQ, seenSchema := false, false
	i = end
	for {
		p := skipOWS(s, i)
		if p == len(s) || s[p] != ';' {
			return mr, i, nil
		}
		p = skipOWS(s, p+1)
		if p == len(s) || s[p] == ',' || s[p] == ';' {
			i = p // an empty parameter
			continue
		}
		nameEnd := scanToken(s, p)
		if nameEnd == p {
			return mediaRange{}, 0, acceptError("expected a parameter at offset %d, found %q", p, s[p])
		}
		name := s[p:nameEnd]
		if nameEnd == len(s) || s[nameEnd] != '=' {
			return mediaRange{}, 0, acceptError("parameter %q of %q has no value", name, s[start:end])
		}
		value, valueEnd, err := scanParamValue(s, nameEnd+1)
		if err != nil {
			return mediaRange{}, 0, err
		}
		i = valueEnd

		switch {
		case strings.EqualFold(name, "q"):
			if seenQ {
				return mediaRange{}, 0, acceptError("media range %q has two q parameters", s[start:end])
			}
			seenQ = true
			q, ok := parseQuality(value)
			if !ok {
				return mediaRange{}, 0, acceptError("q=%s is not a weight from 0 to 1 with at most three decimals", value)
			}
			mr.quality = q
		case strings.EqualFold(name, "version"):
			if mr.version != 0 {
				// Which one it asks for, the header does not say; a
				// Content-Type naming two is refused alike.
				return mediaRange{}, 0, acceptError("media range %q has two version parameters", s[start:end])
			}
			v, ok := parseVersion(value)
			if !ok {
				v = NoVersion
			}
			mr.version = v
		case seenQ:
			// An accept extension: it does not qualify the media type.
		case strings.EqualFold(name, "schema"):
			// Responses carry schema=, and clients echo it back; one
			// naming another schema than the resource's matches nothing.
			if seenSchema {
				return mediaRange{}, 0, acceptError("media range %q has two schema parameters", s[start:end])
			}
			mr.schema, seenSchema = value, true
			mr.others = true
		case strings.EqualFold(name, "charset"):
			// Ferry's text is always UTF-8.
			mr.others = true
		default:
			mr.others = true
			mr.unmatchable = true
		}
	}
}

// scanParamValue scans a parameter value (a token or a quoted string) at
// s[i] and returns it, unquoted only by its surrounding quotes, and the
// offset after it.
func scanParamValue(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case c == '"':
				return s[i+1 : j], j + 1, nil
			case c == '\\':
				j++
				if j == len(s) || !isQuotedPairChar(s[j]) {
					return "", 0, acceptError("bad escape in quoted string at offset %d", j)
				}
			case !isQuotedTextChar(c):
				return "", 0, acceptError("unexpected %q in quoted string at offset %d", c, j)
			}
		}
		return "", 0, acceptError("unterminated quoted string at offset %d", i)
	}
	end := scanToken(s, i)
	if end == i {
		return "", 0, acceptError("expected a parameter value at offset %d", i)
	}
	return s[i:end], end, nil
}

// parseQuality parses an RFC 9110 qvalue into thousandths.
func parseQuality(v string) (int, bool) {
	if v == "" || len(v) > 5 {
		return 0, false
	}
	whole := v[0]
	if whole != '0' && whole != '1' {
		return 0, false
	}
	q := int(whole-'0') * qualityScale
	if len(v) == 1 {
		return q, true
	}
	if v[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range []byte(v[2:]) {
		if c < '0' || c > '9' || (whole == '1' && c != '0') {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return q, true
}

// parseVersion parses a schema version: a positive decimal integer without
// leading zeros, small enough for any int.
func parseVersion(v string) (int, bool) {
	if v == "" || len(v) > 9 || v[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// The tchar set of RFC 9110 §5.6.2 as two 64-bit masks.
const (
	tcharLow uint64 = 1<<'!' | 1<<'#' | 1<<'$' | 1<<'%' | 1<<'&' | 1<<'\'' |
		1<<'*' | 1<<'+' | 1<<'-' | 1<<'.' | 0x3ff<<'0'
	tcharHigh uint64 = 1<<('^'-64) | 1<<('_'-64) | 1<<('`'-64) | 1<<('|'-64) |
		1<<('~'-64) | 0x3ffffff<<('A'-64) | 0x3ffffff<<('a'-64)
)

func isTokenChar(c byte) bool {
	switch {
	case c < 64:
		return tcharLow>>c&1 == 1
	case c < 128:
		return tcharHigh>>(c-64)&1 == 1
	}
	return false
}

// isQuotedTextChar reports whether c may appear unescaped in a quoted
// string (qdtext, RFC 9110 §5.6.4).
func isQuotedTextChar(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
		(c >= 0x5d && c <= 0x7e) || c >= 0x80
}

// isQuotedPairChar reports whether c may follow a backslash in a quoted
// string.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80
}

func scanToken(s string, i int) int {
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return i
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func acceptError(format string, args ...any) *problem.Error {
	return problem.New(problem.Invalid, "accept header: %s", fmt.Sprintf(format, args...)).WithReason("accept")
}

// notAcceptable reports that no offer satisfies the client, listing every
// name the offers go by.
func notAcceptable(offers []Offer) *problem.Error {
	return problem.New(problem.NotAcceptable, "none of the media types the accept header names can be produced").
		WithReason("accept").
		With("acceptable", Acceptable(offers))
}

// Acceptable lists every media type the offers go by, in order.
func Acceptable(offers []Offer) []string {
	names := make([]string, 0, len(offers))
	for _, o := range offers {
		names = append(names, o.MediaType)
		names = append(names, o.Aliases...)
	}
	return names
}
