package schema

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
)

// maxRuleLen bounds a validate string.
const maxRuleLen = 1024

// Tags that steer the validator rather than name a validation.
var structuralRules = map[string]bool{
	"dive": true, "keys": true, "endkeys": true, "omitempty": true, "omitnil": true,
	"omitzero": true, "structonly": true, "nostructlevel": true, "-": true,
}

// How cross-field rules name other fields in their parameter.
const (
	paramValue      = iota // not a field
	paramField             // one sibling field: eqfield=other
	paramNamespace         // a dotted path: eqcsfield=inner.field
	paramFieldList         // sibling fields separated by spaces: required_with=a b
	paramFieldPairs        // field value pairs: required_if=status paid
	paramElemField         // a field of the elements: unique=sku
)

var ruleParams = map[string]int{
	"eqfield": paramField, "nefield": paramField, "gtfield": paramField, "gtefield": paramField,
	"ltfield": paramField, "ltefield": paramField, "fieldcontains": paramField, "fieldexcludes": paramField,
	"eqcsfield": paramNamespace, "necsfield": paramNamespace, "gtcsfield": paramNamespace,
	"gtecsfield": paramNamespace, "ltcsfield": paramNamespace, "ltecsfield": paramNamespace,
	"required_with": paramFieldList, "required_with_all": paramFieldList, "required_without": paramFieldList,
	"required_without_all": paramFieldList, "excluded_with": paramFieldList, "excluded_with_all": paramFieldList,
	"excluded_without": paramFieldList, "excluded_without_all": paramFieldList,
	"required_if": paramFieldPairs, "required_unless": paramFieldPairs, "excluded_if": paramFieldPairs,
	"excluded_unless": paramFieldPairs, "skip_unless": paramFieldPairs,
	"unique": paramElemField,
}

// hostRules are the validator's rules that look at the machine running
// them rather than at the value: the files, sockets and time zone
// database there, and its resolver. Run by Ferry they would look at the
// server, so a client could find out which files exist on it (or make a
// request hang opening a FIFO), and a record's validity would depend on
// where it is checked. Each names what it looks at.
var hostRules = map[string]string{
	"file":       "checks that a file exists on the server",
	"filepath":   "checks the path on the server's file system",
	"dir":        "checks that a directory exists on the server",
	"dirpath":    "checks the path on the server's file system",
	"image":      "opens and reads a file on the server",
	"mimetype":   "opens and reads a file on the server",
	"uds_exists": "checks that a socket exists on the server",
	"tcp_addr":   "resolves the address with the server's resolver",
	"tcp4_addr":  "resolves the address with the server's resolver",
	"tcp6_addr":  "resolves the address with the server's resolver",
	"udp_addr":   "resolves the address with the server's resolver",
	"udp4_addr":  "resolves the address with the server's resolver",
	"udp6_addr":  "resolves the address with the server's resolver",
	"ip_addr":    "resolves the address with the server's resolver",
	"ip4_addr":   "resolves the address with the server's resolver",
	"ip6_addr":   "resolves the address with the server's resolver",
	"timezone":   "loads the zone from the server's time zone database",
}

