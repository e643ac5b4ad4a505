package schema

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/go-playground/validator/v10"

	"github.com/ferry-dev/ferry/internal/problem"
)

// The compatibility modes, as in Confluent Schema Registry but over
// Ferry's migration steps.
const (
	Backward           = "BACKWARD"
	Forward            = "FORWARD"
	Full               = "FULL"
	BackwardTransitive = "BACKWARD_TRANSITIVE"
	ForwardTransitive  = "FORWARD_TRANSITIVE"
	FullTransitive     = "FULL_TRANSITIVE"
	None               = "NONE"
)

var modes = [...]string{Backward, Forward, Full, BackwardTransitive, ForwardTransitive, FullTransitive, None}

// IsMode reports whether s names a compatibility mode.
func IsMode(s string) bool { return slices.Contains(modes[:], s) }

// DefaultCompatibility is the mode of a schema whose first version names
// none.
const DefaultCompatibility = Backward

// Store is the persistence a Registry needs. Definitions and metadata are
// opaque bytes to it.
type Store interface {
	// PutSchemaVersion stores a version's definition. Storing the same
	// bytes again is not an error.
	PutSchemaVersion(ctx context.Context, name string, version int, def []byte) error
	// SchemaVersions returns every stored definition of a schema, in any
	// order.
	SchemaVersions(ctx context.Context, name string) ([][]byte, error)
	// SchemaNames returns the names of the stored schemas.
	SchemaNames(ctx context.Context) ([]string, error)
	// PutSchemaMeta replaces a schema's metadata (its compatibility mode
	// and the deprecation of its versions).
	PutSchemaMeta(ctx context.Context, name string, meta []byte) error
	// SchemaMeta returns a schema's metadata. When none is stored it
	// returns nil bytes and either a nil error or an error that
	// problem.Is classifies as problem.NotFound.
	SchemaMeta(ctx context.Context, name string) ([]byte, error)
}

// A Registry holds the schemas, compiles their versions and keeps them in
// a Store. It is safe for concurrent use: reads see a consistent snapshot
// and never wait for a registration.
type Registry struct {
	store Store
	valid *validator.Validate
	rules *ruleChecker
	now   func() time.Time

	// mu serialises changes (registration, modes, deprecation, loading).
	mu      sync.Mutex
	schemas atomic.Pointer[map[string]*Schema]

	// Compiled types are never freed by the runtime, so identical field
	// definitions, dry runs included, share one compilation.
	typesMu sync.Mutex
	types   map[[sha256.Size]byte]*compiled
}

// compiled is the result of compiling a definition's fields.
type compiled struct {
	root *node
	// params maps cross-field rule parameters in Go names back to the
	// schema names, for error reports.
	params map[string]string
	// defaulted says some field that is not optional has a default, at
	// any depth: only then can a null be one (see NullDefaults).
	defaulted bool
	// optionalContainers says some optional field is an array or a map,
	// at any depth: only then does View fill in empty ones.
	optionalContainers bool
	// times says some time field is not optional, at any depth: only then
	// can a CBOR null stand for the zero time (see NullTimes).
	times bool
}

// NewRegistry returns an empty registry persisting to st. Call Load to
// read what st holds.
func NewRegistry(st Store) *Registry {
	v := newValidator()
	r := &Registry{
		store: st,
		valid: v,
		rules: &ruleChecker{v: v},
		now:   time.Now,
		types: make(map[[sha256.Size]byte]*compiled),
	}
	r.schemas.Store(&map[string]*Schema{})
	return r
}

// Schema returns the schema of that name, or a problem.NotFound error.
func (r *Registry) Schema(name string) (*Schema, error) {
	if s := (*r.schemas.Load())[name]; s != nil {
		return s, nil
	}
	return nil, problem.New(problem.NotFound, "schema '%s' does not exist", name)
}

// Schemas returns every schema, sorted by name.
func (r *Registry) Schemas() []*Schema {
	m := *r.schemas.Load()
	out := make([]*Schema, 0, len(m))
	for _, name := range sortedKeys(m) {
		out = append(out, m[name])
	}
	return out
}

// put replaces one schema in the snapshot. The caller holds r.mu.
func (r *Registry) put(s *Schema) {
	m := maps.Clone(*r.schemas.Load())
	m[s.name] = s
	r.schemas.Store(&m)
}

