package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// A step is a compiled migration step, leading from version-1 to version.
type step struct {
	op      string
	version int
	index   int
	// key names what the step keeps with a record (see Doc.Kept).
	key string
	// from and to are the paths of a rename.
	from, to []string
	// path is the field of an add, remove or retype.
	path []string
	// node and optional describe the field an add creates or a remove
	// takes away.
	node     *node
	optional bool
	// filled are the members of the object an add creates (or a remove
	// takes away) that other steps of the version move in after it (or
	// moved out before it), as paths below path: its default need not
	// hold them, and its shape lacks them until those steps run.
	filled [][]string
	// hasDefault and dflt (plain form) are the step's default.
	hasDefault bool
	dflt       any
	rawDefault jsontext.Value
	// fromKind and toKind are the types of a retype.
	fromKind, toKind kind
}

// words describes the step for the changelog.
func (s *step) words() string {
	switch s.op {
	case OpRename:
		return "renamed " + joinPath(s.from) + " to " + joinPath(s.to)
	case OpAdd:
		switch {
		case s.hasDefault:
			return "added " + joinPath(s.path) + " (default " + string(s.rawDefault) + ")"
		case s.optional:
			return "added " + joinPath(s.path) + " (optional)"
		}
		return "added " + joinPath(s.path)
	case OpRemove:
		return "removed " + joinPath(s.path)
	default:
		return "changed " + joinPath(s.path) + " from " + s.fromKind.String() + " to " + s.toKind.String()
	}
}

// widening reports whether a retype from one kind to another converts
// every value exactly (or keeps what it cannot, for int → float).
func widening(from, to kind) bool {
	switch from {
	case kindInt:
		return to == kindFloat || to == kindString
	case kindFloat, kindTime:
		return to == kindString
	}
	return false
}

// A shape is what the compatibility analysis knows of a field while it
// applies steps to a version's fields: its type and why it may be absent.
type shape struct {
	node *node
	// absent says why the value may be missing while its parent object is
	// there, or is empty when it is always there.
	absent string
	// origin is the field the shape started as, nil for one a step made.
	origin   *field
	children map[string]*shape
	// retypeRefused is set when a retype of the field was refused, which
	// says all there is to say about its type.
	retypeRefused bool
	// renamedFrom is the path a rename of the version being registered
	// moved the field from, for its reports.
	renamedFrom string
}

func shapesOf(n *node, version int) map[string]*shape {
	m := make(map[string]*shape, len(n.fields))
	for _, f := range n.fields {
		s := &shape{node: f.node, origin: f}
		if f.optional {
			s.absent = fmt.Sprintf("it is optional in version %d", version)
		}
		if f.node.kind == kindObject {
			s.children = shapesOf(f.node, version)
		}
		m[f.name] = s
	}
	return m
}

// A stepChecker applies steps to shapes, reporting what it finds. errs are
// faults of the definition (400); violations break the schema's history
// or its compatibility mode (409).
type stepChecker struct {
	c          *compiler
	violations []string
	// quiet drops reports, for replaying steps already checked.
	quiet bool
}

func (sc *stepChecker) errorf(format string, args ...any) {
	if !sc.quiet {
		sc.c.errorf(format, args...)
	}
}

func (sc *stepChecker) violatef(format string, args ...any) {
	if !sc.quiet {
		sc.violations = append(sc.violations, fmt.Sprintf(format, args...))
	}
}

// resolve finds the object holding the last element of path, and the
// shapes of the objects on the way.
func (sc *stepChecker) resolve(root map[string]*shape, path []string, where string, version int) (map[string]*shape, []*shape, bool) {
	m := root
	var up []*shape
	for i, seg := range path[:len(path)-1] {
		s := m[seg]
		p := joinPath(path[:i+1])
		switch {
		case s == nil:
			sc.violatef("%s: version %d has no field '%s'", where, version, p)
			return nil, nil, false
		case s.node.kind == kindArray || s.node.kind == kindMap:
			sc.errorf("%s: '%s' is %s %s, and steps cannot reach into arrays or maps", where, p, article(s.node.kind), s.node.kind)
			return nil, nil, false
		case s.node.kind != kindObject:
			sc.violatef("%s: '%s' is not an object", where, p)
			return nil, nil, false
		}
		up = append(up, s)
		m = s.children
	}
	return m, up, true
}