// stringRules are the validator's rules on the content of strings. On
// other types the validator looks at a description of the value instead,
// so such a rule would fail every record rather than panic at
// registration.
var stringRules = map[string]bool{
	"email": true, "url": true, "uri": true, "http_url": true, "https_url": true, "url_encoded": true,
	"uuid": true, "uuid3": true, "uuid4": true, "uuid5": true, "uuid_rfc4122": true, "uuid3_rfc4122": true,
	"uuid4_rfc4122": true, "uuid5_rfc4122": true, "ulid": true, "alpha": true, "alphanum": true,
	"alphaunicode": true, "alphanumunicode": true, "numeric": true, "number": true, "hexadecimal": true,
	"hexcolor": true, "rgb": true, "rgba": true, "hsl": true, "hsla": true, "e164": true, "lowercase": true,
	"uppercase": true, "ascii": true, "printascii": true, "multibyte": true, "base64": true, "base64url": true,
	"contains": true, "containsany": true, "containsrune": true, "excludes": true, "excludesall": true,
	"excludesrune": true, "startswith": true, "endswith": true, "startsnotwith": true, "endsnotwith": true,
	"hostname": true, "hostname_rfc1123": true, "fqdn": true, "ip": true, "ipv4": true, "ipv6": true,
	"cidr": true, "mac": true, "json": true, "jwt": true, "datetime": true, "semver": true, "iso3166_1_alpha2": true,
	"iso4217": true, "bcp47_language_tag": true, "latitude": true, "longitude": true,
	"cron": true, "credit_card": true, "btc_addr": true, "btc_addr_bech32": true, "eth_addr": true,
	"isbn": true, "isbn10": true, "isbn13": true, "issn": true, "ssn": true, "ein": true, "bic": true,
	"md4": true, "md5": true, "sha256": true, "sha384": true, "sha512": true, "ripemd128": true,
	"ripemd160": true, "tiger128": true, "tiger160": true, "tiger192": true, "html": true,
	"html_encoded": true, "urn_rfc2141": true, "base32": true, "base64rawurl": true, "datauri": true,
	"spicedb": true, "mongodb": true, "mongodb_connection_string": true, "cve": true,
	"dns_rfc1035_label": true, "hostname_port": true, "iso3166_1_alpha3": true, "postcode_iso3166_alpha2": true,
	"alphaspace": true, "alphanumspace": true, "cidrv4": true, "cidrv6": true, "iso3166_2": true,
}

// methodRules are the validator's rules that call a method of the Go
// value, which the types compiled from a schema do not have: they would
// fail every record.
var methodRules = map[string]bool{"validateFn": true}

// nowRules are the validator's bounds that, on a time, ignore their
// parameter (if any) and compare the time with the current one. With a
// parameter they mislead; without one, each says whether the time is in
// the past (pastRules), which stays true once it holds, or in the future,
// which does not: a record written valid would turn invalid as time
// passes, and could not be written again, nor upgraded.
var nowRules = map[string]bool{"gt": true, "gte": true, "lt": true, "lte": true, "min": true, "max": true}

// pastRules are the nowRules that, without a parameter, ask that a time
// be in the past.
var pastRules = map[string]bool{"lt": true, "lte": true, "max": true}

// A ruleChecker checks validate strings against a validator instance.
type ruleChecker struct {
	v *validator.Validate
}

// newValidator returns a validator that treats a non-pointer struct as it
// treats any value, and knows requiredValueTag. It reports Go names, which
// runRules turns into schema names: a tag name function would make the
// validator build a second name for every array element it dives into, on
// every record.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	if err := v.RegisterValidation(requiredValueTag, hasRequiredValue); err != nil {
		panic("schema: " + err.Error())
	}
	return v
}

// requiredValueTag is the validator's name for `required` on an optional
// field's own value, which the record struct holds behind a pointer, and
// on an array, a map or bytes. The validator's `required` asks no more of
// a pointer, a slice or a map than that it is not nil, so a present "" or
// 0 would pass, where the same value in a field that is not optional
// fails, and so would [] and {}, which a record always holds rather than
// nil; this one looks at the value, as the published JSON Schema
// (minItems, minProperties, minLength) and the failure's message say.
// Definitions cannot name it: it appears only in the compiled struct's
// tags, and failures report it as `required`.
const requiredValueTag = "ferry_required"

// hasRequiredValue reports whether a value has what `required` asks: an
// array, a map or bytes must not be empty, anything else must not be the
// zero value.
func hasRequiredValue(fl validator.FieldLevel) bool {
	v := fl.Field()
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil()
	}
	return v.IsValid() && !v.IsZero()
}

