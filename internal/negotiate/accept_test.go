package negotiate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// recordOffers are the offers of a record endpoint, in Ferry's order.
var recordOffers = []Offer{
	{MediaType: "application/json"},
	{MediaType: "application/vnd.msgpack", Aliases: []string{"application/msgpack", "application/x-msgpack"}},
	{MediaType: "application/cbor"},
	{MediaType: "application/gob", Aliases: []string{"application/x-gob"}},
}

// schemaOffers are the offers of a schema version endpoint.
var schemaOffers = []Offer{
	{MediaType: "application/json"},
	{MediaType: "application/schema+json"},
	{MediaType: "text/x-go"},
}

// Accept headers sent by real clients.
const (
	chromeNavigate  = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	firefoxNavigate = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	safariNavigate  = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	fetchDefault    = "*/*"
	xhrJSON         = "application/json, text/plain, */*"
	firefoxImage    = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
)

func TestChoose(t *testing.T) {
	t.Parallel()
	rfcOffers := []Offer{{MediaType: "text/plain"}, {MediaType: "text/html"}, {MediaType: "image/jpeg"}}
	tests := []struct {
		name    string
		accept  string
		offers  []Offer
		want    string
		version int
	}{
		{"absent", "", recordOffers, "application/json", 0},
		{"blank", "  ", recordOffers, "application/json", 0},
		{"curl", "*/*", recordOffers, "application/json", 0},
		{"chrome navigation", chromeNavigate, recordOffers, "application/json", 0},
		{"firefox navigation", firefoxNavigate, recordOffers, "application/json", 0},
		{"safari navigation", safariNavigate, recordOffers, "application/json", 0},
		{"fetch default", fetchDefault, recordOffers, "application/json", 0},
		{"axios", xhrJSON, recordOffers, "application/json", 0},
		{"image request", firefoxImage, recordOffers, "application/json", 0},
		{"exact json", "application/json", recordOffers, "application/json", 0},
		{"exact cbor", "application/cbor", recordOffers, "application/cbor", 0},
		{"case-insensitive", "Application/CBOR", recordOffers, "application/cbor", 0},
		{"msgpack default name", "application/vnd.msgpack", recordOffers, "application/vnd.msgpack", 0},
		{"msgpack alias echoed", "application/x-msgpack", recordOffers, "application/x-msgpack", 0},
		{"msgpack other alias echoed", "application/msgpack", recordOffers, "application/msgpack", 0},
		{"gob alias echoed", "application/x-gob", recordOffers, "application/x-gob", 0},
		{"alias preferred by q", "application/vnd.msgpack;q=0.5, application/x-msgpack", recordOffers, "application/x-msgpack", 0},
		{"a tie with a wildcard goes to the server's order", "application/x-msgpack;q=0.5, */*;q=0.5", recordOffers, "application/json", 0},
		{"a named alias above a wildcard", "application/x-msgpack;q=0.6, */*;q=0.5", recordOffers, "application/x-msgpack", 0},
		{"within an offer, the alias named wins a tie", "application/json;q=0, application/x-msgpack, */*", recordOffers, "application/x-msgpack", 0},
		{"within an offer, the alias named wins a tie with type/*", "application/x-msgpack, application/*, application/json;q=0.5", recordOffers, "application/x-msgpack", 0},
		{"a wildcard gives no alias the type itself was refused", "*/*;q=0.5, application/json;q=0, application/vnd.msgpack;q=0, application/cbor;q=0", recordOffers, "application/gob", 0},
		{"type wildcard", "application/*", recordOffers, "application/json", 0},
		{"type wildcard misses", "text/*, application/cbor;q=0.1", recordOffers, "application/cbor", 0},
		{"q=0 excludes json", "application/json;q=0, */*", recordOffers, "application/vnd.msgpack", 0},
		{"q=0 on wildcard excludes the rest", "application/cbor, */*;q=0", recordOffers, "application/cbor", 0},
		{"higher q wins", "application/json;q=0.5, application/cbor;q=0.9", recordOffers, "application/cbor", 0},
		{"three decimals", "application/json;q=0.501, application/cbor;q=0.5", recordOffers, "application/json", 0},
		{"tie goes to server order", "application/cbor, application/json", recordOffers, "application/json", 0},
		{"tie between wildcards goes to server order", "application/*;q=0.5", recordOffers, "application/json", 0},
		{"a named type ties with a wildcard: the server's order", "application/cbor, */*", recordOffers, "application/json", 0},
		{"a tie between named types: the server's order", "application/cbor, application/gob, application/vnd.msgpack", recordOffers, "application/vnd.msgpack", 0},
		{"version", "application/cbor; version=2", recordOffers, "application/cbor", 2},
		{"version quoted", `application/json;version="3"`, recordOffers, "application/json", 3},
		{"version with q", "application/json;version=2;q=0.8, application/cbor;q=0.5", recordOffers, "application/json", 2},
		{"a weight on one version leaves the others their own", "application/json;version=1;q=0.4, application/json", recordOffers, "application/json", 0},
		{"a weight on one version, after the range without", "application/json;q=0.5, application/json;version=1;q=0.2", recordOffers, "application/json", 0},
		{"a weighted version and a wildcard: the server's order", "application/json;version=1;q=0.1, */*", recordOffers, "application/json", 0},
		{"a version named at the same weight wins", "application/json, application/json;version=1", recordOffers, "application/json", 1},
		{"a version weighted above the rest", "application/json;q=0.5, application/json;version=1", recordOffers, "application/json", 1},
		{"a version weighted above another type", "application/cbor;q=0.5, application/json;version=2;q=0.6", recordOffers, "application/json", 2},
		{"higher q among versions", "application/json;version=1;q=0.5, application/json;version=2", recordOffers, "application/json", 2},
		{"version on wildcard", "*/*;version=4", recordOffers, "application/json", 4},
		{"q=0 on a version excludes that version only", "application/json;version=1;q=0, application/json", recordOffers, "application/json", 0},
		{"q=0 on a version of cbor", "application/cbor;version=1;q=0, application/cbor", recordOffers, "application/cbor", 0},
		{"q=0 on a version, other type wins on q", "application/json;version=1;q=0, application/json;q=0.5, application/cbor", recordOffers, "application/cbor", 0},
		{"charset tolerated", "application/json; charset=utf-8", recordOffers, "application/json", 0},
		{"schema echoed back", "application/cbor; schema=order; version=2", recordOffers, "application/cbor", 2},
		{"version zero", "application/json;version=0", recordOffers, "application/json", NoVersion},
		{"negative version", "application/json;version=-1", recordOffers, "application/json", NoVersion},
		{"version not a number", "application/json;version=abc", recordOffers, "application/json", NoVersion},
		{"fractional version", "application/json;version=1.5", recordOffers, "application/json", NoVersion},
		{"version too large", "application/json;version=99999999999", recordOffers, "application/json", NoVersion},
		{"unknown parameter matches nothing", "application/cbor;foo=bar, application/json;q=0.1", recordOffers, "application/json", 0},
		{"accept extension ignored", "application/cbor;q=0.5;ext=1", recordOffers, "application/cbor", 0},
		{"empty elements tolerated", ",application/cbor,,", recordOffers, "application/cbor", 0},
		{"whitespace", " application/cbor ; q=1 ,\tapplication/json ; q=0.2 ", recordOffers, "application/cbor", 0},
		{"schema json", "application/schema+json", schemaOffers, "application/schema+json", 0},
		{"go source", "text/x-go", schemaOffers, "text/x-go", 0},
		{"schema from browser", chromeNavigate, schemaOffers, "application/json", 0},
		{"schema text wildcard", "text/*", schemaOffers, "text/x-go", 0},
		{"rfc 9110 text/plain", "text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, text/plain;level=2;q=0.4, */*;q=0.5", rfcOffers, "text/plain", 0},
		{"rfc 9110 text/html", "text/*;q=0.3, text/html;q=0.7, text/html;level=1, text/html;level=2;q=0.4, */*;q=0.5", rfcOffers[1:], "text/html", 0},
		{"rfc 9110 image/jpeg", "text/*;q=0.3, text/html;q=0.7, */*;q=0.5", rfcOffers[2:], "image/jpeg", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Choose(tc.accept, tc.offers)
			if err != nil {
				t.Fatalf("Choose(%q) error: %v", tc.accept, err)
			}
			if got.MediaType != tc.want || got.Version != tc.version {
				t.Errorf("Choose(%q) = %s version %d, want %s version %d", tc.accept, got.MediaType, got.Version, tc.want, tc.version)
			}
			if o := tc.offers[got.Offer]; o.MediaType != got.MediaType && !slices.Contains(o.Aliases, got.MediaType) {
				t.Errorf("Choose(%q): offer %d (%s) does not go by %s", tc.accept, got.Offer, o.MediaType, got.MediaType)
			}
			if alias := got.MediaType != tc.offers[got.Offer].MediaType; got.Alias != alias {
				t.Errorf("Choose(%q) = %s with Alias %v, want %v", tc.accept, got.MediaType, got.Alias, alias)
			}
		})
	}
}

