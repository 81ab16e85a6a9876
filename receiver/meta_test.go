package receiver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/labhooks/labhooks/signature"
)

// withMeta signs m into r's labhooks- headers as labhooks does, with the
// secrets that signed r.
func withMeta(t *testing.T, r *http.Request, secrets []string, m signature.Meta) *http.Request {
	t.Helper()
	unix, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signature.SignMeta(secrets, r.Header.Get("webhook-id"), unix, m)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{HeaderEventID: m.EventID, HeaderOccurredAt: m.OccurredAt, HeaderEntity: m.Entity, HeaderSequence: m.Sequence} {
		if v != "" {
			r.Header.Set(name, v)
		}
	}
	r.Header.Set(HeaderMetaSignature, sig)
	return r
}

const testSecret = "a-long-difficult-secret-for-meta"

var testMeta = signature.Meta{EventID: "evt_01", OccurredAt: "2026-03-01T09:30:00.250Z", Entity: "appointment:123", Sequence: "7"}

func TestMetaVerifiedAndTyped(t *testing.T) {
	tb := setup(t, testSecret)
	d := delivery{apiKey: testSecret, id: "dlv_meta", body: seedBody}
	code, errCode := tb.serve(t, withMeta(t, d.request(t, "/"), []string{testSecret}, testMeta))
	if code != 200 {
		t.Fatalf("a request with signed labhooks- headers: %d %s", code, errCode)
	}
	e := tb.store.Events()[0]
	want := time.Date(2026, 3, 1, 9, 30, 0, 250e6, time.UTC)
	if e.EventID != "evt_01" || !e.OccurredAt.Equal(want) || e.Entity != "appointment:123" || e.Sequence != 7 {
		t.Fatalf("stored event's meta = %q %s %q %d", e.EventID, e.OccurredAt, e.Entity, e.Sequence)
	}
	// Without any labhooks- header (an older labhooks, a test tool), the
	// event is taken, with no meta.
	code, _ = tb.serve(t, delivery{apiKey: testSecret, id: "dlv_plain", body: seedBody}.request(t, "/"))
	if e := tb.store.Events()[1]; code != 200 || e.EventID != "" || e.Sequence != 0 {
		t.Fatalf("a request without labhooks- headers: %d, %+v", code, e)
	}
}

func TestMetaTamperedRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h http.Header)
		status int
		code   string
	}{
		{"sequence raised", func(h http.Header) { h.Set(HeaderSequence, "8") }, 401, "no_matching_signature"},
		{"entity changed", func(h http.Header) { h.Set(HeaderEntity, "appointment:124") }, 401, "no_matching_signature"},
		{"occurred-at changed", func(h http.Header) { h.Set(HeaderOccurredAt, "2026-03-01T09:31:00.250Z") }, 401, "no_matching_signature"},
		{"event id changed", func(h http.Header) { h.Set(HeaderEventID, "evt_02") }, 401, "no_matching_signature"},
		{"entity removed", func(h http.Header) { h.Del(HeaderEntity); h.Del(HeaderSequence) }, 401, "no_matching_signature"},
		{"signature removed", func(h http.Header) { h.Del(HeaderMetaSignature) }, 401, "no_matching_signature"},
		{"signature of another secret", func(h http.Header) {
			sig, _ := signature.SignMeta([]string{"another-secret-0123456789abcdefgh"}, h.Get("webhook-id"), 0, testMeta)
			h.Set(HeaderMetaSignature, sig)
		}, 401, "no_matching_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := setup(t, testSecret)
			r := withMeta(t, delivery{apiKey: testSecret, id: "dlv_tampered", body: seedBody}.request(t, "/"), []string{testSecret}, testMeta)
			tc.change(r.Header)
			if code, errCode := tb.serve(t, r); code != tc.status || errCode != tc.code {
				t.Fatalf("answer = %d %s; want %d %s", code, errCode, tc.status, tc.code)
			}
			if n := len(tb.store.Events()); n != 0 || tb.calls.Load() != 0 {
				t.Fatalf("a refused request stored %d events, called OnEvent %d times", n, tb.calls.Load())
			}
		})
	}
	// Signed but malformed: refused as such.
	tb := setup(t, testSecret)
	bad := testMeta
	bad.Sequence = "0"
	r := withMeta(t, delivery{apiKey: testSecret, id: "dlv_bad", body: seedBody}.request(t, "/"), []string{testSecret}, bad)
	if code, errCode := tb.serve(t, r); code != 400 || errCode != "invalid_meta" {
		t.Fatalf("sequence 0: %d %s; want 400 invalid_meta", code, errCode)
	}
}

