package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"
)

// WhsecPrefix begins every secret written in the Standard Webhooks form.
const WhsecPrefix = "whsec_"

// DefaultTolerance is how far a webhook-timestamp may be from now, either way,
// when Verify is given a tolerance of zero or less.
const DefaultTolerance = 5 * time.Minute

// maxTimestampDigits bounds webhook-timestamp so that it always fits an int64.
const maxTimestampDigits = 18

// Errors that Verify, Sign and Key return, wrapped with details; test for them
// with errors.Is.
var (
	// ErrInvalidSecret: a secret is empty, or a whsec_ secret is not valid base64.
	ErrInvalidSecret = errors.New("invalid secret")
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature is empty.
	ErrMissingHeaders = errors.New("missing webhook headers")
	// ErrInvalidTimestamp: webhook-timestamp is not unix seconds in decimal.
	ErrInvalidTimestamp = errors.New("invalid webhook-timestamp")
	// ErrTimestampTooOld: webhook-timestamp is further in the past than the tolerance.
	ErrTimestampTooOld = errors.New("webhook-timestamp too old")
	// ErrTimestampTooNew: webhook-timestamp is further in the future than the tolerance.
	ErrTimestampTooNew = errors.New("webhook-timestamp too new")
	// ErrNoMatchingSignature: no v1 signature in webhook-signature matches any secret.
	ErrNoMatchingSignature = errors.New("no matching signature")
)

// Key returns the HMAC key of a secret: a secret beginning with "whsec_" is the
// Standard Webhooks form and is base64-decoded (std encoding); any other
// secret's key is its UTF-8 bytes. The error wraps ErrInvalidSecret for an
// empty secret or an invalid whsec_ secret.
func Key(secret string) ([]byte, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: the secret is empty", ErrInvalidSecret)
	}
	rest, ok := strings.CutPrefix(secret, WhsecPrefix)
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: a secret beginning with %q must continue in standard base64: %v", ErrInvalidSecret, WhsecPrefix, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: the %s secret holds an empty key", ErrInvalidSecret, WhsecPrefix)
	}
	return key, nil
}

// WhsecForm returns the Standard Webhooks form of a secret ("whsec_" + base64
// of its key), which official Standard Webhooks libraries take. A secret
// already in that form is returned as it is, once checked.
func WhsecForm(secret string) (string, error) {
	key, err := Key(secret)
	if err != nil {
		return "", err
	}
	return WhsecPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// Sign returns the webhook-signature header value: "v1,<base64
// HMAC-SHA256(key, id.timestamp.body)>" for each secret, space-separated, in
// order.
func Sign(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	s, err := newSigner(secrets, false)
	if err != nil {
		return "", err
	}
	return s.Sign(id, timestamp, body), nil
}

// Verify checks the headers id, timestamp and signatureHeader against body
// with any of the secrets: the timestamp must be within tolerance of now, in
// both directions (DefaultTolerance when tolerance <= 0), and at least one v1
// signature must match, compared in constant time. Its error wraps one of
// ErrInvalidSecret, ErrMissingHeaders, ErrInvalidTimestamp, ErrTimestampTooOld,
// ErrTimestampTooNew or ErrNoMatchingSignature.
func Verify(secrets []string, id, timestamp, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	s, err := newSigner(secrets, false)
	if err != nil {
		return err
	}
	return s.Verify(id, timestamp, signatureHeader, body, now, tolerance)
}

// Signer signs and verifies with a fixed set of secrets, whose keys it decodes
// and whose HMAC state it prepares once; it is safe for concurrent use.
// Build one with NewSigner.
type Signer struct {
	keys [][]byte
	// pools holds ready HMACs, one pool per key; nil for the one-shot
	// Signers of Sign and Verify, for which a pool would cost more than it saves.
	pools []*sync.Pool
}

// NewSigner returns a Signer for one or more secrets, raw or in whsec_ form.
// The error wraps ErrInvalidSecret.
func NewSigner(secrets ...string) (*Signer, error) {
	return newSigner(secrets, true)
}

func newSigner(secrets []string, pooled bool) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	s := &Signer{keys: make([][]byte, len(secrets))}
	for i, secret := range secrets {
		key, err := Key(secret)
		if err != nil {
			if len(secrets) > 1 {
				return nil, fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
			}
			return nil, err
		}
		s.keys[i] = key
	}
	if pooled {
		s.pools = make([]*sync.Pool, len(s.keys))
		for i, key := range s.keys {
			s.pools[i] = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
		}
	}
	return s, nil
}

