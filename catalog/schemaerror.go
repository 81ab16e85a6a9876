package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/labhooks/labhooks"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// The patterns the built-in schemas use. They are named here so an error can
// say what the field should look like instead of quoting a regular expression
// at the person who sent the event; a test keeps the schemas in step.
const (
	datetimePattern   = `^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9][+-]([01][0-9]|2[0-3])(:[0-5][0-9])?$`
	httpsPattern      = `^https://\S+$`
	phonePattern      = `^\+[1-9][0-9]{6,14}$`
	scopePattern      = `^[a-z][A-Za-z0-9]*$`
	identifierPattern = `^[a-z][A-Za-z0-9_]*$`
)

var patternHints = map[string]string{
	datetimePattern:   `must be a date and time like "2020-11-16 10:00:00+00"`,
	httpsPattern:      "must be an https:// URL",
	phonePattern:      `must be a phone number in international form, like "+39000000000"`,
	scopePattern:      `must be a lowerCamelCase identifier like "patientData"`,
	identifierPattern: `must be an identifier like "stripe"`,
}

// maxSchemaErrors caps how many violations one message lists; the first few
// are enough to fix an event, and the message stays readable.
const maxSchemaErrors = 5

// schemaError turns the schema library's error tree into one EInvalid whose
// message names each offending field by its path in data. It never quotes the
// offending values, which may be personal.
func schemaError(err error, v any) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return labhooks.Errorf(labhooks.EInvalid, "data: %v", err)
	}
	var msgs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			msgs = append(msgs, instancePath(v, e.InstanceLocation)+": "+kindMessage(e.ErrorKind))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// The library visits properties in map order; sorting gives the same
	// message for the same data every time.
	slices.Sort(msgs)
	msgs = slices.Compact(msgs)
	more := ""
	if len(msgs) > maxSchemaErrors {
		more = fmt.Sprintf(" (and %d more)", len(msgs)-maxSchemaErrors)
		msgs = msgs[:maxSchemaErrors]
	}
	return labhooks.Errorf(labhooks.EInvalid, "%s%s", strings.Join(msgs, "; "), more)
}

// instancePath renders a location inside data; v tells array indices from
// object keys that happen to be digits.
func instancePath(v any, loc []string) string {
	p := "data"
	for _, seg := range loc {
		switch x := v.(type) {
		case []any:
			p += "[" + seg + "]"
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
				v = x[i]
			} else {
				v = nil
			}
		case map[string]any:
			p = childPath(p, seg)
			v = x[seg]
		default:
			p = childPath(p, seg)
			v = nil
		}
	}
	return p
}

func kindMessage(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.AdditionalProperties:
		return fieldList("unknown field", k.Properties)
	case *kind.Required:
		return fieldList("missing required field", k.Missing)
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		return "must be " + strings.Join(want, " or ") + ", not " + article(k.Got)
	case *kind.Pattern:
		if hint, ok := patternHints[k.Want]; ok {
			return hint
		}
		return "must match the pattern " + strconv.Quote(k.Want)
	case *kind.Format:
		switch k.Want {
		case "email":
			return "must be an email address"
		case "uri":
			return "must be an absolute URI"
		}
		return "must be in " + k.Want + " format"
	case *kind.Minimum:
		return "must be at least " + k.Want.RatString()
	case *kind.Maximum:
		return "must be at most " + k.Want.RatString()
	case *kind.ExclusiveMinimum:
		return "must be greater than " + k.Want.RatString()
	case *kind.ExclusiveMaximum:
		return "must be less than " + k.Want.RatString()
	case *kind.MultipleOf:
		return "must be a multiple of " + k.Want.RatString()
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d are the same; each may appear once", k.Duplicates[0], k.Duplicates[1])
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d fields", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d fields", k.Want)
	case *kind.Enum:
		return "must be one of " + jsonList(k.Want)
	case *kind.Const:
		return "must be " + jsonList([]any{k.Want})
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "must not match the schema at " + strconv.Quote("/"+strings.Join(k.KeywordPath(), "/"))
	}
	return "is not valid (schema keyword " + strconv.Quote("/"+strings.Join(k.KeywordPath(), "/")) + ")"
}

func fieldList(what string, names []string) string {
	names = slices.Sorted(slices.Values(names))
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) > 1 {
		what += "s"
	}
	return what + " " + strings.Join(q, ", ")
}

func article(jsonType string) string {
	switch jsonType {
	case "integer", "object", "array":
		return "an " + jsonType
	case "null":
		return "null"
	}
	return "a " + jsonType
}

func jsonList(vs []any) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		b, _ := json.Marshal(v)
		s[i] = string(b)
	}
	return strings.Join(s, ", ")
}