func TestParseMeta(t *testing.T) {
	for _, tc := range []struct {
		id, at, entity, seq string
		ok                  bool
	}{
		{"", "", "", "", true},
		{"evt_1", "2026-03-01T09:30:00Z", "", "", true},
		{"evt_1", "2026-03-01T09:30:00+02:00", "sample:9", "12", true},
		{"evt_1", "2026-03-01 09:30:00", "", "", false},
		{"", "2026-03-01T09:30:00Z", "", "", false},
		{"evt_1", "2026-03-01T09:30:00Z", "sample:9", "", false},
		{"evt_1", "2026-03-01T09:30:00Z", "", "3", false},
		{"evt_1", "2026-03-01T09:30:00Z", "sample:9", "-3", false},
		{"evt_1", "2026-03-01T09:30:00Z", "sample:9", "99999999999999999999", false},
		{"evt_1", "2026-03-01T09:30:00Z", "sample 9", "3", false},
	} {
		m, err := ParseMeta(tc.id, tc.at, tc.entity, tc.seq)
		if (err == nil) != tc.ok {
			t.Errorf("ParseMeta(%q, %q, %q, %q) = %+v, %v; want ok=%v", tc.id, tc.at, tc.entity, tc.seq, m, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidMeta) {
			t.Errorf("ParseMeta error %v does not wrap ErrInvalidMeta", err)
		}
	}
}

// FuzzParseMeta checks that ParseMeta never panics and that what it accepts
// is consistent: an event ID and a time, and an entity exactly when a
// sequence from 1.
func FuzzParseMeta(f *testing.F) {
	f.Add("evt_1", "2026-03-01T09:30:00.250Z", "appointment:123", "7")
	f.Add("evt_1", "2026-03-01T09:30:00Z", "", "")
	f.Add("", "", "", "")
	f.Add("evt_1", "2026-13-01T09:30:00Z", "x", "0")
	f.Fuzz(func(t *testing.T, id, at, entity, seq string) {
		m, err := ParseMeta(id, at, entity, seq)
		if err != nil || m == nil {
			if err == nil && (id != "" || at != "" || entity != "" || seq != "") {
				t.Fatalf("ParseMeta(%q, %q, %q, %q) = nil, nil for headers that are there", id, at, entity, seq)
			}
			return
		}
		if m.EventID != id || m.OccurredAt.IsZero() && at == "" || (m.Entity == "") != (m.Sequence == 0) || m.Sequence < 0 {
			t.Fatalf("ParseMeta(%q, %q, %q, %q) accepted %+v", id, at, entity, seq, m)
		}
	})
}

func TestLatestOnly(t *testing.T) {
	tb := setup(t, testSecret)
	tb.handler.LatestOnly = true
	send := func(id, entity, seq string) (int, string) {
		m := testMeta
		m.Entity, m.Sequence = entity, seq
		return tb.serve(t, withMeta(t, delivery{apiKey: testSecret, id: id, body: seedBody}.request(t, "/"), []string{testSecret}, m))
	}
	for _, step := range []struct{ id, entity, seq, want string }{
		{"dlv_1", "appointment:1", "1", "stored"},
		{"dlv_3", "appointment:1", "3", "stored"},
		{"dlv_2", "appointment:1", "2", "stale"}, // a retry that came after a newer event
		{"dlv_3", "appointment:1", "3", "duplicate"},
		{"dlv_x", "appointment:2", "1", "stored"}, // another entity has its own numbers
		{"dlv_4", "appointment:1", "4", "stored"},
	} {
		if code, status := send(step.id, step.entity, step.seq); code != 200 || status != step.want {
			t.Fatalf("%s (%s #%s): %d %s; want 200 %s", step.id, step.entity, step.seq, code, status, step.want)
		}
	}
	if n := len(tb.store.Events()); n != 4 || tb.calls.Load() != 4 {
		t.Fatalf("stored %d events, OnEvent ran %d times; want 4 and 4 (never for the stale one)", n, tb.calls.Load())
	}
	// A Store that cannot keep to the latest is a configuration error.
	tb.handler.Store = plainStore{}
	if code, _ := send("dlv_5", "appointment:1", "5"); code != 500 {
		t.Fatalf("LatestOnly over a plain Store: %d; want 500", code)
	}
}

// plainStore is a Store that is no LatestStore.
type plainStore struct{}

func (plainStore) Seen(context.Context, string) (bool, error) { return false, nil }
func (plainStore) Save(context.Context, *Event) (bool, error) { return true, nil }