func splitPath(p string) ([]string, bool) {
	if p == "" {
		return nil, false
	}
	segs := strings.Split(p, ".")
	if len(segs) > maxDepth {
		return nil, false
	}
	for _, s := range segs {
		if !validName(s) {
			return nil, false
		}
	}
	return segs, true
}

func last(p []string) string { return p[len(p)-1] }

func describeRaw(s Step) string {
	switch s.Op {
	case OpRename:
		return "rename " + s.From + " → " + s.To
	case OpRetype:
		return "retype " + s.Field + " to " + s.To
	}
	return s.Op + " " + s.Field
}

// compileSteps checks the steps of version next (whose fields are nextRoot)
// against the previous version prevRoot, and compiles them. Along the way
// it checks that nothing appears or disappears silently and that types
// change only by retype.
func (sc *stepChecker) compileSteps(raw []Step, prevRoot, nextRoot *node, version int) []*step {
	shapes := shapesOf(prevRoot, version-1)
	compiled, where := make([]*step, len(raw)), make([]string, len(raw))
	for i, rs := range raw {
		where[i] = fmt.Sprintf("step %d (%s)", i+1, describeRaw(rs))
		if st := sc.compileStep(rs, where[i]); st != nil {
			st.version, st.index = version, i
			st.key = strconv.Itoa(version) + "." + strconv.Itoa(i)
			compiled[i] = st
		}
	}
	for i, st := range compiled {
		if st != nil && (st.op == OpAdd || st.op == OpRemove) {
			st.filled = filledBy(compiled, i)
		}
		if st != nil && st.op == OpAdd {
			for j, early := range compiled[:i] {
				if into(early, st.path) {
					sc.errorf("%s: it moves a field into '%s', which %s adds after it; put the add first", where[j], joinPath(st.path), where[i])
				}
			}
		}
	}
	var steps []*step
	for i, rs := range raw {
		st := compiled[i]
		if st != nil && sc.applyNew(shapes, st, rs, nextRoot, where[i], version) {
			steps = append(steps, st)
		}
	}
	sc.compareStructure(shapes, nextRoot, "", version)
	return steps
}

// filledBy returns the members of the object that steps[i], an add or a
// remove, creates or takes away, which the version's other steps move
// into it after (an add) or out of it before (a remove), as paths below
// it: moving fields into a new object is an add of the object followed by
// renames into it, and moving the last ones out of an object is renames
// followed by its remove.
// (Steps that move into an object before its add are an error of their
// own; they count as filling it, so that its default is not blamed too.)
func filledBy(steps []*step, i int) [][]string {
	at := steps[i]
	var filled [][]string
	for j, st := range steps {
		if st == nil || j == i || at.op == OpRemove && j > i {
			continue
		}
		var p []string
		switch {
		case at.op == OpAdd && (st.op == OpRename || st.op == OpAdd):
			p = target(st)
		case at.op == OpRemove && st.op == OpRemove:
			p = st.path
		case at.op == OpRemove && st.op == OpRename:
			p = st.from
		}
		if below(p, at.path) {
			filled = append(filled, p[len(at.path):])
		}
	}
	return filled
}

// target returns where a rename or an add puts a field, or nil.
func target(st *step) []string {
	switch st.op {
	case OpRename:
		return st.to
	case OpAdd:
		return st.path
	}
	return nil
}

// into reports whether st puts a field inside the object at path.
func into(st *step, path []string) bool { return st != nil && below(target(st), path) }

// below reports whether p is a path inside the object at path.
func below(p, path []string) bool {
	return len(p) > len(path) && slices.Equal(p[:len(path)], path)
}

// withoutFilled drops the members at paths filled from children, shapes
// of an object's members, in place.
func withoutFilled(children map[string]*shape, filled [][]string) {
	for _, p := range filled {
		m := children
		for _, seg := range p[:len(p)-1] {
			s := m[seg]
			if s == nil || s.children == nil {
				m = nil
				break
			}
			m = s.children
		}
		if m != nil {
			delete(m, last(p))
		}
	}
}

