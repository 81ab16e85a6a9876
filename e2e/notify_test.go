package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/internal/smtptest"
)

// TestNotifications is issue 14's done-when, with real processes: a lab's
// data link starts failing, is disabled by labhooks, recovers, and is
// disabled by the admin while the SMTP server refuses mail and labhooks is
// killed with SIGKILL. Each change brings exactly one email to the SMTP
// server (STARTTLS, a password, a certificate labhooks trusts through
// SSL_CERT_FILE) and one operational event to the operator's receiver
// (counted by webhook-id: a redelivery after the kill may repeat one).
func TestNotifications(t *testing.T) {
	smtp := smtptest.Start(t, smtptest.Options{User: "labhooks", Password: "s3cret pass"})
	certFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(certFile, smtp.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, db: filepath.Join(t.TempDir(), "labhooks.db"), logs: &lockedBuffer{}, env: []string{"SSL_CERT_FILE=" + certFile}, args: []string{
		"--smtp-url", "smtp://labhooks:s3cret%20pass@" + smtp.Addr, "--smtp-from", "labhooks@example.com",
		"--notify-operator", "ops@example.com", "--public-url", "https://labhooks.example.com",
		"--notify-failing-after", "1s", "--disable-after", "3s", "--notify-interval", "100ms",
		"--retry-schedule", "200ms,200ms,300ms,300ms,500ms,500ms,500ms,500ms,500ms,500ms,1s,1s,1s,1s,1s",
	}}
	s.start()
	t.Cleanup(s.stop)

	// The operator's own receiver, and a lab's that fails until fixed.
	ops := newReceiver(t, nil)
	opID, _ := s.partner("operator", "Operator")
	s.dataLink(opID, ops.URL, secret)
	var failing atomic.Bool
	failing.Store(true)
	lab := newReceiver(t, func(int, *http.Request) int {
		if failing.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	var labP struct{ ID string }
	s.must(s.admin().Do(context.Background(), "POST", "/v1/partners",
		map[string]any{"name": "Central Lab", "role": "lab", "contacts": []string{"it@lab.example"}}, &labP, nil))
	link := s.dataLink(labP.ID, lab.URL, secret)

	// opsEvents counts the operational events the operator's receiver
	// acknowledged, by name, each webhook-id once.
	opsEvents := func() map[string]int {
		seen := map[string]bool{}
		out := map[string]int{}
		for _, r := range ops.requests() {
			id := r.Header.Get("webhook-id")
			if seen[id] {
				continue
			}
			seen[id] = true
			var body struct {
				EventName string `json:"eventName"`
				Data      struct {
					DataLinkID string `json:"dataLinkId"`
					DisabledBy string `json:"disabledBy"`
				} `json:"data"`
			}
			if json.Unmarshal(r.Body, &body) != nil || body.Data.DataLinkID != link {
				t.Errorf("the operator's receiver got %s", r.Body)
				continue
			}
			out[body.EventName+" "+body.Data.DisabledBy]++
		}
		return out
	}
	emails := func(subject string) int {
		n := 0
		for _, m := range smtp.Messages() {
			if strings.Contains(m.Subject, subject) {
				n++
			}
		}
		return n
	}
	// settle waits for a change's email and event, then as long again
	// for any duplicate, and checks there is exactly one of each so far.
	settle := func(what string, wantEmails map[string]int, wantEvents map[string]int) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() bool {
			for subj, n := range wantEmails {
				if emails(subj) < n {
					return false
				}
			}
			got := opsEvents()
			for name, n := range wantEvents {
				if got[name] < n {
					return false
				}
			}
			return true
		})
		time.Sleep(time.Second) // ten notification rounds
		total := 0
		for subj, n := range wantEmails {
			total += n
			if got := emails(subj); got != n {
				t.Fatalf("%s: %d emails %q, want %d", what, got, subj, n)
			}
		}
		if got := len(smtp.Messages()); got != total {
			t.Fatalf("%s: %d emails in all, want %d: %+v", what, got, total, smtp.Messages())
		}
		got := opsEvents()
		for name, n := range wantEvents {
			if got[name] != n {
				t.Fatalf("%s: the operator got %v, want %v", what, got, wantEvents)
			}
		}
		if len(got) != len(wantEvents) {
			t.Fatalf("%s: the operator got %v, want %v", what, got, wantEvents)
		}
	}

	data := eventExamples(t, s)["sampleReceived"]
	if _, err := s.emit(map[string]any{"eventName": "sampleReceived", "data": data, "partnerId": labP.ID}, ""); err != nil {
		t.Fatal(err)
	}
	settle("the link failing", map[string]int{"failing since": 1}, map[string]int{"dataLinkFailing ": 1})
	m := smtp.Messages()[0]
	if strings.Join(m.To, ",") != "it@lab.example,ops@example.com" || !strings.Contains(m.Subject, "Central Lab") ||
		!strings.Contains(m.Body, "HTTP 503") || !strings.Contains(m.Body, lab.URL) ||
		!strings.Contains(m.Body, "https://labhooks.example.com/datalinks/"+link) || m.From != "labhooks@example.com" {
		t.Fatalf("the failing email: to %v, %q\n%s", m.To, m.Subject, m.Body)
	}

	settle("the link disabled", map[string]int{"failing since": 1, "disabled": 1},
		map[string]int{"dataLinkFailing ": 1, "dataLinkDisabled failing": 1})

	// Fixed and enabled again: it recovers.
	failing.Store(false)
	s.must(s.admin().Do(context.Background(), "PATCH", httpapi.Path("/v1/datalinks/%s", link), map[string]any{"enabled": true}, nil, nil))
	settle("the link recovered", map[string]int{"failing since": 1, "disabled": 1, "works again": 1},
		map[string]int{"dataLinkFailing ": 1, "dataLinkDisabled failing": 1, "dataLinkRecovered ": 1})

	// The admin disables it while the SMTP server refuses mail: the
	// notification is decided and stored, its email fails; labhooks is
	// killed, restarted, and the email goes once the server takes mail.
	smtp.Refuse(true)
	s.must(s.admin().Do(context.Background(), "PATCH", httpapi.Path("/v1/datalinks/%s", link), map[string]any{"enabled": false}, nil, nil))
	eventually(t, 30*time.Second, "a refused notification email", func() bool {
		return strings.Contains(s.logs.String(), "sending a notification failed")
	})
	s.kill()
	smtp.Refuse(false)
	s.start()
	settle("the link disabled by hand, across a SIGKILL", map[string]int{"failing since": 1, "disabled": 2, "works again": 1},
		map[string]int{"dataLinkFailing ": 1, "dataLinkDisabled failing": 1, "dataLinkRecovered ": 1, "dataLinkDisabled manual": 1})
	if last := smtp.Messages()[3]; !strings.Contains(last.Body, "disabled by hand") {
		t.Fatalf("the last email:\n%s", last.Body)
	}
}
