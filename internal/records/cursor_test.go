package records

import (
	"errors"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// FuzzDecodeCursor holds the page cursor to its promise: a cursor is
// taken only in the form Ferry issues, for an id a record could have, and
// anything else is a 400 naming the query.
func FuzzDecodeCursor(f *testing.F) {
	for _, seed := range []string{"", "YQ", "YQ==", "Y Q", "YWJj\n", "_-8", "Li4", "JTJG", "8J-Ygg"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		id, err := decodeCursor(cursor)
		if err != nil {
			var p *problem.Error
			if !errors.As(err, &p) || p.Kind != problem.Invalid {
				t.Fatalf("decodeCursor(%q): %v, want an Invalid problem", cursor, err)
			}
			return
		}
		if cursor == "" {
			if id != "" {
				t.Fatalf("decodeCursor(\"\") = %q, want the first page", id)
			}
			return
		}
		if CheckID(id) != nil {
			t.Fatalf("decodeCursor(%q) = %q, an id no record can have", cursor, id)
		}
		if again := encodeCursor(id); again != cursor {
			t.Fatalf("decodeCursor(%q) = %q, which Ferry issues as %q", cursor, id, again)
		}
	})
}
