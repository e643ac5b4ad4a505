package records

import (
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/store"
)

func TestCheckConditions(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	live := store.Record{Schema: "s", ID: "a", Revision: 3, UpdatedAt: at}
	deleted := store.Record{Schema: "s", ID: "a", Revision: 4, Deleted: true, UpdatedAt: at}
	absent := store.Record{Schema: "s", ID: "a"}
	current := newValidator("s", "a", 3, at).ETag("cbor.v1")
	stale := newValidator("s", "a", 2, at).ETag("json.v1")
	tests := []struct {
		name    string
		cur     store.Record
		cond    Conditions
		require bool
		want    problem.Kind // Internal means no error
	}{
		{"no conditions", live, Conditions{}, false, problem.Internal},
		{"If-Match from another representation", live, Conditions{IfMatch: []string{current}}, false, problem.Internal},
		{"If-Match stale", live, Conditions{IfMatch: []string{stale}}, false, problem.PreconditionFailed},
		{"If-Match any of a list", live, Conditions{IfMatch: []string{stale, current}}, false, problem.Internal},
		{"If-Match weak never matches", live, Conditions{IfMatch: []string{"W/" + current}}, false, problem.PreconditionFailed},
		{"If-Match * on a live record", live, Conditions{IfMatch: []string{"*"}}, false, problem.Internal},
		{"If-Match * on an absent record", absent, Conditions{IfMatch: []string{"*"}}, false, problem.PreconditionFailed},
		{"If-Match on a deleted record", deleted, Conditions{IfMatch: []string{current}}, false, problem.PreconditionFailed},
		{"If-None-Match * on a live record", live, Conditions{IfNoneMatch: []string{"*"}}, false, problem.PreconditionFailed},
		{"If-None-Match * on an absent record", absent, Conditions{IfNoneMatch: []string{"*"}}, false, problem.Internal},
		{"If-None-Match * on a deleted record", deleted, Conditions{IfNoneMatch: []string{"*"}}, false, problem.Internal},
		{"If-None-Match current", live, Conditions{IfNoneMatch: []string{current}}, false, problem.PreconditionFailed},
		{"If-None-Match stale", live, Conditions{IfNoneMatch: []string{stale}}, false, problem.Internal},
		{"If-None-Match weak current", live, Conditions{IfNoneMatch: []string{"W/" + current}}, false, problem.PreconditionFailed},
		{"If-None-Match weak stale", live, Conditions{IfNoneMatch: []string{"W/" + stale}}, false, problem.Internal},
		{"If-Match with no tag", live, Conditions{IfMatch: []string{}}, false, problem.PreconditionFailed},
		{"If-Match with no tag, required", live, Conditions{IfMatch: []string{}}, true, problem.PreconditionFailed},
		{"required and missing on an update", live, Conditions{}, true, problem.PreconditionRequired},
		{"required and missing on a create", absent, Conditions{}, true, problem.Internal},
		{"required and given", live, Conditions{IfMatch: []string{current}}, true, problem.Internal},
		{"If-Unmodified-Since before the change", live, Conditions{IfUnmodifiedSince: at.Add(-time.Second)}, false, problem.PreconditionFailed},
		{"If-Unmodified-Since in the change's second", live, Conditions{IfUnmodifiedSince: at.Truncate(time.Second)}, false, problem.Internal},
		{"If-Match overrides If-Unmodified-Since", live, Conditions{IfMatch: []string{current}, IfUnmodifiedSince: at.Add(-time.Second)}, false, problem.Internal},
		{"If-Unmodified-Since on an absent record", absent, Conditions{IfUnmodifiedSince: at.Add(-time.Second)}, false, problem.Internal},
		{"required, create-only on a live record", live, Conditions{IfNoneMatch: []string{"*"}}, true, problem.PreconditionFailed},
		{"required, create-only on an absent record", absent, Conditions{IfNoneMatch: []string{"*"}}, true, problem.Internal},
		{"required, If-None-Match stale on an update", live, Conditions{IfNoneMatch: []string{stale}}, true, problem.PreconditionRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Service{opts: Options{RequireIfMatch: tc.require}}
			isLive := tc.cur.Revision > 0 && !tc.cur.Deleted
			err := s.checkConditions(s.recordFrom(tc.cur), tc.cond, isLive)
			if tc.want == problem.Internal {
				if err != nil {
					t.Fatalf("checkConditions(%+v) = %v, want nil", tc.cond, err)
				}
				return
			}
			p, ok := problem.As(err)
			if !ok || p.Kind != tc.want {
				t.Fatalf("checkConditions(%+v) = %v, want a %v problem", tc.cond, err, tc.want)
			}
			if p.Kind == problem.PreconditionFailed {
				if p.Extra["current_revision"] != tc.cur.Revision {
					t.Errorf("current_revision = %v, want %d", p.Extra["current_revision"], tc.cur.Revision)
				}
				etag, present := p.Extra["current_etag"]
				if !present || (etag != nil) != isLive {
					t.Errorf("current_etag = %v (present %v), want a tag only for a live record, else null", etag, present)
				}
			}
		})
	}
}

func TestWrittenSha256(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stored []byte
		want   string
	}{
		{"a delete, which stores nothing", nil, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"a record", []byte("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tc := range tests {
		w := &Written{Record: &Record{Stored: tc.stored}}
		if got := w.Sha256(); got != tc.want {
			t.Errorf("%s: Sha256() = %s, want %s, as its history entry has it", tc.name, got, tc.want)
		}
	}
}