func TestChooseNotAcceptable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		accept string
		offers []Offer
	}{
		{"html only", "text/html", recordOffers},
		{"all excluded", "application/json;q=0, application/*;q=0", recordOffers},
		{"wildcard excluded", "*/*;q=0", recordOffers},
		{"a version excluded, nothing else named", "application/json;version=1;q=0", recordOffers},
		{"image only", "image/png, image/*", recordOffers},
		{"go source on records", "text/x-go", recordOffers},
		{"cbor on schemas", "application/cbor", schemaOffers},
		{"unknown parameter", "application/json;indent=4", recordOffers},
		{"no offers", "*/*", nil},
		{"a type wildcard gives no alias a refused type", "application/*, application/json;q=0, application/vnd.msgpack;q=0, application/cbor;q=0, application/gob;q=0", recordOffers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Choose(tc.accept, tc.offers)
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.NotAcceptable {
				t.Fatalf("Choose(%q) = %+v, %v; want a not-acceptable problem", tc.accept, got, err)
			}
			acceptable, _ := p.Extra["acceptable"].([]string)
			if want := Acceptable(tc.offers); !slices.Equal(acceptable, want) {
				t.Errorf("Choose(%q) acceptable = %q, want %q", tc.accept, acceptable, want)
			}
		})
	}
}

