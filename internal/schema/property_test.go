package schema

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/ferry-dev/ferry/internal/gobcheck"
	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/problem"
)

// gen makes random definitions and records from a seeded source.
type gen struct {
	r     *rand.Rand
	names int
	// noZeroTime avoids the zero time, which the CBOR codec of package
	// negotiate writes as null (github.com/fxamacker/cbor/v2 does so
	// whatever its options), so that it comes back absent.
	noZeroTime bool
}

func (g *gen) name() string {
	g.names++
	if g.r.Intn(3) == 0 {
		return fmt.Sprintf("f_%d_x", g.names)
	}
	return fmt.Sprintf("f%d", g.names)
}

var scalarTypes = []string{"string", "int", "float", "bool", "time", "bytes"}

// fields returns 1 to 4 random fields; depth limits nesting.
func (g *gen) fields(depth int) map[string]*Field {
	m := map[string]*Field{}
	for range 1 + g.r.Intn(4) {
		m[g.name()] = g.field(depth, true)
	}
	return m
}

func (g *gen) field(depth int, top bool) *Field {
	types := scalarTypes
	if depth < 3 {
		types = append(slices.Clone(scalarTypes), "object", "array", "map")
	}
	f := &Field{Type: types[g.r.Intn(len(types))]}
	switch f.Type {
	case "object":
		f.Fields = g.fields(depth + 1)
	case "array":
		f.Items = g.field(depth+1, false)
	case "map":
		f.Values = g.field(depth+1, false)
	case "string":
		if g.r.Intn(4) == 0 {
			f.Validate = "max=64"
		}
	}
	if !top {
		return f
	}
	switch g.r.Intn(6) {
	case 0, 1:
		f.Optional = true
	case 2:
		if f.Type != "object" {
			f.Default = mustJSON(g.value(f))
		}
	}
	return f
}

func mustJSON(x any) []byte {
	b, err := json.Marshal(x)
	if err != nil {
		panic(err)
	}
	return b
}

// value returns a random value of f's type in plain form.
func (g *gen) value(f *Field) any {
	r := g.r
	switch f.Type {
	case "string":
		return []string{"", "a", "héllo wörld", "日本語", "line\nbreak\u2028", strings.Repeat("z", 40), `quote"back\slash`}[r.Intn(7)]
	case "int":
		return []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1<<53 + 1, -(1<<53 + 1), r.Int63(), -r.Int63()}[r.Intn(9)]
	case "float":
		return []float64{0, 1.5, -2.25, 0.1, 1e300, 5e-324, math.MaxFloat64, 1 << 60, r.NormFloat64() * 1e6}[r.Intn(9)]
	case "bool":
		return r.Intn(2) == 0
	case "time":
		if r.Intn(5) == 0 && !g.noZeroTime {
			return time.Time{}
		}
		return time.Unix(r.Int63n(4102444800), r.Int63n(1e9)).UTC()
	case "bytes":
		b := make([]byte, r.Intn(6))
		r.Read(b)
		return b
	case "object":
		return g.object(f.Fields)
	case "array":
		s := make([]any, r.Intn(4))
		for i := range s {
			s[i] = g.value(f.Items)
		}
		return s
	case "map":
		m := map[string]any{}
		for range r.Intn(4) {
			m[g.value(&Field{Type: "string"}).(string)] = g.value(f.Values)
		}
		return m
	}
	panic(f.Type)
}

func (g *gen) object(fs map[string]*Field) map[string]any {
	m := map[string]any{}
	for _, name := range sortedKeys(fs) {
		f := fs[name]
		if (f.Optional || f.Default != nil) && g.r.Intn(3) == 0 {
			continue
		}
		m[name] = g.value(f)
	}
	return m
}

// equalPlain compares plain forms, times by instant.
func equalPlain(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, x := range a {
			y, ok := bm[k]
			if !ok || !equalPlain(x, y) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !equalPlain(a[i], bs[i]) {
				return false
			}
		}
		return true
	case []byte:
		bb, ok := b.([]byte)
		return ok && bytes.Equal(a, bb)
	case time.Time:
		bt, ok := b.(time.Time)
		return ok && a.Equal(bt)
	}
	return a == b
}

// gobNormal is what a record's plain form becomes through gob, which
// leaves zero values off the wire: an optional field holding "", 0,
// false, empty bytes or an empty array arrives absent.
func gobNormal(n *node, x any) any {
	switch n.kind {
	case kindObject:
		m := x.(map[string]any)
		out := make(map[string]any, len(m))
		for _, f := range n.fields {
			v, ok := m[f.name]
			if !ok {
				continue
			}
			if f.optional && gobZero(v) {
				continue
			}
			out[f.name] = gobNormal(f.node, v)
		}
		return out
	case kindArray:
		s := x.([]any)
		out := make([]any, len(s))
		for i := range s {
			out[i] = gobNormal(n.elem, s[i])
		}
		return out
	case kindMap:
		m := x.(map[string]any)
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = gobNormal(n.elem, v)
		}
		return out
	}
	return x
}

