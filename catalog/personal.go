package catalog

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/labhooks/labhooks"
)

var (
	// emailRE finds an address anywhere in a value: an address inside a
	// sentence or a URL leaks as much as one on its own, and so does one
	// percent-encoded in a query string.
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+(@|%40)[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// phoneRE matches a value that is, as a whole, a phone number written any
	// usual way; its digits are counted apart, as a regexp cannot count them
	// across separators.
	phoneRE = regexp.MustCompile(`^\+?[0-9 ().\-]+$`)
	// intlPhoneRE finds an international number inside a longer value. A UTC
	// offset such as "+00" or "+01:00" has too few digits to match.
	intlPhoneRE = regexp.MustCompile(`\+[ (]{0,2}[0-9](?:[ ().\-]{0,2}[0-9]){6,}`)
	// dateRE spares ISO dates, which a whole-value phone match would catch.
	dateRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// minPhoneDigits is the fewest digits a value needs to be taken for a phone
// number; fewer would flag short numeric codes.
const minPhoneDigits = 7

// personalData returns what s looks like ("an email address", "a phone
// number"), or "" when it looks like neither.
func personalData(s string) string {
	// The byte checks first spare the regular expressions almost every value
	// on the emit path: no address without an @, no phone number without
	// enough digits.
	if (strings.IndexByte(s, '@') >= 0 || strings.Contains(s, "%40")) && emailRE.MatchString(s) {
		return "an email address"
	}
	if countDigits(s) < minPhoneDigits {
		return ""
	}
	if intlPhoneRE.MatchString(s) || phoneRE.MatchString(s) && !dateRE.MatchString(s) {
		return "a phone number"
	}
	return ""
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			n++
		}
	}
	return n
}

// checkPersonal walks every string of v, object keys included since a custom
// type's free-form object could be keyed by address, and refuses the first one
// that looks personal. The message names where, never the value itself, so
// the personal data does not end up in logs through the error.
func checkPersonal(eventName string, v any) error {
	// The fast walk builds no paths and sorts no keys: almost every event
	// passes. Only a refused one is walked again, in key order, so its error
	// names the same field from one call to the next.
	if !hasPersonal(v) {
		return nil
	}
	f := findPersonal(v, "data")
	where := f.path + ": looks like "
	if f.key {
		where = f.path + ": a field name looks like "
	}
	return labhooks.Errorf(labhooks.EPersonalData,
		"%s%s; %s events must not carry personal data (receivers fetch personal details through the REST API)",
		where, f.what, eventName)
}

func hasPersonal(v any) bool {
	switch v := v.(type) {
	case string:
		return personalData(v) != ""
	case []any:
		for _, x := range v {
			if hasPersonal(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if personalData(k) != "" || hasPersonal(x) {
				return true
			}
		}
	}
	return false
}

// finding is where findPersonal found personal data and what it looks like.
type finding struct {
	path string
	what string
	key  bool // an object key at path looks personal, not a value
}

func findPersonal(v any, path string) finding {
	switch v := v.(type) {
	case string:
		return finding{path: path, what: personalData(v)}
	case []any:
		for i, x := range v {
			if f := findPersonal(x, path+"["+strconv.Itoa(i)+"]"); f.what != "" {
				return f
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if what := personalData(k); what != "" {
				return finding{path: path, what: what, key: true}
			}
			if f := findPersonal(v[k], childPath(path, k)); f.what != "" {
				return f
			}
		}
	}
	return finding{}
}
