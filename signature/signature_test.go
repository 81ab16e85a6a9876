package signature

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vector is one entry of testdata/vectors.json; its description says what
// each field means.
type vector struct {
	Name             string   `json:"name"`
	Secrets          []string `json:"secrets"`
	ID               string   `json:"id"`
	Timestamp        string   `json:"timestamp"`
	Body             string   `json:"body"`
	Signature        string   `json:"signature"`
	Now              int64    `json:"now"`
	ToleranceSeconds int64    `json:"toleranceSeconds"`
	Valid            bool     `json:"valid"`
	Signed           bool     `json:"signed"`
	Error            string   `json:"error"`
}

// errorCodes maps the vectors' error names to this package's errors.
var errorCodes = map[string]error{
	"missing_headers":       ErrMissingHeaders,
	"invalid_timestamp":     ErrInvalidTimestamp,
	"timestamp_too_old":     ErrTimestampTooOld,
	"timestamp_too_new":     ErrTimestampTooNew,
	"no_matching_signature": ErrNoMatchingSignature,
	"invalid_secret":        ErrInvalidSecret,
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 20 {
		t.Fatalf("only %d vectors in testdata/vectors.json", len(f.Vectors))
	}
	return f.Vectors
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			now := time.Unix(v.Now, 0)
			tol := time.Duration(v.ToleranceSeconds) * time.Second
			if v.Signed {
				ts, err := strconv.ParseInt(v.Timestamp, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Sign(v.Secrets, v.ID, ts, []byte(v.Body))
				if err != nil {
					t.Fatal(err)
				}
				if got != v.Signature {
					t.Errorf("Sign = %q, want %q", got, v.Signature)
				}
				s, err := NewSigner(v.Secrets...)
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Sign(v.ID, ts, []byte(v.Body)); got != v.Signature {
					t.Errorf("Signer.Sign = %q, want %q", got, v.Signature)
				}
			}
			err := Verify(v.Secrets, v.ID, v.Timestamp, v.Signature, []byte(v.Body), now, tol)
			if v.Valid {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			want, ok := errorCodes[v.Error]
			if !ok {
				t.Fatalf("vector names unknown error %q", v.Error)
			}
			if !errors.Is(err, want) {
				t.Fatalf("Verify = %v, want %v", err, want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		secret, key string
		err         bool
	}{
		{"mysecretkey", "mysecretkey", false},
		{"whsec_bXlzZWNyZXRrZXk=", "mysecretkey", false},
		{"sécret", "sécret", false},
		{"WHSEC_bXlzZWNyZXRrZXk=", "WHSEC_bXlzZWNyZXRrZXk=", false}, // the prefix is case-sensitive
		{"", "", true},
		{"whsec_", "", true},
		{"whsec_not base64!", "", true},
		{"whsec_bXlzZWNyZXRrZXk", "", true}, // std encoding needs its padding
	} {
		key, err := Key(tc.secret)
		if tc.err {
			if !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("Key(%q) error = %v, want ErrInvalidSecret", tc.secret, err)
			}
			continue
		}
		if err != nil || string(key) != tc.key {
			t.Errorf("Key(%q) = %q, %v; want %q", tc.secret, key, err, tc.key)
		}
	}
}

func TestWhsecForm(t *testing.T) {
	got, err := WhsecForm("mysecretkey")
	if err != nil || got != "whsec_bXlzZWNyZXRrZXk=" {
		t.Fatalf("WhsecForm = %q, %v", got, err)
	}
	again, err := WhsecForm(got)
	if err != nil || again != got {
		t.Fatalf("WhsecForm of a whsec_ secret = %q, %v; want it unchanged", again, err)
	}
	if _, err := WhsecForm("whsec_***"); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("WhsecForm(invalid) error = %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	if _, err := Sign(nil, "id", 1, nil); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("Sign without secrets: %v", err)
	}
	_, err := Sign([]string{"good", "whsec_***"}, "id", 1, nil)
	if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), "secret 2 of 2") {
		t.Errorf("Sign with a bad second secret: %v", err)
	}
}

// TestVerifyMessages checks that each error says which check failed, in words
// a partner can act on.
func TestVerifyMessages(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"eventName":"x","data":{}}`)
	sig, _ := Sign([]string{"s3cret"}, "id1", now.Unix(), body)
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, tc := range []struct {
		name        string
		id, ts, sig string
		now         time.Time
		want        error
		contains    string
	}{
		{"missing", "", ts, "", now, ErrMissingHeaders, "webhook-id, webhook-signature"},
		{"old", "id1", ts, sig, now.Add(10 * time.Minute), ErrTimestampTooOld, "10m0s ago"},
		{"new", "id1", ts, sig, now.Add(-6 * time.Minute), ErrTimestampTooNew, "6m0s ahead"},
		{"no v1", "id1", ts, "v1a,abc", now, ErrNoMatchingSignature, "no v1 signature"},
		{"mismatch", "id2", ts, sig, now, ErrNoMatchingSignature, "none of 1 v1 signature(s) matches any of 1 secret(s)"},
		{"huge timestamp", "id1", "9999999999999999999999", sig, now, ErrInvalidTimestamp, "digits"},
	} {
		err := Verify([]string{"s3cret"}, tc.id, tc.ts, tc.sig, body, tc.now, 0)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%s: Verify = %v; want %v containing %q", tc.name, err, tc.want, tc.contains)
		}
	}
}

func TestSignerConcurrent(t *testing.T) {
	s, err := NewSigner("a-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 200 {
				id := "msg_" + strconv.Itoa(g) + "_" + strconv.Itoa(i)
				body := []byte(strings.Repeat("x", i))
				h := s.Sign(id, now.Unix(), body)
				want, _ := Sign([]string{"a-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, id, now.Unix(), body)
				if h != want {
					done <- errors.New("Signer.Sign differs from Sign")
					return
				}
				if err := s.Verify(id, strconv.FormatInt(now.Unix(), 10), h, body, now, 0); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	body := []byte(`{"eventName":"appointmentCreated","data":{"dashboardUrl":"https://dashboard.daslab.app/samplers/123/appointments/123","userUrl":"https://web.daslab.app/appointments/123","appointmentId":123,"locationId":123,"datetime":"2020-11-16 10:00:00+00","paymentMethod":"stripe"}}`)
	for _, secrets := range [][]string{{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, {"a-new-secret-of-some-length", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}} {
		name := strconv.Itoa(len(secrets)) + "secrets"
		b.Run("Sign/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(secrets, "dlv_01JDX0000000000000000000AB", 1732700000, body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Signer/"+name, func(b *testing.B) {
			s, err := NewSigner(secrets...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Sign("dlv_01JDX0000000000000000000AB", 1732700000, body)
			}
		})
	}
}
