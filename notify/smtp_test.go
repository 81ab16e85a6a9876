package notify_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks/internal/smtptest"
	"github.com/labhooks/labhooks/notify"
)

// TestSend speaks SMTP to a real server: STARTTLS with a password, and TLS
// from the first byte.
func TestSend(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   smtptest.Options
		scheme string
	}{
		{"starttls", smtptest.Options{User: "labhooks", Password: "p@ss word"}, "smtp://labhooks:p%40ss%20word@"},
		{"implicit tls", smtptest.Options{Implicit: true, User: "labhooks", Password: "pw"}, "smtps://labhooks:pw@"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t, tt.opts)
			m, err := notify.New(notify.Config{URL: tt.scheme + srv.Addr, From: "labhooks@example.com", TLS: &tls.Config{RootCAs: srv.RootCAs()}})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Send(t.Context(), []string{"it@lab.example", "ops@example.com"}, "labhooks: data link failing", "Every delivery failed.\nFix it."); err != nil {
				t.Fatal(err)
			}
			got := srv.Wait(1, 5*time.Second)
			if len(got) != 1 || got[0].Subject != "labhooks: data link failing" || got[0].From != "labhooks@example.com" ||
				strings.Join(got[0].To, ",") != "it@lab.example,ops@example.com" || !strings.Contains(got[0].Body, "Every delivery failed.") {
				t.Fatalf("server got %+v", got)
			}
		})
	}
}

// TestSendRefused: a server that refuses, a wrong password, and a server
// whose certificate is not trusted are errors, and nothing arrives.
func TestSendRefused(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "u", Password: "right"})
	trust := &tls.Config{RootCAs: srv.RootCAs()}
	for name, cfg := range map[string]notify.Config{
		"wrong password":    {URL: "smtp://u:wrong@" + srv.Addr, From: "l@example.com", TLS: trust},
		"untrusted cert":    {URL: "smtp://u:right@" + srv.Addr, From: "l@example.com"},
		"no tls, refused":   {URL: "smtp://" + srv.Addr + "?tls=none", From: "l@example.com"},
		"temporary failure": {URL: "smtp://u:right@" + srv.Addr, From: "l@example.com", TLS: trust},
	} {
		t.Run(name, func(t *testing.T) {
			srv.Refuse(name == "temporary failure")
			m, err := notify.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Send(t.Context(), []string{"a@example.com"}, "s", "t"); err == nil {
				t.Fatal("Send succeeded")
			}
		})
	}
	srv.Refuse(false)
	if got := srv.Messages(); len(got) != 0 {
		t.Fatalf("server got %+v", got)
	}
}

func TestNewRefuses(t *testing.T) {
	for raw, want := range map[string]string{
		"http://smtp.example.com":           "must start with smtp://",
		"smtp://":                           "no host",
		"smtp://smtp.example.com:99999":     "port",
		"smtp://smtp.example.com?tls=maybe": "tls=maybe",
	} {
		if _, err := notify.New(notify.Config{URL: raw, From: "l@example.com"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q) = %v, want %q", raw, err, want)
		}
	}
	if _, err := notify.New(notify.Config{URL: "smtp://smtp.example.com", From: "not an address"}); err == nil || !strings.Contains(err.Error(), "--smtp-from") {
		t.Errorf("a bad From: %v", err)
	}
}