// validatorRule returns the validate tag of f in the compiled record
// struct: its rule, with `required` made requiredValueTag where the
// validator's would ask less (see requiredValueTag): on the field's own
// value when it is optional, and on it and on the elements it dives into
// when they are arrays, maps or bytes.
func validatorRule(f *field) string {
	if !strings.Contains(f.rule, "required") {
		return f.rule
	}
	tokens := strings.Split(f.rule, ",")
	n, own, inKeys := f.node, true, false
	for i, tok := range tokens {
		switch tok {
		case "dive":
			own = false
			if n != nil {
				n = n.elem
			}
			continue
		case "keys":
			inKeys = true
			continue
		case "endkeys":
			inKeys = false
			continue
		}
		container := n != nil && (n.kind == kindArray || n.kind == kindMap || n.kind == kindBytes)
		if inKeys || !(own && f.optional || container) {
			continue
		}
		parts := strings.Split(tok, "|")
		for j, part := range parts {
			if part == "required" {
				parts[j] = requiredValueTag
			}
		}
		tokens[i] = strings.Join(parts, "|")
	}
	return strings.Join(tokens, ",")
}

// definitionTag returns a failed tag (a rule, or rules joined by "|") as
// the definition wrote it.
func definitionTag(tag string) string {
	if !strings.Contains(tag, requiredValueTag) {
		return tag
	}
	parts := strings.Split(tag, "|")
	for i, p := range parts {
		if p == requiredValueTag {
			parts[i] = "required"
		}
	}
	return strings.Join(parts, "|")
}

// ruleParam returns a rule's parameter as the validator reads it: 0x2C
// and 0x7C stand for a comma and a pipe, which would otherwise end the
// rule.
func ruleParam(param string) string {
	return strings.ReplaceAll(strings.ReplaceAll(param, "0x2C", ","), "0x7C", "|")
}

// oneofValue matches one value of a oneof parameter, as the validator
// splits it: a run of anything but spaces, or single quotes around
// anything but a quote.
var oneofValue = regexp.MustCompile(`'[^']*'|\S+`)

// oneofValues returns the values of a oneof parameter (as ruleParam reads
// it) the way the validator does: separated by spaces, a value in single
// quotes may hold spaces, and every single quote is dropped.
func oneofValues(param string) []string {
	vals := oneofValue.FindAllString(param, -1)
	for i, v := range vals {
		vals[i] = strings.ReplaceAll(v, "'", "")
	}
	return vals
}

// hasDive reports whether a rule string dives into elements.
func hasDive(rule string) bool { return hasToken(rule, "dive") }

func hasToken(rule, token string) bool {
	for t := range strings.SplitSeq(rule, ",") {
		if t == token {
			return true
		}
	}
	return false
}

