package schema

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/internal/problem"
)

// memStore is an in-memory Store.
type memStore struct {
	mu       sync.Mutex
	versions map[string]map[int][]byte
	meta     map[string][]byte
	// puts counts PutSchemaVersion calls.
	puts int
}

func newMemStore() *memStore {
	return &memStore{versions: map[string]map[int][]byte{}, meta: map[string][]byte{}}
}

func (m *memStore) PutSchemaVersion(_ context.Context, name string, version int, def []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.versions[name] == nil {
		m.versions[name] = map[int][]byte{}
	}
	m.versions[name][version] = slices.Clone(def)
	return nil
}

func (m *memStore) SchemaVersions(_ context.Context, name string) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, b := range m.versions[name] {
		out = append(out, b)
	}
	return out, nil
}

func (m *memStore) SchemaNames(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.versions)), nil
}

func (m *memStore) PutSchemaMeta(_ context.Context, name string, meta []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meta[name] = slices.Clone(meta)
	return nil
}

func (m *memStore) SchemaMeta(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.meta[name]
	if !ok {
		return nil, problem.New(problem.NotFound, "no meta")
	}
	return b, nil
}

// mustParse parses a JSON definition.
func mustParse(tb testing.TB, js string) *Definition {
	tb.Helper()
	d, err := ParseDefinition([]byte(js), false)
	if err != nil {
		tb.Fatalf("ParseDefinition(%s): %v", js, err)
	}
	return d
}

// mustRegister registers JSON definitions in order on a fresh registry
// and returns it with the schema of the last one.
func mustRegister(tb testing.TB, defs ...string) (*Registry, *Schema) {
	tb.Helper()
	r := NewRegistry(newMemStore())
	var name string
	for _, js := range defs {
		d := mustParse(tb, js)
		if _, err := r.Register(context.Background(), d, false); err != nil {
			tb.Fatalf("Register(%s): %v %v", js, err, problemLists(err))
		}
		name = d.Name
	}
	s, err := r.Schema(name)
	if err != nil {
		tb.Fatal(err)
	}
	return r, s
}

// problemLists returns the errors or violations a problem lists.
func problemLists(err error) []string {
	p, ok := problem.As(err)
	if !ok {
		return nil
	}
	for _, k := range []string{"errors", "violations"} {
		if l, ok := p.Extra[k].([]string); ok {
			return l
		}
	}
	return nil
}

// containsAll reports whether some entry of list contains each of subs.
func containsAll(list []string, subs ...string) bool {
	for _, s := range list {
		ok := true
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// problemFields returns the field errors of a problem.
func problemFields(err error) []problem.FieldError {
	if p, ok := problem.As(err); ok {
		return p.Fields
	}
	return nil
}

// The order schema of API.md §2, at versions 1 and 2.
const orderV1 = `{"name":"order","version":1,"fields":{
 "customer":{"type":"string","validate":"required,email"},
 "amount":{"type":"int","validate":"gte=0"},
 "placed_at":{"type":"time"},
 "paid":{"type":"bool"},
 "note":{"type":"string","optional":true},
 "legacy_code":{"type":"string"},
 "items":{"type":"array","validate":"max=100,dive","items":{"type":"object","fields":{
   "sku":{"type":"string","validate":"required"},"qty":{"type":"int","validate":"min=1"}}}},
 "attrs":{"type":"map","values":{"type":"string"}},
 "blob":{"type":"bytes","optional":true}}}`

const orderV2 = `{"name":"order","version":2,"fields":{
 "customer":{"type":"string","validate":"required,email"},
 "amount_cents":{"type":"int","validate":"gte=0"},
 "currency":{"type":"string","validate":"len=3"},
 "placed_at":{"type":"time"},
 "paid":{"type":"bool"},
 "note":{"type":"string","optional":true},
 "channel":{"type":"string","default":"web"},
 "items":{"type":"array","validate":"max=100,dive","items":{"type":"object","fields":{
   "sku":{"type":"string","validate":"required"},"qty":{"type":"int","validate":"min=1"}}}},
 "attrs":{"type":"map","values":{"type":"string"}},
 "blob":{"type":"bytes","optional":true}},
 "migrate":[{"op":"rename","from":"amount","to":"amount_cents"},
  {"op":"add","field":"currency","default":"EUR"},
  {"op":"add","field":"channel","default":"web"},
  {"op":"remove","field":"legacy_code","default":""}]}`
