package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/labhooks/labhooks"
)

// API key prefixes tell at a glance which kind of key leaked, and let secret
// scanners recognise them.
const (
	AdminKeyPrefix   = "lha_"
	PartnerKeyPrefix = "lhp_"
	minAdminKeyLen   = 24
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
func ValidateAdminKey(key string) error {
	if len(key) < minAdminKeyLen || strings.ContainsAny(key, " \t\r\n") {
		return labhooks.Errorf(labhooks.EWeakSecret, "the admin key must be at least %d characters without spaces", minAdminKeyLen)
	}
	if why := labhooks.Guessable(key); why != "" {
		return labhooks.Errorf(labhooks.EWeakSecret, "the admin key is too easy to guess (%s); use a random one, such as the output of openssl rand -base64 32", why)
	}
	return nil
}

// caller is who made a request: the admin, or one partner.
type caller struct {
	admin   bool
	partner *labhooks.Partner
}

// canSeePartner reports whether the caller may see partner id's data.
func (c *caller) canSeePartner(id string) bool {
	return c.admin || c.partner.ID == id
}

type callerKey struct{}

func callerOf(r *http.Request) *caller { return r.Context().Value(callerKey{}).(*caller) }

// authenticate finds the caller of a request from its bearer key.
func (s *Server) authenticate(r *http.Request) (*caller, error) {
	h := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || key == "" {
		return nil, labhooks.Errorf(labhooks.EUnauthorized, "send your API key as the header Authorization: Bearer <key>")
	}
	return s.callerByKeyHash(r.Context(), KeyHash(strings.TrimSpace(key)))
}

// callerByKeyHash finds the caller whose API key hashes to hash: the bearer
// key of an API request, or the key a dashboard session was opened with.
func (s *Server) callerByKeyHash(ctx context.Context, hash []byte) (*caller, error) {
	if subtle.ConstantTimeCompare(hash, s.cfg.AdminKeyHash) == 1 {
		return &caller{admin: true}, nil
	}
	p, err := s.cfg.Store.PartnerByKeyHash(ctx, hash)
	if labhooks.ErrorCode(err) == labhooks.ENotFound {
		return nil, labhooks.Errorf(labhooks.EUnauthorized, "this API key is not valid")
	} else if err != nil {
		return nil, err
	}
	return &caller{partner: p}, nil
}

// auth serves h to any valid key.
func (s *Server) auth(h handlerFunc) http.Handler {
	return s.public(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.authenticate(r)
		if err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// admin serves h to the admin key only.
func (s *Server) admin(h handlerFunc) http.Handler {
	return s.auth(func(w http.ResponseWriter, r *http.Request) error {
		if !callerOf(r).admin {
			return labhooks.Errorf(labhooks.EForbidden, "only the admin key may do this")
		}
		return h(w, r)
	})
}