// compileStep checks the members a step needs for its op.
func (sc *stepChecker) compileStep(rs Step, where string) *step {
	st := &step{op: rs.Op}
	need := func(name, v string) []string {
		p, ok := splitPath(v)
		if !ok {
			sc.errorf("%s: '%s' must be a field name or a dotted path of field names", where, name)
		}
		return p
	}
	none := func(name string, present bool) bool {
		if present {
			sc.errorf("%s: %s takes no '%s'", where, rs.Op, name)
		}
		return !present
	}
	switch rs.Op {
	case OpRename:
		st.from, st.to = need("from", rs.From), need("to", rs.To)
		if !none("field", rs.Field != "") || !none("default", rs.Default != nil) || st.from == nil || st.to == nil {
			return nil
		}
		if rs.From == rs.To {
			sc.errorf("%s: from and to are the same", where)
			return nil
		}
	case OpAdd, OpRemove:
		st.path = need("field", rs.Field)
		if !none("from", rs.From != "") || !none("to", rs.To != "") || st.path == nil {
			return nil
		}
	case OpRetype:
		st.path = need("field", rs.Field)
		if !none("from", rs.From != "") || !none("default", rs.Default != nil) || st.path == nil {
			return nil
		}
		st.toKind = parseKind(rs.To)
		if !st.toKind.scalar() {
			sc.errorf("%s: 'to' must name the new type (string, int, float, bool, time or bytes)", where)
			return nil
		}
	default:
		sc.errorf("%s: unknown op %q (want rename, add, remove or retype)", where, rs.Op)
		return nil
	}
	return st
}

// existing returns the shape of the field at path in version, which must
// exist: otherwise it reports the violation.
func (sc *stepChecker) existing(shapes map[string]*shape, path []string, where string, version int) (*shape, bool) {
	parent, _, ok := sc.resolve(shapes, path, where, version)
	if !ok {
		return nil, false
	}
	s := parent[last(path)]
	if s == nil {
		sc.violatef("%s: version %d has no field '%s'", where, version, joinPath(path))
		return nil, false
	}
	return s, true
}

// applyNew applies a step being registered to the shapes, checking it
// against the versions on both sides and decoding its default.
func (sc *stepChecker) applyNew(shapes map[string]*shape, st *step, rs Step, nextRoot *node, where string, version int) bool {
	switch st.op {
	case OpRename:
		if _, ok := sc.existing(shapes, st.from, where, version-1); !ok {
			return false
		}
		dst, _, ok := sc.resolve(shapes, st.to, where, version-1)
		if !ok {
			return false
		}
		if dst[last(st.to)] != nil {
			sc.violatef("%s: '%s' already exists", where, joinPath(st.to))
			return false
		}
	case OpAdd:
		parent, _, ok := sc.resolve(shapes, st.path, where, version-1)
		if !ok {
			return false
		}
		if parent[last(st.path)] != nil {
			sc.violatef("%s: '%s' already exists in version %d", where, joinPath(st.path), version-1)
			return false
		}
		f := fieldAt(nextRoot, st.path)
		if f == nil {
			sc.violatef("%s: version %d has no field '%s'", where, version, joinPath(st.path))
			return false
		}
		st.node, st.optional = f.node, f.optional
		if !sc.stepDefault(st, rs, where) || !sc.defaultKeepsRule(st, rs, f, where, version) {
			return false
		}
	case OpRemove:
		s, ok := sc.existing(shapes, st.path, where, version-1)
		if !ok {
			return false
		}
		st.node, st.optional = s.node, s.origin != nil && s.origin.optional
		if !sc.stepDefault(st, rs, where) || (s.origin != nil && !sc.defaultKeepsRule(st, rs, s.origin, where, version-1)) {
			return false
		}
	case OpRetype:
		s, ok := sc.existing(shapes, st.path, where, version-1)
		if !ok {
			return false
		}
		st.fromKind = s.node.kind
		if !widening(st.fromKind, st.toKind) {
			sc.violatef("field '%s': %s → %s is not a widening (a retype may go int → float, int → string, float → string or time → string)", joinPath(st.path), st.fromKind, st.toKind)
			s.retypeRefused = true
			return false
		}
	}
	sc.apply(shapes, st, version)
	return true
}

