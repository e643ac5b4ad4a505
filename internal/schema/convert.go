package schema

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
)

// A Doc is a record as stored: its data at one version (the latest when it
// was written) and what conversions kept so that nothing a client wrote is
// lost. A Doc is not changed once made: Write, View and Upgrade return new
// ones and never write into their arguments.
type Doc struct {
	// Version is the schema version of Data.
	Version int
	// Data is the record in plain form (see Version.ToMap).
	Data map[string]any
	// Kept holds values that the data at Version cannot hold, keyed by the
	// step that took them out ("<version>.<step index>", 0-based): the
	// value of a removed field (nil when it was absent), of a field renamed
	// into an object the record lacks, or an int that a retype to float
	// could not hold exactly. Down-conversions put them back.
	Kept map[string]any
}

// A Doc is stored as a CBOR (RFC 8949) array [version, data, kept], with
// times as tag 0 RFC 3339 text in UTC with nanoseconds, integers as
// integers, floats in the shortest width that keeps them, and map keys
// sorted as core deterministic encoding sorts them, so that equal
// documents have equal bytes. The encoder is Ferry's own, because the CBOR
// library writes the zero time as null, which would lose it; so is the
// decoder (docdecode.go), for speed.

// MarshalBinary encodes the document compactly and exactly: integers to
// 64 bits, times to the nanosecond, bytes as they are.
func (d *Doc) MarshalBinary() ([]byte, error) {
	b := []byte{0x83}
	b = appendCBORHead(b, 0, uint64(d.Version))
	var err error
	if b, err = appendCBOR(b, d.Data); err != nil {
		return nil, fmt.Errorf("schema: encode document: %w", err)
	}
	if d.Kept == nil {
		return append(b, 0xa0), nil
	}
	if b, err = appendCBOR(b, d.Kept); err != nil {
		return nil, fmt.Errorf("schema: encode document: %w", err)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (d *Doc) UnmarshalBinary(b []byte) error {
	doc, err := decodeDoc(b, false)
	if err != nil {
		return err
	}
	*d = *doc
	return nil
}

// WriteStored is Write with the stored document given encoded (nil when
// there is none). A record written at the latest version over one stored
// at the latest version needs only what the stored document kept, so its
// data is not decoded: the most common write skips a whole decode. The
// original of a lossy retype is the exception: whether it still holds
// depends on the stored value.
func (s *Schema) WriteStored(body any, from int, stored []byte) (*Doc, error) {
	if stored == nil {
		return s.Write(body, from, nil)
	}
	latest := len(s.versions)
	if from == latest {
		head, err := decodeDoc(stored, true)
		if err != nil {
			return nil, err
		}
		if head.Version == latest && !s.keepsRetype(head.Kept) {
			return s.Write(body, from, head)
		}
	}
	var prev Doc
	if err := prev.UnmarshalBinary(stored); err != nil {
		return nil, err
	}
	return s.Write(body, from, &prev)
}

// appendCBORHead appends the head of a data item of the major type with
// argument n, in its shortest form.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// compareDocKeys orders the keys of a stored document's maps as RFC 8949's
// core deterministic encoding does, by encoded key: for text strings,
// shorter first, then bytewise.
func compareDocKeys(x, y string) int {
	return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(x, y))
}

// appendCBORInt appends an integer in the fewest bytes.
func appendCBORInt(b []byte, x int64) []byte {
	if x < 0 {
		return appendCBORHead(b, 1, uint64(-(x + 1)))
	}
	return appendCBORHead(b, 0, uint64(x))
}

// appendCBORFloat appends a float as single precision when that holds it
// exactly, else as double precision.
func appendCBORFloat(b []byte, x float64) []byte {
	if f32 := float32(x); float64(f32) == x || math.IsNaN(x) {
		return binary.BigEndian.AppendUint32(append(b, 0xfa), math.Float32bits(f32))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xfb), math.Float64bits(x))
}

