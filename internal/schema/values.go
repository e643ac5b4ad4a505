package schema

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/wire"
)

// A filler turns a decoded value (a wire struct or a plain map) into a
// record struct: it checks presence, fills defaults, normalises times to
// UTC and refuses non-finite floats, collecting every failure with its
// path in schema names.
type filler struct {
	// fromGob makes every absent field present with its zero value: gob
	// leaves zero values off the wire.
	fromGob bool
	// cbor reads values as CBOR's decoder does: null on a time field is
	// its zero time, as CBOR bodies write it, and a number there is
	// seconds since the Unix epoch, as an untagged CBOR time may be.
	cbor bool
	// shown makes an absent optional array or map an empty one, as a
	// record is shown: arrays and maps are never null on output.
	shown bool
	// absentOK, when set, says which absent required fields stay zero
	// rather than missing, given their path of keys (up to an array,
	// which a merge patch replaces whole): those a merge patch sets.
	absentOK func(path []string) bool
	// missing holds 422 failures: absent fields and non-finite floats.
	missing []problem.FieldError
	// malformed holds 400 failures of a plain map: unknown fields, wrong
	// types.
	malformed []problem.FieldError
	// segs is the path to the value at hand, rendered only for a failure;
	// buf spares the allocation for records of ordinary depth.
	segs []pathSeg
	buf  [16]pathSeg
}

// A pathSeg is a field name, an array index (name empty) or a map key.
type pathSeg struct {
	name  string
	index int
	isKey bool
}

func (fl *filler) pushSeg(s pathSeg) int {
	if fl.segs == nil {
		fl.segs = fl.buf[:0]
	}
	fl.segs = append(fl.segs, s)
	return len(fl.segs) - 1
}

func (fl *filler) push(name string) int { return fl.pushSeg(pathSeg{name: name}) }
func (fl *filler) pushIndex(i int) int  { return fl.pushSeg(pathSeg{index: i}) }
func (fl *filler) pushKey(k string) int { return fl.pushSeg(pathSeg{name: k, isKey: true}) }
func (fl *filler) pop(mark int)         { fl.segs = fl.segs[:mark] }

// path renders the path as the schema writes it: "items[2].qty".
func (fl *filler) path() string {
	var b strings.Builder
	for i, s := range fl.segs {
		switch {
		case s.isKey:
			b.WriteString("[" + s.name + "]")
		case s.name == "":
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		}
	}
	return b.String()
}

// fail and malformedf record a failure of the value at hand. Its path is
// empty when the value is the whole of what the filler reads, a default
// of a field that is not an object: the message then names no field.
func (fl *filler) fail(rule, msg string) {
	p := fl.path()
	text := p + " " + msg
	if p == "" {
		text = "the value " + msg
	}
	fl.missing = append(fl.missing, problem.FieldError{Field: p, Rule: rule, Message: text})
}

func (fl *filler) malformedf(rule, format string, args ...any) {
	p := fl.path()
	text := fmt.Sprintf(format, args...)
	if p != "" {
		text = "field '" + p + "': " + text
	}
	fl.malformed = append(fl.malformed, problem.FieldError{Field: p, Rule: rule, Message: text})
}

// malformedText joins the messages of the malformed failures.
func (fl *filler) malformedText() string {
	msgs := make([]string, len(fl.malformed))
	for i, f := range fl.malformed {
		msgs[i] = f.Message
	}
	return strings.Join(msgs, "; ")
}

