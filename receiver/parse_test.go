package receiver

import (
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"
)

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestParseCatalog parses an example of every catalog event, the seed page's
// where it has one.
func TestParseCatalog(t *testing.T) {
	appt := &AppointmentData{DashboardURL: "https://dashboard.daslab.app/samplers/123/appointments/123", UserURL: "https://web.daslab.app/appointments/123", AppointmentID: 123, LocationID: 123, Datetime: "2020-11-16 10:00:00+00", PaymentMethod: "stripe"}
	apptJSON := `{"dashboardUrl":"https://dashboard.daslab.app/samplers/123/appointments/123","userUrl":"https://web.daslab.app/appointments/123","appointmentId":123,"locationId":123,"datetime":"2020-11-16 10:00:00+00","paymentMethod":"stripe"}`
	cases := map[string]struct {
		data string
		want any
	}{
		AppointmentCreated:   {apptJSON, appt},
		AppointmentUpdated:   {apptJSON, appt},
		AppointmentCancelled: {apptJSON, appt},
		AppointmentCompleted: {apptJSON, appt},
		SampleUpdated: {`{"dashboardUrl":"https://dashboard.daslab.app/samplers/123/results/123","userUrl":"https://web.daslab.app/results/123","appointmentId":123,"locationId":123,"sampleId":123,"resultId":123,"patientId":123}`,
			&SampleUpdatedData{DashboardURL: "https://dashboard.daslab.app/samplers/123/results/123", UserURL: "https://web.daslab.app/results/123", AppointmentID: 123, LocationID: 123, SampleID: 123, ResultID: 123, PatientID: 123}},
		SampleReceived: {`{"dashboardUrl":"https://d/1","sampleId":5,"appointmentId":6,"locationId":7}`,
			&SampleReceivedData{DashboardURL: "https://d/1", SampleID: 5, AppointmentID: 6, LocationID: 7}},
		CodeUsed: {`{"dashboardUrl":"https://d/2","codeId":8,"appointmentId":9,"datetime":"2020-11-16 10:00:00+00"}`,
			&CodeUsedData{DashboardURL: "https://d/2", CodeID: 8, AppointmentID: 9, Datetime: "2020-11-16 10:00:00+00"}},
		AppAuthorized: {`{"userId":1,"patientId":2,"integrationId":3,"scope":["patientData","resultData"]}`,
			&AppAuthorizedData{UserID: 1, PatientID: 2, IntegrationID: 3, Scope: []string{"patientData", "resultData"}}},
		AppDeauthorized: {`{"userId":1,"patientId":2,"integrationId":3}`, &AppDeauthorizedData{UserID: 1, PatientID: 2, IntegrationID: 3}},
		PatientUpdated:  {`{"patientId":4,"userId":5}`, &PatientUpdatedData{PatientID: 4, UserID: 5}},
		DataShareAccepted: {`{"userId":123,"patientId":123,"integrationId":123,"userEmail":"user@example.com","userPhoneNumber":"+39000000000","scope":["patientData","resultData"]}`,
			&DataShareAcceptedData{UserID: 123, PatientID: 123, IntegrationID: 123, UserEmail: "user@example.com", UserPhoneNumber: "+39000000000", Scope: []string{"patientData", "resultData"}}},
		DataDeletionRequest: {`{"userId":123,"userEmail":"user@example.com","userPhoneNumber":"+39000000000"}`,
			&DataDeletionRequestData{UserID: 123, UserEmail: "user@example.com", UserPhoneNumber: "+39000000000"}},
		CovidPositiveAlert: {`{"dashboardUrl":"https://d/3","sampleId":1,"resultId":2,"appointmentId":3,"locationId":4}`,
			&CovidPositiveAlertData{DashboardURL: "https://d/3", SampleID: 1, ResultID: 2, AppointmentID: 3, LocationID: 4}},
		ResultVerified: {`{"dashboardUrl":"https://d/4","resultId":2,"sampleId":1,"datetime":"2020-11-16 10:00:00+00"}`,
			&ResultVerifiedData{DashboardURL: "https://d/4", ResultID: 2, SampleID: 1, Datetime: "2020-11-16 10:00:00+00"}},
		DataLinkFailing: {`{"dataLinkId":"dl_1","partnerId":"ptn_1","failingSince":"2026-11-30T08:12:00Z","lastStatusCode":503}`,
			&DataLinkFailingData{DataLinkID: "dl_1", PartnerID: "ptn_1", FailingSince: "2026-11-30T08:12:00Z", LastStatusCode: 503}},
		DataLinkDisabled: {`{"dataLinkId":"dl_1","partnerId":"ptn_1","disabledAt":"2026-12-05T08:12:00Z","disabledBy":"gone","lastStatusCode":410}`,
			&DataLinkDisabledData{DataLinkID: "dl_1", PartnerID: "ptn_1", DisabledAt: "2026-12-05T08:12:00Z", DisabledBy: "gone", LastStatusCode: 410}},
		DataLinkRecovered: {`{"dataLinkId":"dl_1","partnerId":"ptn_1","recoveredAt":"2026-12-05T09:00:00Z","previousState":"disabled","labhooksUrl":"https://l/datalinks/dl_1"}`,
			&DataLinkRecoveredData{DataLinkID: "dl_1", PartnerID: "ptn_1", RecoveredAt: "2026-12-05T09:00:00Z", PreviousState: "disabled", LabhooksURL: "https://l/datalinks/dl_1"}},
		ErasureOverdue: {`{"eventId":"evt_1","requestedAt":"2026-10-31T10:00:00Z","deadline":"2026-11-30T10:00:00Z","overduePartnerIds":["ptn_1"]}`,
			&ErasureOverdueData{EventID: "evt_1", RequestedAt: "2026-10-31T10:00:00Z", Deadline: "2026-11-30T10:00:00Z", OverduePartnerIDs: []string{"ptn_1"}}},
	}
	if len(cases) != len(EventNames()) {
		t.Fatalf("%d cases for %d catalog events", len(cases), len(EventNames()))
	}
	for name, tc := range cases {
		body := `{"eventName":"` + name + `","data":` + tc.data + `}`
		e, err := Parse("dlv_1", []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.Name != name || e.ID != "dlv_1" || string(e.RawData) != tc.data || string(e.Body) != body || !e.Known() {
			t.Errorf("%s: parsed %+v", name, e)
		}
		if !reflect.DeepEqual(e.Data, tc.want) {
			t.Errorf("%s: Data = %#v, want %#v", name, e.Data, tc.want)
		}
	}
}

func TestParseUnknownAndErrors(t *testing.T) {
	e, err := Parse("dlv_1", []byte(`{"eventName":"labClosed","data":{"labId":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if raw, ok := e.Data.(RawData); !ok || string(raw) != `{"labId":1}` || e.Known() {
		t.Fatalf("unknown event: %#v", e.Data)
	}
	for _, tc := range []struct {
		id, body string
		want     error
	}{
		{"", `{"eventName":"codeUsed","data":{}}`, ErrInvalidWebhookID},
		{"dlv\x01", `{"eventName":"codeUsed","data":{}}`, ErrInvalidWebhookID},
		{"dlv_1", ``, ErrNotAnEvent},
		{"dlv_1", `[]`, ErrNotAnEvent},
		{"dlv_1", `{"eventName":"codeUsed"}`, ErrNotAnEvent},
		{"dlv_1", `{"eventName":"codeUsed","data":null}`, ErrNotAnEvent},
		{"dlv_1", `{"eventName":"","data":{}}`, ErrNotAnEvent},
		{"dlv_1", `{"eventName":"a b","data":{}}`, ErrNotAnEvent},
		{"dlv_1", `{"eventName":"codeUsed","data":{"codeId":1.5}}`, ErrInvalidData},
		{"dlv_1", `{"eventName":"appAuthorized","data":{"scope":"all"}}`, ErrInvalidData},
	} {
		if _, err := Parse(tc.id, []byte(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q, %s) = %v, want %v", tc.id, tc.body, err, tc.want)
		}
	}
}

func TestDatetime(t *testing.T) {
	got, err := Datetime("2020-11-16 10:00:00+00").Time()
	if err != nil || !got.Equal(time.Date(2020, 11, 16, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("Time = %v, %v", got, err)
	}
	if _, err := Datetime("16/11/2020").Time(); err == nil {
		t.Fatal("a malformed datetime parsed")
	}
}
