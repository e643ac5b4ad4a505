package records

import (
	"context"
	"testing"

	"github.com/ferry-dev/ferry/internal/pebblestore"
	"github.com/ferry-dev/ferry/internal/schema"
)

// testService opens a store in a temporary directory, closed when the
// test ends, and returns it with a Service on it and register, which adds
// a schema version from its JSON definition.
func testService(t *testing.T) (st *pebblestore.Store, svc *Service, register func(def string) *schema.Version) {
	t.Helper()
	ctx := context.Background()
	st, err := pebblestore.Open(ctx, t.TempDir(), pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg := schema.NewRegistry(st)
	register = func(def string) *schema.Version {
		t.Helper()
		d, err := schema.ParseDefinition([]byte(def), false)
		if err != nil {
			t.Fatal(err)
		}
		v, err := reg.Register(ctx, d, false)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return st, New(st, reg, Options{}), register
}