// absent handles a field that the input lacks, or has as null when null
// is set. Only an optional field may be null: a default fills in a field
// that is left out, not one sent as null.
func (fl *filler) absent(f *field, dst reflect.Value, null bool) {
	switch {
	case f.optional:
		if fl.shown && (f.node.kind == kindArray || f.node.kind == kindMap) {
			empty := reflect.New(f.node.plain)
			fillEmpty(f.node, empty.Elem())
			dst.Set(empty)
		}
	case fl.fromGob:
		dst.Set(zeroPresent(f.node))
	case null && fl.nullIsZeroTime(f.node):
		setTime(dst, time.Time{})
	case null:
		fl.fail("present", "is null")
	case f.hasDefault:
		dst.Set(plainValue(f.node, f.dflt))
	case fl.absentOK != nil && fl.absentOK(fl.keyPath()):
		if f.node.kind == kindObject {
			// Each field the object requires must be set by the patch
			// too, or it would be merged into made-up zero values.
			fl.mapObject(f.node, map[string]any{}, dst)
		}
	default:
		fl.fail("present", "is missing")
	}
}

// keyPath is the path to the value at hand as the keys of objects and
// maps, up to the first array element.
func (fl *filler) keyPath() []string {
	path := make([]string, 0, len(fl.segs))
	for _, s := range fl.segs {
		if s.name == "" && !s.isKey {
			break
		}
		path = append(path, s.name)
	}
	return path
}

// emptyContainer reports whether v, the present value of an optional
// field, is an empty array or map. Such a field reads as absent: Ferry
// shows an absent optional array or map as empty, so a client that writes
// back what it read sends it empty, and must write the record it read.
func emptyContainer(f *field, v reflect.Value) bool {
	return (f.node.kind == kindArray || f.node.kind == kindMap) && v.Len() == 0
}

// zeroPresent is the value of a field that gob left off the wire: the zero
// value, with empty rather than nil containers all the way down.
func zeroPresent(n *node) reflect.Value {
	v := reflect.New(n.plain).Elem()
	fillEmpty(n, v)
	return v
}

// fillEmpty replaces nil bytes, slices and maps of non-optional fields by
// empty ones, so that every encoder writes [] and {} rather than null.
func fillEmpty(n *node, v reflect.Value) {
	switch n.kind {
	case kindBytes:
		if v.IsNil() {
			v.SetBytes([]byte{})
		}
	case kindArray:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(n.plain, 0, 0))
		}
	case kindMap:
		if v.IsNil() {
			v.Set(reflect.MakeMap(n.plain))
		}
	case kindObject:
		for _, f := range n.fields {
			if !f.optional {
				fillEmpty(f.node, v.Field(f.index))
			}
		}
	}
}

// wireObject fills the plain struct p from the wire struct w.
func (fl *filler) wireObject(n *node, w, p reflect.Value) {
	for _, f := range n.fields {
		wf, pf := w.Field(f.index), p.Field(f.index)
		mark := fl.push(f.name)
		// Every wire field is a pointer, a slice or a map: nil is absent.
		switch {
		case wf.IsNil(), f.optional && emptyContainer(f, wf.Elem()):
			// The libraries leave a field that is null as they leave one
			// that is missing.
			fl.absent(f, pf, false)
		case f.optional && f.node.sameWire() && !needsCheck(f.node):
			pf.Set(wf)
		case f.optional:
			np := reflect.New(f.node.plain)
			fl.wireValue(f.node, wf.Elem(), np.Elem())
			pf.Set(np)
		case wf.Kind() == reflect.Pointer:
			fl.wireValue(f.node, wf.Elem(), pf)
		default:
			fl.wireValue(f.node, wf, pf)
		}
		fl.pop(mark)
	}
}

// needsCheck reports whether values of n must be looked at even when the
// wire and plain types are the same: floats must be finite, times UTC,
// containers inside containers empty rather than nil, and every object's
// fields present or defaulted (an object of containers alone has the same
// wire and plain types, yet an absent field is still absent).
func needsCheck(n *node) bool {
	switch n.kind {
	case kindFloat, kindTime, kindObject:
		return true
	case kindArray, kindMap:
		switch n.elem.kind {
		case kindBytes, kindArray, kindMap:
			return true
		}
		return needsCheck(n.elem)
	}
	return false
}

