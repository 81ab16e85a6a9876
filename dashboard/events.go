package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labhooks/labhooks"
)

// eventField is one field of an event's data, read from its JSON Schema.
type eventField struct {
	Name        string
	Type        string
	Required    bool
	Description string
}

// eventDoc is an event type as the Events page documents it.
type eventDoc struct {
	*labhooks.EventType
	Fields []eventField
}

// eventsData is the Events page: the seed page, generated from the catalog.
type eventsData struct {
	Role  labhooks.Role
	Types []eventDoc
}

func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	var types []*labhooks.EventType
	var data eventsData
	if c.Admin {
		types = s.app.EventTypes(r.Context())
	} else {
		data.Role = c.Partner.Role
		types = s.app.EventTypesFor(r.Context(), c.Partner.Role)
	}
	for _, t := range types {
		data.Types = append(data.Types, eventDoc{EventType: t, Fields: schemaFields(t.Schema)})
	}
	return s.render(w, r, http.StatusOK, "events", &view{Title: "Events", Nav: "events", Data: data})
}

// schemaFields lists the properties of an object schema in the order the
// schema gives them, which is the order the seed's examples use.
func schemaFields(schema json.RawMessage) []eventField {
	var top struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if json.Unmarshal(schema, &top) != nil || len(top.Properties) == 0 {
		return nil
	}
	required := map[string]bool{}
	for _, n := range top.Required {
		required[n] = true
	}
	dec := json.NewDecoder(bytes.NewReader(top.Properties))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []eventField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		name, _ := tok.(string)
		var prop struct {
			Type        any    `json:"type"`
			Format      string `json:"format"`
			Description string `json:"description"`
			Items       *struct {
				Type any `json:"type"`
			} `json:"items"`
		}
		if err := dec.Decode(&prop); err != nil {
			return out
		}
		typ := typeName(prop.Type)
		if typ == "array" && prop.Items != nil {
			typ = "array of " + typeName(prop.Items.Type) + "s"
		}
		if prop.Format == "uri" {
			typ += " (URL)"
		}
		out = append(out, eventField{Name: name, Type: typ, Required: required[name], Description: prop.Description})
	}
	return out
}

// typeName reads a schema's "type", a name or a list of names.
func typeName(t any) string {
	switch v := t.(type) {
	case string:
		return v
	case []any:
		var names []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				names = append(names, s)
			}
		}
		return strings.Join(names, " or ")
	}
	return "any"
}