// stepDefault decodes the default of an add or a remove, which must fit
// the field's type.
func (sc *stepChecker) stepDefault(st *step, rs Step, where string) bool {
	if rs.Default == nil {
		return true
	}
	x, err := decodeDefault(st.node, rs.Default, st.filled)
	if err != "" {
		sc.errorf("%s: the default %s", where, err)
		return false
	}
	st.hasDefault, st.dflt = true, x
	st.rawDefault = rs.Default.Clone()
	_ = st.rawDefault.Compact()
	return true
}

// defaultKeepsRule refuses a step's default that fails the rule of the
// field it fills, in the version it fills it in: every record converted
// with it would then fail, so that no record of the other version could be
// written or upgraded.
func (sc *stepChecker) defaultKeepsRule(st *step, rs Step, f *field, where string, version int) bool {
	if !st.hasDefault || sc.c.rules == nil {
		return true
	}
	if withoutCrossField(f.rule) == "" {
		return true
	}
	x := st.dflt
	if f.node != st.node {
		// The field had another type in that version (a retype came
		// before the step): the default is read again as that type.
		var err string
		if x, err = decodeDefault(f.node, rs.Default, st.filled); err != "" {
			sc.errorf("%s: the default %s does not fit field '%s' as version %d has it: %s", where, compactRaw(rs.Default), joinPath(st.path), version, strings.TrimPrefix(err, "does not fit: "))
			return false
		}
	}
	if rule := sc.c.failedRule(f, x); rule != "" {
		sc.errorf("%s: the default %s fails the rule '%s' of field '%s' in version %d", where, compactRaw(rs.Default), rule, joinPath(st.path), version)
		return false
	}
	return true
}

// decodeDefault reads a JSON default as a value of node n, in plain form.
// Numbers keep every digit: an int default beyond 2^53 stays exact. The
// members at paths filled, which other steps provide, may be left out,
// and are left out of the value.
func decodeDefault(n *node, raw jsontext.Value, filled [][]string) (any, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, "is not valid JSON"
	}
	if x == nil {
		return nil, "cannot be null"
	}
	v := reflect.New(n.plain).Elem()
	var fl filler
	fl.mapValue(n, x, v)
	if len(fl.malformed) > 0 {
		return nil, "does not fit: " + fl.malformedText()
	}
	var msgs []string
	for _, m := range fl.missing {
		if !underFilled(m.Field, filled) {
			msgs = append(msgs, m.Message)
		}
	}
	if len(msgs) > 0 {
		return nil, "does not fit: " + strings.Join(msgs, "; ")
	}
	// A member the default does set stays.
	var unset [][]string
	for _, p := range filled {
		if m, ok := x.(map[string]any); ok {
			if parent, ok := parentOf(m, p); ok {
				if _, set := parent[last(p)]; set {
					continue
				}
			}
		}
		unset = append(unset, p)
	}
	return withoutPaths(toPlain(n, v), unset), ""
}

// underFilled reports whether the field at path, as a filler names it,
// is one of filled or inside one.
func underFilled(path string, filled [][]string) bool {
	for _, p := range filled {
		fp := joinPath(p)
		if path == fp || strings.HasPrefix(path, fp+".") || strings.HasPrefix(path, fp+"[") {
			return true
		}
	}
	return false
}

// fieldAt finds the field at a dotted path through nested objects.
func fieldAt(root *node, path []string) *field {
	n := root
	var f *field
	for _, seg := range path {
		if n == nil || n.kind != kindObject {
			return nil
		}
		f = n.byName[seg]
		if f == nil {
			return nil
		}
		n = f.node
	}
	return f
}