func TestChooseMalformed(t *testing.T) {
	t.Parallel()
	tests := []string{
		"application/",
		"application",
		"/json",
		";q=2",
		"q=abc",
		",,,",
		"application/json;q=2",
		"application/json;q=abc",
		"application/json;q=1.5",
		"application/json;q=0.1234",
		"application/json;q=.5",
		"application/json;q=",
		"application/json;q",
		"application/json;q=1;q=0.5",
		"application/json;version=1;version=2",
		"application/json;version=x;version=2",
		"application/json;schema=a;schema=b",
		`application/json;schema="";schema=b`,
		`application/json;charset="utf-8`,
		"application/json application/cbor",
		"*/json",
		"text/html\x00",
		"текст/html",
		"application/json;=x",
		"\xff\xfe",
		"@@@",
		// Weighing every representation passes over every range: a
		// header of thousands would cost a core for a request.
		strings.Repeat("*/*;version=1, ", maxMediaRanges+1),
	}
	for _, accept := range tests {
		t.Run(fmt.Sprintf("%.40s", accept), func(t *testing.T) {
			t.Parallel()
			got, err := Choose(accept, recordOffers)
			p, ok := problem.As(err)
			if !ok || p.Kind != problem.Invalid || p.Reason != "accept" {
				t.Fatalf("Choose(%q) = %+v, %v; want an invalid problem with reason accept", accept, got, err)
			}
		})
	}
}

