package app

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
)

// Caller is who asks for an operation: the admin, or one partner.
type Caller struct {
	Admin bool
	// Partner is the partner whose key was used; nil for the admin.
	Partner *labhooks.Partner
}

// CanSeePartner reports whether the caller may see partner id's data.
func (c *Caller) CanSeePartner(id string) bool {
	return c.Admin || c.Partner.ID == id
}

// RequireAdmin refuses every caller but the admin. EForbidden.
func (c *Caller) RequireAdmin() error {
	if !c.Admin {
		return labhooks.Errorf(labhooks.EForbidden, "only the admin key may do this")
	}
	return nil
}

// Authenticate finds the caller whose API key is key. EUnauthorized.
func (s *Service) Authenticate(ctx context.Context, key string) (*Caller, error) {
	return s.CallerByKeyHash(ctx, labhooks.KeyHash(strings.TrimSpace(key)))
}

// CallerByKeyHash finds the caller whose API key hashes to hash: the bearer
// key of an API request, or the key a dashboard session was opened with.
// EUnauthorized.
func (s *Service) CallerByKeyHash(ctx context.Context, hash []byte) (*Caller, error) {
	if subtle.ConstantTimeCompare(hash, s.cfg.AdminKeyHash) == 1 {
		return &Caller{Admin: true}, nil
	}
	p, err := s.store.PartnerByKeyHash(ctx, hash)
	if labhooks.ErrorCode(err) == labhooks.ENotFound {
		return nil, labhooks.Errorf(labhooks.EUnauthorized, "this API key is not valid")
	} else if err != nil {
		return nil, err
	}
	return &Caller{Partner: p}, nil
}

// InitAdminKey returns the hash of the admin key in force: the configured
// one (already checked with labhooks.ValidateAdminKey), else the stored one,
// else a new one, which it writes to out this once.
func InitAdminKey(ctx context.Context, store labhooks.AdminKeyStore, configured string, out io.Writer) ([]byte, error) {
	if configured != "" {
		return labhooks.KeyHash(configured), nil
	}
	stored, err := store.AdminKeyHash(ctx)
	if err != nil || stored != nil {
		return stored, err
	}
	key := labhooks.NewAPIKey(labhooks.AdminKeyPrefix)
	h, created, err := store.InitAdminKeyHash(ctx, labhooks.KeyHash(key))
	if err != nil || !created {
		// Another process starting at the same moment created the key and
		// printed it.
		return h, err
	}
	fmt.Fprintf(out, "\nCreated the admin API key. It is shown only this once; keep it safe:\n\n    %s\n\n", key)
	fmt.Fprintf(out, "Use it as: Authorization: Bearer %s…   (or LABHOOKS_API_KEY for the CLI)\n\n", key[:8])
	return h, nil
}

// SignOut ends a dashboard session for good, on every process: a copy of
// its cookie, which expires at expires, opens nothing afterwards.
func (s *Service) SignOut(ctx context.Context, sessionID string, expires time.Time) error {
	return s.store.RevokeSession(ctx, sessionID, expires, s.now())
}

// SessionRevoked reports whether a dashboard session was signed out.
func (s *Service) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	return s.store.SessionRevoked(ctx, sessionID)
}

// Ready checks that the database answers. EUnavailable.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return labhooks.Errorf(labhooks.EUnavailable, "the database is not reachable")
	}
	return nil
}