func joinRules(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// composeRule returns the validate tag of a field: its own rule, with the
// rules of array items or map values composed after "dive" (added when the
// elements hold objects, whose own rules would otherwise never run), and
// cross-field parameters in Go names. parent is the object holding the
// field, for checking that named fields exist.
//
// The validator fails a nil pointer on any rule but omitempty and omitnil;
// an optional field may be absent, so its rules start with omitnil and
// apply only when it is there.
func (c *compiler) composeRule(f *field, path string, parent *node, siblingsOK bool) string {
	own := c.checkRuleSyntax(f.def.Validate, path)
	if elem := elemOf(f.def); elem != nil {
		own = c.withElemRule(own, elem, path)
	}
	if f.optional && own != "" {
		first, _, _ := strings.Cut(own, ",")
		if first != "omitempty" && first != "omitnil" && first != "omitzero" {
			own = withOmitNil(own)
		}
	}
	return c.translateParams(own, path, f.node, parent, siblingsOK)
}

// conditionalRequired are the rules that require a field only when
// another one has (or lacks) a value: on an optional field they must run
// before omitnil, which would pass an absent field before they could ask
// for it.
var conditionalRequired = map[string]bool{
	"required_if": true, "required_unless": true, "required_with": true,
	"required_with_all": true, "required_without": true, "required_without_all": true,
}

// withOmitNil returns the rule of an optional field: omitnil, so that the
// rest applies only when the field is there, after the field's own
// conditional requirements (those before any dive), which decide whether
// it must be there.
func withOmitNil(rule string) string {
	tokens := strings.Split(rule, ",")
	var first, rest []string
	own := true
	for _, tok := range tokens {
		name, _, _ := strings.Cut(tok, "=")
		if name == "dive" || name == "keys" {
			own = false
		}
		if own && conditionalRequired[name] {
			first = append(first, tok)
		} else {
			rest = append(rest, tok)
		}
	}
	return strings.Join(slices.Concat(first, []string{"omitnil"}, rest), ",")
}

func elemOf(def *Field) *Field {
	switch def.Type {
	case "array":
		return def.Items
	case "map":
		return def.Values
	}
	return nil
}

// withElemRule appends the element rules of a container to its own rule.
func (c *compiler) withElemRule(own string, elem *Field, path string) string {
	inner, needed := c.elemRule(elem, path+"[]")
	if !needed {
		return own
	}
	if hasDive(own) {
		if inner != "" {
			c.errorf("field '%s': element rules belong either after 'dive' or in the element's validate, not both", path)
		}
		return own
	}
	return joinRules(own, "dive", inner)
}

// elemRule returns the rule to apply to each element and whether the
// elements need diving into at all.
func (c *compiler) elemRule(elem *Field, path string) (string, bool) {
	own := c.checkRuleSyntax(elem.Validate, path)
	if sub := elemOf(elem); sub != nil {
		own = c.withElemRule(own, sub, path)
	}
	return own, own != "" || elem.Type == "object"
}

func (c *compiler) checkRuleSyntax(rule, path string) string {
	if len(rule) > maxRuleLen {
		c.errorf("field '%s': the rule is longer than %d bytes", path, maxRuleLen)
		return ""
	}
	for _, r := range rule {
		if r < 0x20 || r == 0x7f || r == '`' {
			c.errorf("field '%s': the rule contains a control character or a backquote", path)
			return ""
		}
	}
	return rule
}

// translateParams rewrites the field names in cross-field parameters to Go
// names, which is what the validator resolves, and checks that the fields
// they name exist and, for comparisons, can be compared with the value
// (see checkParam). It also checks that every rule name is known to the
// validator.
func (c *compiler) translateParams(rule, path string, n, parent *node, siblingsOK bool) string {
	if rule == "" {
		return ""
	}
	tokens := strings.Split(rule, ",")
	inKeys := false
	for i, tok := range tokens {
		switch tok {
		case "dive":
			if n != nil {
				n = n.elem
			}
		case "keys":
			inKeys = true
		case "endkeys":
			inKeys = false
		}
		if structuralRules[tok] {
			continue
		}
		parts := strings.Split(tok, "|")
		for j, part := range parts {
			name, param, hasParam := strings.Cut(part, "=")
			if name == "" {
				c.errorf("field '%s': the rule %q has an empty part", path, rule)
				continue
			}
			if name == requiredValueTag || !c.rules.known(name) {
				c.errorf("field '%s': unknown rule '%s'", path, name)
				continue
			}
			if what, ok := hostRules[name]; ok {
				c.errorf("field '%s': rule '%s' %s: it would look at the server's machine, not at the record", path, name, what)
				continue
			}
			if methodRules[name] {
				c.errorf("field '%s': rule '%s' calls a method of the Go value, which a schema's records do not have, so it would fail every record", path, name)
				continue
			}
			if name == "boolean" && !inKeys && n != nil && n.kind != kindString && n.kind != kindBool {
				c.errorf("field '%s': rule 'boolean' applies to strings and booleans, not to %s", path, describeNode(n))
				continue
			}
			if stringRules[name] && !inKeys && n != nil && n.kind != kindString {
				c.errorf("field '%s': rule '%s' applies to strings, not to %s", path, name, describeNode(n))
				continue
			}
			if nowRules[name] && !inKeys && n != nil && n.kind == kindTime {
				switch {
				case name != part:
					c.errorf("field '%s': rule '%s' on a time ignores its parameter and compares the time with the current time, so a record's validity would change as time passes; compare times with gtfield and its kin", path, part)
					continue
				case !pastRules[name]:
					c.errorf("field '%s': rule '%s' on a time asks that it be in the future, which it stops being, so a record's validity would change as time passes", path, part)
					continue
				}
			}
			how, cross := ruleParams[name]
			if !cross {
				continue
			}
			if !hasParam {
				if how == paramField || how == paramNamespace {
					c.errorf("field '%s': rule '%s' needs the field to compare with (%s=other)", path, name, name)
				}
				continue
			}
			goParam := c.translate(how, param)
			if goParam != param {
				c.params[goParam] = param
			}
			// The validator finds the fields a parameter names from the
			// object holding the field, after a dive too; the value it
			// compares is the field's, an element's or a map key.
			if siblingsOK {
				own := kindInvalid
				if inKeys {
					own = kindString
				} else if n != nil {
					own = n.kind
				}
				c.checkParam(how, name, param, goParam, path, parent, own)
			}
			parts[j] = name + "=" + goParam
		}
		tokens[i] = strings.Join(parts, "|")
	}
	return strings.Join(tokens, ",")
}

func (c *compiler) translate(how int, param string) string {
	// A name may be followed by [index] or [key] steps into an array or a
	// map.
	goOf := func(s string) string {
		name, _, _ := strings.Cut(s, "[")
		if validName(name) {
			return GoName(name) + s[len(name):]
		}
		return s
	}
	switch how {
	case paramElemField:
		return goOf(param)
	case paramField, paramNamespace:
		segs := strings.Split(param, ".")
		for i, s := range segs {
			segs[i] = goOf(s)
		}
		return strings.Join(segs, ".")
	case paramFieldList, paramFieldPairs:
		words := strings.Fields(param)
		for i, w := range words {
			if how == paramFieldList || i%2 == 0 {
				words[i] = goOf(w)
			}
		}
		return strings.Join(words, " ")
	}
	return param
}

// checkParam checks that the fields a cross-field parameter names exist
// and, for a rule that compares the value with another field's, that the
// validator can compare the two: own is the kind of the value the rule
// looks at (kindInvalid when unknown).
func (c *compiler) checkParam(how int, rule, param, goParam, path string, parent *node, own kind) {
	var names []string
	switch how {
	case paramField, paramNamespace:
		other, why := resolveParam(parent, param, goParam)
		if why != "" {
			c.errorf("field '%s': rule '%s=%s' names a field that does not exist: %s", path, rule, param, why)
			return
		}
		if why := cannotCompare(rule, own, other.kind); why != "" {
			c.errorf("field '%s': rule '%s=%s' %s, which the validator cannot do: its answer would not depend on the values", path, rule, param, why)
		}
		return
	case paramFieldList:
		names = strings.Fields(goParam)
	case paramFieldPairs:
		for i, w := range strings.Fields(goParam) {
			if i%2 == 0 {
				names = append(names, w)
			}
		}
	default:
		return
	}
	for _, n := range names {
		if parent.byGo[n] == nil {
			c.errorf("field '%s': rule '%s=%s' names a field that does not exist next to it", path, rule, param)
			return
		}
	}
}

// resolveParam follows a cross-field parameter in Go names ("Inner.Z",
// "Items[0].Qty") from the object parent as the validator does, and
// returns the node of the value it names, or why it names none.
func resolveParam(parent *node, param, goParam string) (*node, string) {
	cur, at := parent, ""
	// The parameter as written names the fields in the reports: its
	// segments are those of goParam, in schema names.
	written := strings.Split(param, ".")
	for i, seg := range strings.Split(goParam, ".") {
		name, steps, _ := strings.Cut(seg, "[")
		shown := name
		if i < len(written) {
			shown, _, _ = strings.Cut(written[i], "[")
		}
		if cur.kind != kindObject {
			return nil, fmt.Sprintf("'%s' is %s %s, which has no fields", at, article(cur.kind), describeNode(cur))
		}
		f := cur.byGo[name]
		switch {
		case f == nil && at == "":
			return nil, fmt.Sprintf("there is no field '%s' next to it", shown)
		case f == nil:
			return nil, fmt.Sprintf("'%s' has no field '%s'", at, shown)
		}
		cur, at = f.node, child(at, f.name)
		for steps != "" {
			step, rest, closed := strings.Cut(steps, "]")
			if !closed || (rest != "" && rest[0] != '[') {
				return nil, fmt.Sprintf("'%s' is followed by %q, which is not a step of [index] or [key]", at, "["+steps)
			}
			steps = strings.TrimPrefix(rest, "[")
			switch cur.kind {
			case kindArray:
				// The validator reads an index with strconv.Atoi and
				// takes element 0 for anything else.
				if n, err := strconv.Atoi(step); err != nil || n < 0 || strconv.Itoa(n) != step {
					return nil, fmt.Sprintf("'%s' is an array, and [%s] is not an index (a number from 0)", at, step)
				}
			case kindMap:
				if step == "" {
					return nil, fmt.Sprintf("'%s' is a map, and [] names no key", at)
				}
			default:
				return nil, fmt.Sprintf("'%s' is %s %s, not an array or a map", at, article(cur.kind), cur.kind)
			}
			cur, at = cur.elem, at+"["+step+"]"
		}
	}
	return cur, ""
}

// comparedKinds lists, for each cross-field rule that compares the value
// with another field's, the kinds whose values it compares. The validator
// compares values of one Go kind only, and on a kind it does not compare
// it looks at a description of the type instead: either way its answer
// would be the same for every record.
var comparedKinds = map[string][]kind{
	"eqfield":       {kindInt, kindFloat, kindString, kindBool, kindTime, kindBytes, kindArray, kindMap},
	"nefield":       {kindInt, kindFloat, kindString, kindBool, kindTime, kindBytes, kindArray, kindMap},
	"eqcsfield":     {kindInt, kindFloat, kindString, kindBool, kindTime, kindBytes, kindArray, kindMap},
	"necsfield":     {kindInt, kindFloat, kindString, kindBool, kindTime, kindBytes, kindArray, kindMap},
	"gtfield":       {kindInt, kindFloat, kindString, kindTime},
	"gtefield":      {kindInt, kindFloat, kindString, kindTime},
	"ltfield":       {kindInt, kindFloat, kindString, kindTime},
	"ltefield":      {kindInt, kindFloat, kindString, kindTime},
	"gtcsfield":     {kindInt, kindFloat, kindString, kindTime, kindBytes, kindArray, kindMap},
	"gtecsfield":    {kindInt, kindFloat, kindString, kindTime, kindBytes, kindArray, kindMap},
	"ltcsfield":     {kindInt, kindFloat, kindString, kindTime, kindBytes, kindArray, kindMap},
	"ltecsfield":    {kindInt, kindFloat, kindString, kindTime, kindBytes, kindArray, kindMap},
	"fieldcontains": {kindString},
	"fieldexcludes": {kindString},
}

// cannotCompare says what rule would compare when it cannot compare a
// value of kind own with one of kind other, or returns "".
func cannotCompare(rule string, own, other kind) string {
	kinds, compares := comparedKinds[rule]
	switch {
	case !compares || own == kindInvalid:
		return ""
	case own != other:
		return fmt.Sprintf("compares %s %s with %s %s", article(own), own, article(other), other)
	case !slices.Contains(kinds, own):
		return fmt.Sprintf("compares two values of type %s", own)
	}
	return ""
}

// known reports whether the validator has a rule or alias of that name.
// The validator offers no lookup, so this asks it to parse the name alone:
// an unknown name makes it panic with a message saying so.
func (rc *ruleChecker) known(name string) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = !strings.Contains(fmt.Sprint(r), "Undefined validation function")
		}
	}()
	_ = rc.v.Var("", name)
	return true
}