// plainScalar reports whether values of n are complete as they are.
func plainScalar(n *node) bool {
	return n.kind == kindString || n.kind == kindInt || n.kind == kindBool
}

// wireValue sets dst (plain) from the present wire value w.
func (fl *filler) wireValue(n *node, w, dst reflect.Value) {
	switch n.kind {
	case kindObject:
		fl.wireObject(n, w, dst)
	case kindFloat:
		fl.checkFinite(w.Float())
		dst.SetFloat(w.Float())
	case kindTime:
		setTime(dst, fl.checkTime(utc(w)))
	case kindArray:
		if n.sameWire() && !needsCheck(n) {
			dst.Set(w)
			fillEmpty(n, dst)
			return
		}
		s := reflect.MakeSlice(n.plain, w.Len(), w.Len())
		for i := range w.Len() {
			mark := fl.pushIndex(i)
			fl.wireElement(n.elem, w.Index(i), s.Index(i))
			fl.pop(mark)
		}
		dst.Set(s)
	case kindMap:
		if n.sameWire() && !needsCheck(n) {
			dst.Set(w)
			fillEmpty(n, dst)
			return
		}
		m := reflect.MakeMapWithSize(n.plain, w.Len())
		e := reflect.New(n.elem.plain).Elem()
		iter := w.MapRange()
		for iter.Next() {
			mark := fl.pushKey(iter.Key().String())
			e.SetZero()
			fl.wireElement(n.elem, iter.Value(), e)
			m.SetMapIndex(iter.Key(), e)
			fl.pop(mark)
		}
		dst.Set(m)
	default:
		dst.Set(w)
		fillEmpty(n, dst)
	}
}

// wireElement sets dst from w, an array element or a map value, where
// null has no meaning. The decoders leave a null array, map or bytes
// value nil and make an empty one for [], {} or empty bytes, so nil is a
// null sent (gob aside, which cannot tell the two apart): it is refused,
// as null is for a scalar, rather than made empty.
func (fl *filler) wireElement(n *node, w, dst reflect.Value) {
	switch n.kind {
	case kindArray, kindMap, kindBytes:
		if !fl.fromGob && w.IsNil() {
			fl.wrongType(n, nil)
			return
		}
	}
	fl.wireValue(n, w, dst)
}

// setTime sets an addressable time.Time without boxing it.
func setTime(dst reflect.Value, t time.Time) {
	*dst.Addr().Interface().(*time.Time) = t
}

func utc(v reflect.Value) time.Time {
	var t time.Time
	if v.CanAddr() {
		t = *v.Addr().Interface().(*time.Time)
	} else {
		t = v.Interface().(time.Time)
	}
	return t.UTC()
}

func (fl *filler) checkFinite(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		fl.fail("finite", "must be a finite number")
	}
}

// checkTime fails a time (in UTC) outside the years 0000 to 9999, which
// RFC 3339 cannot write, so that no record is stored that no format could
// show; a time written with an offset can land there only in UTC. It
// returns t.
func (fl *filler) checkTime(t time.Time) time.Time {
	if y := t.Year(); y < 0 || y > 9999 {
		fl.fail("time", "is outside the years 0000 to 9999 in UTC")
	}
	return t
}

// plainObject checks and completes a record struct given as it is (from a
// gob decoder or built by hand): non-optional containers become empty
// rather than nil, times UTC, and floats must be finite.
func (fl *filler) plainObject(n *node, p reflect.Value) {
	for _, f := range n.fields {
		pf := p.Field(f.index)
		mark := fl.push(f.name)
		if f.optional {
			switch {
			case pf.IsNil():
			case emptyContainer(f, pf.Elem()):
				pf.SetZero()
			default:
				fl.plainValue(f.node, pf.Elem())
			}
		} else {
			fillEmpty(f.node, pf)
			fl.plainValue(f.node, pf)
		}
		fl.pop(mark)
	}
}

