package labhooks_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/labhooks/labhooks"
)

func TestEventBody(t *testing.T) {
	tests := []struct {
		name, eventName, data, want string
	}{
		{"simple", "x", `{"a":1}`, `{"eventName":"x","data":{"a":1}}`},
		{"seed event", "appointmentCreated",
			`{"dashboardUrl":"https://d.example/a/1","appointmentId":1,"locationId":2,"datetime":"2020-11-16 10:00:00+00","paymentMethod":"card"}`,
			`{"eventName":"appointmentCreated","data":{"dashboardUrl":"https://d.example/a/1","appointmentId":1,"locationId":2,"datetime":"2020-11-16 10:00:00+00","paymentMethod":"card"}}`},
		{"empty data", "x", `{}`, `{"eventName":"x","data":{}}`},
		{"name needing escapes", `we"ird\name`, `{"a":[1,2]}`, `{"eventName":"we\"ird\\name","data":{"a":[1,2]}}`},
		{"name with a newline", "a\nb", `{}`, `{"eventName":"a\nb","data":{}}`},
		{"non-ASCII name kept as UTF-8", "café", `{}`, `{"eventName":"café","data":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &labhooks.Event{ID: "evt_1", EventName: tt.eventName, Data: json.RawMessage(tt.data), PartnerID: "ptn_1", IdempotencyKey: "k"}
			got := e.Body()
			if string(got) != tt.want {
				t.Fatalf("Body() = %s\nwant     %s", got, tt.want)
			}
			if !bytes.Equal(e.Body(), got) {
				t.Fatal("Body() differs between calls")
			}
		})
	}
}

func TestEventBodyRoundTrip(t *testing.T) {
	for _, name := range []string{`a"b`, `<script>&`, "tab\there", "\u2028", "x\\y/z", "😀"} {
		e := &labhooks.Event{EventName: name, Data: json.RawMessage(`{"n":1,"s":"v"}`)}
		b := e.Body()
		if !json.Valid(b) {
			t.Fatalf("Body() for %q is not valid JSON: %s", name, b)
		}
		var got struct {
			EventName string          `json:"eventName"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.EventName != name || string(got.Data) != `{"n":1,"s":"v"}` {
			t.Fatalf("Body() for %q decodes to %+v", name, got)
		}
		// Only the two keys of the seed's shape.
		var keys map[string]json.RawMessage
		json.Unmarshal(b, &keys)
		if len(keys) != 2 {
			t.Fatalf("Body() has keys %v, want eventName and data only", keys)
		}
	}
}

func TestEventTypeAllowsRole(t *testing.T) {
	et := &labhooks.EventType{Name: "sampleUpdated", Roles: []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab, labhooks.RoleProvider}}
	for r, want := range map[labhooks.Role]bool{
		labhooks.RoleSampler: true, labhooks.RoleLab: true, labhooks.RoleProvider: true,
		labhooks.RoleClient: false, labhooks.RoleChecker: false, "": false, "Sampler": false,
	} {
		if got := et.AllowsRole(r); got != want {
			t.Errorf("AllowsRole(%q) = %v, want %v", r, got, want)
		}
	}
}
