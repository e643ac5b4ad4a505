package schema

import (
	"context"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// registerRefused registers def on a fresh registry and returns the errors
// of the problem.Invalid it must fail with.
func registerRefused(t *testing.T, def string) []string {
	t.Helper()
	r := NewRegistry(newMemStore())
	_, err := r.Register(context.Background(), mustParse(t, def), false)
	if !problem.Is(err, problem.Invalid) {
		t.Fatalf("Register(%s) = %v, want a problem.Invalid", def, err)
	}
	return problemLists(err)
}

// TestRegisterRefusesHostRules checks that the rules that would look at
// the server (its files, sockets, resolver and time zone database) are
// refused wherever they stand, and that the rules on the text alone are
// not.
func TestRegisterRefusesHostRules(t *testing.T) {
	t.Parallel()
	refused := []struct {
		name, def, rule string
	}{
		{"file", `"p":{"type":"string","validate":"file"}`, "file"},
		{"filepath", `"p":{"type":"string","validate":"filepath"}`, "filepath"},
		{"dir", `"p":{"type":"string","validate":"dir"}`, "dir"},
		{"dirpath", `"p":{"type":"string","validate":"dirpath"}`, "dirpath"},
		{"image", `"p":{"type":"string","validate":"image"}`, "image"},
		{"mimetype", `"p":{"type":"string","validate":"mimetype=image/png"}`, "mimetype"},
		{"uds_exists", `"p":{"type":"string","validate":"uds_exists"}`, "uds_exists"},
		{"tcp_addr", `"p":{"type":"string","validate":"tcp_addr"}`, "tcp_addr"},
		{"tcp4_addr", `"p":{"type":"string","validate":"tcp4_addr"}`, "tcp4_addr"},
		{"tcp6_addr", `"p":{"type":"string","validate":"tcp6_addr"}`, "tcp6_addr"},
		{"udp_addr", `"p":{"type":"string","validate":"udp_addr"}`, "udp_addr"},
		{"udp4_addr", `"p":{"type":"string","validate":"udp4_addr"}`, "udp4_addr"},
		{"udp6_addr", `"p":{"type":"string","validate":"udp6_addr"}`, "udp6_addr"},
		{"ip_addr", `"p":{"type":"string","validate":"ip_addr"}`, "ip_addr"},
		{"ip4_addr", `"p":{"type":"string","validate":"ip4_addr"}`, "ip4_addr"},
		{"ip6_addr", `"p":{"type":"string","validate":"ip6_addr"}`, "ip6_addr"},
		{"timezone", `"p":{"type":"string","validate":"timezone"}`, "timezone"},
		{"optional", `"p":{"type":"string","optional":true,"validate":"omitempty,file"}`, "file"},
		{"in an or", `"p":{"type":"string","validate":"email|file"}`, "file"},
		{"after dive", `"p":{"type":"array","validate":"dive,image","items":{"type":"string"}}`, "image"},
		{"in the items", `"p":{"type":"array","items":{"type":"string","validate":"dir"}}`, "dir"},
		{"on map keys", `"p":{"type":"map","validate":"dive,keys,file,endkeys","values":{"type":"int"}}`, "file"},
		{"in a nested object", `"o":{"type":"object","fields":{"p":{"type":"string","validate":"uds_exists"}}}`, "uds_exists"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := registerRefused(t, fields(tc.def))
			if !containsAll(errs, "rule '"+tc.rule+"'", "server's machine, not at the record") {
				t.Fatalf("Register(%s) errors = %q, want one naming rule '%s' and the server's machine", tc.def, errs, tc.rule)
			}
		})
	}

	accepted := []string{
		`"p":{"type":"string","validate":"email"}`,
		`"p":{"type":"string","validate":"url"}`,
		`"p":{"type":"string","validate":"uri"}`,
		`"p":{"type":"string","validate":"hostname"}`,
		`"p":{"type":"string","validate":"fqdn"}`,
		`"p":{"type":"string","validate":"hostname_port"}`,
		`"p":{"type":"string","validate":"ip"}`,
		`"p":{"type":"string","validate":"ipv4"}`,
		`"p":{"type":"string","validate":"ipv6"}`,
		`"p":{"type":"string","validate":"cidr"}`,
		`"p":{"type":"string","validate":"mac"}`,
		`"p":{"type":"string","validate":"uuid"}`,
		`"p":{"type":"string","validate":"datetime=2006-01-02"}`,
	}
	for _, def := range accepted {
		t.Run("accepts "+def, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry(newMemStore())
			if _, err := r.Register(context.Background(), mustParse(t, fields(def)), false); err != nil {
				t.Fatalf("Register(%s) = %v %q, want success", def, err, problemLists(err))
			}
		})
	}
}