// apply applies a compiled step upward to shapes.
func (sc *stepChecker) apply(shapes map[string]*shape, st *step, version int) {
	where := fmt.Sprintf("version %d", version)
	switch st.op {
	case OpRename:
		src, srcUp, ok := sc.resolve(shapes, st.from, where, version-1)
		if !ok {
			return
		}
		dst, dstUp, ok := sc.resolve(shapes, st.to, where, version-1)
		if !ok {
			return
		}
		s := src[last(st.from)]
		if s == nil {
			return
		}
		delete(src, last(st.from))
		moved := *s
		if moved.absent == "" {
			moved.absent = leavesAbsent(srcUp, dstUp, joinPath(st.from))
		}
		moved.renamedFrom = joinPath(st.from)
		dst[last(st.to)] = &moved
	case OpAdd:
		parent, _, ok := sc.resolve(shapes, st.path, where, version-1)
		if !ok {
			return
		}
		s := &shape{node: st.node}
		if !st.hasDefault {
			s.absent = fmt.Sprintf("it is added in version %d without a default", version)
		}
		if st.node.kind == kindObject {
			s.children = shapesOf(st.node, version)
			withoutFilled(s.children, st.filled)
		}
		parent[last(st.path)] = s
	case OpRemove:
		if parent, _, ok := sc.resolve(shapes, st.path, where, version-1); ok {
			delete(parent, last(st.path))
		}
	case OpRetype:
		if parent, _, ok := sc.resolve(shapes, st.path, where, version-1); ok && parent[last(st.path)] != nil {
			s := *parent[last(st.path)]
			s.node = scalarNode(st.toKind)
			parent[last(st.path)] = &s
		}
	}
}

// leavesAbsent says why a value moved out of objects that may be absent
// may itself be absent at its new place, or "" when it cannot.
func leavesAbsent(srcUp, dstUp []*shape, from string) string {
	for _, s := range srcUp {
		shared := false
		for _, d := range dstUp {
			if s == d {
				shared = true
			}
		}
		if !shared && s.absent != "" {
			return "it moves out of an object around '" + from + "' that may be absent"
		}
	}
	return ""
}

// compareStructure checks that the shapes after the steps have exactly the
// fields of the next version, with the same types.
func (sc *stepChecker) compareStructure(shapes map[string]*shape, n *node, path string, version int) {
	for _, name := range sortedKeys(shapes) {
		switch {
		case n.byName[name] != nil:
		case shapes[name].renamedFrom != "":
			sc.violatef("field '%s', where a rename moves '%s', is not in version %d", child(path, name), shapes[name].renamedFrom, version)
		default:
			sc.violatef("field '%s' of version %d is not in version %d, and no rename or remove step says where it went", child(path, name), version-1, version)
		}
	}
	for _, f := range n.fields {
		fp := child(path, f.name)
		s := shapes[f.name]
		switch {
		case s == nil:
			sc.violatef("field '%s' is new in version %d without an add or rename step", fp, version)
		case s.retypeRefused:
			// The refused retype says all there is to say about its type.
		case s.node.kind != f.node.kind:
			sc.violatef("field '%s': its type changes from %s to %s without a retype step", fp, s.node.kind, f.node.kind)
		case f.node.kind == kindObject:
			sc.compareStructure(s.children, f.node, fp, version)
		case s.node.sig != f.node.sig:
			sc.violatef("field '%s': its element type changes from %s to %s, and steps cannot reach into arrays or maps", fp, describeNode(s.node), describeNode(f.node))
		}
	}
}

// checkUpgrade reports the fields that version-from records may lack after
// being upgraded to version `to`, which requires them without a default:
// such records could not be upgraded (BACKWARD).
func (sc *stepChecker) checkUpgrade(versions []*Version, from, to int) {
	shapes := shapesOf(versions[from-1].c.root, from)
	quiet := sc.quiet
	sc.quiet = true
	for v := from + 1; v <= to; v++ {
		for _, st := range versions[v-1].steps {
			sc.apply(shapes, st, v)
		}
	}
	sc.quiet = quiet
	sc.requirePresent(shapes, versions[to-1].c.root, "", from, to, "upgraded")
}

// checkDowngrade reports what makes some version-from records impossible
// to convert down to version `to` (FORWARD): a retype on the way (it
// cannot be undone for every value) or a field that version `to` requires
// without a default and that the records may lack.
func (sc *stepChecker) checkDowngrade(versions []*Version, from, to int) {
	shapes := shapesOf(versions[from-1].c.root, from)
	for v := from; v > to; v-- {
		steps := versions[v-1].steps
		for i := len(steps) - 1; i >= 0; i-- {
			sc.unapply(shapes, steps[i], v, from)
		}
	}
	sc.requirePresent(shapes, versions[to-1].c.root, "", from, to, "converted down")
}

