package catalog

import (
	"embed"
	"encoding/json"
	"slices"

	"github.com/labhooks/labhooks"
)

//go:embed schemas/*.json
var schemaFS embed.FS

// builtin is the seed page's catalog. Its order is the seed's "Supported
// events" list (dataShareAccepted, only in its examples, after
// dataDeletionRequest, where its example stands), then the "Coming soon"
// ones, then labhooks' own operational events (for the operator role only).
var builtin = []struct {
	name        string
	description string
	roles       []labhooks.Role
	status      labhooks.EventTypeStatus
	personal    bool
	example     string
}{
	{
		name:        "appointmentCreated",
		description: "When an appointment is booked at one of your locations.",
		roles:       []labhooks.Role{labhooks.RoleSampler},
		example:     appointmentExample("appointmentCreated"),
	},
	{
		name:        "appointmentUpdated",
		description: "When an appointment at one of your locations is changed, for example moved to another time.",
		roles:       []labhooks.Role{labhooks.RoleSampler},
		example:     appointmentExample("appointmentUpdated"),
	},
	{
		name:        "appointmentCancelled",
		description: "When an appointment at one of your locations is cancelled.",
		roles:       []labhooks.Role{labhooks.RoleSampler},
		example:     appointmentExample("appointmentCancelled"),
	},
	{
		name:        "appointmentCompleted",
		description: "When an appointment at one of your locations has taken place.",
		roles:       []labhooks.Role{labhooks.RoleSampler},
		example:     appointmentExample("appointmentCompleted"),
	},
	{
		name:        "sampleUpdated",
		description: "When a result is added, or a sample is moved to your (lab) facility.",
		roles:       []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab, labhooks.RoleProvider},
		example: `{
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
	},
	{
		name:        "sampleReceived",
		description: "When a sample arrives at your lab.",
		roles:       []labhooks.Role{labhooks.RoleLab},
		example: `{
  "eventName": "sampleReceived",
  "data": {
    "dashboardUrl": "https://dashboard.daslab.app/labs/123/samples/123",
    "sampleId": 123,
    "appointmentId": 123,
    "locationId": 123
  }
}`,
	},
	{
		name:        "codeUsed",
		description: "When one of your codes is used to book an appointment.",
		roles:       []labhooks.Role{labhooks.RoleClient},
		example: `{
  "eventName": "codeUsed",
  "data": {
    "dashboardUrl": "https://dashboard.daslab.app/clients/123/codes/123",
    "codeId": 123,
    "appointmentId": 123,
    "datetime": "2020-11-16 10:00:00+00"
  }
}`,
	},
	{
		name:        "appAuthorized",
		description: "When a user authorizes your application to access a patient's data.",
		roles:       []labhooks.Role{labhooks.RoleProvider},
		example: `{
  "eventName": "appAuthorized",
  "data": {
    "userId": 123,
    "patientId": 123,
    "integrationId": 123,
    "scope": ["patientData", "resultData"]
  }
}`,
	},
	{
		name:        "patientUpdated",
		description: "When a patient your application has access to is updated; call our REST API for the details.",
		roles:       []labhooks.Role{labhooks.RoleProvider},
		example: `{
  "eventName": "patientUpdated",
  "data": {
    "patientId": 123,
    "userId": 123
  }
}`,
	},
	{
		name:        "appDeauthorized",
		description: "When a user withdraws your application's access to a patient's data.",
		roles:       []labhooks.Role{labhooks.RoleProvider},
		example: `{
  "eventName": "appDeauthorized",
  "data": {
    "userId": 123,
    "patientId": 123,
    "integrationId": 123
  }
}`,
	},
	{
		name:        "dataDeletionRequest",
		description: "For GDPR requests, please comply: a user asks for their data to be deleted.",
		roles:       labhooks.PlatformRoles,
		personal:    true,
		example: `{
  "eventName": "dataDeletionRequest",
  "data": {
    "userId": 123,
    "userEmail": "user@example.com",
    "userPhoneNumber": "+39000000000"
  }
}`,
	},
	{
		name:        "dataShareAccepted",
		description: "For external applications: when a user accepts to share their data with your application.",
		roles:       []labhooks.Role{labhooks.RoleProvider},
		personal:    true,
		example: `{
  "eventName": "dataShareAccepted",
  "data": {
    "userId": 123,
    "patientId": 123,
    "integrationId": 123,
    "userEmail": "user@example.com",
    "userPhoneNumber": "+39000000000",
    "scope": ["patientData", "resultData"]
  }
}`,
	},
	{
		name:        "covidPositiveAlert",
		description: "Coming soon: when a sample you handled tests positive for COVID.",
		roles:       []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab, labhooks.RoleClient},
		status:      labhooks.StatusPreview,
		example: `{
  "eventName": "covidPositiveAlert",
  "data": {
    "dashboardUrl": "https://dashboard.daslab.app/samplers/123/results/123",
    "sampleId": 123,
    "resultId": 123,
    "appointmentId": 123,
    "locationId": 123
  }
}`,
	},
	{
		name:        "resultVerified",
		description: "Coming soon: when a result shown to you is verified.",
		roles:       []labhooks.Role{labhooks.RoleChecker},
		status:      labhooks.StatusPreview,
		example: `{
  "eventName": "resultVerified",
  "data": {
    "dashboardUrl": "https://dashboard.daslab.app/checkers/123/results/123",
    "resultId": 123,
    "sampleId": 123,
    "datetime": "2020-11-16 10:00:00+00"
  }
}`,
	},
	{
		name:        labhooks.EventDataLinkFailing,
		description: "Operational, from labhooks itself: every delivery attempt to a data link has failed for a while (--notify-failing-after), told once per run of failures.",
		roles:       []labhooks.Role{labhooks.RoleOperator},
		example: `{
  "eventName": "dataLinkFailing",
  "data": {
    "dataLinkId": "dl_01JD6Q2V6W8R3C1T1G9KZ5M4XA",
    "partnerId": "ptn_01JD6Q0B7S2N4E5H3K8QW1PZ6C",
    "failingSince": "2026-11-30T08:12:00Z",
    "lastStatusCode": 503,
    "labhooksUrl": "https://labhooks.example.com/datalinks/dl_01JD6Q2V6W8R3C1T1G9KZ5M4XA"
  }
}`,
	},
	{
		name:        labhooks.EventDataLinkDisabled,
		description: "Operational, from labhooks itself: a data link was disabled (by labhooks after failing too long, because its receiver answered 410 Gone, or by hand) and receives nothing until enabled.",
		roles:       []labhooks.Role{labhooks.RoleOperator},
		example: `{
  "eventName": "dataLinkDisabled",
  "data": {
    "dataLinkId": "dl_01JD6Q2V6W8R3C1T1G9KZ5M4XA",
    "partnerId": "ptn_01JD6Q0B7S2N4E5H3K8QW1PZ6C",
    "disabledAt": "2026-12-05T08:12:00Z",
    "disabledBy": "failing",
    "failingSince": "2026-11-30T08:12:00Z",
    "lastStatusCode": 503,
    "labhooksUrl": "https://labhooks.example.com/datalinks/dl_01JD6Q2V6W8R3C1T1G9KZ5M4XA"
  }
}`,
	},
	{
		name:        labhooks.EventDataLinkRecovered,
		description: "Operational, from labhooks itself: a data link announced failing or disabled works again.",
		roles:       []labhooks.Role{labhooks.RoleOperator},
		example: `{
  "eventName": "dataLinkRecovered",
  "data": {
    "dataLinkId": "dl_01JD6Q2V6W8R3C1T1G9KZ5M4XA",
    "partnerId": "ptn_01JD6Q0B7S2N4E5H3K8QW1PZ6C",
    "recoveredAt": "2026-11-30T09:40:00Z",
    "previousState": "failing",
    "labhooksUrl": "https://labhooks.example.com/datalinks/dl_01JD6Q2V6W8R3C1T1G9KZ5M4XA"
  }
}`,
	},
	{
		name:        labhooks.EventErasureOverdue,
		description: "Operational, from labhooks itself: partners did not confirm a dataDeletionRequest by its deadline (--erasure-deadline).",
		roles:       []labhooks.Role{labhooks.RoleOperator},
		example: `{
  "eventName": "erasureOverdue",
  "data": {
    "eventId": "evt_01JD6Q4M2C7V9B0N8X1R3T5Y7U",
    "requestedAt": "2026-10-31T10:00:00Z",
    "deadline": "2026-11-30T10:00:00Z",
    "overduePartnerIds": ["ptn_01JD6Q0B7S2N4E5H3K8QW1PZ6C"],
    "labhooksUrl": "https://labhooks.example.com/erasures"
  }
}`,
	},
}

// appointmentExample is the seed's appointmentCreated example, which the seed
// shows for all the appointment events.
func appointmentExample(name string) string {
	return `{
  "eventName": "` + name + `",
  "data": {
    "dashboardUrl": "https://dashboard.daslab.app/samplers/123/appointments/123",
    "userUrl": "https://web.daslab.app/appointments/123",
    "appointmentId": 123,
    "locationId": 123,
    "datetime": "2020-11-16 10:00:00+00",
    "paymentMethod": "stripe"
  }
}`
}

// Builtin returns fresh copies of the built-in event types of SPEC §2, in the seed's order.
func Builtin() []*labhooks.EventType {
	out := make([]*labhooks.EventType, len(builtin))
	for i, b := range builtin {
		schema, err := schemaFS.ReadFile("schemas/" + b.name + ".json")
		if err != nil {
			// The schemas are embedded at build time, so a missing one is a
			// bug the tests catch, not something a caller can handle.
			panic("catalog: no embedded schema for " + b.name)
		}
		status := b.status
		if status == "" {
			status = labhooks.StatusAvailable
		}
		out[i] = &labhooks.EventType{
			Name:                 b.name,
			Description:          b.description,
			Roles:                slices.Clone(b.roles),
			Schema:               json.RawMessage(schema),
			Example:              json.RawMessage(b.example),
			Status:               status,
			ContainsPersonalData: b.personal,
		}
	}
	return out
}

// isBuiltin reports whether name is one of the built-in event types.
func isBuiltin(name string) bool {
	for _, b := range builtin {
		if b.name == name {
			return true
		}
	}
	return false
}
