package receiver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/labhooks/labhooks/signature"
)

// FuzzParse checks that Parse never panics, and that what it accepts is an
// object with a valid name and data it decoded.
func FuzzParse(f *testing.F) {
	f.Add("dlv_1", []byte(seedBody))
	f.Add("dlv_1", []byte(`{"eventName":"labClosed","data":{"labId":1}}`))
	f.Add("dlv_1", []byte(`{"eventName":"appAuthorized","data":{"scope":["a"],"userId":1e3}}`))
	f.Add("x", []byte(`{"eventName":"codeUsed","data":null}`))
	for _, n := range EventNames() {
		f.Add("dlv_2", []byte(`{"eventName":"`+n+`","data":{}}`))
	}
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		e, err := Parse(id, body)
		if err != nil {
			return
		}
		if !validName(e.Name) || e.ID != id || e.Data == nil || !json.Valid(e.RawData) || !bytes.Equal(e.Body, body) {
			t.Fatalf("Parse accepted %+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("a parsed event does not marshal: %v", err)
		}
	})
}

// FuzzHandler sends the Handler fuzzed requests signed with the right secret,
// and fuzzed headers: it must never panic, must answer 200 only to a request
// that verifies and parses, and must store each webhook-id once.
func FuzzHandler(f *testing.F) {
	f.Add("dlv_1", []byte(seedBody), true, "")
	f.Add("dlv_1", []byte(seedBody), false, "v1,abc")
	f.Add("dlv 2", []byte(`{"eventName":"x","data":{}}`), true, "")
	f.Add("dlv_3", []byte(`{}`), true, "")
	const secret = "fuzz-secret-0123456789"
	v, err := NewVerifier(secret)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	v.Now = func() time.Time { return now }
	f.Fuzz(func(t *testing.T, id string, body []byte, sign bool, sigHeader string) {
		store := NewMemoryStore()
		h := &Handler{Verifier: v, Store: store, Logger: slogTo(&bytes.Buffer{})}
		if sign {
			sigHeader, _ = signature.Sign([]string{secret}, id, now.Unix(), body)
		}
		for range 2 {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.Header["X-Api-Key"] = []string{secret}
			r.Header["Webhook-Id"] = []string{id}
			r.Header["Webhook-Timestamp"] = []string{strconv.FormatInt(now.Unix(), 10)}
			r.Header["Webhook-Signature"] = []string{sigHeader}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code == http.StatusOK {
				if err := v.Verify(r.Header, body); err != nil {
					t.Fatalf("200 for a request that does not verify: %v", err)
				}
				if _, err := Parse(id, body); err != nil {
					t.Fatalf("200 for a body that does not parse: %v", err)
				}
			}
		}
		if n := len(store.Events()); n > 1 {
			t.Fatalf("one webhook-id stored %d times", n)
		}
	})
}