func (fl *filler) plainValue(n *node, v reflect.Value) {
	switch n.kind {
	case kindObject:
		fl.plainObject(n, v)
	case kindFloat:
		fl.checkFinite(v.Float())
	case kindTime:
		setTime(v, fl.checkTime(utc(v)))
	case kindArray:
		if plainScalar(n.elem) {
			return
		}
		for i := range v.Len() {
			mark := fl.pushIndex(i)
			fillEmpty(n.elem, v.Index(i))
			fl.plainValue(n.elem, v.Index(i))
			fl.pop(mark)
		}
	case kindMap:
		if plainScalar(n.elem) {
			return
		}
		e := reflect.New(n.elem.plain).Elem()
		iter := v.MapRange()
		for iter.Next() {
			mark := fl.pushKey(iter.Key().String())
			e.Set(iter.Value())
			fillEmpty(n.elem, e)
			fl.plainValue(n.elem, e)
			v.SetMapIndex(iter.Key(), e)
			fl.pop(mark)
		}
	}
}

// toPlain returns the plain form of the record value v (of n's plain
// type): string, int64, float64, bool, time.Time, []byte, map[string]any
// for objects (absent optional fields left out) and maps, []any for
// arrays. Bytes are copied, so the result shares nothing mutable with v.
func toPlain(n *node, v reflect.Value) any {
	switch n.kind {
	case kindString:
		return v.String()
	case kindInt:
		return v.Int()
	case kindFloat:
		return v.Float()
	case kindBool:
		return v.Bool()
	case kindTime:
		return utc(v)
	case kindBytes:
		return append([]byte{}, v.Bytes()...)
	case kindObject:
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			fv := v.Field(f.index)
			if f.optional {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			m[f.name] = toPlain(f.node, fv)
		}
		return m
	case kindArray:
		s := make([]any, v.Len())
		for i := range s {
			s[i] = toPlain(n.elem, v.Index(i))
		}
		return s
	case kindMap:
		m := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			m[iter.Key().String()] = toPlain(n.elem, iter.Value())
		}
		return m
	}
	return nil
}

// plainValue builds a record value of n's plain type from a plain form
// known to be well formed (a compiled default).
func plainValue(n *node, x any) reflect.Value {
	v := reflect.New(n.plain).Elem()
	var fl filler
	fl.mapValue(n, x, v)
	if len(fl.malformed) > 0 || len(fl.missing) > 0 {
		panic(fmt.Sprintf("schema: compiled default does not fit its field: %s %v", fl.malformedText(), fl.missing))
	}
	return v
}

// mapObject fills the plain struct p from the plain map x. It accepts the
// plain form of toPlain and also what a JSON decoder makes of a record
// (float64 or json.Number for numbers, strings for times and base64
// bytes), refusing unknown fields and wrong types; an int field takes
// only an integer, never a float, even a whole one.
func (fl *filler) mapObject(n *node, x any, p reflect.Value) {
	m, ok := x.(map[string]any)
	if !ok {
		fl.malformedf("type", "want an object, got %s", describeValue(x))
		return
	}
	// Sorting the keys only to find none unknown is most of the cost of a
	// fill on the read path, so the order is settled only when there is
	// an unknown key to report.
	unknown := false
	for key := range m {
		if _, ok := n.byName[key]; !ok {
			unknown = true
			break
		}
	}
	if unknown {
		for _, key := range sortedKeys(m) {
			if _, ok := n.byName[key]; !ok {
				mark := fl.push(key)
				fl.malformedf("unknown_field", "unknown field")
				fl.pop(mark)
			}
		}
	}
	for _, f := range n.fields {
		pf := p.Field(f.index)
		mark := fl.push(f.name)
		val, ok := m[f.name]
		switch {
		case !ok || val == nil:
			fl.absent(f, pf, ok)
		case f.optional:
			np := reflect.New(f.node.plain)
			fl.mapValue(f.node, val, np.Elem())
			if emptyContainer(f, np.Elem()) {
				fl.absent(f, pf, false)
			} else {
				pf.Set(np)
			}
		default:
			fl.mapValue(f.node, val, pf)
		}
		fl.pop(mark)
	}
}

