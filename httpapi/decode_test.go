package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/catalog"
)

// BenchmarkDecodeEmit is the API's share of an emit before the application
// layer: reading the body, the duplicate-field check and the decode.
func BenchmarkDecodeEmit(b *testing.B) {
	var example []byte
	for _, t := range catalog.Builtin() {
		if t.Name == "sampleUpdated" {
			example = t.Example
		}
	}
	if example == nil {
		b.Fatal("sampleUpdated is not in the catalog")
	}
	body := append(append([]byte(`{"eventName":"sampleUpdated","partnerId":"ptn_01JDZ3M5X8Q2V9K7T4R6W1N0PA","data":`), example...), '}')
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
		var in app.EmitInput
		if err := decode(httptest.NewRecorder(), r, &in); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDuplicateField checks duplicateField against a plain reading of the
// object with encoding/json, the decoder that applies the body: whenever
// encoding/json reads a top-level object whose names repeat (regardless of
// case), duplicateField must refuse it.
func FuzzDuplicateField(f *testing.F) {
	for _, s := range []string{
		`{"eventName":"x","data":{}}`,
		`{"eventName":"x","EVENTNAME":"y"}`,
		`{"a":{"a":1,"a":2},"b":[1,{"c":2}]}`,
		"{\"data\":\"\xff\",\"data\":1}",
		`{"a":1,"a":2`,
		`[{"a":1,"a":1}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := duplicateField(body)
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) != nil {
			return // the decode refuses it anyway
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.Token() // {
		seen, dup := map[string]bool{}, false
		for dec.More() {
			tok, terr := dec.Token()
			if terr != nil {
				t.Fatalf("encoding/json read %q but not its names: %v", body, terr)
			}
			name := strings.ToLower(tok.(string))
			dup = dup || seen[name]
			seen[name] = true
			var skip json.RawMessage
			if derr := dec.Decode(&skip); derr != nil {
				t.Fatalf("encoding/json read %q but not its values: %v", body, derr)
			}
		}
		if dup && err == nil {
			t.Fatalf("%q repeats a field name and duplicateField let it through", body)
		}
		if !dup && err != nil {
			t.Fatalf("%q repeats no field name and duplicateField refused it: %v", body, err)
		}
	})
}