// probe applies the rules of every field of the object n to sample values
// of the field's type, so that a rule that cannot apply (min=abc on an
// int, min=1 on a bool, an unknown rule inside elements) is found at
// registration, never at request time. Cross-field rules need the whole
// struct, so they are left to exercise.
func (c *compiler) probe(n *node, path string) {
	walkFields(n, path, func(f *field, fp string) {
		rule := withoutCrossField(f.rule)
		if rule == "" {
			return
		}
		for variant := range sampleVariants {
			if msg := c.rules.panics(sampleField(f, variant), rule); msg != "" {
				c.errorf("field '%s': rule '%s' cannot be applied to %s: %s", fp, blame(c.rules, sampleField(f, variant), rule), describeType(f), msg)
				return
			}
		}
		// The validator stops at a field's first failing rule, so a rule
		// after one that every sample fails (lt=x after gt=5) is tried
		// alone too, in its place among the structural ones.
		tokens := strings.Split(rule, ",")
		for i, tok := range tokens {
			if structuralRules[tok] {
				continue
			}
			alone := isolateRule(tokens, i)
			for variant := range sampleVariants {
				if msg := c.rules.panics(sampleField(f, variant), alone); msg != "" {
					c.errorf("field '%s': rule '%s' cannot be applied to %s: %s", fp, tok, describeType(f), msg)
					return
				}
			}
		}
	})
}

