package receiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labhooks/labhooks/signature"
)

// DefaultTolerance is how far webhook-timestamp may be from the receiver's
// clock, either way, unless Verifier.Tolerance says otherwise.
const DefaultTolerance = signature.DefaultTolerance

// Header names of a labhooks request.
const (
	HeaderAPIKey    = "X-Api-Key"
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// Errors of Verifier.Verify, wrapped with details; test for them with
// errors.Is. The signature ones are the signature package's own values.
var (
	// ErrInvalidSecret: NewVerifier got no secret, an empty one, or a whsec_ one that is not base64.
	ErrInvalidSecret = signature.ErrInvalidSecret
	// ErrMissingAPIKey: the request has no x-api-key header.
	ErrMissingAPIKey = errors.New("missing x-api-key")
	// ErrWrongAPIKey: x-api-key is none of the secrets.
	ErrWrongAPIKey = errors.New("wrong x-api-key")
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature is missing.
	ErrMissingHeaders = signature.ErrMissingHeaders
	// ErrInvalidTimestamp: webhook-timestamp is not unix seconds.
	ErrInvalidTimestamp = signature.ErrInvalidTimestamp
	// ErrTimestampTooOld: webhook-timestamp is older than the tolerance allows (a replay, or a slow clock).
	ErrTimestampTooOld = signature.ErrTimestampTooOld
	// ErrTimestampTooNew: webhook-timestamp is further ahead than the tolerance allows.
	ErrTimestampTooNew = signature.ErrTimestampTooNew
	// ErrNoMatchingSignature: no signature in webhook-signature matches a secret.
	ErrNoMatchingSignature = signature.ErrNoMatchingSignature
)

// Verifier checks that a request comes from labhooks: its x-api-key is one of
// the secrets (compared in constant time) and its webhook-signature is valid
// for one of them, with a webhook-timestamp close enough to now. Build it with
// NewVerifier; set its fields, if at all, before first use. It is safe for
// concurrent use.
type Verifier struct {
	// Tolerance is how far webhook-timestamp may be from Now, either way.
	// Default (zero): DefaultTolerance, 5 minutes.
	Tolerance time.Duration
	// Now returns the current time. Default (nil): time.Now.
	Now func() time.Time

	signer    *signature.Signer
	keyHashes [][sha256.Size]byte
}

// NewVerifier returns a Verifier that accepts requests from any of secrets:
// one normally, two during a secret rotation. Each is the data link's secret
// as entered in labhooks, or its Standard Webhooks form ("whsec_" + base64),
// which stands for the same key.
func NewVerifier(secrets ...string) (*Verifier, error) {
	signer, err := signature.NewSigner(secrets...)
	if err != nil {
		return nil, err
	}
	v := &Verifier{signer: signer}
	for _, s := range secrets {
		key, _ := signature.Key(s) // NewSigner checked it
		v.keyHashes = append(v.keyHashes, sha256.Sum256(key))
	}
	return v, nil
}

// Verify checks the x-api-key and webhook-* headers of a request against its
// body, exactly as received, and labhooks-signature against the labhooks-
// headers (when there are any: a labhooks- header without its signature,
// or changed, is refused with ErrNoMatchingSignature). Its error says which check failed and wraps one
// of ErrMissingAPIKey, ErrWrongAPIKey, ErrMissingHeaders, ErrInvalidTimestamp,
// ErrTimestampTooOld, ErrTimestampTooNew or ErrNoMatchingSignature.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if err := v.CheckAPIKey(h.Get(HeaderAPIKey)); err != nil {
		return err
	}
	return v.VerifyPulled(h, body)
}

// VerifyPulled checks an item of the pull feed (GET /v1/feed): its headers
// and body as Verify checks a request's, but for x-api-key, which the feed
// does not carry (the partner's API key fetched it). Its error wraps one
// of the errors Verify's does, but for the x-api-key ones.
func (v *Verifier) VerifyPulled(h http.Header, body []byte) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if err := v.signer.Verify(h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body, now(), v.Tolerance); err != nil {
		return err
	}
	return v.verifyMeta(h)
}

// CheckAPIKey checks an x-api-key value alone, in constant time. A key in
// whsec_ form matches the raw secret it encodes, and the other way round.
func (v *Verifier) CheckAPIKey(apiKey string) error {
	if apiKey == "" {
		return fmt.Errorf("%w: labhooks sends the data link's secret in it", ErrMissingAPIKey)
	}
	// Comparing hashes of the keys makes the comparison fixed-length, so its
	// time tells nothing about the secret's length either.
	var got [sha256.Size]byte
	if key, err := signature.Key(apiKey); err == nil {
		got = sha256.Sum256(key)
	}
	ok := false
	for _, want := range v.keyHashes {
		if hmac.Equal(got[:], want[:]) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: it matches none of the %d secret(s) this receiver holds", ErrWrongAPIKey, len(v.keyHashes))
	}
	return nil
}
