package catalog

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

// seedExamples are the example bodies of the seed page, as printed there with
// two repairs: the trailing comma after dataShareAccepted's scope is gone, and
// the email address, which the saved page shows only as Cloudflare's
// "[email protected]" placeholder, is a made-up one.
var seedExamples = map[string]string{
	"appointmentCreated": `{
"eventName": "appointmentCreated",
"data": {
"dashboardUrl": "https://dashboard.daslab.app/samplers/123/appointments/123",
"userUrl": "https://web.daslab.app/appointments/123",
"appointmentId": 123,
"locationId": 123,
"datetime": "2020-11-16 10:00:00+00",
"paymentMethod": "stripe"
}
}`,
	"dataDeletionRequest": `{
"eventName": "dataDeletionRequest",
"data": {
"userId": 123,
"userEmail": "user@example.com",
"userPhoneNumber": "+39000000000"
}
}`,
	"dataShareAccepted": `{
"eventName": "dataShareAccepted",
"data": {
"userId": 123,
"patientId": 123,
"integrationId": 123,
"userEmail": "user@example.com",
"userPhoneNumber": "+39000000000",
"scope": ["patientData","resultData"]
}
}`,
	"sampleUpdated": `{
"eventName": "sampleUpdated",
"data": {
"dashboardUrl": "https://dashboard.daslab.app/samplers/123/results/123",
"userUrl": "https://web.daslab.app/results/123",
"appointmentId": 123,
"locationId": 123,
"sampleId": 123,
"resultId": 123,
"patientId": 123
}
}`,
}

// body is an event body as the seed prints it.
type body struct {
	EventName string          `json:"eventName"`
	Data      json.RawMessage `json:"data"`
}

func parseBody(t testing.TB, b []byte) body {
	t.Helper()
	var x body
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatalf("example %s: %v", b, err)
	}
	return x
}

func newCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := New(nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestBuiltinCatalog(t *testing.T) {
	r := func(rs ...labhooks.Role) []labhooks.Role { return rs }
	s, l, cl, p, ch, op := labhooks.RoleSampler, labhooks.RoleLab, labhooks.RoleClient, labhooks.RoleProvider, labhooks.RoleChecker, labhooks.RoleOperator
	want := []struct {
		name     string
		roles    []labhooks.Role
		status   labhooks.EventTypeStatus
		personal bool
		fields   []string
	}{
		{"appointmentCreated", r(s), labhooks.StatusAvailable, false, []string{"dashboardUrl", "userUrl", "appointmentId", "locationId", "datetime", "paymentMethod"}},
		{"appointmentUpdated", r(s), labhooks.StatusAvailable, false, []string{"dashboardUrl", "userUrl", "appointmentId", "locationId", "datetime", "paymentMethod"}},
		{"appointmentCancelled", r(s), labhooks.StatusAvailable, false, []string{"dashboardUrl", "userUrl", "appointmentId", "locationId", "datetime", "paymentMethod"}},
		{"appointmentCompleted", r(s), labhooks.StatusAvailable, false, []string{"dashboardUrl", "userUrl", "appointmentId", "locationId", "datetime", "paymentMethod"}},
		{"sampleUpdated", r(s, l, p), labhooks.StatusAvailable, false, []string{"dashboardUrl", "userUrl", "appointmentId", "locationId", "sampleId", "resultId", "patientId"}},
		{"sampleReceived", r(l), labhooks.StatusAvailable, false, []string{"dashboardUrl", "sampleId", "appointmentId", "locationId"}},
		{"codeUsed", r(cl), labhooks.StatusAvailable, false, []string{"dashboardUrl", "codeId", "appointmentId", "datetime"}},
		{"appAuthorized", r(p), labhooks.StatusAvailable, false, []string{"userId", "patientId", "integrationId", "scope"}},
		{"patientUpdated", r(p), labhooks.StatusAvailable, false, []string{"patientId", "userId"}},
		{"appDeauthorized", r(p), labhooks.StatusAvailable, false, []string{"userId", "patientId", "integrationId"}},
		{"dataDeletionRequest", r(s, l, cl, p, ch), labhooks.StatusAvailable, true, []string{"userId", "userEmail", "userPhoneNumber"}},
		{"dataShareAccepted", r(p), labhooks.StatusAvailable, true, []string{"userId", "patientId", "integrationId", "userEmail", "userPhoneNumber", "scope"}},
		{"covidPositiveAlert", r(s, l, cl), labhooks.StatusPreview, false, []string{"dashboardUrl", "sampleId", "resultId", "appointmentId", "locationId"}},
		{"resultVerified", r(ch), labhooks.StatusPreview, false, []string{"dashboardUrl", "resultId", "sampleId", "datetime"}},
		{"dataLinkFailing", r(op), labhooks.StatusAvailable, false, []string{"dataLinkId", "partnerId", "failingSince", "lastStatusCode", "labhooksUrl"}},
		{"dataLinkDisabled", r(op), labhooks.StatusAvailable, false, []string{"dataLinkId", "partnerId", "disabledAt", "disabledBy", "failingSince", "lastStatusCode", "labhooksUrl"}},
		{"dataLinkRecovered", r(op), labhooks.StatusAvailable, false, []string{"dataLinkId", "partnerId", "recoveredAt", "previousState", "labhooksUrl"}},
		{"erasureOverdue", r(op), labhooks.StatusAvailable, false, []string{"eventId", "requestedAt", "deadline", "overduePartnerIds", "labhooksUrl"}},
	}
	got := Builtin()
	if len(got) != len(want) {
		t.Fatalf("Builtin() has %d types, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		t.Run(w.name, func(t *testing.T) {
			if g.Name != w.name {
				t.Fatalf("type %d is %s, want %s", i, g.Name, w.name)
			}
			if !slices.Equal(g.Roles, w.roles) || g.Status != w.status || g.ContainsPersonalData != w.personal || g.Custom {
				t.Errorf("got roles %v status %s personal %v custom %v", g.Roles, g.Status, g.ContainsPersonalData, g.Custom)
			}
			if !strings.HasSuffix(g.Description, ".") || strings.Count(g.Description, ". ") > 0 {
				t.Errorf("description %q is not one sentence", g.Description)
			}
			var sch struct {
				Type                 string                     `json:"type"`
				AdditionalProperties *bool                      `json:"additionalProperties"`
				Required             []string                   `json:"required"`
				Properties           map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(g.Schema, &sch); err != nil {
				t.Fatal(err)
			}
			if sch.Type != "object" || sch.AdditionalProperties == nil || *sch.AdditionalProperties {
				t.Errorf("schema must be an object schema with additionalProperties false")
			}
			if fields := slices.Sorted(maps.Keys(sch.Properties)); !slices.Equal(fields, slices.Sorted(slices.Values(w.fields))) {
				t.Errorf("fields %v, want %v (SPEC §2)", fields, w.fields)
			}
			for _, f := range sch.Required {
				if _, ok := sch.Properties[f]; !ok {
					t.Errorf("required field %s has no property", f)
				}
			}
			for f, raw := range sch.Properties {
				if strings.HasSuffix(f, "Id") && !slices.Contains(sch.Required, f) && !strings.Contains(string(raw), "Optional:") {
					t.Errorf("optional id %s does not say so in its description", f)
				}
			}
			if b := parseBody(t, g.Example); b.EventName != w.name {
				t.Errorf("example eventName %q", b.EventName)
			}
		})
	}
}

func TestBuiltinReturnsFreshCopies(t *testing.T) {
	a := Builtin()
	a[0].Roles[0] = labhooks.RoleChecker
	a[0].Schema[0] = 'x'
	a[0].Example[0] = 'x'
	b := Builtin()
	if b[0].Roles[0] != labhooks.RoleSampler || b[0].Schema[0] != '{' || b[0].Example[0] != '{' {
		t.Fatal("Builtin shares memory between calls")
	}
	if a[len(a)-1] == b[len(b)-1] {
		t.Fatal("Builtin returned the same pointer twice")
	}
}

// TestSchemaFieldsAgree keeps one field defined the same way in every
// built-in schema, descriptions aside, and every property documented.
func TestSchemaFieldsAgree(t *testing.T) {
	seen := map[string]string{}
	for _, et := range Builtin() {
		var sch struct {
			Properties map[string]map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(et.Schema, &sch); err != nil {
			t.Fatal(err)
		}
		for f, p := range sch.Properties {
			if d, _ := p["description"].(string); d == "" {
				t.Errorf("%s.%s has no description", et.Name, f)
			}
			delete(p, "description")
			b, _ := json.Marshal(p)
			if prev, ok := seen[f]; ok && prev != string(b) {
				t.Errorf("%s.%s is %s, elsewhere %s", et.Name, f, b, prev)
			}
			seen[f] = string(b)
		}
	}
	// Every pattern a schema uses has a readable hint for its errors.
	for f, def := range seen {
		var p struct {
			Pattern string `json:"pattern"`
			Items   struct {
				Pattern string `json:"pattern"`
			} `json:"items"`
		}
		_ = json.Unmarshal([]byte(def), &p)
		for _, pat := range []string{p.Pattern, p.Items.Pattern} {
			if _, ok := patternHints[pat]; pat != "" && !ok {
				t.Errorf("field %s: pattern %q has no hint", f, pat)
			}
		}
	}
}

func TestBuiltinExamplesValidate(t *testing.T) {
	c := newCatalog(t)
	for _, et := range Builtin() {
		t.Run(et.Name, func(t *testing.T) {
			b := parseBody(t, et.Example)
			got, err := c.Validate(et.Name, b.Data)
			if err != nil {
				t.Fatalf("Validate(own example): %v", err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, b.Data); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("Validate returned\n%s\nwant compact\n%s", got, want.Bytes())
			}
		})
	}
}

func TestSeedExamplesValidate(t *testing.T) {
	c := newCatalog(t)
	for name, ex := range seedExamples {
		t.Run(name, func(t *testing.T) {
			b := parseBody(t, []byte(ex))
			if b.EventName != name {
				t.Fatalf("eventName %q", b.EventName)
			}
			if _, err := c.Validate(name, b.Data); err != nil {
				t.Fatalf("the seed's example is refused: %v", err)
			}
			// The built-in example is the seed's, whitespace aside.
			et, _ := c.Lookup(name)
			var got, want bytes.Buffer
			_ = json.Compact(&got, et.Example)
			_ = json.Compact(&want, []byte(ex))
			if got.String() != want.String() {
				t.Errorf("built-in example\n%s\ndiffers from the seed's\n%s", got.String(), want.String())
			}
		})
	}
}