func (fl *filler) mapValue(n *node, x any, dst reflect.Value) {
	switch n.kind {
	case kindObject:
		fl.mapObject(n, x, dst)
	case kindString:
		if s, ok := x.(string); ok {
			dst.SetString(s)
			return
		}
		fl.wrongType(n, x)
	case kindInt:
		if i, ok := toInt(x); ok {
			dst.SetInt(i)
			return
		}
		switch x := x.(type) {
		case uint64, uint:
			// An integer, only too large: a value out of range, as a
			// record body decoded into its struct reports it.
			fl.fail("int_range", fmt.Sprintf("is out of range for a 64-bit integer: %v", x))
			return
		case json.Number:
			if !strings.ContainsAny(string(x), ".eE") {
				fl.fail("int_range", fmt.Sprintf("is out of range for a 64-bit integer: %s", x))
				return
			}
		}
		fl.wrongType(n, x)
	case kindFloat:
		if f, ok := toFloat(x); ok {
			fl.checkFinite(f)
			dst.SetFloat(f)
			return
		}
		fl.wrongType(n, x)
	case kindBool:
		if b, ok := x.(bool); ok {
			dst.SetBool(b)
			return
		}
		fl.wrongType(n, x)
	case kindTime:
		switch t := x.(type) {
		case time.Time:
			setTime(dst, fl.checkTime(t.UTC()))
			return
		case int64, float64:
			if t, ok := epochTime(x); ok && fl.cbor {
				setTime(dst, fl.checkTime(t))
				return
			}
		case string:
			// The parser alone takes more than nine fractional digits
			// and drops the rest: the text is checked first, as every
			// typed decoder checks it.
			if !wire.ValidRFC3339([]byte(t)) {
				break
			}
			if pt, err := time.Parse(time.RFC3339Nano, t); err == nil {
				setTime(dst, fl.checkTime(pt.UTC()))
				return
			}
		}
		fl.wrongType(n, x)
	case kindBytes:
		switch b := x.(type) {
		case []byte:
			dst.SetBytes(append([]byte{}, b...))
			return
		case string:
			if d, err := base64.StdEncoding.Strict().DecodeString(b); err == nil {
				dst.SetBytes(d)
				return
			}
		}
		fl.wrongType(n, x)
	case kindArray:
		s, ok := x.([]any)
		if !ok {
			fl.wrongType(n, x)
			return
		}
		out := reflect.MakeSlice(n.plain, len(s), len(s))
		for i, e := range s {
			mark := fl.pushIndex(i)
			switch {
			case e != nil:
				fl.mapValue(n.elem, e, out.Index(i))
			case !fl.nullIsZeroTime(n.elem):
				// An element has no null: the same 400 as the typed
				// decoders give.
				fl.wrongType(n.elem, nil)
			}
			fl.pop(mark)
		}
		dst.Set(out)
	case kindMap:
		m, ok := x.(map[string]any)
		if !ok {
			fl.wrongType(n, x)
			return
		}
		out := reflect.MakeMapWithSize(n.plain, len(m))
		e := reflect.New(n.elem.plain).Elem()
		for _, k := range sortedKeys(m) {
			mark := fl.pushKey(k)
			e.SetZero()
			switch {
			case m[k] != nil:
				fl.mapValue(n.elem, m[k], e)
			case !fl.nullIsZeroTime(n.elem):
				fl.wrongType(n.elem, nil)
			}
			out.SetMapIndex(reflect.ValueOf(k), e)
			fl.pop(mark)
		}
		dst.Set(out)
	}
}

