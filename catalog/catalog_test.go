package catalog

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/labhooks/labhooks"
)

// wantErr checks err's code and that its message holds every part.
func wantErr(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := labhooks.ErrorCode(err); got != code {
		t.Fatalf("code %s, want %s (%v)", got, code, err)
	}
	msg := labhooks.ErrorMessage(err)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q does not contain %q", msg, p)
		}
	}
}

const appointment = `{"dashboardUrl":"https://dashboard.daslab.app/samplers/123/appointments/123","appointmentId":123,"locationId":123,"datetime":"2020-11-16 10:00:00+00"`

func TestValidateRefuses(t *testing.T) {
	c := newCatalog(t)
	tests := []struct {
		name      string
		eventName string
		data      string
		code      string
		parts     []string
	}{
		{"unknown field", "appointmentCreated", appointment + `,"patientName":"Mario Rossi"}`,
			labhooks.EInvalid, []string{`data: unknown field "patientName"`}},
		{"unknown fields", "patientUpdated", `{"patientId":1,"userId":1,"b":1,"a":2}`,
			labhooks.EInvalid, []string{`data: unknown fields "a", "b"`}},
		{"id as string", "appointmentCreated", strings.Replace(appointment, `"appointmentId":123`, `"appointmentId":"123"`, 1) + `}`,
			labhooks.EInvalid, []string{"data.appointmentId: must be an integer, not a string"}},
		{"id as fraction", "sampleReceived", `{"dashboardUrl":"https://x.example/1","sampleId":1.5,"appointmentId":1,"locationId":1}`,
			labhooks.EInvalid, []string{"data.sampleId: must be an integer, not a number"}},
		{"id zero", "patientUpdated", `{"patientId":0,"userId":1}`,
			labhooks.EInvalid, []string{"data.patientId: must be at least 1"}},
		{"id beyond JavaScript", "patientUpdated", `{"patientId":9007199254740992,"userId":1}`,
			labhooks.EInvalid, []string{"data.patientId: must be at most 9007199254740991"}},
		{"missing required", "sampleUpdated", `{"dashboardUrl":"https://x.example/1","appointmentId":1,"locationId":1,"sampleId":1}`,
			labhooks.EInvalid, []string{`data: missing required field "patientId"`}},
		{"several problems", "patientUpdated", `{"patientId":"x"}`,
			labhooks.EInvalid, []string{`data: missing required field "userId"`, "data.patientId: must be an integer"}},
		{"http url", "sampleReceived", `{"dashboardUrl":"http://x.example/1","sampleId":1,"appointmentId":1,"locationId":1}`,
			labhooks.EInvalid, []string{"data.dashboardUrl: must be an https:// URL"}},
		{"bad datetime", "codeUsed", `{"dashboardUrl":"https://x.example/1","codeId":1,"appointmentId":1,"datetime":"2020-11-16T10:00:00Z"}`,
			labhooks.EInvalid, []string{`data.datetime: must be a date and time like "2020-11-16 10:00:00+00"`}},
		{"bad scope item", "appAuthorized", `{"userId":1,"patientId":1,"integrationId":1,"scope":["patientData","Result Data"]}`,
			labhooks.EInvalid, []string{"data.scope[1]: must be a lowerCamelCase identifier"}},
		{"scope not an array", "appAuthorized", `{"userId":1,"patientId":1,"integrationId":1,"scope":"patientData"}`,
			labhooks.EInvalid, []string{"data.scope: must be an array, not a string"}},
		{"duplicate scope", "appAuthorized", `{"userId":1,"patientId":1,"integrationId":1,"scope":["a","a"]}`,
			labhooks.EInvalid, []string{"data.scope: items 0 and 1 are the same"}},
		{"appDeauthorized has no scope", "appDeauthorized", `{"userId":1,"patientId":1,"integrationId":1,"scope":["a"]}`,
			labhooks.EInvalid, []string{`data: unknown field "scope"`}},
		{"bad email", "dataDeletionRequest", `{"userId":1,"userEmail":"not an address"}`,
			labhooks.EInvalid, []string{"data.userEmail: must be an email address"}},
		{"bad phone", "dataDeletionRequest", `{"userId":1,"userPhoneNumber":"39 000 000000"}`,
			labhooks.EInvalid, []string{"data.userPhoneNumber: must be a phone number in international form"}},
		{"data array", "patientUpdated", `[{"patientId":1,"userId":1}]`,
			labhooks.EInvalid, []string{"data must be a JSON object"}},
		{"data string", "patientUpdated", `"hello"`,
			labhooks.EInvalid, []string{"data must be a JSON object"}},
		{"data null", "patientUpdated", `null`,
			labhooks.EInvalid, []string{"data must be a JSON object"}},
		{"data empty", "patientUpdated", ``,
			labhooks.EInvalid, []string{"data is required"}},
		{"malformed", "patientUpdated", `{"patientId":1,`,
			labhooks.EInvalid, []string{"data is not valid JSON"}},
		{"trailing garbage", "patientUpdated", `{"patientId":1,"userId":1} {}`,
			labhooks.EInvalid, []string{"data is not valid JSON"}},
		{"duplicate key", "appointmentCreated", appointment + `,"paymentMethod":"stripe","paymentMethod":"cash"}`,
			labhooks.EInvalid, []string{`data: field "paymentMethod" appears twice`}},
		{"invalid utf-8", "appointmentCreated", appointment + ",\"paymentMethod\":\"\xff\"}",
			labhooks.EInvalid, []string{"not valid UTF-8"}},
		{"too deep", "patientUpdated", strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
			labhooks.EInvalid, []string{"nested more than 64 levels deep"}},
		{"unknown event", "appointmentCreate", appointment + `}`,
			labhooks.EInvalid, []string{`unknown event name "appointmentCreate"`, `did you mean "appointmentCreated"`}},
		{"unknown event, wrong case", "SampleUpdated", `{}`,
			labhooks.EInvalid, []string{`did you mean "sampleUpdated"`}},
		{"unknown event, far off", "invoicePaid", `{}`,
			labhooks.EInvalid, []string{`unknown event name "invoicePaid"; known event names: appointmentCreated, `, "resultVerified"}},
		{"no event name", "", `{}`,
			labhooks.EInvalid, []string{"eventName is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Validate(tt.eventName, json.RawMessage(tt.data))
			if out != nil {
				t.Errorf("refused data returned %s", out)
			}
			wantErr(t, err, tt.code, tt.parts...)
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	c := newCatalog(t)
	tests := []struct {
		name, eventName, data, want string
	}{
		{"optional fields absent", "appointmentCreated", appointment + `}`, appointment + `}`},
		{"offset with minutes", "codeUsed",
			`{"dashboardUrl":"https://x.example/1","codeId":1,"appointmentId":1,"datetime":"2020-11-16 10:00:00+01:00"}`,
			`{"dashboardUrl":"https://x.example/1","codeId":1,"appointmentId":1,"datetime":"2020-11-16 10:00:00+01:00"}`},
		{"negative offset", "resultVerified",
			`{"dashboardUrl":"https://x.example/1","resultId":1,"sampleId":1,"datetime":"2020-11-16 10:00:00-05"}`,
			`{"dashboardUrl":"https://x.example/1","resultId":1,"sampleId":1,"datetime":"2020-11-16 10:00:00-05"}`},
		{"sample moved, no result yet", "sampleUpdated",
			"{\n  \"dashboardUrl\": \"https://dashboard.daslab.app/labs/7/samples/42\",\n  \"appointmentId\": 1,\n  \"locationId\": 2,\n  \"sampleId\": 42,\n  \"patientId\": 9\n}\n",
			`{"dashboardUrl":"https://dashboard.daslab.app/labs/7/samples/42","appointmentId":1,"locationId":2,"sampleId":42,"patientId":9}`},
		{"integer written as 1.0", "patientUpdated", `{"patientId":1.0,"userId":2}`, `{"patientId":1.0,"userId":2}`},
		{"deletion with email only", "dataDeletionRequest", `{"userId":1,"userEmail":"mario.rossi@example.it"}`, `{"userId":1,"userEmail":"mario.rossi@example.it"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Validate(tt.eventName, json.RawMessage(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got %s, want %s", out, tt.want)
			}
		})
	}
}

func TestLookupAndTypes(t *testing.T) {
	c := newCatalog(t)
	et, ok := c.Lookup("sampleUpdated")
	if !ok || et.Name != "sampleUpdated" {
		t.Fatalf("Lookup(sampleUpdated) = %v, %v", et, ok)
	}
	et.Roles[0] = labhooks.RoleChecker // a caller's change must not reach the catalog
	if again, _ := c.Lookup("sampleUpdated"); again.Roles[0] != labhooks.RoleSampler {
		t.Error("Lookup returned the catalog's own type")
	}
	if _, ok := c.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	for _, name := range []string{"zebraSeen", "archiveCreated"} {
		if err := c.Add(customType(name)); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, et := range c.Types() {
		names = append(names, et.Name)
	}
	var want []string
	for _, b := range Builtin() {
		want = append(want, b.Name)
	}
	want = append(want, "archiveCreated", "zebraSeen")
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("Types() = %v\nwant %v", names, want)
	}
}

// customType is a valid custom type an admin could register.
func customType(name string) *labhooks.EventType {
	return &labhooks.EventType{
		Name:        name,
		Description: "When a sample is archived.",
		Roles:       []labhooks.Role{labhooks.RoleLab},
		Schema: json.RawMessage(`{
			"type": "object",
			"additionalProperties": false,
			"required": ["sampleId"],
			"properties": {
				"sampleId": {"type": "integer", "minimum": 1, "description": "The sample's id."},
				"note": {"type": "string", "description": "Why it was archived."}
			}
		}`),
		Example: json.RawMessage(`{"eventName":"` + name + `","data":{"sampleId":123,"note":"kept for 5 years"}}`),
	}
}

func TestCheckAndAdd(t *testing.T) {
	with := func(f func(et *labhooks.EventType)) *labhooks.EventType {
		et := customType("sampleArchived")
		f(et)
		return et
	}
	tests := []struct {
		name  string
		et    *labhooks.EventType
		code  string
		parts []string
	}{
		{"nil", nil, labhooks.EInvalid, []string{"event type is required"}},
		{"name too short", with(func(et *labhooks.EventType) { et.Name = "ab" }), labhooks.EInvalid, []string{`name "ab" must be lowerCamelCase`}},
		{"name upper", with(func(et *labhooks.EventType) { et.Name = "SampleArchived" }), labhooks.EInvalid, []string{"lowerCamelCase"}},
		{"name dashed", with(func(et *labhooks.EventType) { et.Name = "sample-archived" }), labhooks.EInvalid, []string{"lowerCamelCase"}},
		{"name not ASCII", with(func(et *labhooks.EventType) { et.Name = "sampleArchivé" }), labhooks.EInvalid, []string{"lowerCamelCase"}},
		{"name too long", with(func(et *labhooks.EventType) { et.Name = "a" + strings.Repeat("b", 64) }), labhooks.EInvalid, []string{"3 to 64"}},
		{"built-in name", with(func(et *labhooks.EventType) { et.Name = "sampleUpdated" }), labhooks.EConflict, []string{"sampleUpdated is a built-in event type"}},
		{"no roles", with(func(et *labhooks.EventType) { et.Roles = nil }), labhooks.EInvalid, []string{"at least one role"}},
		{"bad role", with(func(et *labhooks.EventType) { et.Roles = []labhooks.Role{"lab", "doctor"} }), labhooks.EInvalid, []string{`roles[1]: unknown role "doctor"`}},
		{"role twice", with(func(et *labhooks.EventType) { et.Roles = []labhooks.Role{"lab", "lab"} }), labhooks.EInvalid, []string{"listed twice"}},
		{"bad status", with(func(et *labhooks.EventType) { et.Status = "beta" }), labhooks.EInvalid, []string{`status "beta"`}},
		{"schema not JSON", with(func(et *labhooks.EventType) { et.Schema = json.RawMessage(`{"type":`) }), labhooks.EInvalid, []string{"schema is not valid JSON"}},
		{"schema missing", with(func(et *labhooks.EventType) { et.Schema = nil }), labhooks.EInvalid, []string{"schema is required"}},
		{"schema not an object schema", with(func(et *labhooks.EventType) { et.Schema = json.RawMessage(`{"type":"string"}`) }), labhooks.EInvalid, []string{"schema must describe an object"}},
		{"schema does not compile", with(func(et *labhooks.EventType) {
			et.Schema = json.RawMessage(`{"type":"object","properties":{"a":{"type":"integer","minimum":"one"}}}`)
		}), labhooks.EInvalid, []string{"schema does not compile"}},
		{"schema bad regexp", with(func(et *labhooks.EventType) {
			et.Schema = json.RawMessage(`{"type":"object","properties":{"a":{"type":"string","pattern":"("}}}`)
		}), labhooks.EInvalid, []string{"schema does not compile"}},
		{"schema refers to a file", with(func(et *labhooks.EventType) {
			et.Schema = json.RawMessage(`{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}`)
		}), labhooks.EInvalid, []string{"must be self-contained"}},
		{"schema refers to the web", with(func(et *labhooks.EventType) {
			et.Schema = json.RawMessage(`{"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}}`)
		}), labhooks.EInvalid, []string{"must be self-contained"}},
		{"example missing", with(func(et *labhooks.EventType) { et.Example = nil }), labhooks.EInvalid, []string{"example is required"}},
		{"example only data", with(func(et *labhooks.EventType) { et.Example = json.RawMessage(`{"sampleId":1}`) }), labhooks.EInvalid, []string{"unknown field"}},
		{"example wrong name", with(func(et *labhooks.EventType) {
			et.Example = json.RawMessage(`{"eventName":"other","data":{"sampleId":1}}`)
		}), labhooks.EInvalid, []string{`example.eventName must be "sampleArchived"`}},
		{"example without data", with(func(et *labhooks.EventType) {
			et.Example = json.RawMessage(`{"eventName":"sampleArchived"}`)
		}), labhooks.EInvalid, []string{"example.data is required"}},
		{"example not matching the schema", with(func(et *labhooks.EventType) {
			et.Example = json.RawMessage(`{"eventName":"sampleArchived","data":{"sampleId":"123"}}`)
		}), labhooks.EInvalid, []string{"example: data.sampleId: must be an integer"}},
		{"example with personal data", with(func(et *labhooks.EventType) {
			et.Example = json.RawMessage(`{"eventName":"sampleArchived","data":{"sampleId":1,"note":"ask mario@example.it"}}`)
		}), labhooks.EPersonalData, []string{"example: data.note: looks like an email address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, Check(tt.et), tt.code, tt.parts...)
			c := newCatalog(t)
			if tt.et != nil {
				wantErr(t, c.Add(tt.et), tt.code, tt.parts...)
				if _, ok := c.Lookup(tt.et.Name); ok && !isBuiltin(tt.et.Name) {
					t.Error("a refused type was added")
				}
			}
		})
	}
}

func TestAddThenValidate(t *testing.T) {
	c := newCatalog(t)
	et := customType("sampleArchived")
	if err := Check(et); err != nil {
		t.Fatal(err)
	}
	if et.Status != labhooks.StatusAvailable || !et.Custom {
		t.Errorf("Check did not fill in defaults: status %q custom %v", et.Status, et.Custom)
	}
	if _, ok := c.Lookup("sampleArchived"); ok {
		t.Fatal("Check added the type")
	}
	if err := c.Add(et); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Lookup("sampleArchived")
	if !ok || !got.Custom || got.Status != labhooks.StatusAvailable {
		t.Fatalf("Lookup after Add = %+v, %v", got, ok)
	}
	out, err := c.Validate("sampleArchived", json.RawMessage(`{ "sampleId": 7 }`))
	if err != nil || string(out) != `{"sampleId":7}` {
		t.Fatalf("Validate = %s, %v", out, err)
	}
	_, err = c.Validate("sampleArchived", json.RawMessage(`{"sampleId":7,"extra":true}`))
	wantErr(t, err, labhooks.EInvalid, `data: unknown field "extra"`)
	_, err = c.Validate("sampleArchived", json.RawMessage(`{"sampleId":7,"note":"call +39 333 1234567"}`))
	wantErr(t, err, labhooks.EPersonalData, "data.note: looks like a phone number", "sampleArchived events must not carry personal data")

	wantErr(t, c.Add(customType("sampleArchived")), labhooks.EConflict, `"sampleArchived" already exists`)

	// A stored custom type comes back through New; a clash among them is refused.
	c2, err := New([]*labhooks.EventType{customType("sampleArchived")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Validate("sampleArchived", json.RawMessage(`{"sampleId":7}`)); err != nil {
		t.Fatal(err)
	}
	_, err = New([]*labhooks.EventType{customType("sampleArchived"), customType("sampleArchived")})
	wantErr(t, err, labhooks.EConflict)

	// A custom type may carry personal data when it says so.
	pd := customType("contactShared")
	pd.ContainsPersonalData = true
	pd.Example = json.RawMessage(`{"eventName":"contactShared","data":{"sampleId":1,"note":"mario@example.it"}}`)
	if err := c.Add(pd); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := newCatalog(t)
	data := json.RawMessage(seedData(t, "sampleUpdated"))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if _, err := c.Validate("sampleUpdated", data); err != nil {
					t.Error(err)
					return
				}
				if j == 0 {
					if err := c.Add(customType(fmt.Sprintf("custom%dType", i))); err != nil {
						t.Error(err)
					}
				}
				c.Types()
				c.Lookup("appointmentCreated")
			}
		})
	}
	wg.Wait()
	if n := len(c.Types()); n != 18+8 {
		t.Errorf("%d types, want 26", n)
	}
}

// seedData is the data of the seed's example for name.
func seedData(t testing.TB, name string) []byte {
	t.Helper()
	return parseBody(t, []byte(seedExamples[name])).Data
}
