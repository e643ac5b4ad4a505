package problem

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	base := New(NotFound, "no record %q", "a")
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"problem", base, NotFound},
		{"wrapped problem", fmt.Errorf("records: get: %w", base), NotFound},
		{"plain error", errors.New("disk on fire"), Internal},
		{"nil", nil, Internal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := KindOf(tc.err); got != tc.want {
				t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if Is(nil, Internal) {
		t.Error("Is(nil, Internal) = true, want false")
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	cause := errors.New("short read")
	tests := []struct {
		err  *Error
		want string
	}{
		{New(Invalid, "bad %s", "syntax"), "bad syntax"},
		{Wrap(Invalid, cause, "body unreadable"), "body unreadable: short read"},
		{&Error{Kind: Conflict}, "conflict"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	if !errors.Is(Wrap(Invalid, cause, "x"), cause) {
		t.Error("Wrap does not unwrap to its cause")
	}
}

func TestWithMembers(t *testing.T) {
	t.Parallel()
	p := New(NotAcceptable, "no format").With("acceptable", []string{"application/json"}).WithReason("accept")
	if p.Reason != "accept" {
		t.Errorf("Reason = %q, want accept", p.Reason)
	}
	if got, ok := p.Extra["acceptable"].([]string); !ok || len(got) != 1 {
		t.Errorf("Extra[acceptable] = %v, want [application/json]", p.Extra["acceptable"])
	}
}

func TestKindNames(t *testing.T) {
	t.Parallel()
	seen := map[string]Kind{}
	for k := Internal; k <= Unavailable; k++ {
		name := k.String()
		if prev, dup := seen[name]; dup {
			t.Errorf("kinds %d and %d share the name %q", prev, k, name)
		}
		seen[name] = k
	}
	if got := Kind(200).String(); got != "kind(200)" {
		t.Errorf("unknown kind String() = %q", got)
	}
}