// isolateRule returns the rule list tokens with token i as its only rule
// that is not structural: the structural ones (dive, keys, omitempty, …)
// stay, so that it applies where it did; a dive left with nothing after it
// and a keys section left empty go.
func isolateRule(tokens []string, i int) string {
	var out []string
	for j, tok := range tokens {
		if j != i && !structuralRules[tok] {
			continue
		}
		if tok == "endkeys" && len(out) > 0 && out[len(out)-1] == "keys" {
			out = out[:len(out)-1]
			continue
		}
		out = append(out, tok)
	}
	for len(out) > 0 && out[len(out)-1] == "dive" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, ",")
}

// exercise validates sample records of the whole type, the net under the
// per-field probes: cross-field rules run only here.
func (c *compiler) exercise(n *node) {
	for variant := range sampleVariants {
		p := reflect.New(n.plain)
		p.Elem().Set(sampleValue(n, variant))
		if msg := c.rules.panics(p.Interface(), ""); msg != "" {
			c.errorf("the rules cannot be applied to a sample record: %s", msg)
			return
		}
	}
}

// panics runs the validator under recover and returns why it panicked,
// or "". An empty rule validates v as a struct.
func (rc *ruleChecker) panics(v any, rule string) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = panicReason(r)
		}
	}()
	if rule == "" {
		_ = rc.v.Struct(v)
	} else {
		_ = rc.v.Var(v, rule)
	}
	return ""
}

