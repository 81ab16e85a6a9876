package receiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The event names of the labhooks catalog.
const (
	AppointmentCreated   = "appointmentCreated"
	AppointmentUpdated   = "appointmentUpdated"
	AppointmentCancelled = "appointmentCancelled"
	AppointmentCompleted = "appointmentCompleted"
	SampleUpdated        = "sampleUpdated"
	SampleReceived       = "sampleReceived"
	CodeUsed             = "codeUsed"
	AppAuthorized        = "appAuthorized"
	AppDeauthorized      = "appDeauthorized"
	PatientUpdated       = "patientUpdated"
	DataShareAccepted    = "dataShareAccepted"
	DataDeletionRequest  = "dataDeletionRequest"
	CovidPositiveAlert   = "covidPositiveAlert" // preview: announced, not sent yet
	ResultVerified       = "resultVerified"     // preview: announced, not sent yet
	// Operational events, which labhooks itself sends to the operator's
	// data links (partner role operator) only.
	DataLinkFailing   = "dataLinkFailing"
	DataLinkDisabled  = "dataLinkDisabled"
	DataLinkRecovered = "dataLinkRecovered"
	ErasureOverdue    = "erasureOverdue"
)

// AppointmentData is the data of appointmentCreated, appointmentUpdated,
// appointmentCancelled and appointmentCompleted.
type AppointmentData struct {
	DashboardURL  string   `json:"dashboardUrl"`
	UserURL       string   `json:"userUrl,omitempty"` // empty when the user has no page for it
	AppointmentID int64    `json:"appointmentId"`
	LocationID    int64    `json:"locationId"`
	Datetime      Datetime `json:"datetime"`
	PaymentMethod string   `json:"paymentMethod,omitempty"` // empty when not known
}

// SampleUpdatedData is the data of sampleUpdated: a result was added, or a
// sample moved to a lab.
type SampleUpdatedData struct {
	DashboardURL  string `json:"dashboardUrl"`
	UserURL       string `json:"userUrl,omitempty"` // empty when the user has no page for it
	AppointmentID int64  `json:"appointmentId"`
	LocationID    int64  `json:"locationId"`
	SampleID      int64  `json:"sampleId"`
	ResultID      int64  `json:"resultId,omitempty"` // 0 while the sample has no result
	PatientID     int64  `json:"patientId"`
}

// SampleReceivedData is the data of sampleReceived: a sample reached a lab.
type SampleReceivedData struct {
	DashboardURL  string `json:"dashboardUrl"`
	SampleID      int64  `json:"sampleId"`
	AppointmentID int64  `json:"appointmentId"`
	LocationID    int64  `json:"locationId"`
}

// CodeUsedData is the data of codeUsed.
type CodeUsedData struct {
	DashboardURL  string   `json:"dashboardUrl"`
	CodeID        int64    `json:"codeId"`
	AppointmentID int64    `json:"appointmentId"`
	Datetime      Datetime `json:"datetime"`
}

// AppAuthorizedData is the data of appAuthorized.
type AppAuthorizedData struct {
	UserID        int64    `json:"userId"`
	PatientID     int64    `json:"patientId"`
	IntegrationID int64    `json:"integrationId"`
	Scope         []string `json:"scope"`
}

// AppDeauthorizedData is the data of appDeauthorized.
type AppDeauthorizedData struct {
	UserID        int64 `json:"userId"`
	PatientID     int64 `json:"patientId"`
	IntegrationID int64 `json:"integrationId"`
}

// PatientUpdatedData is the data of patientUpdated.
type PatientUpdatedData struct {
	PatientID int64 `json:"patientId"`
	UserID    int64 `json:"userId"`
}

// DataShareAcceptedData is the data of dataShareAccepted; it holds personal
// data (contact details).
type DataShareAcceptedData struct {
	UserID          int64    `json:"userId"`
	PatientID       int64    `json:"patientId"`
	IntegrationID   int64    `json:"integrationId"`
	UserEmail       string   `json:"userEmail,omitempty"`
	UserPhoneNumber string   `json:"userPhoneNumber,omitempty"`
	Scope           []string `json:"scope"`
}

// DataDeletionRequestData is the data of dataDeletionRequest, a GDPR request
// to comply with; it holds personal data (contact details).
type DataDeletionRequestData struct {
	UserID          int64  `json:"userId"`
	UserEmail       string `json:"userEmail,omitempty"`
	UserPhoneNumber string `json:"userPhoneNumber,omitempty"`
}

// CovidPositiveAlertData is the data of covidPositiveAlert (preview).
type CovidPositiveAlertData struct {
	DashboardURL  string `json:"dashboardUrl"`
	SampleID      int64  `json:"sampleId"`
	ResultID      int64  `json:"resultId"`
	AppointmentID int64  `json:"appointmentId"`
	LocationID    int64  `json:"locationId"`
}

