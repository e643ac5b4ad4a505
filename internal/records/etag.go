package records

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// A Validator identifies one revision of one record independently of how it
// is represented. Entity tags are a Validator plus a representation suffix,
// so If-Match from any representation of the current revision succeeds.
type Validator struct {
	Revision int64
	sum      uint64 // the tag, encoded in entity tags as unpadded base64url
}

// newValidator derives the validator of a revision. The tag mixes in the
// record's identity and write time, so a tag survives neither a delete and
// re-create (revisions continue) nor a store wiped and refilled.
//
// The tag is a 64-bit FNV-1a hash: it only has to tell apart revisions of
// one record that share a number, it is computed on every read, and it
// must be the same in every process, so neither a cryptographic nor a
// seeded hash fits.
func newValidator(schemaName, id string, revision int64, at time.Time) Validator {
	h := fnv.New64a()
	h.Write([]byte(schemaName))
	h.Write([]byte{0})
	h.Write([]byte(id))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(revision))
	binary.BigEndian.PutUint64(b[8:], uint64(at.UnixNano()))
	h.Write(b[:])
	return Validator{Revision: revision, sum: h.Sum64()}
}

// appendTag appends the tag as it appears in entity tags.
func (v Validator) appendTag(dst []byte) []byte {
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], v.sum)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:])
}

// ETag is the strong entity tag of the representation named repr (a short
// token such as "json.v2.gzip" chosen by the caller).
func (v Validator) ETag(repr string) string {
	var scratch [64]byte
	b := strconv.AppendInt(append(scratch[:0], '"'), v.Revision, 10)
	b = v.appendTag(append(b, '-'))
	if repr != "" {
		b = append(append(b, '.'), repr...)
	}
	return string(append(b, '"'))
}

// matches reports whether an entity tag from any representation names this
// revision. Weak tags never match: If-Match uses the strong comparison.
func (v Validator) matches(etag string) bool {
	opaque, ok := opaqueTag(strings.TrimSpace(etag))
	if !ok {
		return false
	}
	rev, rest, ok := strings.Cut(opaque, "-")
	if !ok || rev != strconv.FormatInt(v.Revision, 10) {
		return false
	}
	tag, _, _ := strings.Cut(rest, ".")
	var scratch [16]byte
	return tag == string(v.appendTag(scratch[:0]))
}

// IfMatchFailed is the detail of a 412 for If-Match tags that do not name
// revision rev of a record: one the record has moved on from, or, when no
// tag has the form Ferry issues (such as a weak tag, which If-Match never
// matches, or a tag that is not quoted), one that says so, since the
// record may well be as the client last saw it.
func IfMatchFailed(rev int64, tags []string) string {
	for _, t := range tags {
		if issued(t) {
			return "If-Match: the record has changed; it is at revision " + strconv.FormatInt(rev, 10)
		}
	}
	return "If-Match names no entity tag in the form this service issues (a strong, quoted tag from an ETag header); the record is at revision " +
		strconv.FormatInt(rev, 10)
}

// issued reports whether etag has the form of the strong entity tags ETag
// makes: a revision, a dash and a tag of 11 base64url characters, then
// the representation.
func issued(etag string) bool {
	opaque, ok := opaqueTag(strings.TrimSpace(etag))
	if !ok {
		return false
	}
	rev, rest, ok := strings.Cut(opaque, "-")
	if _, err := strconv.ParseUint(rev, 10, 63); !ok || err != nil {
		return false
	}
	tag, _, _ := strings.Cut(rest, ".")
	_, err := base64.RawURLEncoding.DecodeString(tag)
	return len(tag) == 11 && err == nil
}

// opaqueTag returns what is between the quotes of a strong entity tag.
func opaqueTag(etag string) (string, bool) {
	if len(etag) < 2 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		return "", false
	}
	return etag[1 : len(etag)-1], true
}

// ETagRepr returns the representation part of an entity tag, strong or
// weak, as ETag was given it: what follows the revision and its hash.
func ETagRepr(etag string) (repr string, ok bool) {
	opaque, ok := opaqueTag(strings.TrimPrefix(strings.TrimSpace(etag), "W/"))
	if !ok {
		return "", false
	}
	_, repr, ok = strings.Cut(opaque, ".")
	return repr, ok
}

// MatchesAny reports whether any of the entity tags, or "*", names the
// revision v stands for, in any representation (strong comparison).
func (v Validator) MatchesAny(tags []string) bool {
	for _, t := range tags {
		if t == "*" || v.matches(t) {
			return true
		}
	}
	return false
}

// NoneMatch reports whether none of the entity tags of an If-None-Match
// names the revision v stands for: "*" names any, and a weak tag names
// the revision as its strong form does (weak comparison, RFC 9110
// §13.1.2).
func (v Validator) NoneMatch(tags []string) bool {
	for _, t := range tags {
		if t == "*" || v.matches(strings.TrimPrefix(strings.TrimSpace(t), "W/")) {
			return false
		}
	}
	return true
}

// SplitETags splits an If-Match or If-None-Match header value into its
// entity tags; "*" comes back as itself. Commas inside quoted tags are
// kept.
func SplitETags(header string) []string {
	var tags []string
	for header != "" {
		header = strings.TrimLeft(header, " \t,")
		if header == "" {
			break
		}
		start := 0
		if strings.HasPrefix(header, "W/") {
			start = 2
		}
		if start < len(header) && header[start] == '"' {
			end := strings.IndexByte(header[start+1:], '"')
			if end < 0 {
				tags = append(tags, header)
				break
			}
			end += start + 2
			// A tag ends the element: anything between it and the next
			// comma makes the element malformed ("a""b"), one that
			// names no tag.
			if rest := strings.TrimLeft(header[end:], " \t"); rest != "" && rest[0] != ',' {
				if comma := strings.IndexByte(header[end:], ','); comma >= 0 {
					end += comma
				} else {
					end = len(header)
				}
			}
			tags = append(tags, strings.TrimSpace(header[:end]))
			header = header[end:]
			continue
		}
		next := strings.IndexByte(header, ',')
		if next < 0 {
			tags = append(tags, strings.TrimSpace(header))
			break
		}
		tags = append(tags, strings.TrimSpace(header[:next]))
		header = header[next:]
	}
	return tags
}
