package signature

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestMetaSignature(t *testing.T) {
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a-previous-secret-0123456789abcdef"}
	m := Meta{EventID: "evt_1", OccurredAt: "2026-03-01T09:30:00.000Z", Entity: "appointment:1", Sequence: "4"}
	sig, err := SignMeta(secrets, "dlv_1", 1700000000, m)
	if err != nil || len(strings.Fields(sig)) != 2 {
		t.Fatalf("SignMeta = %q, %v; want one signature per secret", sig, err)
	}
	for _, s := range secrets {
		if err := VerifyMeta([]string{s}, "dlv_1", "1700000000", m, sig); err != nil {
			t.Fatalf("VerifyMeta with one of the secrets: %v", err)
		}
	}
	changed := []struct {
		name, id, ts string
		m            Meta
	}{
		{"webhook-id", "dlv_2", "1700000000", m},
		{"webhook-timestamp", "dlv_1", "1700000001", m},
		{"sequence", "dlv_1", "1700000000", Meta{m.EventID, m.OccurredAt, m.Entity, "5"}},
		// A field's end moved into the next: the separator keeps them apart.
		{"shifted", "dlv_1", "1700000000", Meta{m.EventID, m.OccurredAt, m.Entity + "4", ""}},
	}
	for _, c := range changed {
		if err := VerifyMeta(secrets, c.id, c.ts, c.m, sig); !errors.Is(err, ErrNoMatchingSignature) {
			t.Errorf("%s changed: %v; want ErrNoMatchingSignature", c.name, err)
		}
	}
	// webhook-signature's content never equals labhooks-signature's.
	if body, _ := Sign(secrets[:1], "dlv_1", 1700000000, []byte("x")); strings.Contains(sig, strings.TrimPrefix(body, "v1,")) {
		t.Error("labhooks-signature repeats webhook-signature")
	}
	if err := VerifyMeta(secrets, "dlv_1", "1700000000", m, ""); !errors.Is(err, ErrMissingHeaders) {
		t.Errorf("no signature: %v", err)
	}
}

// FuzzVerifyMeta checks that VerifyMeta never panics and accepts only what
// SignMeta signed.
func FuzzVerifyMeta(f *testing.F) {
	f.Add("dlv_1", "1700000000", "evt_1", "2026-03-01T09:30:00Z", "appointment:1", "1", "v1,abc")
	f.Fuzz(func(t *testing.T, id, ts, eventID, at, entity, seq, header string) {
		m := Meta{eventID, at, entity, seq}
		if VerifyMeta([]string{"fuzz-secret-0123456789abcdef"}, id, ts, m, header) == nil {
			t.Fatalf("a fuzzed labhooks-signature %q verified", header)
		}
	})
}

// TestMetaVectors checks the shared labhooks-signature vectors, which the
// express example checks too.
func TestMetaVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/meta_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Name, ID, Timestamp, Signature string
			Secrets                        []string
			Meta                           Meta
			Valid                          bool
		}
	}
	if err := json.Unmarshal(raw, &file); err != nil || len(file.Vectors) < 5 {
		t.Fatalf("meta_vectors.json: %d vectors, %v", len(file.Vectors), err)
	}
	for _, v := range file.Vectors {
		err := VerifyMeta(v.Secrets, v.ID, v.Timestamp, v.Meta, v.Signature)
		if (err == nil) != v.Valid {
			t.Errorf("%s: VerifyMeta = %v, want valid=%v", v.Name, err, v.Valid)
		}
	}
}
