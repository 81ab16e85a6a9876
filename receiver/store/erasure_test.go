package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks/receiver"
)

func parsed(t *testing.T, id, body string, at time.Time) *receiver.Event {
	t.Helper()
	e, err := receiver.Parse(id, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e.Timestamp, e.ReceivedAt = at, at
	return e
}

// TestDeletionRequest: a dataDeletionRequest deletes the user's stored
// events, and is itself stored without the email and phone number; other
// users' events stay.
func TestDeletionRequest(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			ctx := t.Context()
			now := time.Now().UTC()
			for i, body := range []string{
				`{"eventName":"patientUpdated","data":{"patientId":1,"userId":42}}`,
				`{"eventName":"appAuthorized","data":{"userId":42,"appId":"x"}}`,
				`{"eventName":"patientUpdated","data":{"patientId":2,"userId":43}}`,
				`{"eventName":"sampleReceived","data":{"sampleId":42}}`,
			} {
				if _, err := s.Save(ctx, parsed(t, fmt.Sprintf("dlv_%d", i), body, now)); err != nil {
					t.Fatal(err)
				}
			}
			req := parsed(t, "dlv_req", `{"eventName":"dataDeletionRequest","data":{"userId":42,"userEmail":"ann@example.com","userPhoneNumber":"+39000000000"}}`, now)
			if stored, err := s.Save(ctx, req); err != nil || !stored {
				t.Fatalf("Save = %v, %v", stored, err)
			}
			if stored, err := s.Save(ctx, req); err != nil || stored {
				t.Fatalf("Save again = %v, %v", stored, err)
			}
			for id, want := range map[string]bool{"dlv_0": false, "dlv_1": false, "dlv_2": true, "dlv_3": true, "dlv_req": true} {
				if seen, err := s.Seen(ctx, id); err != nil || seen != want {
					t.Errorf("Seen(%s) = %v, %v; want %v", id, seen, err, want)
				}
			}
			rows, err := s.DB().QueryContext(ctx, `SELECT data, body FROM received_events`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var data, body []byte
				if err := rows.Scan(&data, &body); err != nil {
					t.Fatal(err)
				}
				for _, v := range [][]byte{data, body} {
					if strings.Contains(string(v), "ann@example.com") || strings.Contains(string(v), "39000000000") {
						t.Errorf("the store keeps contact data: %s", v)
					}
				}
			}
			e, err := s.Event(ctx, "dlv_req")
			if err != nil || e.Data.(*receiver.DataDeletionRequestData).UserID != 42 {
				t.Fatalf("the stored request: %+v, %v", e, err)
			}
		})
	}
}

// TestDeleteOlderThan: events received before the bound go, newer stay.
func TestDeleteOlderThan(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			ctx := t.Context()
			now := time.Now().UTC()
			for i := range 3 {
				at := now.Add(-time.Duration(i) * time.Hour)
				if _, err := s.Save(ctx, parsed(t, fmt.Sprintf("dlv_%d", i), `{"eventName":"sampleReceived","data":{"sampleId":1}}`, at)); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := s.DeleteOlderThan(ctx, now.Add(-90*time.Minute)); err != nil || n != 1 {
				t.Fatalf("DeleteOlderThan = %d, %v", n, err)
			}
			if seen, _ := s.Seen(ctx, "dlv_2"); seen {
				t.Error("the old event stayed")
			}
			if seen, _ := s.Seen(ctx, "dlv_1"); !seen {
				t.Error("a newer event went")
			}
		})
	}
}
