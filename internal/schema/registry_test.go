package schema

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
)

func TestRegistryPersistence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newMemStore()
	r := NewRegistry(st)
	clock := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	r.now = func() time.Time { clock = clock.Add(time.Hour); return clock }
	for _, d := range []string{orderV1, orderV2, `{"name":"alpha","version":1,"compatibility":"NONE","fields":{"x":{"type":"int"}}}`} {
		if _, err := r.Register(ctx, mustParse(t, d), false); err != nil {
			t.Fatal(err)
		}
	}
	r2 := NewRegistry(st)
	if err := r2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r2.Schemas() {
		names = append(names, s.Name())
	}
	if !reflect.DeepEqual(names, []string{"alpha", "order"}) {
		t.Fatalf("Schemas() after Load = %v, want [alpha order]", names)
	}
	a, _ := r2.Schema("alpha")
	if a.Compatibility() != None {
		t.Errorf("alpha mode = %s, want NONE", a.Compatibility())
	}
	o1, _ := r.Schema("order")
	o2, _ := r2.Schema("order")
	if !reflect.DeepEqual(o2.Versions(), []int{1, 2}) || !reflect.DeepEqual(o1.Changelog(), o2.Changelog()) {
		t.Fatalf("after Load versions %v changelog %v, want %v", o2.Versions(), o2.Changelog(), o1.Changelog())
	}
	// Each version keeps when it was registered, to the second.
	for _, n := range []int{1, 2} {
		v1, _ := o1.Version(n)
		v2, _ := o2.Version(n)
		want := time.Date(2026, 3, 4, 5+n, 6, 7, 0, time.UTC)
		if !v1.Registered().Equal(want) || !v2.Registered().Equal(want) {
			t.Errorf("order v%d registered at %v, and %v after Load; want %v", n, v1.Registered(), v2.Registered(), want)
		}
	}
	if o1.Latest().Type() != o2.Latest().Type() {
		// Different registries compile separately, but reflect.StructOf
		// gives identical field lists the same type.
		t.Error("the same definition compiled to two types")
	}
	// A record written through one registry reads through the other.
	d := mustWrite(t, o1, recordAt(t, o1, 1, orderBodyV1), 1, nil)
	if got, want := viewJSON(t, o2, d, 1), viewJSON(t, o1, d, 1); got != want {
		t.Errorf("view after Load = %s, want %s", got, want)
	}
	// The next version continues from what was loaded.
	v3 := strings.Replace(orderV2, `"version":2`, `"version":3`, 1)
	v3 = v3[:strings.Index(v3, `,
 "migrate"`)] + "}"
	if _, err := r2.Register(ctx, mustParse(t, v3), false); err != nil {
		t.Fatalf("Register v3 after Load = %v %q", err, problemLists(err))
	}
}

type failingStore struct {
	*memStore
	err error
}

func (f failingStore) PutSchemaVersion(context.Context, string, int, []byte) error { return f.err }
func (f failingStore) SchemaNames(context.Context) ([]string, error)               { return nil, f.err }

func TestRegistryStoreErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	r := NewRegistry(failingStore{newMemStore(), boom})
	if _, err := r.Register(context.Background(), mustParse(t, orderV1), false); !errors.Is(err, boom) {
		t.Fatalf("Register with a failing store = %v, want it to wrap the store's error", err)
	}
	if _, err := r.Schema("order"); err == nil {
		t.Fatal("a registration the store refused is visible")
	}
	if err := r.Load(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Load with a failing store = %v", err)
	}
}

func TestLoadCorruptStore(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	st.versions["x"] = map[int][]byte{1: []byte(`{"name":"x","version":1,"fields":{"a":{"type":"int"}}}`), 3: []byte(`{"name":"x","version":3,"fields":{"a":{"type":"int"}}}`)}
	if err := NewRegistry(st).Load(context.Background()); err == nil || !strings.Contains(err.Error(), "not next") {
		t.Fatalf("Load with a gap in versions = %v, want an error saying the version is not next", err)
	}
}

