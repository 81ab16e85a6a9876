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
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return ""
	}
	for _, f := range EntityFields {
		raw, ok := fields[f]
		if !ok {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			var n json.Number
			if json.Unmarshal(raw, &n) != nil || strings.ContainsAny(n.String(), ".eE") {
				continue
			}
			v = n.String()
		}
		key := strings.TrimSuffix(f, "Id") + ":" + v
		if v != "" && labhooks.ValidateEntity(key) == nil {
			return key
		}
	}
	return ""
}
