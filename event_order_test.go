package labhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestParseOccurredAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-30T10:00:00Z", time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), true},
		{"2026-12-01T08:03:00.1234+02:00", time.Date(2026, 12, 1, 6, 3, 0, 123e6, time.UTC), true}, // 3 min ahead, to the ms
		{"2026-12-01T06:06:00Z", time.Time{}, false},                                               // 6 min ahead
		{"1999-12-31T23:59:59Z", time.Time{}, false},
		{"2026-11-30 10:00:00", time.Time{}, false},
		{"2026-11-30T10:00:00", time.Time{}, false}, // no zone
		{"yesterday", time.Time{}, false},
	} {
		got, err := ParseOccurredAt(tc.in, now)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("ParseOccurredAt(%q) = %s, %v; want %s ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && ErrorCode(err) != EInvalid {
			t.Errorf("ParseOccurredAt(%q): code %s", tc.in, ErrorCode(err))
		}
	}
	if got := FormatOccurredAt(time.Date(2026, 3, 1, 9, 30, 0, 250e6, time.FixedZone("x", 3600))); got != "2026-03-01T08:30:00.250Z" {
		t.Errorf("FormatOccurredAt = %q", got)
	}
}

func TestValidateEntity(t *testing.T) {
	for key, ok := range map[string]bool{
		"appointment:123": true, "sample:abc-1/2": true, "": false, "has space": false, "tab\there": false,
		"ünïcode": false, strings.Repeat("a", MaxEntity): true, strings.Repeat("a", MaxEntity+1): false,
	} {
		if err := ValidateEntity(key); (err == nil) != ok {
			t.Errorf("ValidateEntity(%q) = %v; want ok=%v", key, err, ok)
		}
	}
}

// TestRequestHashOrderFields: an emitter's occurredAt and entity are part
// of what an idempotency key stands for; no fields, the hash is as before.
func TestRequestHashOrderFields(t *testing.T) {
	base := Event{EventName: "appointmentUpdated", Data: []byte(`{"appointmentId":1}`)}
	withAt, withEntity := base, base
	withAt.OccurredAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	withEntity.Entity = "appointment:1"
	hashes := map[string]bool{base.RequestHash(): true, withAt.RequestHash(): true, withEntity.RequestHash(): true}
	if len(hashes) != 3 {
		t.Fatal("occurredAt or entity does not change the request hash")
	}
	// The hash of a request without them is the one stored before issue 15:
	// the four parts, each followed by a zero byte.
	h := sha256.New()
	for _, part := range []string{base.EventName, string(base.Data), "", ""} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	if got, want := base.RequestHash(), hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("RequestHash = %q; want the hash stored before, %q", got, want)
	}
}
