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

// ParseContentType parses a Content-Type header value. A malformed value,
// or a version parameter that is not a positive integer, is a
// problem.Invalid error.
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
			return MediaType{}, problem.New(problem.Invalid, "content-type header: version=%s is not a positive integer", v).
				WithReason("content_type")
		}
	}
	return mt, nil
}