// ResultVerifiedData is the data of resultVerified (preview).
type ResultVerifiedData struct {
	DashboardURL string   `json:"dashboardUrl"`
	ResultID     int64    `json:"resultId"`
	SampleID     int64    `json:"sampleId"`
	Datetime     Datetime `json:"datetime"`
}

// DataLinkFailingData is the data of dataLinkFailing (operational): every
// attempt to a data link has failed for a while. Times are RFC 3339.
type DataLinkFailingData struct {
	DataLinkID     string `json:"dataLinkId"`
	PartnerID      string `json:"partnerId"`
	FailingSince   string `json:"failingSince"`
	LastStatusCode int    `json:"lastStatusCode,omitempty"` // 0 when the receiver did not answer
	LabhooksURL    string `json:"labhooksUrl,omitempty"`
}

// DataLinkDisabledData is the data of dataLinkDisabled (operational).
// DisabledBy is failing, gone (410) or manual.
type DataLinkDisabledData struct {
	DataLinkID     string `json:"dataLinkId"`
	PartnerID      string `json:"partnerId"`
	DisabledAt     string `json:"disabledAt"`
	DisabledBy     string `json:"disabledBy"`
	FailingSince   string `json:"failingSince,omitempty"`
	LastStatusCode int    `json:"lastStatusCode,omitempty"`
	LabhooksURL    string `json:"labhooksUrl,omitempty"`
}

// DataLinkRecoveredData is the data of dataLinkRecovered (operational).
type DataLinkRecoveredData struct {
	DataLinkID    string `json:"dataLinkId"`
	PartnerID     string `json:"partnerId"`
	RecoveredAt   string `json:"recoveredAt"`
	PreviousState string `json:"previousState"`
	LabhooksURL   string `json:"labhooksUrl,omitempty"`
}

// ErasureOverdueData is the data of erasureOverdue (operational).
type ErasureOverdueData struct {
	EventID           string   `json:"eventId"`
	RequestedAt       string   `json:"requestedAt"`
	Deadline          string   `json:"deadline"`
	OverduePartnerIDs []string `json:"overduePartnerIds"`
	LabhooksURL       string   `json:"labhooksUrl,omitempty"`
}

// RawData is the data of an event whose name is not in this package's
// catalog, such as a type an admin registered later: the JSON object as
// received.
type RawData json.RawMessage

// MarshalJSON returns the object as received.
func (d RawData) MarshalJSON() ([]byte, error) { return json.RawMessage(d).MarshalJSON() }

// catalog maps each known event name to a constructor of its typed data.
var catalog = map[string]func() any{
	AppointmentCreated:   func() any { return new(AppointmentData) },
	AppointmentUpdated:   func() any { return new(AppointmentData) },
	AppointmentCancelled: func() any { return new(AppointmentData) },
	AppointmentCompleted: func() any { return new(AppointmentData) },
	SampleUpdated:        func() any { return new(SampleUpdatedData) },
	SampleReceived:       func() any { return new(SampleReceivedData) },
	CodeUsed:             func() any { return new(CodeUsedData) },
	AppAuthorized:        func() any { return new(AppAuthorizedData) },
	AppDeauthorized:      func() any { return new(AppDeauthorizedData) },
	PatientUpdated:       func() any { return new(PatientUpdatedData) },
	DataShareAccepted:    func() any { return new(DataShareAcceptedData) },
	DataDeletionRequest:  func() any { return new(DataDeletionRequestData) },
	CovidPositiveAlert:   func() any { return new(CovidPositiveAlertData) },
	ResultVerified:       func() any { return new(ResultVerifiedData) },
	DataLinkFailing:      func() any { return new(DataLinkFailingData) },
	DataLinkDisabled:     func() any { return new(DataLinkDisabledData) },
	DataLinkRecovered:    func() any { return new(DataLinkRecoveredData) },
	ErasureOverdue:       func() any { return new(ErasureOverdueData) },
}

