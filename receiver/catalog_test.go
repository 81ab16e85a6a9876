package receiver_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/receiver"
)

// TestKitDecodesEveryCatalogExample holds the kit's hand-written structs to
// the catalog labhooks serves: every built-in event type is known to the
// kit, its example parses into the typed struct and reads back the same,
// and the struct has exactly the schema's fields, each of the schema's type.
func TestKitDecodesEveryCatalogExample(t *testing.T) {
	types := catalog.Builtin()
	var names []string
	for _, typ := range types {
		names = append(names, typ.Name)
	}
	if kit := receiver.EventNames(); !sameSet(kit, names) {
		t.Fatalf("the kit knows %v, the catalog has %v", kit, names)
	}
	for _, typ := range types {
		t.Run(typ.Name, func(t *testing.T) {
			e, err := receiver.Parse("dlv_test", typ.Example)
			if err != nil {
				t.Fatalf("Parse(the catalog's example): %v", err)
			}
			if _, raw := e.Data.(receiver.RawData); raw || !e.Known() || e.Name != typ.Name {
				t.Fatalf("the example parses as %s, %T", e.Name, e.Data)
			}

			// It reads back as it came: no field lost or renamed.
			var example struct{ Data map[string]any }
			if err := json.Unmarshal(typ.Example, &example); err != nil {
				t.Fatal(err)
			}
			back, err := json.Marshal(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			json.Unmarshal(back, &got)
			if !reflect.DeepEqual(got, example.Data) {
				t.Errorf("the example's data reads back as\n  %s\nwant\n  %s", back, mustJSON(example.Data))
			}

			// The struct's fields are the schema's, with the schema's types.
			var schema struct {
				Properties map[string]struct {
					Type  any `json:"type"`
					Items *struct {
						Type string `json:"type"`
					} `json:"items"`
				} `json:"properties"`
			}
			if err := json.Unmarshal(typ.Schema, &schema); err != nil {
				t.Fatal(err)
			}
			fields := jsonFields(reflect.TypeOf(e.Data).Elem())
			var props []string
			for name := range schema.Properties {
				props = append(props, name)
			}
			if !sameSet(slices.Collect(mapKeys(fields)), props) {
				t.Fatalf("the struct %T has the fields %v, the schema %v", e.Data, slices.Sorted(mapKeys(fields)), slices.Sorted(slices.Values(props)))
			}
			for name, prop := range schema.Properties {
				want := kindOf(prop.Type)
				if want == "array" && prop.Items != nil {
					want += " of " + prop.Items.Type
				}
				if got := goKind(fields[name]); got != want {
					t.Errorf("%s: the struct holds a %s (%s), the schema says %s", name, got, fields[name], want)
				}
			}
		})
	}
}

// jsonFields maps a struct's JSON names to their Go types.
func jsonFields(st reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range st.NumField() {
		f := st.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// kindOf reads a schema's type: a name, or a list of names with "null".
func kindOf(t any) string {
	switch v := t.(type) {
	case string:
		return v
	case []any:
		for _, x := range v {
			if s, _ := x.(string); s != "null" {
				return s
			}
		}
	}
	return "?"
}

// goKind names a Go type as a JSON Schema type would.
func goKind(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.String, t == reflect.TypeFor[receiver.Datetime]():
		return "string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "integer"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.Slice:
		return "array of " + goKind(t.Elem())
	}
	return t.String()
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func mustJSON(v any) string {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	return strings.TrimSpace(buf.String())
}
