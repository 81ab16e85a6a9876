package catalog

import (
	"encoding/json"
	"strings"

	"github.com/labhooks/labhooks"
)

// EntityFields are the data fields that name what an event is about, most
// specific first: an event's default entity key is the first of them its
// data holds, as "<field without Id>:<value>". So appointmentUpdated and
// appointmentCancelled of one appointment share "appointment:…", the four
// sample and result events of one sample share "sample:…" (resultVerified
// and covidPositiveAlert too: a result is the sample's), patientUpdated,
// appAuthorized, appDeauthorized and dataShareAccepted share "patient:…",
// and dataDeletionRequest is "user:…".
var EntityFields = []string{"sampleId", "appointmentId", "patientId", "userId", "dataLinkId"}

// EntityKey returns the default entity key of an event whose data (valid
// JSON, as Validate returns it) is data, or "" when it names none: a
// string or integer value of one of EntityFields that makes a valid key
// (labhooks.ValidateEntity).
func EntityKey(data json.RawMessage) string {
	// A struct of the few fields, not a map of all: this runs on every emit.
	var f struct {
		SampleID      json.RawMessage `json:"sampleId"`
		AppointmentID json.RawMessage `json:"appointmentId"`
		PatientID     json.RawMessage `json:"patientId"`
		UserID        json.RawMessage `json:"userId"`
		DataLinkID    json.RawMessage `json:"dataLinkId"`
	}
	if json.Unmarshal(data, &f) != nil {
		return ""
	}
	for i, raw := range [...]json.RawMessage{f.SampleID, f.AppointmentID, f.PatientID, f.UserID, f.DataLinkID} {
		if key := entityOf(EntityFields[i], raw); key != "" {
			return key
		}
	}
	return ""
}

// entityOf returns the key field's value raw makes, or "" when it makes none.
func entityOf(field string, raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil || strings.ContainsAny(n.String(), ".eE") {
			return ""
		}
		v = n.String()
	}
	key := strings.TrimSuffix(field, "Id") + ":" + v
	if v == "" || labhooks.ValidateEntity(key) != nil {
		return ""
	}
	return key
}