func gobZero(x any) bool {
	switch x := x.(type) {
	case string:
		return x == ""
	case int64:
		return x == 0
	case float64:
		return x == 0
	case bool:
		return !x
	case []byte:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// randomSchema registers a random one-version schema made by g, which then
// makes records for it (randomRecord).
func randomSchema(tb testing.TB, g *gen) (*Schema, *Definition) {
	tb.Helper()
	def := &Definition{Name: "p", Version: 1, Fields: g.fields(0)}
	r := NewRegistry(newMemStore())
	if _, err := r.Register(context.Background(), def, false); err != nil {
		tb.Fatalf("Register(%s) = %v %q", mustJSON(def), err, problemLists(err))
	}
	s, _ := r.Schema("p")
	return s, def
}

// randomRecord makes a random version-1 record of the schema def.
func (g *gen) randomRecord(tb testing.TB, s *Schema, def *Definition) any {
	tb.Helper()
	v, _ := s.Version(1)
	rec, err := v.FromMap(g.object(def.Fields), false)
	if err != nil {
		tb.Fatalf("FromMap = %v %q", err, problemLists(err))
	}
	return rec
}

func codecs(tb testing.TB) []negotiate.Codec {
	tb.Helper()
	return negotiate.NewDefaultRegistry(negotiate.Options{Gob: gobcheck.NewVetter(gobcheck.Limits{})}).Codecs()
}

// roundTrip encodes rec with c, decodes it into a new wire struct of v and
// validates it.
func roundTrip(v *Version, c negotiate.Codec, rec any) (any, error) {
	b, err := c.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("%s encode: %w", c.Name(), err)
	}
	w := v.New()
	if err := c.Decode(b, w); err != nil {
		return nil, fmt.Errorf("%s decode %q: %w", c.Name(), b, err)
	}
	return v.Validate(w, c.Name() == "gob")
}

// TestPropertyFormats round-trips random records of random schemas through
// every (write format, read format) pair of Ferry's codecs.
func TestPropertyFormats(t *testing.T) {
	t.Parallel()
	cs := codecs(t)
	if len(cs) != 4 {
		t.Fatalf("the default registry has %d codecs, want 4", len(cs))
	}
	for seed := range int64(40) {
		g := &gen{r: rand.New(rand.NewSource(seed)), noZeroTime: true}
		def := &Definition{Name: "p", Version: 1, Fields: g.fields(0)}
		r := NewRegistry(newMemStore())
		v, err := r.Register(context.Background(), def, false)
		if err != nil {
			t.Fatalf("seed %d: Register(%s) = %v %q", seed, mustJSON(def), err, problemLists(err))
		}
		for i := range 5 {
			in := g.object(def.Fields)
			rec, err := v.FromMap(in, false)
			if err != nil {
				t.Fatalf("seed %d: FromMap(%v) = %v %q %v", seed, in, err, problemLists(err), fieldErrs(err))
			}
			want, _ := v.ToMap(rec)
			for _, wc := range cs {
				for _, rc := range cs {
					mid, err := roundTrip(v, wc, rec)
					if err != nil {
						t.Fatalf("seed %d record %d: write as %s: %v %v\nschema %s", seed, i, wc.Name(), err, fieldErrs(err), mustJSON(def))
					}
					out, err := roundTrip(v, rc, mid)
					if err != nil {
						t.Fatalf("seed %d record %d: %s then %s: %v %v", seed, i, wc.Name(), rc.Name(), err, fieldErrs(err))
					}
					got, _ := v.ToMap(out)
					exp := any(want)
					if wc.Name() == "gob" || rc.Name() == "gob" {
						exp = gobNormal(v.c.root, want)
					}
					if !equalPlain(got, exp) {
						t.Fatalf("seed %d record %d: %s then %s gave\n%v\nwant\n%v\nschema %s", seed, i, wc.Name(), rc.Name(), got, exp, mustJSON(def))
					}
				}
			}
		}
	}
}

// chain makes random versions 2…n from def by random steps, each version
// a copy of the one before.
func (g *gen) chain(def *Definition, n int) []*Definition {
	defs := []*Definition{def}
	for v := 2; v <= n; v++ {
		next := defs[len(defs)-1].clone()
		next.Version = v
		next.Migrate = nil
		touched := map[string]bool{}
		for range 1 + g.r.Intn(3) {
			if st, ok := g.step(next, touched); ok {
				next.Migrate = append(next.Migrate, st)
			}
		}
		defs = append(defs, next)
	}
	return defs
}

type fieldRef struct {
	path   string
	parent map[string]*Field
	name   string
}

// refs lists the fields reachable through objects, and the objects.
func refs(fs map[string]*Field, prefix string, fields *[]fieldRef, objects *[]fieldRef) {
	*objects = append(*objects, fieldRef{path: prefix, parent: fs})
	for _, name := range sortedKeys(fs) {
		p := child(prefix, name)
		*fields = append(*fields, fieldRef{path: p, parent: fs, name: name})
		if fs[name].Type == "object" {
			refs(fs[name].Fields, p, fields, objects)
		}
	}
}

func (g *gen) step(d *Definition, touched map[string]bool) (Step, bool) {
	var fields, objects []fieldRef
	refs(d.Fields, "", &fields, &objects)
	var free []fieldRef
	for _, f := range fields {
		clash := false
		for p := range touched {
			if f.path == p || strings.HasPrefix(f.path, p+".") || strings.HasPrefix(p, f.path+".") {
				clash = true
			}
		}
		if !clash {
			free = append(free, f)
		}
	}
	obj := objects[g.r.Intn(len(objects))]
	switch g.r.Intn(4) {
	case 0: // rename, maybe into another object
		if len(free) == 0 {
			return Step{}, false
		}
		f := free[g.r.Intn(len(free))]
		if len(f.parent) == 1 || strings.HasPrefix(obj.path+".", f.path+".") {
			return Step{}, false
		}
		name := g.name()
		obj.parent[name] = f.parent[f.name]
		delete(f.parent, f.name)
		touched[f.path], touched[child(obj.path, name)] = true, true
		return Step{Op: OpRename, From: f.path, To: child(obj.path, name)}, true
	case 1: // add
		name := g.name()
		nf := g.field(1, true)
		nf.Default = nil
		st := Step{Op: OpAdd, Field: child(obj.path, name)}
		if !nf.Optional {
			st.Default = mustJSON(g.value(nf))
		}
		obj.parent[name] = nf
		touched[st.Field] = true
		return st, true
	case 2: // remove
		if len(free) == 0 {
			return Step{}, false
		}
		f := free[g.r.Intn(len(free))]
		if len(f.parent) == 1 {
			return Step{}, false
		}
		st := Step{Op: OpRemove, Field: f.path}
		if !f.parent[f.name].Optional {
			st.Default = mustJSON(g.value(f.parent[f.name]))
		}
		delete(f.parent, f.name)
		touched[f.path] = true
		return st, true
	default: // retype
		var cands []fieldRef
		for _, f := range free {
			if t := f.parent[f.name].Type; t == "int" || t == "float" || t == "time" {
				cands = append(cands, f)
			}
		}
		if len(cands) == 0 {
			return Step{}, false
		}
		f := cands[g.r.Intn(len(cands))]
		old := f.parent[f.name]
		to := "string"
		if old.Type == "int" && g.r.Intn(2) == 0 {
			to = "float"
		}
		nf := *old
		nf.Type, nf.Default, nf.Validate = to, nil, ""
		f.parent[f.name] = &nf
		touched[f.path] = true
		return Step{Op: OpRetype, Field: f.path, To: to}, true
	}
}

// TestPropertyConversions checks, over random chains of versions, that a
// record written at a version and read back at it is unchanged, and that
// writing at i, reading at j, writing that back at j and reading at i
// again changes nothing.
func TestPropertyConversions(t *testing.T) {
	t.Parallel()
	const versions = 4
	identity, lossless := 0, 0
	for seed := range int64(60) {
		g := &gen{r: rand.New(rand.NewSource(1000 + seed))}
		first := &Definition{Name: "c", Version: 1, Compatibility: None, Fields: g.fields(1)}
		defs := g.chain(first, versions)
		r := NewRegistry(newMemStore())
		for _, d := range defs {
			if _, err := r.Register(context.Background(), d, false); err != nil {
				t.Fatalf("seed %d: Register v%d %s = %v %q", seed, d.Version, mustJSON(d), err, problemLists(err))
			}
		}
		s, _ := r.Schema("c")
		describe := func() string {
			var b strings.Builder
			for _, d := range defs {
				b.Write(mustJSON(d))
				b.WriteByte('\n')
			}
			return b.String()
		}
		for range 8 {
			i := 1 + g.r.Intn(versions)
			j := 1 + g.r.Intn(versions)
			vi, _ := s.Version(i)
			rec, err := vi.FromMap(g.object(defs[i-1].Fields), false)
			if err != nil {
				t.Fatalf("seed %d: FromMap at v%d: %v %q", seed, i, err, problemLists(err))
			}
			want, _ := vi.ToMap(rec)
			d1, err := s.Write(rec, i, nil)
			if unupgradable(err, i, versions) {
				continue
			}
			if err != nil {
				t.Fatalf("seed %d: Write at v%d of %v: %v %v\n%s", seed, i, want, err, fieldErrs(err), describe())
			}
			back, err := s.MergeBase(d1, i, nil)
			if err != nil {
				t.Fatalf("seed %d: View(v%d) of a v%d write: %v\n%s", seed, i, i, err, describe())
			}
			if got, _ := vi.ToMap(back); !equalPlain(got, want) {
				t.Fatalf("seed %d: v%d write read at v%d =\n%v\nwant\n%v\n%s", seed, i, i, got, want, describe())
			}
			identity++
			// The document survives storage.
			bin, err := d1.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var stored Doc
			if err := stored.UnmarshalBinary(bin); err != nil {
				t.Fatal(err)
			}
			viewJ, err := s.MergeBase(&stored, j, nil)
			if problem.Is(err, problem.NotAcceptable) {
				continue // a value that cannot go down exactly
			}
			if err != nil {
				t.Fatalf("seed %d: View(v%d) of a v%d write: %v\n%s", seed, j, i, err, describe())
			}
			d2, err := s.Write(viewJ, j, &stored)
			if unupgradable(err, j, versions) {
				continue
			}
			if err != nil {
				t.Fatalf("seed %d: Write at v%d of the v%d view: %v %v\n%s", seed, j, j, err, fieldErrs(err), describe())
			}
			again, err := s.MergeBase(d2, i, nil)
			if err != nil {
				t.Fatalf("seed %d: View(v%d) after writing back at v%d: %v\n%s", seed, i, j, err, describe())
			}
			if got, _ := vi.ToMap(again); !equalPlain(got, want) {
				t.Fatalf("seed %d: write v%d, read v%d, write v%d, read v%d =\n%v\nwant\n%v\n%s", seed, i, j, j, i, got, want, describe())
			}
			lossless++
		}
	}
	// Skipped cases must not hollow the test out.
	if identity < 300 || lossless < 200 {
		t.Fatalf("only %d identity and %d lossless checks of 480 ran", identity, lossless)
	}
	t.Logf("%d identity and %d lossless checks", identity, lossless)
}

// unupgradable reports whether err says that a record written at version
// from lacks what the latest version requires: under NONE a chain may
// make some records impossible to upgrade (BACKWARD would refuse it).
func unupgradable(err error, from, latest int) bool {
	if !problem.Is(err, problem.Unprocessable) || from == latest {
		return false
	}
	for _, f := range problemFields(err) {
		if f.Rule != "present" || f.Version != latest {
			return false
		}
	}
	return true
}

// TestPropertyUpgradeMatchesWrite checks that upgrading a document stored
// at an older latest version gives what a write at that version gives.
func TestPropertyUpgradeMatchesWrite(t *testing.T) {
	t.Parallel()
	for seed := range int64(20) {
		g := &gen{r: rand.New(rand.NewSource(2000 + seed))}
		defs := g.chain(&Definition{Name: "u", Version: 1, Compatibility: None, Fields: g.fields(1)}, 3)
		r := NewRegistry(newMemStore())
		if _, err := r.Register(context.Background(), defs[0], false); err != nil {
			t.Fatal(err)
		}
		old, _ := r.Schema("u")
		rec, err := old.Latest().FromMap(g.object(defs[0].Fields), false)
		if err != nil {
			t.Fatal(err)
		}
		d := mustWrite(t, old, rec, 1, nil)
		for _, def := range defs[1:] {
			if _, err := r.Register(context.Background(), def, false); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := r.Schema("u")
		up, err := s.Upgrade(d)
		if unupgradable(err, 1, 3) {
			continue
		}
		if err != nil {
			t.Fatalf("seed %d: Upgrade: %v %v", seed, err, fieldErrs(err))
		}
		direct := mustWrite(t, s, rec, 1, nil)
		if !equalPlain(up.Data, direct.Data) || !maps.EqualFunc(up.Kept, direct.Kept, func(a, b any) bool { return equalPlain(a, b) }) {
			t.Fatalf("seed %d: Upgrade = %+v, want %+v", seed, up, direct)
		}
	}
}
