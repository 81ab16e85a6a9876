package labhooks_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

func TestValidateAdminKey(t *testing.T) {
	for _, good := range []string{
		"admin-key-for-my-laptop-0123456789", // the README's example
		labhooks.NewAPIKey(labhooks.AdminKeyPrefix),
	} {
		if err := labhooks.ValidateAdminKey(good); err != nil {
			t.Errorf("ValidateAdminKey(%q) = %v", good, err)
		}
	}
	for key, want := range map[string]string{
		"short-key-0123456789":         "at least 24",
		"a key with spaces 0123456789": "without spaces",
		strings.Repeat("ab", 16):       "only 2 different characters",
		"aaaaaaaaaaaaaaa-0123456789":   "over a quarter",
	} {
		err := labhooks.ValidateAdminKey(key)
		if labhooks.ErrorCode(err) != labhooks.EWeakSecret || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateAdminKey(%q) = %v, want %s saying %q", key, err, labhooks.EWeakSecret, want)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	a, b := labhooks.NewAPIKey(labhooks.PartnerKeyPrefix), labhooks.NewAPIKey(labhooks.PartnerKeyPrefix)
	if a == b || !strings.HasPrefix(a, "lhp_") || len(a) < 40 {
		t.Fatalf("NewAPIKey: %q, %q", a, b)
	}
	if again := strings.Clone(a); !bytes.Equal(labhooks.KeyHash(a), labhooks.KeyHash(again)) || bytes.Equal(labhooks.KeyHash(a), labhooks.KeyHash(b)) {
		t.Fatal("KeyHash is not a function of the key alone")
	}
	if n := len(labhooks.KeyHash(a)); n != 32 {
		t.Fatalf("KeyHash is %d bytes, want SHA-256's 32", n)
	}
}
