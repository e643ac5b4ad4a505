package schema

import (
	"reflect"
	"strconv"
	"strings"
)

// ruleMessage says in words why the value at path failed rule, for the
// message of a problem.FieldError. kind is the Go kind of the value the
// rule looked at.
func ruleMessage(path, rule, param string, k reflect.Kind) string {
	unit := ""
	switch k {
	case reflect.String:
		unit = " characters"
	case reflect.Slice, reflect.Array, reflect.Map:
		unit = " items"
	}
	size := func(cmp string) string {
		if param == "" {
			return "failed the '" + rule + "' rule"
		}
		return "must be " + cmp + " " + param + unit
	}
	var msg string
	switch rule {
	case "required":
		msg = "is required and must not be empty or zero"
	case "min", "gte":
		msg = size("at least")
	case "max", "lte":
		msg = size("at most")
		if param == "" && k == reflect.Struct {
			msg = "must not be in the future"
		}
	case "gt":
		msg = size("more than")
	case "lt":
		msg = size("less than")
		if param == "" && k == reflect.Struct {
			msg = "must be in the past"
		}
	case "len":
		msg = size("exactly")
	case "eq":
		msg = "must equal " + param
	case "ne":
		msg = "must not equal " + param
	case "oneof":
		vals := oneofValues(param)
		for i, v := range vals {
			if v == "" || strings.ContainsAny(v, " ,") {
				vals[i] = strconv.Quote(v)
			}
		}
		msg = "must be one of " + strings.Join(vals, ", ")
	case "email":
		msg = "must be an email address"
	case "url", "uri", "http_url", "https_url":
		msg = "must be a URL"
	case "uuid", "uuid3", "uuid4", "uuid5", "uuid_rfc4122", "uuid3_rfc4122", "uuid4_rfc4122", "uuid5_rfc4122":
		msg = "must be a UUID"
	case "alpha":
		msg = "must contain only letters"
	case "alphanum":
		msg = "must contain only letters and digits"
	case "numeric", "number":
		msg = "must be a number"
	case "lowercase":
		msg = "must be in lower case"
	case "uppercase":
		msg = "must be in upper case"
	case "ip", "ipv4", "ipv6":
		msg = "must be an IP address"
	case "hostname", "hostname_rfc1123", "fqdn":
		msg = "must be a host name"
	case "datetime":
		msg = "must be a date-time in the layout " + param
	case "unique":
		msg = "must not contain duplicates"
	case "eqfield", "eqcsfield":
		msg = "must equal " + param
	case "nefield", "necsfield":
		msg = "must differ from " + param
	case "gtfield", "gtcsfield":
		msg = "must be greater than " + param
	case "gtefield", "gtecsfield":
		msg = "must be at least " + param
	case "ltfield", "ltcsfield":
		msg = "must be less than " + param
	case "ltefield", "ltecsfield":
		msg = "must be at most " + param
	case "contains":
		msg = "must contain " + param
	case "excludes":
		msg = "must not contain " + param
	case "startswith":
		msg = "must start with " + param
	case "endswith":
		msg = "must end with " + param
	default:
		if strings.HasPrefix(rule, "required_") {
			msg = "is required here (" + rule + " " + param + ")"
		} else if strings.HasPrefix(rule, "excluded_") {
			msg = "must be left out here (" + rule + " " + param + ")"
		} else if param != "" {
			msg = "failed the '" + rule + "=" + param + "' rule"
		} else {
			msg = "failed the '" + rule + "' rule"
		}
	}
	return path + " " + msg
}
