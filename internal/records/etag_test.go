package records

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidatorMatchesEveryRepresentation(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 12, 0, 0, 123, time.UTC)
	v := newValidator("order", "a1", 7, at)
	other := newValidator("order", "a1", 8, at)
	recreated := newValidator("order", "a1", 7, at.Add(time.Nanosecond))
	tests := []struct {
		name string
		etag string
		want bool
	}{
		{"same representation", v.ETag("json.v2"), true},
		{"other representation", v.ETag("cbor.v1.zstd"), true},
		{"no representation", v.ETag(""), true},
		{"next revision", other.ETag("json.v2"), false},
		{"same revision, other write time", recreated.ETag("json.v2"), false},
		{"weak", "W/" + v.ETag("json.v2"), false},
		{"unquoted", "7-abc", false},
		{"empty", `""`, false},
		{"garbage", `"x"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := v.matches(tc.etag); got != tc.want {
				t.Errorf("matches(%s) = %v, want %v", tc.etag, got, tc.want)
			}
		})
	}
}

// A failed If-Match says the record moved on only when a tag could have
// named one of its revisions; else it says the tags are not ones Ferry
// issues.
func TestIfMatchFailed(t *testing.T) {
	t.Parallel()
	v := newValidator("order", "a1", 7, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	old := newValidator("order", "a1", 6, time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	tests := []struct {
		tags    []string
		changed bool
	}{
		{[]string{old.ETag("json.v1")}, true},
		{[]string{old.ETag("")}, true},
		{[]string{`"garbage"`, old.ETag("cbor.v2.gzip")}, true},
		{[]string{`"garbage"`}, false},
		{[]string{"W/" + v.ETag("json.v1")}, false},
		{[]string{"7-abc"}, false},
		{[]string{`"7-abc.json.v1"`}, false},
		{[]string{`"-1-AAAAAAAAAAA"`}, false},
	}
	for _, tc := range tests {
		got := IfMatchFailed(7, tc.tags)
		if changed := strings.Contains(got, "has changed"); changed != tc.changed || !strings.Contains(got, "revision 7") {
			t.Errorf("IfMatchFailed(7, %q) = %q; want it to say the record changed: %v, and name revision 7", tc.tags, got, tc.changed)
		}
	}
}

func TestETagsDifferPerRepresentation(t *testing.T) {
	t.Parallel()
	v := newValidator("s", "id", 1, time.Unix(0, 0))
	seen := map[string]bool{}
	for _, repr := range []string{"json.v1", "json.v2", "cbor.v1", "json.v1.gzip"} {
		e := v.ETag(repr)
		if seen[e] {
			t.Fatalf("ETag(%q) = %s repeats another representation's", repr, e)
		}
		seen[e] = true
	}
}

func TestSplitETags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{`"a"`, []string{`"a"`}},
		{`*`, []string{`*`}},
		{`"a", W/"b" ,"c,d"`, []string{`"a"`, `W/"b"`, `"c,d"`}},
		{` , "a",,`, []string{`"a"`}},
		{`"unterminated`, []string{`"unterminated`}},
		{`"a""b"`, []string{`"a""b"`}},
		{`"a" "b", "c"`, []string{`"a" "b"`, `"c"`}},
		{`"a" x`, []string{`"a" x`}},
		{`"a" , "b"`, []string{`"a"`, `"b"`}},
		{``, nil},
	}
	for _, tc := range tests {
		if got := SplitETags(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitETags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMergePatch(t *testing.T) {
	t.Parallel()
	// The examples of RFC 7396 appendix A that apply to objects.
	tests := []struct {
		name          string
		target, patch map[string]any
		want          map[string]any
	}{
		{"replace", map[string]any{"a": "b"}, map[string]any{"a": "c"}, map[string]any{"a": "c"}},
		{"add", map[string]any{"a": "b"}, map[string]any{"b": "c"}, map[string]any{"a": "b", "b": "c"}},
		{"remove", map[string]any{"a": "b"}, map[string]any{"a": nil}, map[string]any{}},
		{"remove one of two", map[string]any{"a": "b", "b": "c"}, map[string]any{"a": nil}, map[string]any{"b": "c"}},
		{"array replaces", map[string]any{"a": []any{"b"}}, map[string]any{"a": "c"}, map[string]any{"a": "c"}},
		{"value becomes array", map[string]any{"a": "c"}, map[string]any{"a": []any{"b"}}, map[string]any{"a": []any{"b"}}},
		{"nested", map[string]any{"a": map[string]any{"b": "c"}},
			map[string]any{"a": map[string]any{"b": "d", "c": nil}}, map[string]any{"a": map[string]any{"b": "d"}}},
		{"nested into scalar", map[string]any{"a": "x"},
			map[string]any{"a": map[string]any{"b": "c"}}, map[string]any{"a": map[string]any{"b": "c"}}},
		{"nil target", nil, map[string]any{"a": "b"}, map[string]any{"a": "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MergePatch(tc.target, tc.patch); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MergePatch(%v, %v) = %v, want %v", tc.target, tc.patch, got, tc.want)
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"a", true}, {"A9._~-", true}, {"0", true}, {string(long[:128]), true},
		{"", false}, {"_export", false}, {".a", false}, {"a/b", false}, {"a b", false}, {"é", false}, {string(long), false},
	} {
		if err := CheckID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}
