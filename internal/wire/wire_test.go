package wire

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/problem"
)

// A checkCase is one input to a Check function and the outcome wanted: no
// error when reason is empty, else a problem of that kind and reason whose
// offset is offset (when offset is not -1).
type checkCase struct {
	name   string
	data   []byte
	kind   problem.Kind
	reason string
	offset int
}

// ok returns a case that must be accepted.
func ok(name string, data []byte) checkCase {
	return checkCase{name: name, data: data}
}

// bad returns a case that must be refused as Invalid.
func bad(name string, data []byte, reason string, offset int) checkCase {
	return checkCase{name: name, data: data, kind: problem.Invalid, reason: reason, offset: offset}
}

// unprocessable returns a case that must be refused as Unprocessable.
func unprocessable(name string, data []byte, reason string, offset int) checkCase {
	return checkCase{name: name, data: data, kind: problem.Unprocessable, reason: reason, offset: offset}
}

// runCheckCases runs check on every case in parallel subtests.
func runCheckCases(t *testing.T, check func([]byte) error, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := check(tc.data)
			assertOutcome(t, tc.data, err, tc.kind, tc.reason, tc.offset)
		})
	}
}

// assertOutcome fails t unless err matches the wanted outcome: nil when
// reason is empty, else a *problem.Error of the kind, reason and (unless -1)
// offset, whose detail names that offset.
func assertOutcome(t *testing.T, data []byte, err error, kind problem.Kind, reason string, offset int) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("input %s: got error %v, want none", shortHex(data), err)
		}
		return
	}
	if err == nil {
		t.Fatalf("input %s: got no error, want %s/%s at offset %d", shortHex(data), kind, reason, offset)
	}
	p, isProblem := problem.As(err)
	if !isProblem {
		t.Fatalf("input %s: got %T %v, want *problem.Error", shortHex(data), err, err)
	}
	if p.Kind != kind || p.Reason != reason {
		t.Fatalf("input %s: got %s/%s (%v), want %s/%s", shortHex(data), p.Kind, p.Reason, err, kind, reason)
	}
	got, hasOffset := p.Extra["offset"].(int)
	if !hasOffset {
		t.Fatalf("input %s: problem %v has no int offset in Extra: %v", shortHex(data), err, p.Extra)
	}
	if offset != -1 && got != offset {
		t.Fatalf("input %s: got offset %d (%v), want %d", shortHex(data), got, err, offset)
	}
	if !strings.Contains(p.Detail, "offset") {
		t.Fatalf("input %s: detail %q does not name the offset", shortHex(data), p.Detail)
	}
	if is := errors.Is(err, ErrTruncated); is != (reason == "truncated") {
		t.Fatalf("input %s: errors.Is(%v, ErrTruncated) = %v with reason %q", shortHex(data), err, is, reason)
	}
}

// h decodes hex written with optional spaces, such as "df ff ff ff ff".
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// rep repeats one byte n times.
func rep(b byte, n int) []byte {
	return []byte(strings.Repeat(string([]byte{b}), n))
}

// shortHex renders data for failure messages, eliding the middle of long
// inputs.
func shortHex(data []byte) string {
	if len(data) <= 48 {
		return hex.EncodeToString(data)
	}
	return hex.EncodeToString(data[:24]) + "…" + hex.EncodeToString(data[len(data)-8:]) + " (" + strconv.Itoa(len(data)) + " bytes)"
}

func TestValidUTF8(t *testing.T) {
	t.Parallel()
	// Every length up to 40, all ASCII, then with one multi-byte rune, one
	// stray continuation byte and one truncated rune at every position.
	inserts := []string{"é", "\x80", "\xe2\x82", "€", "\xed\xa0\x80", "𝄞"}
	for n := range 41 {
		ascii := strings.Repeat("a", n)
		inputs := []string{ascii}
		for i := 0; i <= n; i++ {
			for _, ins := range inserts {
				inputs = append(inputs, ascii[:i]+ins+ascii[i:])
			}
		}
		for _, in := range inputs {
			if got, want := validUTF8([]byte(in)), utf8.Valid([]byte(in)); got != want {
				t.Fatalf("validUTF8(%q) = %v, want %v", in, got, want)
			}
		}
	}
}