func TestChooseAllocs(t *testing.T) {
	for _, accept := range []string{"", "*/*", "application/cbor", chromeNavigate} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Choose(accept, recordOffers); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Choose(%q) allocates %v times per call, want 0", accept, allocs)
		}
	}
}

func TestParseContentType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		essence string
		version int
		invalid bool
	}{
		{in: "application/json", essence: "application/json"},
		{in: "Application/JSON; charset=UTF-8", essence: "application/json"},
		{in: "application/cbor; version=2", essence: "application/cbor", version: 2},
		{in: `application/cbor; version="12"; schema=order`, essence: "application/cbor", version: 12},
		{in: "application/cbor; version=0", essence: "application/cbor", version: NoVersion},
		{in: "application/cbor; version=x", essence: "application/cbor", version: NoVersion},
		{in: "application/cbor; version=-3", essence: "application/cbor", version: NoVersion},
		{in: "application/", invalid: true},
		{in: "garbage", invalid: true},
		{in: "", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseContentType(tc.in)
			if tc.invalid {
				if !problem.Is(err, problem.Invalid) {
					t.Fatalf("ParseContentType(%q) = %+v, %v; want an invalid problem", tc.in, got, err)
				}
				return
			}
			if err != nil || got.Essence != tc.essence || got.Version != tc.version {
				t.Errorf("ParseContentType(%q) = %q version %d, %v; want %q version %d", tc.in, got.Essence, got.Version, err, tc.essence, tc.version)
			}
		})
	}
}

func TestRegistryForContentType(t *testing.T) {
	t.Parallel()
	reg := NewDefaultRegistry(Options{})
	tests := []struct {
		contentType string
		codec       string
		version     int
		kind        problem.Kind
	}{
		{contentType: "application/json", codec: "json"},
		{contentType: "application/json; charset=utf-8", codec: "json"},
		{contentType: "application/x-msgpack", codec: "msgpack"},
		{contentType: "application/msgpack;version=3", codec: "msgpack", version: 3},
		{contentType: "APPLICATION/CBOR", codec: "cbor"},
		{contentType: "application/x-gob", codec: "gob"},
		{contentType: "application/json; version=0", codec: "json", version: NoVersion},
		{contentType: "application/json; version", kind: problem.Invalid},
		{contentType: "text/plain", kind: problem.UnsupportedMedia},
		{contentType: "application/jsonl", kind: problem.UnsupportedMedia},
		{contentType: "", kind: problem.UnsupportedMedia},
	}
	for _, tc := range tests {
		t.Run(tc.contentType, func(t *testing.T) {
			t.Parallel()
			c, version, err := reg.ForContentType(tc.contentType)
			if tc.codec == "" {
				p, ok := problem.As(err)
				if !ok || p.Kind != tc.kind {
					t.Fatalf("ForContentType(%q) error = %v, want kind %v", tc.contentType, err, tc.kind)
				}
				if tc.kind == problem.UnsupportedMedia && !slices.Equal(p.Extra["supported"].([]string), reg.Supported()) {
					t.Errorf("ForContentType(%q) supported = %v, want %v", tc.contentType, p.Extra["supported"], reg.Supported())
				}
				return
			}
			if err != nil || c.Name() != tc.codec || version != tc.version {
				t.Errorf("ForContentType(%q) = %v version %d, %v; want %s version %d", tc.contentType, c, version, err, tc.codec, tc.version)
			}
		})
	}
}

