// Package sealing keeps data-link secrets sealed at rest: the database holds
// them encrypted with AES-256-GCM under a key it does not hold, so a copy of
// the database (a backup, a dump, a stolen disk) does not let anyone sign
// webhooks as labhooks.
//
// A sealed secret is stored as labhooks.SealedSecretPrefix followed by the
// unpadded URL-safe base64 of a 4-byte key ID, a 12-byte nonce and the
// ciphertext with its tag. The data link's ID is authenticated with it, so a
// sealed secret moved to another link does not open.
package sealing

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/labhooks/labhooks"
)

// MinKeyLength is the shortest key accepted, in characters: the output of
// openssl rand -base64 32 has 44.
const MinKeyLength = 32

const (
	keyIDLen = 4
	aadLabel = "labhooks data-link secret\x00"
)

// ErrUnknownKey is wrapped by Open's error for a secret sealed under a key
// that is not in the keyring, or sealed while the keyring has no key.
var ErrUnknownKey = errors.New("sealed with a key that was not given")

// Keyring seals with its first key and opens with any of its keys, so that a
// new key can be put first while the old one still opens what it sealed.
// The zero value and nil have no key: they seal nothing and open nothing.
type Keyring struct {
	keys []key
}

type key struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

// NewKeyring derives a keyring from secrets, the first of which seals.
// Each must be at least MinKeyLength characters, and no two alike.
func NewKeyring(secrets ...string) (*Keyring, error) {
	k := &Keyring{}
	for i, s := range secrets {
		if len(s) < MinKeyLength {
			return nil, fmt.Errorf("key %d of %d: at least %d characters, such as the output of openssl rand -base64 32", i+1, len(secrets), MinKeyLength)
		}
		aesKey, err := hkdf.Key(sha256.New, []byte(s), nil, "labhooks data-link secrets: AES-256-GCM key", 32)
		if err != nil {
			return nil, err
		}
		idBytes, err := hkdf.Key(sha256.New, []byte(s), nil, "labhooks data-link secrets: key ID", keyIDLen)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(aesKey)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		kk := key{aead: aead}
		copy(kk.id[:], idBytes)
		for j, other := range k.keys {
			if other.id == kk.id {
				return nil, fmt.Errorf("keys %d and %d are the same", j+1, i+1)
			}
		}
		k.keys = append(k.keys, kk)
	}
	return k, nil
}

// SplitKeys splits a comma-separated list of keys, as --secrets-key takes
// them, dropping empty entries and spaces around each.
func SplitKeys(list string) []string {
	var keys []string
	for _, k := range strings.Split(list, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Enabled reports whether k has a key to seal with.
func (k *Keyring) Enabled() bool { return k != nil && len(k.keys) > 0 }

// IsSealed reports whether a stored secret is sealed.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, labhooks.SealedSecretPrefix) }

// Seal returns secret sealed under the first key for data link linkID; an
// empty secret stays empty. It panics without a key: check Enabled.
func (k *Keyring) Seal(linkID, secret string) string {
	if secret == "" {
		return ""
	}
	first := k.keys[0]
	out := make([]byte, keyIDLen+first.aead.NonceSize(), keyIDLen+first.aead.NonceSize()+len(secret)+first.aead.Overhead())
	copy(out, first.id[:])
	rand.Read(out[keyIDLen:])
	out = first.aead.Seal(out, out[keyIDLen:], []byte(secret), aad(linkID))
	return labhooks.SealedSecretPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// Open returns the secret stored for data link linkID: a sealed one
// decrypted, anything else as it is (stored before sealing was turned on).
func (k *Keyring) Open(linkID, stored string) (string, error) {
	body, ok := strings.CutPrefix(stored, labhooks.SealedSecretPrefix)
	if !ok {
		return stored, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < keyIDLen {
		return "", fmt.Errorf("data link %s: its sealed secret is damaged", linkID)
	}
	var kk *key
	if k != nil {
		for i := range k.keys {
			if bytes.Equal(k.keys[i].id[:], raw[:keyIDLen]) {
				kk = &k.keys[i]
			}
		}
	}
	if kk == nil {
		return "", fmt.Errorf("data link %s: its secret is %w", linkID, ErrUnknownKey)
	}
	n := kk.aead.NonceSize()
	if len(raw) < keyIDLen+n+kk.aead.Overhead() {
		return "", fmt.Errorf("data link %s: its sealed secret is damaged", linkID)
	}
	plain, err := kk.aead.Open(nil, raw[keyIDLen:keyIDLen+n], raw[keyIDLen+n:], aad(linkID))
	if err != nil {
		return "", fmt.Errorf("data link %s: its sealed secret does not open (damaged, or copied from another data link)", linkID)
	}
	return string(plain), nil
}

// current reports whether stored is sealed under the first key.
func (k *Keyring) current(stored string) bool {
	body, ok := strings.CutPrefix(stored, labhooks.SealedSecretPrefix)
	if !ok || !k.Enabled() {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	return err == nil && len(raw) >= keyIDLen && bytes.Equal(raw[:keyIDLen], k.keys[0].id[:])
}

func aad(linkID string) []byte { return []byte(aadLabel + linkID) }
