package gobcheck

import (
	"fmt"
	"reflect"
	"testing"
)

// A Scanner from NewScannerDeeper lets each value nest the given levels
// deeper than its Checker's limit, and no deeper, whether the limit is the
// default or set, and whether the Checker knows the target type or not.
func TestScannerDeeper(t *testing.T) {
	t.Parallel()
	tests := []struct {
		maxDepth int // the Checker's limit; 0 for MaxDepth
		deeper   int
		levels   int // of the record inside the envelope
		reason   string
	}{
		{0, 1, MaxDepth, ""},
		{0, 1, MaxDepth + 1, "depth"},
		{0, 0, MaxDepth, "depth"},
		{0, 0, MaxDepth - 1, ""},
		{5, 1, 5, ""},
		{5, 1, 6, "depth"},
		{5, 2, 6, ""},
	}
	for _, tc := range tests {
		env := envelopeOf(structChain(tc.levels))
		data := mustEncode(t, filled(env, 1))
		for _, target := range []reflect.Type{nil, env} {
			name := fmt.Sprintf("limit %d, %d deeper, envelope of %d levels, target %v", tc.maxDepth, tc.deeper, tc.levels, target != nil)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				n, err := NewChecker(target, Limits{MaxDepth: tc.maxDepth}).NewScannerDeeper(tc.deeper).Next(data)
				if tc.reason == "" {
					if err != nil || n != len(data) {
						t.Fatalf("Next = %d, %v; want %d, nil", n, err, len(data))
					}
					return
				}
				checkProblem(t, err, tc.reason)
			})
		}
	}
}