func TestRegistryNegotiate(t *testing.T) {
	t.Parallel()
	reg := NewDefaultRegistry(Options{})
	c, ch, err := reg.Negotiate("application/x-msgpack;version=2", nil, 0)
	if err != nil || c.Name() != "msgpack" || ch.MediaType != "application/x-msgpack" || ch.Version != 2 {
		t.Errorf("Negotiate(x-msgpack) = %v, %+v, %v; want msgpack as application/x-msgpack version 2", c, ch, err)
	}
	s, ch, err := reg.NegotiateStream("application/x-ndjson, application/cbor-seq;q=0.5", nil, 0)
	if err != nil || s.Name() != "jsonl" || ch.MediaType != MediaTypeNDJSON {
		t.Errorf("NegotiateStream(x-ndjson) = %v, %+v, %v; want jsonl as %s", s, ch, err, MediaTypeNDJSON)
	}
	s, _, err = reg.NegotiateStream("*/*", nil, 0)
	if err != nil || s.Name() != "jsonl" {
		t.Errorf("NegotiateStream(*/*) = %v, %v; want jsonl", s, err)
	}
	_, _, err = reg.NegotiateStream("application/json", nil, 0)
	if !problem.Is(err, problem.NotAcceptable) {
		t.Errorf("NegotiateStream(application/json) error = %v, want not acceptable", err)
	}
}