// Sign returns the webhook-signature header value for id, timestamp and body:
// one "v1,<base64>" entry per secret, space-separated, in the order the
// secrets were given.
func (s *Signer) Sign(id string, timestamp int64, body []byte) string {
	ts := fmt.Appendf(nil, "%d", timestamp)
	var b strings.Builder
	b.Grow(len(s.keys) * 48)
	var sum [sha256.Size]byte
	var enc [44]byte // base64 of 32 bytes
	for i := range s.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		base64.StdEncoding.Encode(enc[:], s.mac(i, id, ts, body, sum[:0]))
		b.WriteString("v1,")
		b.Write(enc[:])
	}
	return b.String()
}

// Verify is the package's Verify with the Signer's secrets.
func (s *Signer) Verify(id, timestamp, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" || timestamp == "" || signatureHeader == "" {
		var missing []string
		for _, h := range []struct{ name, v string }{{"webhook-id", id}, {"webhook-timestamp", timestamp}, {"webhook-signature", signatureHeader}} {
			if h.v == "" {
				missing = append(missing, h.name)
			}
		}
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sent := time.Unix(ts, 0)
	if d := now.Sub(sent); d > tolerance {
		return fmt.Errorf("%w: sent %s, %s ago, beyond the tolerance of %s", ErrTimestampTooOld, sent.UTC().Format(time.RFC3339), d.Truncate(time.Second), tolerance)
	} else if -d > tolerance {
		return fmt.Errorf("%w: sent %s, %s ahead of this clock, beyond the tolerance of %s", ErrTimestampTooNew, sent.UTC().Format(time.RFC3339), (-d).Truncate(time.Second), tolerance)
	}

	// The signed content uses the header exactly as received; parseTimestamp
	// allows only plain digits, so it is the sender's decimal form.
	var sigs [][]byte
	for _, entry := range strings.Fields(signatureHeader) {
		// Entries of other schemes, such as v1a, are not ours to check.
		if sig, ok := strings.CutPrefix(entry, "v1,"); ok {
			sigs = append(sigs, []byte(sig))
		}
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: webhook-signature holds no v1 signature", ErrNoMatchingSignature)
	}
	tsb := []byte(timestamp)
	var sum [sha256.Size]byte
	var want [44]byte
	matched := false
	for i := range s.keys {
		base64.StdEncoding.Encode(want[:], s.mac(i, id, tsb, body, sum[:0]))
		for _, sig := range sigs {
			// No early return: the time taken should not tell which
			// secret or entry matched.
			if hmac.Equal(sig, want[:]) {
				matched = true
			}
		}
	}
	if !matched {
		return fmt.Errorf("%w: none of %d v1 signature(s) matches any of %d secret(s)", ErrNoMatchingSignature, len(sigs), len(s.keys))
	}
	return nil
}

// mac appends to dst the HMAC of "id.ts.body" under secret i.
func (s *Signer) mac(i int, id string, ts, body, dst []byte) []byte {
	var h hash.Hash
	if s.pools == nil {
		h = hmac.New(sha256.New, s.keys[i])
	} else {
		h = s.pools[i].Get().(hash.Hash)
		h.Reset()
		defer s.pools[i].Put(h)
	}
	io.WriteString(h, id)
	h.Write(dot)
	h.Write(ts)
	h.Write(dot)
	h.Write(body)
	return h.Sum(dst)
}

var dot = []byte{'.'}

func parseTimestamp(s string) (int64, error) {
	if len(s) > maxTimestampDigits {
		return 0, fmt.Errorf("%w: %q has more than %d digits", ErrInvalidTimestamp, s, maxTimestampDigits)
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q is not unix seconds in decimal digits", ErrInvalidTimestamp, s)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}