// appendCBOR appends a value in plain form.
func appendCBOR(b []byte, x any) ([]byte, error) {
	switch x := x.(type) {
	case nil:
		return append(b, 0xf6), nil
	case bool:
		if x {
			return append(b, 0xf5), nil
		}
		return append(b, 0xf4), nil
	case int64:
		return appendCBORInt(b, x), nil
	case float64:
		return appendCBORFloat(b, x), nil
	case string:
		return append(appendCBORHead(b, 3, uint64(len(x))), x...), nil
	case []byte:
		return append(appendCBORHead(b, 2, uint64(len(x))), x...), nil
	case time.Time:
		s := x.UTC().Format(time.RFC3339Nano)
		return append(appendCBORHead(append(b, 0xc0), 3, uint64(len(s))), s...), nil
	case []any:
		b = appendCBORHead(b, 4, uint64(len(x)))
		var err error
		for _, e := range x {
			if b, err = appendCBOR(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		var small [16]string // most records' objects: no allocation
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareDocKeys)
		b = appendCBORHead(b, 5, uint64(len(x)))
		var err error
		for _, k := range keys {
			b = append(appendCBORHead(b, 3, uint64(len(k))), k...)
			if b, err = appendCBOR(b, x[k]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("a %T is not plain data", x)
}

// Write turns a record written at version from into the document to
// store, at the latest version. body is what Version.Validate (or
// FromMap) of version from returned; prev is the stored document, nil
// when there is none.
//
// The record is upgraded step by step with prev as context: a field that
// version from cannot see keeps prev's value (a version-1 client's PUT
// never resets a field added in version 2 to its default); values an
// upgrade removes, and ints a retype to float cannot hold exactly, are
// kept in the document. A record written below the latest version is
// validated again at the latest; failures found there carry the latest
// field names and Version set to the latest.
func (s *Schema) Write(body any, from int, prev *Doc) (*Doc, error) {
	v, err := s.Version(from)
	if err != nil {
		return nil, err
	}
	data, err := v.ToMap(body)
	if err != nil {
		return nil, err
	}
	latest := len(s.versions)
	if from == latest && (prev == nil || prev.Version == latest) {
		d := &Doc{Version: latest, Data: data}
		if prev != nil && len(prev.Kept) > 0 {
			d.Kept = maps.Clone(prev.Kept)
			s.dropStaleRetypes(d.Kept, latest, prev, data)
			if len(d.Kept) == 0 {
				d.Kept = nil
			}
		}
		return d, nil
	}
	var views []map[string]any
	unfits := false
	kept := map[string]any{}
	if prev != nil {
		// The stored record is context here, not what is written: it is
		// not held to the latest version's rules.
		if prev, err = s.upgrade(prev, false); err != nil {
			return nil, err
		}
		if from < latest {
			// A field the writer cannot see keeps its stored value, taken
			// from the stored record seen at the version that adds it. A
			// value that version cannot show is carried there unfit, and
			// the retype that could not bring it down gives it back.
			var hidden map[string]any
			views, unfits, hidden = s.viewsDown(prev, from)
			maps.Copy(kept, hidden)
		}
		for k, x := range prev.Kept {
			if keyVersion(k) <= from {
				kept[k] = x
			}
		}
	}
	for n := from + 1; n <= latest; n++ {
		var ctx map[string]any
		if views != nil {
			ctx = views[n-from-1]
		}
		for _, st := range s.versions[n-1].steps {
			if err := st.up(data, ctx, kept); err != nil {
				return nil, err
			}
		}
	}
	if unfits {
		// An unfit value taken from a view meets its retype on the way
		// up, unless a step kept it (its new place is gone): the version
		// it would come back at cannot hold it, so it is not kept. One
		// left in the data would be stored, so it is refused.
		for k, x := range kept {
			if firstUnfit(x) != nil {
				delete(kept, k)
			}
		}
		if err := firstUnfit(data); err != nil {
			return nil, err
		}
	}
	if prev != nil {
		s.dropStaleRetypes(kept, from, prev, data)
	}
	if err := s.checkLatest(data); err != nil {
		return nil, err
	}
	if len(kept) == 0 {
		kept = nil
	}
	return &Doc{Version: latest, Data: data, Kept: kept}, nil
}

// dropStaleRetypes removes from kept, the values a write at version from
// keeps, the original of each lossy retype of a version up to from whose
// field the write changed: going down, a kept original comes back when it
// widens to the value the data holds, and a new value that a client wrote
// could do that by chance. prev is the stored record and data the
// written one, both at the latest version.
func (s *Schema) dropStaleRetypes(kept map[string]any, from int, prev *Doc, data map[string]any) {
	for k := range kept {
		v := keyVersion(k)
		if v < 1 || v > from {
			continue
		}
		st := s.versions[v-1].stepByKey(k)
		if st == nil || st.op != OpRetype {
			continue
		}
		before, ok1, err1 := s.valueAt(prev.Data, prev.Kept, v, st.path)
		after, ok2, err2 := s.valueAt(data, kept, v, st.path)
		if err1 != nil && err2 != nil {
			// Neither value can be seen at that version, by a retype
			// above it: nothing says it changed, and its original stays.
			continue
		}
		if err1 != nil || err2 != nil || ok1 != ok2 || !reflect.DeepEqual(before, after) {
			delete(kept, k)
		}
	}
}

// valueAt returns the value at path of data, a document at the latest
// version, as seen at version v; ok is false when it has none there, and
// err is set when its value cannot be seen at v.
func (s *Schema) valueAt(data, kept map[string]any, v int, path []string) (x any, ok bool, err error) {
	view := deepCopy(data).(map[string]any)
	for n := len(s.versions); n > v; n-- {
		s.stepDown(view, n, kept, nil)
	}
	p, found := parentOf(view, path)
	if !found {
		return nil, false, nil
	}
	x, ok = p[last(path)]
	if u, unfitted := x.(unfit); unfitted {
		return nil, false, u.problem(path)
	}
	return x, ok, nil
}

// keepsRetype reports whether kept holds the original of a lossy retype,
// which a write can only carry on with the stored data at hand.
func (s *Schema) keepsRetype(kept map[string]any) bool {
	for k := range kept {
		if v := keyVersion(k); v >= 1 && v <= len(s.versions) {
			if st := s.versions[v-1].stepByKey(k); st != nil && st.op == OpRetype {
				return true
			}
		}
	}
	return false
}

// stepByKey returns the step of the version that keeps values under key.
func (v *Version) stepByKey(key string) *step {
	for _, st := range v.steps {
		if st.key == key {
			return st
		}
	}
	return nil
}

// checkLatest validates upgraded data at the latest version.
func (s *Schema) checkLatest(data map[string]any) error {
	v := s.Latest()
	rec := reflect.New(v.c.root.plain)
	var fl filler
	fl.mapObject(v.c.root, data, rec.Elem())
	for _, m := range fl.malformed {
		fl.missing = append(fl.missing, problem.FieldError{Rule: "type", Message: m.Message})
	}
	return v.check(rec, fl.missing, v.number)
}

// viewsDown returns prev's data as seen at each version from+1 … latest,
// each its own copy (views[0] is at from+1). A value that a version cannot
// show is left unfit in its view, and unfits reports whether one was. A
// value that a rename cannot take down, its old place being inside an
// object the record lacks there, is in hidden under the rename's key, for
// the way back up to restore.
func (s *Schema) viewsDown(prev *Doc, from int) (views []map[string]any, unfits bool, hidden map[string]any) {
	latest := len(s.versions)
	views = make([]map[string]any, latest-from)
	hidden = map[string]any{}
	cur := deepCopy(prev.Data).(map[string]any)
	for n := latest; ; n-- {
		views[n-from-1] = cur
		next := deepCopy(cur).(map[string]any)
		if n == from+1 {
			// Down to the writer's own version too, for what it hides;
			// the writer's data takes that view's place.
			s.stepDown(next, n, prev.Kept, hidden)
			return views, unfits, hidden
		}
		unfits = s.stepDown(next, n, prev.Kept, hidden) || unfits
		cur = next
	}
}

// stepDown converts data in place from version n to n-1, reporting
// whether it left an unfit value.
func (s *Schema) stepDown(data map[string]any, n int, kept, hidden map[string]any) bool {
	steps := s.versions[n-1].steps
	unfits := false
	for i := len(steps) - 1; i >= 0; i-- {
		unfits = steps[i].down(data, kept, hidden) || unfits
	}
	return unfits
}

func keyVersion(key string) int {
	v, _, _ := strings.Cut(key, ".")
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}

// View returns the document as a record of version `to`: a pointer to
// that version's record struct. Going down, steps apply backwards: a
// removed field comes back from what the document kept, else from the
// step's default; a retype goes back only when the value fits exactly,
// else the error is a problem.NotAcceptable naming the field and the step.
// A field the target version requires that the record has no value for
// (and no default) is a problem.NotAcceptable too.
//
// Arrays and maps are never null in what View returns: an optional one
// that the record lacks is empty. MergeBase leaves it absent.
func (s *Schema) View(d *Doc, to int) (any, error) { return s.view(d, to, true, nil) }

// MergeBase is View for a merge patch to apply to: an optional array or
// map that the record lacks stays absent, so that a patch of another
// field does not make it present. A value the version cannot show, or a
// field it requires that the record lacks (written at a version where it
// is optional), is no obstacle where the patch replaces it (replaced
// reports whether it does, given the field's path at version to; nil for
// none): the base holds a zero value of the field's type there. Where it
// does not, the error is a problem.Conflict: the patch cannot be applied
// to the record as it is.
func (s *Schema) MergeBase(d *Doc, to int, replaced func(path []string) bool) (any, error) {
	return s.view(d, to, false, replaced)
}

func (s *Schema) view(d *Doc, to int, shown bool, replaced func(path []string) bool) (any, error) {
	v, err := s.Version(to)
	if err != nil {
		return nil, err
	}
	if d.Version < 1 || d.Version > len(s.versions) {
		return nil, fmt.Errorf("schema: view %s: the document is at version %d, which the schema does not have", s.name, d.Version)
	}
	data := d.Data
	if to != d.Version {
		data = deepCopy(d.Data).(map[string]any)
	}
	unfits := false
	for n := d.Version; n > to; n-- {
		unfits = s.stepDown(data, n, d.Kept, nil) || unfits
	}
	if unfits {
		if err := settleUnfits(data, nil, to, replaced); err != nil {
			return nil, err
		}
	}
	for n := d.Version + 1; n <= to; n++ {
		for _, st := range s.versions[n-1].steps {
			if err := st.up(data, nil, map[string]any{}); err != nil {
				return nil, err
			}
		}
	}
	rec := reflect.New(v.c.root.plain)
	fl := filler{shown: shown, absentOK: replaced}
	fl.mapObject(v.c.root, data, rec.Elem())
	if len(fl.malformed) > 0 {
		return nil, fmt.Errorf("schema: view %s v%d: stored data does not fit: %s", s.name, to, fl.malformedText())
	}
	if len(fl.missing) > 0 {
		p := problem.New(problem.NotAcceptable, "the record cannot be shown at %s version %d: %s", s.name, to, fl.missing[0].Message).
			WithReason("conversion")
		if replaced != nil {
			p.Kind = problem.Conflict
			p.Detail += fmt.Sprintf("; a merge patch at version %d must set the field, or be made at a version that can show the record", to)
		}
		return nil, p
	}
	return rec.Interface(), nil
}

// Upgrade returns the document at the latest version: a document stored
// before the schema gained versions is upgraded as a record written at
// its version with nothing stored before, and validated at the latest.
// A document already at the latest version is returned as it is.
func (s *Schema) Upgrade(d *Doc) (*Doc, error) { return s.upgrade(d, true) }

func (s *Schema) upgrade(d *Doc, validate bool) (*Doc, error) {
	latest := len(s.versions)
	if d.Version == latest {
		return d, nil
	}
	if d.Version < 1 || d.Version > latest {
		return nil, fmt.Errorf("schema: upgrade %s: the document is at version %d, which the schema does not have", s.name, d.Version)
	}
	data := deepCopy(d.Data).(map[string]any)
	kept := make(map[string]any, len(d.Kept))
	for k, x := range d.Kept {
		kept[k] = x
	}
	for n := d.Version + 1; n <= latest; n++ {
		for _, st := range s.versions[n-1].steps {
			if err := st.up(data, nil, kept); err != nil {
				return nil, err
			}
		}
	}
	if validate {
		if err := s.checkLatest(data); err != nil {
			return nil, err
		}
	}
	if len(kept) == 0 {
		kept = nil
	}
	return &Doc{Version: latest, Data: data, Kept: kept}, nil
}

// parentOf returns the object that holds the last element of path in
// data, if every object on the way is there.
func parentOf(data map[string]any, path []string) (map[string]any, bool) {
	m := data
	for _, seg := range path[:len(path)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// withoutPaths deletes the members at paths from the object x, in place,
// and returns x.
func withoutPaths(x any, paths [][]string) any {
	for _, p := range paths {
		m, _ := x.(map[string]any)
		for _, seg := range p[:len(p)-1] {
			m, _ = m[seg].(map[string]any)
		}
		if m != nil {
			delete(m, last(p))
		}
	}
	return x
}

// up applies the step to data in place, going up. ctx is the stored
// record as seen at the step's version (nil when there is none); kept
// receives what the data cannot hold.
func (st *step) up(data, ctx, kept map[string]any) error {
	switch st.op {
	case OpRename:
		var x any
		src, ok := parentOf(data, st.from)
		has := false
		if ok {
			// The data says what the field holds, whatever was hidden.
			delete(kept, st.key)
			if x, has = src[last(st.from)]; has {
				delete(src, last(st.from))
			}
		} else if x, has = kept[st.key]; has {
			// The object that held the field at its old place is
			// absent, as the writer's version saw it: the value it could
			// not see there comes back.
			delete(kept, st.key)
		}
		if !has {
			return nil
		}
		if dst, ok := parentOf(data, st.to); ok {
			dst[last(st.to)] = x
		} else {
			kept[st.key] = x
		}
	case OpAdd:
		dst, ok := parentOf(data, st.path)
		if !ok {
			return nil
		}
		if ctx != nil {
			if src, ok := parentOf(ctx, st.path); ok {
				if x, has := src[last(st.path)]; has {
					if len(st.filled) > 0 {
						// What the version's renames move in comes from
						// the data, which can see it: a member the write
						// leaves out is cleared, not kept.
						x = withoutPaths(deepCopy(x), st.filled)
					}
					dst[last(st.path)] = x
				}
				return nil
			}
		}
		if st.hasDefault {
			dst[last(st.path)] = deepCopy(st.dflt)
		}
	case OpRemove:
		src, ok := parentOf(data, st.path)
		if !ok {
			return nil
		}
		if x, has := src[last(st.path)]; has {
			kept[st.key] = x
			delete(src, last(st.path))
		} else if st.hasDefault {
			// Absent is what was written: going down, the default must
			// not take its place.
			kept[st.key] = nil
		}
	case OpRetype:
		p, ok := parentOf(data, st.path)
		if !ok {
			return nil
		}
		x, has := p[last(st.path)]
		if !has {
			return nil
		}
		if u, ok := x.(unfit); ok {
			p[last(st.path)] = u.value
			return nil
		}
		w, exact, err := widen(x, st.fromKind, st.toKind)
		if err != nil {
			return fmt.Errorf("schema: retype %s in version %d: %w", joinPath(st.path), st.version, err)
		}
		p[last(st.path)] = w
		if !exact {
			kept[st.key] = x
		}
	}
	return nil
}

// down applies the step to data in place, going down, taking back what
// the document kept. It reports whether it left an unfit value. A value a
// rename cannot put back, as its old place is inside an object data
// lacks, goes into hidden under the step's key when hidden is not nil.
func (st *step) down(data, kept, hidden map[string]any) bool {
	switch st.op {
	case OpAdd:
		if p, ok := parentOf(data, st.path); ok {
			delete(p, last(st.path))
		}
	case OpRename:
		var x any
		has := false
		if src, ok := parentOf(data, st.to); ok {
			x, has = src[last(st.to)]
			delete(src, last(st.to))
		}
		if !has {
			x, has = kept[st.key]
			x = deepCopy(x)
		}
		if dst, ok := parentOf(data, st.from); ok && has {
			dst[last(st.from)] = x
		} else if has && hidden != nil {
			hidden[st.key] = x
		}
	case OpRemove:
		p, ok := parentOf(data, st.path)
		if !ok {
			return false
		}
		if x, has := kept[st.key]; has {
			if x != nil {
				p[last(st.path)] = deepCopy(x)
			}
		} else if st.hasDefault {
			p[last(st.path)] = deepCopy(st.dflt)
		}
	case OpRetype:
		p, ok := parentOf(data, st.path)
		if !ok {
			return false
		}
		x, has := p[last(st.path)]
		if !has {
			return false
		}
		if orig, ok := kept[st.key]; ok {
			if w, _, err := widen(orig, st.fromKind, st.toKind); err == nil && w == x {
				p[last(st.path)] = orig
				return false
			}
		}
		if u, ok := x.(unfit); ok {
			wrapped := u
			wrapped.value, wrapped.kind = u, st.fromKind
			p[last(st.path)] = wrapped
			return true
		}
		n, err := narrow(x, st.toKind, st.fromKind)
		if err != nil {
			p[last(st.path)] = unfit{value: x, kind: st.fromKind, path: st.path, version: st.version,
				why: fmt.Sprintf("%s cannot be converted back to %s by the retype %s → %s of version %d: %v",
					describeScalar(x), st.fromKind, st.fromKind, st.toKind, st.version, err)}
			return true
		}
		p[last(st.path)] = n
	}
	return false
}

// An unfit value stands, while a record steps down, where a retype could
// not bring a value back: a version below cannot show it. It is an error
// only if it is still there at the version asked for; a step further down
// that drops its field (the step that added it, say) takes it away, and
// going up again the same retype gives back the value it holds.
type unfit struct {
	value any  // the value at the version above the retype
	kind  kind // the type the version below holds
	// path and version name the field as the retype that could not
	// bring the value down does; why says what happened.
	path    []string
	version int
	why     string
}

// problem is the refusal of a record that holds u at path, a field as a
// client of the version it is seen at names it.
func (u unfit) problem(path []string) *problem.Error {
	name := joinPath(path)
	if slices.Equal(path, u.path) {
		return problem.New(problem.NotAcceptable, "field '%s': %s", name, u.why).WithReason("conversion")
	}
	return problem.New(problem.NotAcceptable, "field '%s' (named '%s' in version %d): %s", name, joinPath(u.path), u.version, u.why).WithReason("conversion")
}

// firstUnfit returns the error of an unfit value left in x, or nil when
// there is none.
func firstUnfit(x any) error {
	return settleUnfits(x, nil, 0, nil)
}

// settleUnfits deals with the unfit values left in x, at path of a record
// seen at version: one at a path that replaced reports true for becomes a
// zero value of its type; for the first other, looking at keys in order so
// that the answer does not depend on map order, the error is its own, or a
// problem.Conflict when replaced is set.
func settleUnfits(x any, path []string, version int, replaced func(path []string) bool) error {
	switch x := x.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			at := append(path, k)
			u, ok := x[k].(unfit)
			switch {
			case !ok:
				if err := settleUnfits(x[k], at, version, replaced); err != nil {
					return err
				}
			case replaced == nil:
				return u.problem(at)
			case !replaced(at):
				p := u.problem(at)
				p.Kind = problem.Conflict
				p.Detail += fmt.Sprintf("; a merge patch at version %d must replace the field, or be made at a version that can show it", version)
				return p
			default:
				x[k] = zeroOf(u.kind)
			}
		}
	case []any:
		for _, e := range x {
			if err := settleUnfits(e, path, version, replaced); err != nil {
				return err
			}
		}
	case unfit:
		return x.problem(x.path)
	}
	return nil
}

// zeroOf is the zero value of a retyped field of kind k, as data holds it.
func zeroOf(k kind) any {
	switch k {
	case kindInt:
		return int64(0)
	case kindFloat:
		return float64(0)
	case kindTime:
		return time.Time{}
	case kindString:
		return ""
	}
	panic(fmt.Sprintf("schema: a retype of a %s", k))
}

func describeScalar(x any) string {
	switch x := x.(type) {
	case string:
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(x)
}

// twoTo63 is 2^63, the first float64 beyond int64.
const twoTo63 = 9223372036854775808.0

// widen converts a value along a widening retype. exact is false when the
// result cannot give the value back (an int beyond 2^53 as a float).
func widen(x any, from, to kind) (any, bool, error) {
	switch from {
	case kindInt:
		i, ok := x.(int64)
		if !ok {
			break
		}
		if to == kindString {
			return strconv.FormatInt(i, 10), true, nil
		}
		f := float64(i)
		return f, f < twoTo63 && int64(f) == i, nil
	case kindFloat:
		if f, ok := x.(float64); ok {
			return strconv.FormatFloat(f, 'g', -1, 64), true, nil
		}
	case kindTime:
		if t, ok := x.(time.Time); ok {
			return t.UTC().Format(time.RFC3339Nano), true, nil
		}
	}
	return nil, false, fmt.Errorf("%T is not a %s", x, from)
}

// narrow converts a value back along a retype, only when it fits exactly:
// the result widens to the very same value.
func narrow(x any, from, to kind) (any, error) {
	switch from {
	case kindFloat:
		f, ok := x.(float64)
		if !ok {
			break
		}
		if f != math.Trunc(f) || f >= twoTo63 || f < -twoTo63 {
			return nil, fmt.Errorf("it is not an integer within 64 bits")
		}
		if f == 0 && math.Signbit(f) {
			// 0 would widen back to +0: what a client wrote back would
			// change the value.
			return nil, fmt.Errorf("an integer has no -0")
		}
		return int64(f), nil
	case kindString:
		s, ok := x.(string)
		if !ok {
			break
		}
		var out any
		var err error
		switch to {
		case kindInt:
			out, err = strconv.ParseInt(s, 10, 64)
		case kindFloat:
			var f float64
			f, err = strconv.ParseFloat(s, 64)
			if err == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
				err = fmt.Errorf("not a finite number")
			}
			out = f
		case kindTime:
			out, err = time.Parse(time.RFC3339Nano, s)
			if err == nil {
				out = out.(time.Time).UTC()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("it is not %s", article(to)+" "+to.String())
		}
		if w, _, _ := widen(out, to, kindString); w != s {
			return nil, fmt.Errorf("it is not written as %s would be", to)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%T is not a %s", x, from)
}

// deepCopy copies the maps and slices of a plain value; strings, numbers
// and times are immutable, bytes are copied.
func deepCopy(x any) any {
	switch x := x.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, v := range x {
			s[i] = deepCopy(v)
		}
		return s
	case []byte:
		return append([]byte{}, x...)
	}
	return x
}
