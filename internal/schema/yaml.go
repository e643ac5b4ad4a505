package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	yaml "go.yaml.in/yaml/v4"
)

// yamlToJSON turns a YAML definition into JSON of the same shape. It reads
// YAML 1.2, where only true and false are booleans: YAML 1.1, which most
// converters follow, reads y, n, yes, no, on and off as booleans too, so a
// field named y or on would turn into a key "true". Mapping keys are always
// strings. It refuses what JSON cannot say or a definition has no use for:
// several documents, a repeated key, an alias, an infinite or NaN float and
// tags other than the core schema's.
func yamlToJSON(data []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the document is empty")
		}
		return nil, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("a definition is one YAML document; found another after it")
	}
	v, err := yamlValue(&doc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v, json.Deterministic(true))
}

// decimalInt matches a YAML 1.2 decimal integer.
var decimalInt = regexp.MustCompile(`^[-+]?[0-9]+$`)

// yamlInt reads an integer of the YAML 1.2 core schema: decimal, with its
// every digit kept so that one beyond 2^53 stays exact, or 0o octal or 0x
// hexadecimal. The YAML 1.1 forms the parser also tags as integers (012 as
// octal, 1_000) are read as 1.2 reads them: decimal, and a string.
func yamlInt(n *yaml.Node) (any, error) {
	v := n.Value
	if decimalInt.MatchString(v) {
		neg := strings.HasPrefix(v, "-")
		digits := strings.TrimLeft(strings.TrimLeft(v, "+-"), "0")
		if digits == "" {
			return jsontext.Value("0"), nil
		}
		if neg {
			digits = "-" + digits
		}
		return jsontext.Value(digits), nil
	}
	base, digits := 0, ""
	switch {
	case strings.HasPrefix(v, "0o"):
		base, digits = 8, v[2:]
	case strings.HasPrefix(v, "0x"):
		base, digits = 16, v[2:]
	default:
		return v, nil
	}
	i, err := strconv.ParseInt(digits, base, 64)
	if err != nil {
		return nil, fmt.Errorf("line %d: %q is not a 64-bit integer", n.Line, v)
	}
	return i, nil
}

func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, errors.New("the document is empty")
		}
		return yamlValue(n.Content[0])
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: aliases are not supported in a definition", n.Line)
	case yaml.MappingNode:
		if tag := n.ShortTag(); tag != "!!map" {
			return nil, fmt.Errorf("line %d: tag %s is not supported in a definition", n.Line, tag)
		}
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain value", k.Line)
			}
			if tag := k.ShortTag(); k.Style&yaml.TaggedStyle != 0 && tag != "!!str" {
				return nil, fmt.Errorf("line %d: tag %s is not supported on a key in a definition", k.Line, tag)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		if tag := n.ShortTag(); tag != "!!seq" {
			return nil, fmt.Errorf("line %d: tag %s is not supported in a definition", n.Line, tag)
		}
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		return yamlScalar(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func yamlScalar(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a boolean", n.Line, n.Value)
		}
		return b, nil
	case "!!timestamp":
		// YAML 1.2 has no timestamps: a time is a string, which a time
		// field reads as RFC 3339.
		return n.Value, nil
	case "!!int":
		return yamlInt(n)
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %q is not a finite number", n.Line, n.Value)
		}
		// A float keeps its digits, as it would in a JSON definition:
		// 1.0 is not an integer default for an int field. What JSON
		// cannot write as it stands (.5, +1.5) is written anew.
		if v := jsontext.Value(n.Value); v.Kind() == '0' && v.IsValid() {
			return v, nil
		}
		text := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(text, ".e") {
			text += ".0"
		}
		return jsontext.Value(text), nil
	default:
		return nil, fmt.Errorf("line %d: tag %s is not supported in a definition", n.Line, tag)
	}
}
