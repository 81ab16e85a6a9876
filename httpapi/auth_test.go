package httpapi

import (
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

func TestValidateAdminKey(t *testing.T) {
	for _, good := range []string{
		"admin-key-for-my-laptop-0123456789", // the README's example
		NewAPIKey(AdminKeyPrefix),
	} {
		if err := ValidateAdminKey(good); err != nil {
			t.Errorf("ValidateAdminKey(%q) = %v", good, err)
		}
	}
	for key, want := range map[string]string{
		"short-key-0123456789":         "at least 24",
		"a key with spaces 0123456789": "without spaces",
		strings.Repeat("ab", 16):       "only 2 different characters",
		"aaaaaaaaaaaaaaa-0123456789":   "over a quarter",
	} {
		err := ValidateAdminKey(key)
		if labhooks.ErrorCode(err) != labhooks.EWeakSecret || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateAdminKey(%q) = %v, want %s saying %q", key, err, labhooks.EWeakSecret, want)
		}
	}
}
