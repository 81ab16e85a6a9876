package catalog

import (
	"encoding/json"
	"testing"
)

func TestEntityKey(t *testing.T) {
	for data, want := range map[string]string{
		`{"appointmentId":123,"locationId":1}`:                  "appointment:123",
		`{"sampleId":"s-9","appointmentId":123}`:                "sample:s-9",
		`{"resultId":4,"sampleId":7}`:                           "sample:7",
		`{"patientId":5,"userId":6}`:                            "patient:5",
		`{"userId":6,"userEmail":"a@b.c"}`:                      "user:6",
		`{"dataLinkId":"dl_1","partnerId":"ptn_1"}`:             "dataLink:dl_1",
		`{"eventId":"evt_1"}`:                                   "",
		`{"appointmentId":1.5}`:                                 "",
		`{"appointmentId":"has space","patientId":3}`:           "patient:3",
		`{"appointmentId":null,"sampleId":{"x":1},"userId":""}`: "",
		`not json`: "",
	} {
		if got := EntityKey([]byte(data)); got != want {
			t.Errorf("EntityKey(%s) = %q; want %q", data, got, want)
		}
	}
	// The built-in examples name the entities README says.
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"appointmentUpdated": "appointment:123", "appointmentCancelled": "appointment:123",
		"sampleUpdated": "sample:123", "sampleReceived": "sample:123", "patientUpdated": "patient:123", "appAuthorized": "patient:123"} {
		et, ok := c.Lookup(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		var ex struct{ Data json.RawMessage }
		if err := json.Unmarshal(et.Example, &ex); err != nil {
			t.Fatal(err)
		}
		if got := EntityKey(ex.Data); got != want {
			t.Errorf("%s's example: entity %q; want %q", name, got, want)
		}
	}
}
