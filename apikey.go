package labhooks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// API key prefixes tell at a glance which kind of key leaked, and let secret
// scanners recognise them.
const (
	AdminKeyPrefix   = "lha_"
	PartnerKeyPrefix = "lhp_"
	// MinAdminKeyLength bounds an admin key chosen by the operator.
	MinAdminKeyLength = 24
)

// NewAPIKey returns a fresh random key with the given prefix.
func NewAPIKey(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// KeyHash is how API keys are stored: keys are long and random, so one
// SHA-256 suffices and lets a key be looked up by its hash.
func KeyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// ValidateAdminKey refuses an admin key chosen too short or too plain to
// resist guessing: it opens everything, from the API and the sign-in form.
// EWeakSecret.
func ValidateAdminKey(key string) error {
	if len(key) < MinAdminKeyLength || strings.ContainsAny(key, " \t\r\n") {
		return Errorf(EWeakSecret, "the admin key must be at least %d characters without spaces", MinAdminKeyLength)
	}
	if why := Guessable(key); why != "" {
		return Errorf(EWeakSecret, "the admin key is too easy to guess (%s); use a random one, such as the output of openssl rand -base64 32", why)
	}
	return nil
}
