package catalog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

func TestPersonalDataLooks(t *testing.T) {
	tests := []struct {
		s    string
		want string
	}{
		// What the seed's non-personal events carry must pass.
		{"https://dashboard.daslab.app/samplers/123/appointments/123", ""},
		{"https://dashboard.daslab.app/samplers/1234567/results/7654321", ""},
		{"https://web.daslab.app/results/123", ""},
		{"2020-11-16 10:00:00+00", ""},
		{"2020-11-16 10:00:00+01:00", ""},
		{"2020-11-16", ""},
		{"stripe", ""},
		{"patientData", ""},
		{"123456", ""}, // six digits: a code, not a phone number
		{"v1.2.3", ""},
		{"@home", ""},
		{"", ""},

		{"mario.rossi@example.it", "an email address"},
		{"paid by mario+test@example.co.uk", "an email address"},
		{"https://user@example.com/x", "an email address"},
		{"https://web.daslab.app/login?email=mario%40example.it", "an email address"},
		{"+39000000000", "a phone number"},
		{"+39 000 000000", "a phone number"},
		{"+1 (555) 010-9999", "a phone number"},
		{"call +39-333-123.4567 after 6", "a phone number"},
		{"333 1234567", "a phone number"},
		{"(555) 010-9999", "a phone number"},
		{"0039000000000", "a phone number"},
		{"1234567", "a phone number"},
	}
	for _, tt := range tests {
		if got := personalData(tt.s); got != tt.want {
			t.Errorf("personalData(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestPersonalDataGuard(t *testing.T) {
	c := newCatalog(t)
	tests := []struct {
		name      string
		eventName string
		data      string
		code      string
		parts     []string
	}{
		{"email as payment method", "appointmentCreated", appointment + `,"paymentMethod":"mario@example.it"}`,
			labhooks.EPersonalData, []string{"data.paymentMethod: looks like an email address", "appointmentCreated events must not carry personal data"}},
		{"escaped at-sign", "appointmentCreated", appointment + `,"paymentMethod":"mario\u0040example.it"}`,
			labhooks.EPersonalData, []string{"data.paymentMethod: looks like an email address"}},
		{"phone number", "appointmentCreated", appointment + `,"paymentMethod":"+39000000000"}`,
			labhooks.EPersonalData, []string{"data.paymentMethod: looks like a phone number", "must not carry personal data"}},
		{"phone number with spaces", "appointmentCreated", appointment + `,"paymentMethod":"+39 000 000000"}`,
			labhooks.EPersonalData, []string{"data.paymentMethod: looks like a phone number"}},
		{"in an unknown field", "sampleReceived", `{"dashboardUrl":"https://x.example/1","sampleId":1,"appointmentId":1,"locationId":1,"patientEmail":"mario@example.it"}`,
			labhooks.EPersonalData, []string{"data.patientEmail: looks like an email address"}},
		{"in an array", "appAuthorized", `{"userId":1,"patientId":1,"integrationId":1,"scope":["patientData","+39 000 000000"]}`,
			labhooks.EPersonalData, []string{"data.scope[1]: looks like a phone number"}},
		{"in a URL", "sampleReceived", `{"dashboardUrl":"https://x.example/?email=mario@example.it","sampleId":1,"appointmentId":1,"locationId":1}`,
			labhooks.EPersonalData, []string{"data.dashboardUrl: looks like an email address"}},
		{"as a field name", "patientUpdated", `{"patientId":1,"userId":1,"mario@example.it":true}`,
			labhooks.EPersonalData, []string{"data: a field name looks like an email address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Validate(tt.eventName, json.RawMessage(tt.data))
			wantErr(t, err, tt.code, tt.parts...)
			if strings.Contains(labhooks.ErrorMessage(err), "mario") || strings.Contains(labhooks.ErrorMessage(err), "000000") {
				t.Errorf("the message repeats the personal data: %s", labhooks.ErrorMessage(err))
			}
		})
	}
}

// TestPersonalEventsCarryContactData checks the two events whose purpose is
// contact data are not stopped by the guard.
func TestPersonalEventsCarryContactData(t *testing.T) {
	c := newCatalog(t)
	for _, tt := range []struct{ eventName, data string }{
		{"dataDeletionRequest", `{"userId":123,"userEmail":"mario.rossi@example.it","userPhoneNumber":"+39000000000"}`},
		{"dataDeletionRequest", `{"userId":123,"userPhoneNumber":"+393331234567"}`},
		{"dataShareAccepted", `{"userId":1,"patientId":2,"integrationId":3,"userEmail":"a@b.example","userPhoneNumber":"+4915112345678","scope":["patientData"]}`},
	} {
		if _, err := c.Validate(tt.eventName, json.RawMessage(tt.data)); err != nil {
			t.Errorf("%s %s: %v", tt.eventName, tt.data, err)
		}
	}
}
