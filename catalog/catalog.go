package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/labhooks/labhooks"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Catalog holds the built-in event types plus admin-registered custom ones, with compiled schemas; it is safe for concurrent use.
type Catalog struct {
	mu      sync.RWMutex
	entries map[string]*entry
	// order is the built-in names in seed order; custom names are sorted
	// when listed, as admins add them at any time.
	order []string
}

// entry is an event type with its schema compiled, so Validate never compiles.
type entry struct {
	t      *labhooks.EventType
	schema *jsonschema.Schema
}

// New compiles the built-in types and the given custom ones (as stored in the database).
func New(custom []*labhooks.EventType) (*Catalog, error) {
	c := &Catalog{entries: map[string]*entry{}}
	for _, t := range Builtin() {
		sch, err := compileSchema(t.Name, t.Schema)
		if err != nil {
			return nil, fmt.Errorf("catalog: built-in %s: %w", t.Name, err)
		}
		c.entries[t.Name] = &entry{t: t, schema: sch}
		c.order = append(c.order, t.Name)
	}
	for _, t := range custom {
		if err := c.Add(t); err != nil {
			name := "(nil)"
			if t != nil {
				name = t.Name
			}
			return nil, fmt.Errorf("catalog: stored custom event type %q: %w", name, err)
		}
	}
	return c, nil
}

// Lookup returns a copy of the type named name.
func (c *Catalog) Lookup(name string) (*labhooks.EventType, bool) {
	c.mu.RLock()
	e, ok := c.entries[name]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return clone(e.t), true
}

// LookupRules returns a copy of the type named name without its Schema and
// Example, which are most of its size: for the emit path, which needs the
// type's rules (roles, status, recipients) and validates through Validate.
func (c *Catalog) LookupRules(name string) (*labhooks.EventType, bool) {
	c.mu.RLock()
	e, ok := c.entries[name]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	t := *e.t
	t.Roles = slices.Clone(e.t.Roles)
	t.Schema, t.Example = nil, nil
	return &t, true
}

// Types returns copies of every type: built-in first in seed order, then custom ones by name.
func (c *Catalog) Types() []*labhooks.EventType {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*labhooks.EventType, 0, len(c.entries))
	for _, name := range c.order {
		out = append(out, clone(c.entries[name].t))
	}
	var custom []string
	for name, e := range c.entries {
		if e.t.Custom {
			custom = append(custom, name)
		}
	}
	slices.Sort(custom)
	for _, name := range custom {
		out = append(out, clone(c.entries[name].t))
	}
	return out
}

// Validate checks data against the type's schema and, for types that carry no personal data, the personal-data guard; it returns the data compacted (json.Compact) on success.
func (c *Catalog) Validate(eventName string, data json.RawMessage) (json.RawMessage, error) {
	c.mu.RLock()
	e, ok := c.entries[eventName]
	c.mu.RUnlock()
	if !ok {
		return nil, c.unknown(eventName)
	}
	return validate(e.t, e.schema, data)
}