func BenchmarkChoose(b *testing.B) {
	for _, bc := range []struct{ name, accept string }{
		{"absent", ""},
		{"any", "*/*"},
		{"single", "application/cbor"},
		{"chrome", chromeNavigate},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Choose(bc.accept, recordOffers); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzParseAccept(f *testing.F) {
	for _, s := range []string{
		"", "*/*", chromeNavigate, firefoxNavigate, xhrJSON, firefoxImage,
		"application/json;q=0, */*", "application/x-msgpack;version=2", `application/json;version="3"`,
		"text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, */*;q=0.5",
		"application/", ";q=2", "q=abc", ",,,", "\xff", `a/b;c="\"`, "a/b;q=1.000;q=0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got, err := Choose(accept, recordOffers)
		if err != nil {
			if k := problem.KindOf(err); k != problem.Invalid && k != problem.NotAcceptable {
				t.Fatalf("Choose(%q) error kind %v: %v", accept, k, err)
			}
			return
		}
		if got.Offer < 0 || got.Offer >= len(recordOffers) {
			t.Fatalf("Choose(%q) offer %d out of range", accept, got.Offer)
		}
		o := recordOffers[got.Offer]
		if got.MediaType != o.MediaType && !slices.Contains(o.Aliases, got.MediaType) {
			t.Fatalf("Choose(%q) = %q, not a name of offer %d", accept, got.MediaType, got.Offer)
		}
		if got.Version < 0 {
			t.Fatalf("Choose(%q) version %d", accept, got.Version)
		}
	})
}

// testResource is a schema named name with versions 1 to latest.
type testResource struct {
	name   string
	latest int
}

func (r testResource) Name() string   { return r.name }
func (r testResource) Has(v int) bool { return v >= 1 && v <= r.latest }

func TestChooseVersion(t *testing.T) {
	t.Parallel()
	res := testResource{name: "order", latest: 2}
	tests := []struct {
		accept      string
		wantType    string
		wantVersion int
		fails       bool
	}{
		{"application/json;version=2", "application/json", 2, false},
		{"application/cbor;version=3, application/json;q=0.1", "application/json", 0, false},
		{"application/json;version=3;q=0, application/json", "application/json", 0, false},
		{"application/json;version=3", "application/json", 3, false}, // only a missing version: the caller answers with the versions
		{"application/json;version=3, text/html", "application/json", 3, false},
		{"text/html", "", 0, true},
		{"application/json;version=abc, application/cbor", "application/cbor", 0, false},
		{"*/*;version=1", "application/json", 1, false},
		{"application/json;schema=order;version=2", "application/json", 2, false},
		{"application/json;schema=other, application/cbor;schema=order", "application/cbor", 0, false},
		{"application/json;schema=other;version=1, application/cbor;q=0.5", "application/cbor", 0, false},
		{"application/json;schema=other;version=1", "", 0, true},
		{"application/json;schema=other", "", 0, true},
		{"application/json;schema=Order", "", 0, true},
		// A range naming the default version weighs it too.
		{"application/json;version=2;q=0, application/json", "", 0, true},
		{"application/json;version=2;q=0, application/json, application/cbor;q=0.5", "application/cbor", 0, false},
		{"application/json;version=2;q=0.2, application/json;version=1;q=0.5, application/json", "application/json", 1, false},
		// The type is weighed first, then version=, then other parameters.
		{"application/json;version=2;q=0, */*;version=2", "application/vnd.msgpack", 2, false},
		{"application/json;q=0, */*;version=2", "application/vnd.msgpack", 2, false},
		{"application/json;version=1;q=0, application/*;version=1", "application/vnd.msgpack", 1, false},
		{"application/json;version=2;q=0.2, */*;version=2;q=0.3, application/cbor;version=2;q=0.25", "application/vnd.msgpack", 2, false},
		{"application/json;version=1;schema=order;q=0, application/json;version=1;q=0.5", "", 0, true},
		{"application/json;version=1;schema=order;q=0.2, application/json;version=1;q=0.9, application/cbor;version=1;q=0.5", "application/cbor", 1, false},
		{"application/json;schema=order;version=2;q=0, application/json;schema=order", "", 0, true},
		{"application/json;version=2;q=0, application/json;charset=utf-8", "", 0, true},
		// The default wins a tie with a version whose weight a range
		// without a version sets.
		{"*/*;version=1;q=0, application/json", "application/json", 0, false},
		{"application/*;version=1;q=0.3, application/json", "application/json", 0, false},
	}
	for _, tc := range tests {
		got, err := ChooseVersion(tc.accept, recordOffers, res, 2)
		if tc.fails {
			if !problem.Is(err, problem.NotAcceptable) {
				t.Errorf("ChooseVersion(%q) = %+v, %v; want not acceptable", tc.accept, got, err)
			}
			continue
		}
		if err != nil || got.MediaType != tc.wantType || got.Version != tc.wantVersion {
			t.Errorf("ChooseVersion(%q) = %+v, %v; want %s version %d", tc.accept, got, err, tc.wantType, tc.wantVersion)
		}
	}
}

// TestChooseVersionTieGoesToLatest lists versions weighed alike in either
// order: the latest of them wins, as the default would, whatever the
// order of the header.
func TestChooseVersionTieGoesToLatest(t *testing.T) {
	t.Parallel()
	res := testResource{name: "order", latest: 4}
	for _, tc := range []struct {
		accept string
		want   int
	}{
		{"application/json;version=1, application/json;version=2", 2},
		{"application/json;version=2, application/json;version=1", 2},
		{"application/json;version=1, application/json;version=3, application/json;version=2", 3},
		{"application/json;version=1, application/json;version=2;q=0.9", 1},
		{"application/json;version=1, application/json", 1},           // named more specifically
		{"application/json;version=1, application/cbor;version=3", 1}, // formats first
	} {
		got, err := ChooseVersion(tc.accept, recordOffers, res, 4)
		if err != nil || got.Version != tc.want {
			t.Errorf("ChooseVersion(%q) = %+v, %v; want version %d", tc.accept, got, err, tc.want)
		}
	}
}

func TestContentTypeSchema(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]string{
		"application/json":                          "",
		"application/json; version=2":               "",
		"application/json; schema=order; version=2": "order",
		`application/cbor;schema="order"`:           "order",
		"application/json; schema=":                 "",
		"application/json;;":                        "",
	} {
		if got := ContentTypeSchema(ct); got != want {
			t.Errorf("ContentTypeSchema(%q) = %q, want %q", ct, got, want)
		}
	}
}