// blame returns the first token of rule that makes the validator panic on
// v, for a message that names the culprit rather than the whole string.
func blame(rc *ruleChecker, v any, rule string) string {
	tokens := strings.Split(rule, ",")
	for i := range tokens {
		if rc.panics(v, strings.Join(tokens[:i+1], ",")) != "" {
			if structuralRules[tokens[i]] {
				break
			}
			return tokens[i]
		}
	}
	return rule
}

func withoutCrossField(rule string) string {
	if rule == "" {
		return ""
	}
	tokens := strings.Split(rule, ",")
	keep := tokens[:0]
	for _, tok := range tokens {
		cross := false
		for part := range strings.SplitSeq(tok, "|") {
			name, _, _ := strings.Cut(part, "=")
			if _, ok := ruleParams[name]; ok {
				cross = true
			}
		}
		if !cross {
			keep = append(keep, tok)
		}
	}
	// A rule list that now ends in "dive" dives for nothing; drop it.
	for len(keep) > 0 && keep[len(keep)-1] == "dive" {
		keep = keep[:len(keep)-1]
	}
	return strings.Join(keep, ",")
}

func describeType(f *field) string {
	s := describeNode(f.node)
	if f.optional {
		s = "optional " + s
	}
	return s
}

func describeNode(n *node) string {
	switch n.kind {
	case kindArray:
		return "array of " + describeNode(n.elem)
	case kindMap:
		return "map of " + describeNode(n.elem)
	}
	return n.kind.String()
}

