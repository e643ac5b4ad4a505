package schema

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

func TestCheckMergePatch(t *testing.T) {
	_, s := mustRegister(t, `{"name": "p", "version": 1, "fields": {
		"note": {"type": "string", "optional": true},
		"addr": {"type": "object", "optional": true, "fields": {"zip": {"type": "string", "optional": true}}},
		"tags": {"type": "map", "values": {"type": "object", "fields": {"on": {"type": "bool", "optional": true}}}},
		"list": {"type": "array", "items": {"type": "object", "fields": {"x": {"type": "int"}}}}}}`)
	v, err := s.Version(1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		patch string
		want  []string // the fields refused
	}{
		{`{"note": null, "addr": {"zip": null}, "tags": {"a": null, "b": {"on": null}}}`, nil},
		{`{"bogus": 1, "addr": {"other": "x"}}`, nil}, // values are the merged record's to refuse
		{`{"list": [{"y": null}]}`, nil},              // an array is replaced whole
		{`{"Note": null}`, []string{"Note"}},
		{`{"addr": {"Zip": null}, "zz": null}`, []string{"addr.Zip", "zz"}},
		{`{"tags": {"b": {"off": null}}}`, []string{"tags[b].off"}},
	}
	for _, tc := range tests {
		var patch map[string]any
		if err := json.Unmarshal([]byte(tc.patch), &patch); err != nil {
			t.Fatal(err)
		}
		err := v.CheckMergePatch(patch)
		if tc.want == nil {
			if err != nil {
				t.Errorf("CheckMergePatch(%s) = %v, want nil", tc.patch, err)
			}
			continue
		}
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Invalid {
			t.Errorf("CheckMergePatch(%s) = %v, want an Invalid problem", tc.patch, err)
			continue
		}
		var got []string
		for _, f := range p.Fields {
			if f.Rule != "unknown_field" {
				t.Errorf("CheckMergePatch(%s): rule %q, want unknown_field", tc.patch, f.Rule)
			}
			got = append(got, f.Field)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("CheckMergePatch(%s) refuses %v, want %v", tc.patch, got, tc.want)
		}
	}
}