func writeFiles(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func TestLoadDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	yamlV1 := "name: order\nversion: 1\nfields:\n  customer: {type: string, validate: \"required,email\"}\n  amount: {type: int, validate: gte=0}\n  placed_at: {type: time}\n  paid: {type: bool}\n  note: {type: string, optional: true}\n  legacy_code: {type: string}\n  items:\n    type: array\n    validate: max=100,dive\n    items:\n      type: object\n      fields:\n        sku: {type: string, validate: required}\n        qty: {type: int, validate: min=1}\n  attrs: {type: map, values: {type: string}}\n  blob: {type: bytes, optional: true}\n"
	good := map[string]string{
		"b-order-2.json":  orderV2,
		"a-order-1.yaml":  yamlV1,
		"other.yml":       "name: other\nversion: 1\nfields:\n  x: {type: int}\n",
		"README.md":       "not a schema",
		"z-order-1b.json": orderV1, // the same version again, identical
	}
	dir := writeFiles(t, good)
	st := newMemStore()
	r := NewRegistry(st)
	if err := r.LoadDir(ctx, dir); err != nil {
		t.Fatalf("LoadDir = %v", err)
	}
	s, err := r.Schema("order")
	if err != nil || s.Latest().Number() != 2 {
		t.Fatalf("after LoadDir order = %v, %v; want version 2", s, err)
	}
	if _, err := r.Schema("other"); err != nil {
		t.Fatal(err)
	}
	puts := st.puts
	// Loading again is a no-op, also in a new registry over the same store.
	if err := r.LoadDir(ctx, dir); err != nil {
		t.Fatalf("second LoadDir = %v", err)
	}
	r2 := NewRegistry(st)
	if err := r2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r2.LoadDir(ctx, dir); err != nil {
		t.Fatalf("LoadDir after Load = %v", err)
	}
	if st.puts != puts {
		t.Fatalf("reloading stored %d more versions", st.puts-puts)
	}

	bad := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"changed definition", map[string]string{"o.json": strings.Replace(orderV1, `"gte=0"`, `"gte=1"`, 1)}, []string{"o.json", "registered with a different definition", "field 'amount' differs"}},
		{"bad json", map[string]string{"broken.json": `{"name":`}, []string{"broken.json", "not valid"}},
		{"bad yaml", map[string]string{"broken.yaml": "name: [x"}, []string{"broken.yaml", "YAML"}},
		{"invalid definition", map[string]string{"bad.json": fields(`"x":{"type":"int","validate":"foo"}`)}, []string{"bad.json", "unknown rule 'foo'"}},
		{"version gap", map[string]string{"o3.json": strings.Replace(orderV2, `"version":2`, `"version":4`, 1)}, []string{"o3.json", "version 4 is not next"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRegistry(st)
			if err := r.Load(ctx); err != nil {
				t.Fatal(err)
			}
			err := r.LoadDir(ctx, writeFiles(t, tc.files))
			if err == nil {
				t.Fatalf("LoadDir(%v) succeeded, want an error", tc.files)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("LoadDir error %q does not contain %q", err, w)
				}
			}
		})
	}
	if err := NewRegistry(newMemStore()).LoadDir(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Fatal("LoadDir of a missing folder succeeded")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRegistry(newMemStore())
	ctx := context.Background()
	if _, err := r.Register(ctx, mustParse(t, orderV1), false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Go(func() {
			_, results[i] = r.Register(ctx, mustParse(t, orderV2), false)
		})
		wg.Go(func() {
			s, err := r.Schema("order")
			if err != nil {
				t.Error(err)
				return
			}
			d := mustWrite(t, s, recordAt(t, s, 1, orderBodyV1), 1, nil)
			if _, err := s.View(d, 1); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case !problem.Is(err, problem.Conflict):
			t.Errorf("concurrent Register = %v, want success or conflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent registrations of version 2 succeeded, want 1", ok)
	}
}