func (fl *filler) wrongType(n *node, x any) {
	want := n.kind.String()
	switch n.kind {
	case kindTime:
		want = "a time (RFC 3339)"
	case kindBytes:
		want = "bytes (standard base64)"
	case kindInt:
		want = "an integer"
	case kindFloat:
		want = "a number"
	case kindArray:
		want = "an array"
	case kindObject:
		want = "an object"
	default:
		want = "a " + want
	}
	fl.malformedf("type", "want %s, got %s", want, describeValue(x))
}

func describeValue(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) > 1<<53 {
			return "a number beyond the exact integer range"
		}
		return "a number"
	case json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case map[any]any:
		return "a map with keys that are not all strings"
	case time.Time:
		return "a time"
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("a %T", x)
}

// toInt converts a number of any Go integer type, an integral float64
// within the exact range, or a json.Number written as an integer.
func toInt(x any) (int64, bool) {
	switch x := x.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case uint:
		return int64(x), uint64(x) <= math.MaxInt64
	case uint32:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint8:
		return int64(x), true
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		return i, err == nil
	}
	// A float is not an integer even when its value is whole (1.0, 1e2):
	// the typed decoders of every format refuse it for an int field.
	return 0, false
}

func toFloat(x any) (float64, bool) {
	switch x := x.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		// A literal beyond the float range reads as an infinity, which
		// the caller refuses as not finite.
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil || errors.Is(err, strconv.ErrRange)
	case uint64:
		// Above the int64 range too, rounded as a float holds it.
		return float64(x), true
	case uint:
		return float64(x), true
	}
	i, ok := toInt(x)
	return float64(i), ok
}

// HasTimes reports whether the version has a time field that is not
// optional, at any depth: only then can NullTimes find anything.
func (v *Version) HasTimes() bool { return v.c.times }

// hasTimes reports whether n has a time field that is not optional, at
// any depth.
func hasTimes(n *node) bool {
	return anyField(n, func(f *field) bool { return !f.optional && f.node.kind == kindTime })
}

// NullTimes sets each time field that is not optional and that plain (the
// same body decoded as plain data) holds as null to the zero time in
// decoded, a pointer to a wire struct from New. CBOR writes the zero time
// as null, which a wire struct cannot tell from a field left out; an
// optional field's null stays absence.
func (v *Version) NullTimes(decoded, plain any) {
	rv := reflect.ValueOf(decoded)
	if !v.c.times || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Type() != v.c.root.wire {
		return
	}
	nullTimes(v.c.root, rv.Elem(), plain)
}

// nullTimes walks the wire value w of node n along x, its plain form.
func nullTimes(n *node, w reflect.Value, x any) {
	if w.Kind() == reflect.Pointer {
		if w.IsNil() {
			return
		}
		w = w.Elem()
	}
	switch n.kind {
	case kindObject:
		m, _ := x.(map[string]any)
		for _, f := range n.fields {
			val, ok := m[f.name]
			switch {
			case !ok:
			case val == nil:
				if wf := w.Field(f.index); f.node.kind == kindTime && !f.optional && wf.IsNil() {
					wf.Set(reflect.ValueOf(&time.Time{}))
				}
			default:
				nullTimes(f.node, w.Field(f.index), val)
			}
		}
	case kindArray:
		s, _ := x.([]any)
		for i := 0; i < w.Len() && i < len(s); i++ {
			nullTimes(n.elem, w.Index(i), s[i])
		}
	case kindMap:
		m, _ := x.(map[string]any)
		if n.elem.kind != kindObject && n.elem.kind != kindArray && n.elem.kind != kindMap {
			return
		}
		iter := w.MapRange()
		for iter.Next() {
			val, ok := m[iter.Key().String()]
			if !ok || val == nil {
				continue
			}
			// Map values are not addressable: a copy is changed and put
			// back (a slice or pointer inside shares what it holds).
			e := reflect.New(iter.Value().Type()).Elem()
			e.Set(iter.Value())
			nullTimes(n.elem, e, val)
			w.SetMapIndex(iter.Key(), e)
		}
	}
}

