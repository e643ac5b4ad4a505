package schema

import (
	"slices"
	"strings"
)

// validName reports whether s is a valid schema or field name:
// ^[a-z][a-z0-9_]{0,63}$.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// GoName returns the Go name of a schema or field name: each
// '_'-separated word capitalised ("amount_cents" → "AmountCents",
// "id" → "Id"), so that a Go client's own struct with those names reads
// and writes gob directly. Other characters are kept as they are.
func GoName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for word := range strings.SplitSeq(name, "_") {
		if word == "" {
			continue
		}
		if c := word[0]; c >= 'a' && c <= 'z' {
			b.WriteByte(c - 'a' + 'A')
			b.WriteString(word[1:])
		} else {
			b.WriteString(word)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// joinPath renders a path of field names as the schema writes it.
func joinPath(path []string) string { return strings.Join(path, ".") }

// child appends a field name to a dotted path.
func child(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