// Register checks a definition and, unless dryRun, stores it as the
// schema's next version. It returns the version, which a dry run does not
// add to the schema.
//
// A definition that is wrong in itself is a problem.Invalid listing
// "errors": bad names, Go-name collisions, unknown types or rules, rule
// parameters that do not fit the field, defaults that do not fit, nesting
// deeper than 32 levels, steps that reach into arrays or maps. A
// definition that does not follow from the schema's history is a
// problem.Conflict listing "violations": a version number that is not
// next, a compatibility member that differs from the schema's mode, fields
// that appear or disappear without a step, types that change without a
// retype, and everything that breaks the schema's compatibility mode.
func (r *Registry) Register(ctx context.Context, def *Definition, dryRun bool) (*Version, error) {
	if def == nil {
		return nil, invalidDefinition("the definition is empty")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	current := (*r.schemas.Load())[def.Name]
	v, err := r.prepare(def, current, true)
	if err != nil || dryRun {
		return v, err
	}
	if err := r.store.PutSchemaVersion(ctx, v.name, v.number, v.canonical); err != nil {
		return nil, fmt.Errorf("schema: store %s v%d: %w", v.name, v.number, err)
	}
	v.registeredAt = r.now().UTC().Truncate(time.Second)
	next := &Schema{name: v.name}
	if current == nil {
		next.compatibility = cmp.Or(def.Compatibility, DefaultCompatibility)
		next.versions = []*Version{v}
	} else {
		next.compatibility = current.compatibility
		next.versions = append(slices.Clip(current.versions), v)
	}
	if err := r.putMeta(ctx, next); err != nil {
		return nil, err
	}
	r.put(next)
	return v, nil
}

// prepare checks a definition against the schema it extends (nil for a
// new schema) and builds its version. checkMode is false when replaying
// versions already stored, whose mode may have changed since.
func (r *Registry) prepare(def *Definition, current *Schema, checkCompat bool) (*Version, error) {
	c := &compiler{rules: r.rules, params: make(map[string]string)}
	if !validName(def.Name) {
		c.errorf("name: %q must match ^[a-z][a-z0-9_]{0,63}$", def.Name)
	}
	if def.Version < 1 {
		c.errorf("version: must be 1 or more")
	}
	if def.Compatibility != "" && !IsMode(def.Compatibility) {
		c.errorf("compatibility: unknown mode %q (want one of %s)", def.Compatibility, strings.Join(modes[:], ", "))
	}
	if def.Version == 1 && len(def.Migrate) > 0 {
		c.errorf("migrate: version 1 has no previous version to migrate from")
	}
	if len(c.errs) > 0 {
		return nil, invalidErrors(c.errs)
	}
	canonical, err := def.canonical()
	if err != nil {
		return nil, invalidDefinition("the definition cannot be written as JSON: " + err.Error())
	}
	comp, errs := r.compile(def)
	if len(errs) > 0 {
		return nil, invalidErrors(errs)
	}

	var violations []string
	switch {
	case current == nil && def.Version != 1:
		violations = append(violations, fmt.Sprintf("version %d is not next: schema '%s' has no versions yet, so its first version is 1", def.Version, def.Name))
	case current != nil && def.Version != len(current.versions)+1:
		violations = append(violations, fmt.Sprintf("version %d is not next: the latest version of '%s' is %d", def.Version, def.Name, len(current.versions)))
	case current != nil && def.Compatibility != "" && def.Compatibility != current.compatibility:
		violations = append(violations, fmt.Sprintf("compatibility %s differs from the schema's mode %s: leave it out, or change the mode first", def.Compatibility, current.compatibility))
	}
	if len(violations) > 0 {
		return nil, conflict(violations)
	}

	stored, err := ParseDefinition(canonical, false)
	if err != nil {
		return nil, fmt.Errorf("schema: reparse %s v%d: %w", def.Name, def.Version, err)
	}
	v := &Version{
		name:      def.Name,
		number:    def.Version,
		def:       stored,
		canonical: canonical,
		c:         comp,
		valid:     r.valid,
		changes:   []string{"created"},
	}
	if current == nil {
		return v, nil
	}

	prev := current.versions[len(current.versions)-1]
	sc := &stepChecker{c: &compiler{}}
	if checkCompat {
		// A new version's step defaults must keep their fields' rules;
		// versions stored before that was checked still load.
		sc.c.rules = &ruleChecker{v: r.valid}
	}
	v.steps = sc.compileSteps(def.Migrate, prev.c.root, comp.root, v.number)
	if len(sc.c.errs) > 0 {
		return nil, invalidErrors(sc.c.errs)
	}
	if len(sc.violations) == 0 && checkCompat {
		checkMode(sc, current.compatibility, append(slices.Clip(current.versions), v))
	}
	if len(sc.violations) > 0 {
		return nil, conflict(dedupe(sc.violations))
	}
	v.changes = v.changes[:0]
	for _, st := range v.steps {
		v.changes = append(v.changes, st.words())
	}
	v.changes = append(v.changes, fieldChanges(prev.c.root, comp.root, v.steps, v.number)...)
	if len(v.changes) == 0 {
		v.changes = []string{"no change to the fields"}
	}
	return v, nil
}

// checkMode checks the newest of versions against the mode.
func checkMode(sc *stepChecker, mode string, versions []*Version) {
	n := len(versions)
	oldest := n - 1
	if strings.HasSuffix(mode, "_TRANSITIVE") {
		oldest = 1
	}
	if mode == Backward || mode == Full || mode == BackwardTransitive || mode == FullTransitive {
		for k := n - 1; k >= oldest; k-- {
			sc.checkUpgrade(versions, k, n)
		}
	}
	if mode == Forward || mode == Full || mode == ForwardTransitive || mode == FullTransitive {
		for k := n - 1; k >= oldest; k-- {
			sc.checkDowngrade(versions, n, k)
		}
	}
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func invalidErrors(errs []string) *problem.Error {
	detail := "the definition is not valid: " + errs[0]
	if len(errs) > 1 {
		detail = fmt.Sprintf("the definition is not valid: %s (and %d more)", errs[0], len(errs)-1)
	}
	return problem.New(problem.Invalid, "%s", detail).With("errors", errs)
}

func conflict(violations []string) *problem.Error {
	detail := violations[0]
	if len(violations) > 1 {
		detail = fmt.Sprintf("%s (and %d more)", violations[0], len(violations)-1)
	}
	return problem.New(problem.Conflict, "%s", detail).With("violations", violations)
}

// compile compiles the fields of a definition, or finds them compiled.
func (r *Registry) compile(def *Definition) (*compiled, []string) {
	c := def.clone()
	c.walkDefaults(func(v *jsontext.Value) { _ = v.Compact() })
	key, err := json.Marshal(c.Fields, json.Deterministic(true))
	if err != nil {
		return nil, []string{"fields: " + err.Error()}
	}
	sum := sha256.Sum256(key)
	r.typesMu.Lock()
	defer r.typesMu.Unlock()
	if comp := r.types[sum]; comp != nil {
		return comp, nil
	}
	cc := &compiler{rules: r.rules, params: make(map[string]string)}
	// The nodes keep their definitions: compile the copy, which no caller
	// can change.
	root := cc.compileObject(c.Fields, "", 1)
	if len(cc.errs) > 0 {
		return nil, cc.errs
	}
	cc.compileDefaults(root)
	if len(cc.errs) > 0 {
		return nil, cc.errs
	}
	cc.probe(root, "")
	if len(cc.errs) == 0 {
		cc.exercise(root)
	}
	if len(cc.errs) == 0 {
		cc.checkDefaults(root)
	}
	if len(cc.errs) > 0 {
		return nil, cc.errs
	}
	comp := &compiled{root: root, params: cc.params, defaulted: hasDefaulted(root), optionalContainers: hasOptionalContainers(root), times: hasTimes(root)}
	r.types[sum] = comp
	return comp, nil
}

// compileDefaults decodes every field's default, inner fields first so
// that an object default gets its fields' defaults.
func (c *compiler) compileDefaults(root *node) {
	walkFields(root, "", func(f *field, path string) {
		if f.def.Default == nil {
			return
		}
		x, err := decodeDefault(f.node, f.def.Default, nil)
		if err != "" {
			c.errorf("field '%s': the default %s", path, err)
			return
		}
		f.hasDefault, f.dflt = true, x
	})
}

// checkDefaults refuses a default that fails its own field's rule, which
// would make every record relying on it fail.
func (c *compiler) checkDefaults(root *node) {
	walkFields(root, "", func(f *field, path string) {
		if !f.hasDefault {
			return
		}
		if rule := c.failedRule(f, f.dflt); rule != "" {
			c.errorf("field '%s': the default %s fails the field's rule '%s'", path, compactRaw(f.def.Default), rule)
		}
	})
}

// failedRule returns the rule of field f (cross-field parameters left
// out) that value x, in plain form, fails, or "" when it keeps it.
func (c *compiler) failedRule(f *field, x any) string {
	rule := withoutCrossField(f.rule)
	if rule == "" || c.rules.v.Var(plainValue(f.node, x).Interface(), rule) == nil {
		return ""
	}
	return rule
}

// SetCompatibility changes a schema's compatibility mode. Versions already
// registered are not checked again; the next registration is checked
// against the new mode.
func (r *Registry) SetCompatibility(ctx context.Context, name, mode string) error {
	if !IsMode(mode) {
		msg := fmt.Sprintf("unknown compatibility mode %q (want one of %s)", mode, strings.Join(modes[:], ", "))
		return problem.New(problem.Invalid, "%s", msg).With("errors", []string{msg})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.Schema(name)
	if err != nil {
		return err
	}
	next := *s
	next.compatibility = mode
	if err := r.putMeta(ctx, &next); err != nil {
		return err
	}
	r.put(&next)
	return nil
}

// Deprecate marks a version deprecated (keeping the time it was first
// marked) with an optional sunset, or, with deprecated false, clears both.
// sunset replaces the previous sunset; nil clears it.
func (r *Registry) Deprecate(ctx context.Context, name string, version int, deprecated bool, sunset *time.Time) (*Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.Schema(name)
	if err != nil {
		return nil, err
	}
	old, err := s.Version(version)
	if err != nil {
		return nil, err
	}
	v := *old
	v.deprecatedAt, v.sunset = time.Time{}, time.Time{}
	if deprecated {
		v.deprecatedAt = old.deprecatedAt
		if v.deprecatedAt.IsZero() {
			v.deprecatedAt = r.now().UTC().Truncate(time.Second)
		}
		if sunset != nil {
			v.sunset = sunset.UTC()
		}
	}
	next := *s
	next.versions = slices.Clone(s.versions)
	next.versions[version-1] = &v
	if err := r.putMeta(ctx, &next); err != nil {
		return nil, err
	}
	r.put(&next)
	return &v, nil
}

// meta is what a Store keeps of a schema beside its definitions.
type meta struct {
	Compatibility string `json:"compatibility"`
	// Deprecations and Registered are keyed by version number.
	Deprecations map[string]deprecation `json:"deprecations,omitempty"`
	Registered   map[string]time.Time   `json:"registered,omitempty"`
}

type deprecation struct {
	At     time.Time  `json:"at"`
	Sunset *time.Time `json:"sunset,omitempty"`
}

func (r *Registry) putMeta(ctx context.Context, s *Schema) error {
	m := meta{Compatibility: s.compatibility}
	for _, v := range s.versions {
		if !v.registeredAt.IsZero() {
			if m.Registered == nil {
				m.Registered = make(map[string]time.Time)
			}
			m.Registered[strconv.Itoa(v.number)] = v.registeredAt
		}
		if v.deprecatedAt.IsZero() {
			continue
		}
		if m.Deprecations == nil {
			m.Deprecations = make(map[string]deprecation)
		}
		d := deprecation{At: v.deprecatedAt}
		if !v.sunset.IsZero() {
			d.Sunset = &v.sunset
		}
		m.Deprecations[strconv.Itoa(v.number)] = d
	}
	b, err := json.Marshal(m, json.Deterministic(true))
	if err != nil {
		return fmt.Errorf("schema: marshal meta of %s: %w", s.name, err)
	}
	if err := r.store.PutSchemaMeta(ctx, s.name, b); err != nil {
		return fmt.Errorf("schema: store meta of %s: %w", s.name, err)
	}
	return nil
}

// Load reads every schema the store holds, replacing what the registry
// had. Versions are checked as they were when registered, but not against
// the current compatibility mode, which may have changed since.
func (r *Registry) Load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	names, err := r.store.SchemaNames(ctx)
	if err != nil {
		return fmt.Errorf("schema: list schemas: %w", err)
	}
	loaded := make(map[string]*Schema, len(names))
	for _, name := range names {
		s, err := r.loadSchema(ctx, name)
		if err != nil {
			return err
		}
		if s != nil {
			loaded[name] = s
		}
	}
	r.schemas.Store(&loaded)
	return nil
}

func (r *Registry) loadSchema(ctx context.Context, name string) (*Schema, error) {
	raw, err := r.store.SchemaVersions(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("schema: load %s: %w", name, err)
	}
	defs := make([]*Definition, 0, len(raw))
	for _, b := range raw {
		d, err := ParseDefinition(b, false)
		if err != nil {
			return nil, fmt.Errorf("schema: load %s: %w", name, err)
		}
		defs = append(defs, d)
	}
	if len(defs) == 0 {
		return nil, nil
	}
	slices.SortFunc(defs, func(a, b *Definition) int { return cmp.Compare(a.Version, b.Version) })
	var s *Schema
	for _, d := range defs {
		if d.Name != name {
			return nil, fmt.Errorf("schema: load %s: version %d is stored under the name %q", name, d.Version, d.Name)
		}
		v, err := r.prepare(d, s, false)
		if err != nil {
			return nil, fmt.Errorf("schema: load %s v%d: %s", name, d.Version, describeError(err))
		}
		if s == nil {
			s = &Schema{name: name, compatibility: cmp.Or(d.Compatibility, DefaultCompatibility)}
		}
		s.versions = append(s.versions, v)
	}
	b, err := r.store.SchemaMeta(ctx, name)
	if err != nil && !problem.Is(err, problem.NotFound) {
		return nil, fmt.Errorf("schema: load meta of %s: %w", name, err)
	}
	if len(b) > 0 {
		var m meta
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("schema: load meta of %s: %w", name, err)
		}
		if m.Compatibility != "" {
			s.compatibility = m.Compatibility
		}
		// s is not published yet: its versions are set in place.
		for key, d := range m.Deprecations {
			if v := s.versionAt(key); v != nil {
				v.deprecatedAt = d.At
				if d.Sunset != nil {
					v.sunset = *d.Sunset
				}
			}
		}
		for key, at := range m.Registered {
			if v := s.versionAt(key); v != nil {
				v.registeredAt = at
			}
		}
	}
	return s, nil
}

// versionAt returns the version that key, a version number as meta keys
// them, names, or nil.
func (s *Schema) versionAt(key string) *Version {
	n, err := strconv.Atoi(key)
	if err != nil || n < 1 || n > len(s.versions) {
		return nil
	}
	return s.versions[n-1]
}

// describeError renders an error with the lists a problem carries, for a
// start-up message that says everything at once.
func describeError(err error) string {
	p, ok := problem.As(err)
	if !ok {
		return err.Error()
	}
	for _, key := range []string{"errors", "violations"} {
		if list, ok := p.Extra[key].([]string); ok && len(list) > 0 {
			return strings.Join(list, "; ")
		}
	}
	return p.Error()
}

// LoadDir registers the definitions in dir's *.json, *.yaml and *.yml
// files (one version per file), in order of schema name and version. A
// file identical to a registered version changes nothing; a file that
// cannot be parsed or registered, or that differs from the version
// registered under its number, is an error naming the file and why.
func (r *Registry) LoadDir(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("schema: read schema folder: %w", err)
	}
	type file struct {
		path string
		def  *Definition
	}
	var files []file
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".json" && ext != ".yaml" && ext != ".yml") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("schema: %s: %w", p, err)
		}
		d, err := ParseDefinition(b, ext != ".json")
		if err != nil {
			return fmt.Errorf("schema: %s: %s", p, describeError(err))
		}
		files = append(files, file{p, d})
	}
	slices.SortStableFunc(files, func(a, b file) int {
		return cmp.Or(strings.Compare(a.def.Name, b.def.Name), cmp.Compare(a.def.Version, b.def.Version))
	})
	for _, f := range files {
		if s, err := r.Schema(f.def.Name); err == nil && f.def.Version >= 1 && f.def.Version <= len(s.versions) {
			if err := sameAsRegistered(f.def, s.versions[f.def.Version-1]); err != nil {
				return fmt.Errorf("schema: %s: %w", f.path, err)
			}
			continue
		}
		if _, err := r.Register(ctx, f.def, false); err != nil {
			return fmt.Errorf("schema: %s: %s", f.path, describeError(err))
		}
	}
	return nil
}

func sameAsRegistered(d *Definition, v *Version) error {
	canonical, err := d.canonical()
	if err != nil {
		return err
	}
	if string(canonical) == string(v.canonical) {
		return nil
	}
	parsed, err := ParseDefinition(canonical, false)
	if err != nil {
		return err
	}
	return errors.New("it defines " + d.Name + " version " + strconv.Itoa(d.Version) +
		", which is registered with a different definition: " + describeDifference(parsed, v.def))
}
