package catalog

import (
	"cmp"
	"slices"
	"strings"

	"github.com/labhooks/labhooks"
)

// maxListedNames keeps the unknown-name message short once admins have
// registered many custom types.
const maxListedNames = 16

// unknown is the error for an event name the catalog does not have. It
// suggests the names a typo most likely came from, or lists the valid ones.
func (c *Catalog) unknown(name string) error {
	if name == "" {
		return labhooks.Errorf(labhooks.EInvalid, "eventName is required")
	}
	names := c.names()
	if len(name) > 64 {
		// No event name is that long; quoting it whole would only bloat logs.
		return labhooks.Errorf(labhooks.EInvalid, "unknown event name %q…; known event names: %s", name[:64], listNames(names))
	}
	type scored struct {
		name string
		d    int
	}
	var near []scored
	lower := strings.ToLower(name)
	for _, n := range names {
		d := distance(lower, strings.ToLower(n))
		if d <= max(2, len(n)/4) || strings.HasPrefix(strings.ToLower(n), lower) && len(lower) >= 3 {
			near = append(near, scored{n, d})
		}
	}
	if len(near) > 0 {
		slices.SortStableFunc(near, func(a, b scored) int { return cmp.Compare(a.d, b.d) })
		var q []string
		for _, s := range near[:min(3, len(near))] {
			q = append(q, `"`+s.name+`"`)
		}
		return labhooks.Errorf(labhooks.EInvalid, "unknown event name %q; did you mean %s?", name, strings.Join(q, " or "))
	}
	return labhooks.Errorf(labhooks.EInvalid, "unknown event name %q; known event names: %s", name, listNames(names))
}

func listNames(names []string) string {
	list := strings.Join(names[:min(maxListedNames, len(names))], ", ")
	if len(names) > maxListedNames {
		list += ", …"
	}
	return list
}

func (c *Catalog) names() []string {
	ts := c.Types()
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

// distance is the Levenshtein distance between a and b, in bytes: event
// names are ASCII.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
