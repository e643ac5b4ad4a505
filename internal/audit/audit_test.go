package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/internal/records"
)

func TestAuditLines(t *testing.T) {
	t.Parallel()
	stored := []byte("stored bytes")
	sum := sha256.Sum256(stored)
	written := &records.Written{Record: &records.Record{ID: "r1", Revision: 3, Stored: stored}, Op: "replace", Version: 2}
	job := &records.Job{ID: "j1", Kind: "migrate", Schema: "order", By: "ops"}
	tests := []struct {
		name   string
		write  func(zerolog.Logger)
		want   map[string]any
		absent []string
	}{{
		name: "a request's write",
		write: func(l zerolog.Logger) {
			Request(&l, "req-1", "", "order", written)
		},
		want: map[string]any{"level": "info", "log": "audit", "request_id": "req-1", "by": "", "schema": "order",
			"id": "r1", "revision": 3.0, "op": "replace", "version": 2.0, "sha256": hex.EncodeToString(sum[:])},
		absent: []string{"job_id"},
	}, {
		name:  "a job's rewrite",
		write: func(l zerolog.Logger) { NewJobLog(l).Rewrote(job, written) },
		want: map[string]any{"level": "info", "log": "audit", "job_id": "j1", "by": "ops", "schema": "order",
			"id": "r1", "revision": 3.0, "op": "replace", "version": 2.0, "sha256": hex.EncodeToString(sum[:])},
		absent: []string{"request_id"},
	}, {
		name:   "a record a job could not rewrite",
		write:  func(l zerolog.Logger) { NewJobLog(l).Refused(job, "r2", errors.New("n must be at least 0")) },
		want:   map[string]any{"level": "warn", "job_id": "j1", "kind": "migrate", "schema": "order", "id": "r2", "error": "n must be at least 0"},
		absent: []string{"log", "sha256"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			tc.write(zerolog.New(&out))
			var line map[string]any
			if err := json.Unmarshal(out.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", out.Bytes(), err)
			}
			for k, v := range tc.want {
				if line[k] != v {
					t.Errorf("%s = %v, want %v, in %s", k, line[k], v, out.Bytes())
				}
			}
			for _, k := range tc.absent {
				if _, ok := line[k]; ok {
					t.Errorf("%s present, want it absent, in %s", k, out.Bytes())
				}
			}
		})
	}
	// Below info, writes leave no line.
	var out bytes.Buffer
	l := zerolog.New(&out).Level(zerolog.WarnLevel)
	Request(&l, "req-2", "", "order", written)
	if out.Len() != 0 {
		t.Errorf("audit line written at level warn: %s", out.Bytes())
	}
}