// validate is Validate for one type, shared with Check, which has no catalog.
func validate(t *labhooks.EventType, sch *jsonschema.Schema, data json.RawMessage) (json.RawMessage, error) {
	v, err := decodeJSON("data", data)
	if err != nil {
		return nil, err
	}
	if err := validateValue(t, sch, v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		// decodeJSON accepted it, so Compact cannot refuse it.
		return nil, labhooks.Errorf(labhooks.EInvalid, "data is not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}

func validateValue(t *labhooks.EventType, sch *jsonschema.Schema, v any) error {
	if _, ok := v.(map[string]any); !ok {
		return labhooks.Errorf(labhooks.EInvalid, "data must be a JSON object, such as the example of %s", t.Name)
	}
	// The guard runs before the schema so that personal data is reported as
	// such even where the schema would refuse the field anyway: the sender
	// has a leak to fix, not a typo.
	if !t.ContainsPersonalData {
		if err := checkPersonal(t.Name, v); err != nil {
			return err
		}
	}
	if err := sch.Validate(v); err != nil {
		return schemaError(err, v)
	}
	return nil
}

// Add registers a custom type after Check (EConflict if the name exists); the catalog keeps its own copy.
func (c *Catalog) Add(t *labhooks.EventType) error {
	t = clone(t)
	sch, err := check(t)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[t.Name]; ok {
		return labhooks.Errorf(labhooks.EConflict, "an event type named %q already exists", t.Name)
	}
	c.entries[t.Name] = &entry{t: t, schema: sch}
	return nil
}

// Check validates a custom type an admin wants to register without adding it, and fills in its defaults (Status available, Custom true).
func Check(t *labhooks.EventType) error {
	_, err := check(t)
	return err
}

var nameRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9]{2,63}$`)

func check(t *labhooks.EventType) (*jsonschema.Schema, error) {
	if t == nil {
		return nil, labhooks.Errorf(labhooks.EInvalid, "event type is required")
	}
	if !nameRE.MatchString(t.Name) {
		return nil, labhooks.Errorf(labhooks.EInvalid,
			"name %q must be lowerCamelCase ASCII letters and digits, 3 to 64 characters, such as \"sampleArchived\"", t.Name)
	}
	if isBuiltin(t.Name) {
		return nil, labhooks.Errorf(labhooks.EConflict, "%s is a built-in event type; choose another name", t.Name)
	}
	if len(t.Roles) == 0 {
		return nil, labhooks.Errorf(labhooks.EInvalid, "roles: at least one role is required (%s)", roleList())
	}
	for i, r := range t.Roles {
		if !r.Valid() {
			return nil, labhooks.Errorf(labhooks.EInvalid, "roles[%d]: unknown role %q; roles are %s", i, r, roleList())
		}
		if slices.Contains(t.Roles[:i], r) {
			return nil, labhooks.Errorf(labhooks.EInvalid, "roles[%d]: role %q is listed twice", i, r)
		}
	}
	switch t.Status {
	case "":
		t.Status = labhooks.StatusAvailable
	case labhooks.StatusAvailable, labhooks.StatusPreview:
	default:
		return nil, labhooks.Errorf(labhooks.EInvalid, "status %q must be %q or %q", t.Status, labhooks.StatusAvailable, labhooks.StatusPreview)
	}
	t.Custom = true
	sch, err := compileSchema(t.Name, t.Schema)
	if err != nil {
		return nil, err
	}
	if err := checkExample(t, sch); err != nil {
		return nil, err
	}
	return sch, nil
}

// checkExample holds a custom type's example to the rules its events will
// meet, so the example the dashboard shows is one that could be emitted.
func checkExample(t *labhooks.EventType, sch *jsonschema.Schema) error {
	v, err := decodeJSON("example", t.Example)
	if err != nil {
		return err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return labhooks.Errorf(labhooks.EInvalid, `example must be a whole event body: {"eventName":%q,"data":{…}}`, t.Name)
	}
	for k := range obj {
		if k != "eventName" && k != "data" {
			return labhooks.Errorf(labhooks.EInvalid, `example: unknown field %q; an event body has only "eventName" and "data"`, k)
		}
	}
	if name, _ := obj["eventName"].(string); name != t.Name {
		return labhooks.Errorf(labhooks.EInvalid, "example.eventName must be %q", t.Name)
	}
	data, ok := obj["data"]
	if !ok {
		return labhooks.Errorf(labhooks.EInvalid, "example.data is required")
	}
	if err := validateValue(t, sch, data); err != nil {
		return labhooks.Errorf(labhooks.ErrorCode(err), "example: %s", labhooks.ErrorMessage(err))
	}
	return nil
}

// compileSchema compiles one event type's data schema on its own compiler, so
// custom schemas cannot collide through their $id values.
func compileSchema(name string, schema json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := decodeJSON("schema", schema)
	if err != nil {
		return nil, err
	}
	obj, ok := doc.(map[string]any)
	if !ok || obj["type"] != "object" {
		return nil, labhooks.Errorf(labhooks.EInvalid, `schema must describe an object: {"type":"object", "properties":{…}}`)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	loc := "https://labhooks.invalid/schemas/" + url.PathEscape(name) + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, labhooks.Errorf(labhooks.EInvalid, "schema: %v", err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, labhooks.Errorf(labhooks.EInvalid, "schema does not compile: %s", oneLine(err.Error()))
	}
	return sch, nil
}

// noLoader refuses every $ref to another document: the library would otherwise
// read local files, and an admin's schema must not reach the server's disk or
// network.
type noLoader struct{}

// Load implements jsonschema.URLLoader.
func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%s: a schema must be self-contained (use $defs), it may not refer to other documents", u)
}

// oneLine folds the library's indented, multi-line reports into one line, as
// an API error message is read in a JSON string, not a terminal.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
	}
	return strings.Join(lines, "; ")
}

func roleList() string {
	s := make([]string, len(labhooks.Roles))
	for i, r := range labhooks.Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func clone(t *labhooks.EventType) *labhooks.EventType {
	if t == nil {
		return nil
	}
	c := *t
	c.Roles = slices.Clone(t.Roles)
	c.Schema = slices.Clone(t.Schema)
	c.Example = slices.Clone(t.Example)
	return &c
}