// HasDefaults reports whether some field of the version that is not
// optional has a default, at any depth: only then can NullDefaults find
// anything.
func (v *Version) HasDefaults() bool { return v.c.defaulted }

// hasDefaulted reports whether a field of n or below is not optional and
// has a default.
func hasDefaulted(n *node) bool {
	return anyField(n, func(f *field) bool { return !f.optional && f.hasDefault })
}

// anyField reports whether some field of n, at any depth (inside arrays
// and maps too), satisfies is.
func anyField(n *node, is func(*field) bool) bool {
	switch n.kind {
	case kindObject:
		for _, f := range n.fields {
			if is(f) || anyField(f.node, is) {
				return true
			}
		}
	case kindArray, kindMap:
		return anyField(n.elem, is)
	}
	return false
}

// hasOptionalContainers reports whether n has an optional array or map
// field at any depth.
func hasOptionalContainers(n *node) bool {
	return anyField(n, func(f *field) bool { return f.optional && (f.node.kind == kindArray || f.node.kind == kindMap) })
}

// ShowsOptionalContainers reports whether the version has an optional
// array or map field at any depth, which View shows empty when the
// record lacks it and a record as written may hold as nil.
func (v *Version) ShowsOptionalContainers() bool { return v.c.optionalContainers }

// nullIsZeroTime reports whether a null where a value of n belongs is
// the zero time, as CBOR writes it; the zero value is that time.
func (fl *filler) nullIsZeroTime(n *node) bool {
	return fl.cbor && n.kind == kindTime
}

// NullDefaults checks data, a record of this version in plain form as any
// decoder makes it, for null on fields that are not optional but have a
// default: a default fills in a field that is left out, and the decoders
// into record structs cannot tell one from a field sent as null. It
// returns a problem.Unprocessable error with rule "present" for each, or
// nil. With cbor set, a null time field is the zero time, as CBOR bodies
// write it, and no failure.
func (v *Version) NullDefaults(data any, cbor bool) error {
	if !v.c.defaulted {
		return nil
	}
	fl := filler{cbor: cbor}
	fl.nullDefaults(v.c.root, data)
	return v.failed(fl.missing, 0)
}

func (fl *filler) nullDefaults(n *node, x any) {
	switch n.kind {
	case kindObject:
		m, _ := x.(map[string]any)
		for _, f := range n.fields {
			val, ok := m[f.name]
			if !ok {
				continue
			}
			mark := fl.push(f.name)
			switch {
			case val != nil:
				fl.nullDefaults(f.node, val)
			case !f.optional && f.hasDefault && !fl.nullIsZeroTime(f.node):
				fl.fail("present", "is null")
			}
			fl.pop(mark)
		}
	case kindArray:
		s, _ := x.([]any)
		for i, e := range s {
			if e != nil {
				mark := fl.pushIndex(i)
				fl.nullDefaults(n.elem, e)
				fl.pop(mark)
			}
		}
	case kindMap:
		m, _ := x.(map[string]any)
		for _, k := range sortedKeys(m) {
			if m[k] != nil {
				mark := fl.pushKey(k)
				fl.nullDefaults(n.elem, m[k])
				fl.pop(mark)
			}
		}
	}
}

// epochTime reads x, an int64 or a float64 of seconds since the Unix
// epoch, as the CBOR decoder reads an untagged number on a time field:
// whole seconds, and the fraction of a float as nanoseconds.
func epochTime(x any) (time.Time, bool) {
	switch x := x.(type) {
	case int64:
		return time.Unix(x, 0).UTC(), true
	case float64:
		if math.IsNaN(x) || math.Abs(x) >= 1<<63 {
			return time.Time{}, false
		}
		sec, frac := math.Modf(x)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
	}
	return time.Time{}, false
}
