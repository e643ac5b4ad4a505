package negotiate

import (
	"errors"
	"mime"
	"strings"

	"github.com/ferry-dev/ferry/internal/problem"
)

// A MediaType is a parsed Content-Type header value.
type MediaType struct {
	// Essence is "type/subtype" in lower case.
	Essence string
	// Params holds the parameters by lower-case name, version included.
	Params map[string]string
	// Version is the schema version the version parameter names, or 0 when
	// there is none.
	Version int
}

// NoVersion is the version of a media type whose version parameter is not
// a positive integer. No schema has it, so asking for it is answered like
// asking for a version the schema lacks: 415 for a body, 406 for a
// response, each listing the versions there are.
const NoVersion = -1

// ParseContentType parses a Content-Type header value. A malformed value
// is a problem.Invalid error; a version parameter that is not a positive
// integer gives NoVersion.
func ParseContentType(contentType string) (MediaType, error) {
	essence, params, err := mime.ParseMediaType(contentType)
	if typ, sub, ok := strings.Cut(essence, "/"); err == nil && (!ok || typ == "" || sub == "") {
		err = errors.New("mime: expected type/subtype")
	}
	if err != nil {
		return MediaType{}, problem.Wrap(problem.Invalid, err, "content-type header %q is not a media type", contentType).
			WithReason("content_type")
	}
	mt := MediaType{Essence: essence, Params: params}
	if v, ok := params["version"]; ok {
		if mt.Version, ok = parseVersion(v); !ok {
			mt.Version = NoVersion
		}
	}
	return mt, nil
}

// ContentTypeSchema returns the schema parameter of a Content-Type header
// value, or "" when it has none or does not parse (which the codec lookup
// reports).
func ContentTypeSchema(contentType string) string {
	if !strings.Contains(contentType, ";") {
		return ""
	}
	mt, err := ParseContentType(contentType)
	if err != nil {
		return ""
	}
	return mt.Params["schema"]
}
