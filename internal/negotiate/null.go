package negotiate

import (
	"bytes"

	"github.com/ferry-dev/ferry/internal/wire"
)

// MayHoldNull reports whether a body that the codec named format decodes
// may hold a null anywhere. For JSON it looks for the word; the byte of a
// null is common inside other MessagePack and CBOR values, so there a walk
// of the body's structure settles it. gob has no null.
func MayHoldNull(format string, body []byte) bool {
	switch format {
	case "json":
		return bytes.Contains(body, []byte("null"))
	case "msgpack":
		return bytes.IndexByte(body, 0xc0) >= 0 && wire.MsgpackHasNil(body)
	case "cbor":
		return bytes.IndexByte(body, 0xf6) >= 0 && wire.CBORHasNull(body)
	}
	return false
}
