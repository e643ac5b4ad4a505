package wire

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// measured makes a Next function a check of one whole value.
func measured(next func([]byte, int) (int, error)) func([]byte, int) error {
	return func(data []byte, maxDepth int) error {
		n, err := next(data, maxDepth)
		if err == nil && n != len(data) {
			return fmt.Errorf("measured %d of %d bytes", n, len(data))
		}
		return err
	}
}

// The functions ending in Depth bound nesting by the depth they are
// given, as their plain forms do by MaxDepth: one level more than
// MaxDepth, as an import envelope adds around a record, is accepted when
// allowed, and the level after it refused at its offset.
func TestDepthGiven(t *testing.T) {
	t.Parallel()
	msgpackMaps := func(n int) []byte { return append(bytes.Repeat([]byte{0x81, 0xa1, 'n'}, n), 0x01) }
	cborMaps := func(n int) []byte { return append(bytes.Repeat([]byte{0xa1, 0x61, 'n'}, n), 0x01) }
	jsonObjects := func(n int) []byte { return []byte(nestObjects(n, "1")) }
	tests := []struct {
		name  string
		check func([]byte, int) error
		nest  func(levels int) []byte
		width int // bytes per level
	}{
		{"CheckJSONDepth", CheckJSONDepth, jsonObjects, 5},
		{"CheckMsgpackDepth", CheckMsgpackDepth, msgpackMaps, 3},
		{"NextMsgpackDepth", measured(NextMsgpackDepth), msgpackMaps, 3},
		{"CheckCBORDepth", CheckCBORDepth, cborMaps, 3},
		{"NextCBORDepth", measured(NextCBORDepth), cborMaps, 3},
	}
	const limit = MaxDepth + 1
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fits, over := tc.nest(limit), tc.nest(limit+1)
			assertOutcome(t, fits, tc.check(fits, limit), problem.Invalid, "", 0)
			err := tc.check(over, limit)
			assertOutcome(t, over, err, problem.Invalid, "depth", limit*tc.width)
			if !strings.Contains(err.Error(), fmt.Sprintf("deeper than %d levels", limit)) {
				t.Errorf("%s(%d levels, %d): %v does not name the limit", tc.name, limit+1, limit, err)
			}
			assertOutcome(t, fits, tc.check(fits, MaxDepth), problem.Invalid, "depth", MaxDepth*tc.width)
		})
	}
}