// EventNames returns the names of the catalog's events, sorted.
func EventNames() []string {
	names := make([]string, 0, len(catalog))
	for n := range catalog {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Known reports whether name is an event of this package's catalog, whose
// data Parse decodes into a typed struct.
func Known(name string) bool { _, ok := catalog[name]; return ok }

// Datetime is a time as the catalog's events carry it, in the form
// "2020-11-16 10:00:00+00".
type Datetime string

// datetimeLayouts are the forms Time accepts, the catalog's first.
var datetimeLayouts = []string{"2006-01-02 15:04:05-07", "2006-01-02 15:04:05-07:00", "2006-01-02 15:04:05Z07:00", time.RFC3339Nano}

// Time parses the datetime.
func (d Datetime) Time() (time.Time, error) {
	for _, l := range datetimeLayouts {
		if t, err := time.Parse(l, string(d)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("datetime %q is not in the form 2020-11-16 10:00:00+00", string(d))
}

// Errors of Parse, wrapped with details; test for them with errors.Is.
var (
	// ErrInvalidWebhookID: webhook-id is empty, longer than 256 bytes, or not printable ASCII.
	ErrInvalidWebhookID = errors.New("invalid webhook-id")
	// ErrNotAnEvent: the body is not {"eventName": "…", "data": {…}}.
	ErrNotAnEvent = errors.New("body is not an event")
	// ErrInvalidData: data does not fit the type of the event named.
	ErrInvalidData = errors.New("invalid event data")
)

// Event is one event a receiver got.
type Event struct {
	// ID is the webhook-id header: labhooks' delivery id, the same on every
	// retry of one event to one data link. De-duplicate on it.
	ID string `json:"webhookId"`
	// Name is the body's eventName.
	Name string `json:"eventName"`
	// Data is the body's data, decoded: a pointer to the catalog type of Name
	// (*AppointmentData for appointmentCreated, …), or RawData when Name is
	// not in the catalog.
	Data any `json:"data"`
	// RawData is the body's data exactly as received.
	RawData json.RawMessage `json:"-"`
	// Body is the request body exactly as received and signed.
	Body []byte `json:"-"`
	// Timestamp is the webhook-timestamp of the attempt that brought the
	// event; zero when the event was parsed without its headers.
	Timestamp time.Time `json:"webhookTimestamp"`
	// ReceivedAt is when this receiver got it; zero when parsed outside a Handler.
	ReceivedAt time.Time `json:"receivedAt"`
	// EventID, OccurredAt, Entity and Sequence are the verified labhooks-
	// headers (see Meta); zero when the request had none.
	EventID    string    `json:"eventId,omitempty"`
	OccurredAt time.Time `json:"occurredAt,omitzero"`
	Entity     string    `json:"entity,omitempty"`
	Sequence   int64     `json:"sequence,omitempty"`
}

// SetMeta copies m onto e; nil leaves e as it is.
func (e *Event) SetMeta(m *Meta) {
	if m != nil {
		e.EventID, e.OccurredAt, e.Entity, e.Sequence = m.EventID, m.OccurredAt, m.Entity, m.Sequence
	}
}

// Known reports whether the event is in this package's catalog, so that Data
// is a typed struct rather than RawData.
func (e *Event) Known() bool { return Known(e.Name) }

// maxWebhookID bounds webhook-id; labhooks' ids are about 30 bytes.
const maxWebhookID = 256

// Parse reads a request body, {"eventName": "…", "data": {…}}, with its
// webhook-id. An event name outside the catalog is not an error, since an admin
// can register new event types: its Data is RawData. The error wraps
// ErrInvalidWebhookID, ErrNotAnEvent or ErrInvalidData. Parse does not verify;
// call it on a body a Verifier accepted.
func Parse(webhookID string, body []byte) (*Event, error) {
	if err := checkWebhookID(webhookID); err != nil {
		return nil, err
	}
	var env struct {
		EventName *string         `json:"eventName"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAnEvent, err)
	}
	switch {
	case env.EventName == nil:
		return nil, fmt.Errorf("%w: no eventName", ErrNotAnEvent)
	case !validName(*env.EventName):
		return nil, fmt.Errorf("%w: eventName %q is not a name such as appointmentCreated", ErrNotAnEvent, *env.EventName)
	case len(env.Data) == 0 || env.Data[0] != '{':
		return nil, fmt.Errorf("%w: data of %s is not a JSON object", ErrNotAnEvent, *env.EventName)
	}
	e := &Event{ID: webhookID, Name: *env.EventName, RawData: env.Data, Body: body}
	newData, ok := catalog[e.Name]
	if !ok {
		e.Data = RawData(env.Data)
		return e, nil
	}
	e.Data = newData()
	if err := json.Unmarshal(env.Data, e.Data); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidData, e.Name, err)
	}
	return e, nil
}

func checkWebhookID(id string) error {
	if id == "" || len(id) > maxWebhookID {
		return fmt.Errorf("%w: it must be 1 to %d bytes long", ErrInvalidWebhookID, maxWebhookID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("%w: %q holds a byte that is not printable ASCII", ErrInvalidWebhookID, id)
		}
	}
	return nil
}

// validName accepts the names an event type can have: a letter, then up to
// 127 letters, digits, '_', '.', '-' or ':'. Keeping to these keeps names safe
// to store and print.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '-' && c != ':' {
			return false
		}
	}
	return true
}