// The sample variants: 0 has zero values, empty containers and absent
// optional fields; 1 has ordinary values and one element in every
// container; 2 has zero values, one zero element in every container and
// every optional field present.
const sampleVariants = 3

func sampleField(f *field, variant int) any {
	v := sampleValue(f.node, variant)
	if !f.optional {
		return v.Interface()
	}
	p := reflect.New(f.node.plain)
	if variant == 0 {
		return p.Interface()
	}
	p.Elem().Set(v)
	return p.Interface()
}

func sampleValue(n *node, variant int) reflect.Value {
	v := reflect.New(n.plain).Elem()
	switch n.kind {
	case kindString:
		if variant == 1 {
			v.SetString("a")
		}
	case kindInt:
		if variant == 1 {
			v.SetInt(1)
		}
	case kindFloat:
		if variant == 1 {
			v.SetFloat(1.5)
		}
	case kindBool:
		v.SetBool(variant == 1)
	case kindTime:
		if variant == 1 {
			v.Set(reflect.ValueOf(time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)))
		}
	case kindBytes:
		v.SetBytes([]byte{})
		if variant == 1 {
			v.SetBytes([]byte{1})
		}
	case kindObject:
		for _, f := range n.fields {
			fv := v.Field(f.index)
			if f.optional {
				if variant > 0 {
					p := reflect.New(f.node.plain)
					p.Elem().Set(sampleValue(f.node, variant))
					fv.Set(p)
				}
				continue
			}
			fv.Set(sampleValue(f.node, variant))
		}
	case kindArray:
		if variant == 0 {
			v.Set(reflect.MakeSlice(n.plain, 0, 0))
		} else {
			v.Set(reflect.Append(reflect.MakeSlice(n.plain, 0, 1), sampleValue(n.elem, variant)))
		}
	case kindMap:
		v.Set(reflect.MakeMap(n.plain))
		if variant > 0 {
			key := "k"
			if variant == 2 {
				key = ""
			}
			v.SetMapIndex(reflect.ValueOf(key), sampleValue(n.elem, variant))
		}
	}
	return v
}

// panicReason words a validator's panic for the author of a definition:
// its own messages about parameters say so, and a fault deeper down (in
// reflect or the runtime) says no more than that the rule cannot apply,
// rather than naming Go internals.
func panicReason(r any) string {
	msg := fmt.Sprint(r)
	var rerr runtime.Error
	switch {
	case strings.HasPrefix(msg, "Bad param"):
		return "its parameters are not the ones it takes"
	case errors.As(asError(r), &rerr), strings.HasPrefix(msg, "reflect"), strings.Contains(msg, "unhashable"):
		return "the validator cannot apply it to such a value"
	}
	return msg
}

// asError returns r as an error, or nil.
func asError(r any) error {
	err, _ := r.(error)
	return err
}