// unapply applies a compiled step downward to shapes.
func (sc *stepChecker) unapply(shapes map[string]*shape, st *step, version, from int) {
	quiet := sc.quiet
	sc.quiet = true
	defer func() { sc.quiet = quiet }()
	where := fmt.Sprintf("version %d", version)
	switch st.op {
	case OpAdd:
		if parent, _, ok := sc.resolve(shapes, st.path, where, version); ok {
			delete(parent, last(st.path))
		}
	case OpRename:
		src, srcUp, ok := sc.resolve(shapes, st.to, where, version)
		if !ok {
			return
		}
		dst, dstUp, ok := sc.resolve(shapes, st.from, where, version)
		if !ok || src[last(st.to)] == nil {
			return
		}
		moved := *src[last(st.to)]
		delete(src, last(st.to))
		if moved.absent == "" {
			moved.absent = leavesAbsent(srcUp, dstUp, joinPath(st.to))
		}
		dst[last(st.from)] = &moved
	case OpRemove:
		parent, _, ok := sc.resolve(shapes, st.path, where, version)
		if !ok {
			return
		}
		s := &shape{node: st.node}
		if !st.hasDefault {
			s.absent = fmt.Sprintf("it is removed in version %d without a default", version)
		}
		if st.node.kind == kindObject {
			s.children = shapesOf(st.node, version-1)
			withoutFilled(s.children, st.filled)
		}
		parent[last(st.path)] = s
	case OpRetype:
		sc.quiet = quiet
		sc.violatef("field '%s': the retype %s → %s in version %d cannot be undone for every value, so version-%d records cannot always be converted down", joinPath(st.path), st.fromKind, st.toKind, version, from)
		sc.quiet = true
		if parent, _, ok := sc.resolve(shapes, st.path, where, version); ok && parent[last(st.path)] != nil {
			s := *parent[last(st.path)]
			s.node = scalarNode(st.fromKind)
			parent[last(st.path)] = &s
		}
	}
}

// requirePresent reports every field of n that is required without a
// default while its shape may be absent.
func (sc *stepChecker) requirePresent(shapes map[string]*shape, n *node, path string, from, to int, how string) {
	for _, f := range n.fields {
		s := shapes[f.name]
		if s == nil {
			continue
		}
		fp := child(path, f.name)
		if s.absent != "" && !f.optional && !f.hasDefault {
			sc.violatef("field '%s': version-%d records may lack it (%s), and version %d requires it without a default, so they cannot be %s", fp, from, s.absent, to, how)
		}
		if f.node.kind == kindObject && s.children != nil {
			sc.requirePresent(s.children, f.node, fp, from, to, how)
		}
	}
}

// fieldChanges lists, for the changelog, how the fields that a version
// keeps changed without a step: optionality, rule and default.
func fieldChanges(prev, next *node, steps []*step, version int) []string {
	sc := &stepChecker{c: &compiler{}, quiet: true}
	shapes := shapesOf(prev, version-1)
	for _, st := range steps {
		sc.apply(shapes, st, version)
	}
	var out []string
	var walk func(shapes map[string]*shape, n *node, path string)
	walk = func(shapes map[string]*shape, n *node, path string) {
		for _, f := range n.fields {
			s := shapes[f.name]
			if s == nil || s.origin == nil {
				continue
			}
			fp, o := child(path, f.name), s.origin
			switch {
			case o.optional && !f.optional:
				out = append(out, "made "+fp+" required")
			case !o.optional && f.optional:
				out = append(out, "made "+fp+" optional")
			}
			if o.def.Validate != f.def.Validate {
				out = append(out, fmt.Sprintf("changed the rule of %s from %q to %q", fp, o.def.Validate, f.def.Validate))
			}
			od, nd := compactRaw(o.def.Default), compactRaw(f.def.Default)
			switch {
			case od == nd:
			case od == "":
				out = append(out, "gave "+fp+" the default "+nd)
			case nd == "":
				out = append(out, "dropped the default of "+fp)
			default:
				out = append(out, "changed the default of "+fp+" from "+od+" to "+nd)
			}
			if f.node.kind == kindObject && s.children != nil {
				walk(s.children, f.node, fp)
			}
		}
	}
	walk(shapes, next, "")
	return out
}

func compactRaw(v jsontext.Value) string {
	if v == nil {
		return ""
	}
	c := v.Clone()
	_ = c.Compact()
	return string(c)
}
