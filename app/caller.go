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
	// KeyPrefix is the start of the key used (labhooks.KeyPrefixOf), for
	// the audit log.
	KeyPrefix string
	// Source is the address the request came from, for the audit log; set
	// by the API and the dashboard.
	Source string
	// System is labhooks itself, acting on its own (admin rights).
	System bool
}

// System is labhooks acting on its own, as the audit log shows it.
func System() *Caller { return &Caller{Admin: true, System: true} }

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

// Authenticate finds the caller whose API key is key. EUnauthorized;
// EForbidden for a suspended partner.
func (s *Service) Authenticate(ctx context.Context, key string) (*Caller, error) {
	key = strings.TrimSpace(key)
	return s.CallerByKeyHash(ctx, labhooks.KeyHash(key), labhooks.KeyPrefixOf(key))
}

// CallerByKeyHash finds the caller whose API key hashes to hash and starts
// with prefix: the bearer key of an API request, or the key a dashboard
// session was opened with. A partner's previous key opens during its
// rotation's overlap. EUnauthorized; EForbidden for a suspended partner.
func (s *Service) CallerByKeyHash(ctx context.Context, hash []byte, prefix string) (*Caller, error) {
	if subtle.ConstantTimeCompare(hash, s.cfg.AdminKeyHash) == 1 {
		return &Caller{Admin: true, KeyPrefix: prefix}, nil
	}
	p, err := s.store.PartnerByKeyHash(ctx, hash)
	switch {
	case labhooks.ErrorCode(err) == labhooks.ENotFound || err == nil && !p.Opens(hash, s.now()):
		return nil, labhooks.Errorf(labhooks.EUnauthorized, "this API key is not valid")
	case err != nil:
		return nil, err
	case p.Suspended():
		return nil, labhooks.Errorf(labhooks.EForbidden, "partner %s is suspended; ask the operator to resume it", p.ID)
	}
	return &Caller{Partner: p, KeyPrefix: prefix}, nil
}

// SignIn opens a dashboard session for the caller whose API key is key,
// and records the attempt, successful or not, in the audit log (with the
// key's prefix only). source is the browser's address. EUnauthorized,
// EForbidden.
func (s *Service) SignIn(ctx context.Context, key, source string) (*Caller, error) {
	c, err := s.Authenticate(ctx, key)
	if code := labhooks.ErrorCode(err); err != nil && code != labhooks.EUnauthorized && code != labhooks.EForbidden {
		return nil, err
	}
	var e *labhooks.AuditEntry
	if err != nil {
		// A suspended partner's attempt is about that partner; a key that
		// matches no one is about no one.
		e = s.entry(nil, labhooks.AuditSignInFailed, "session", "", "")
		e.Actor = labhooks.AuditActor{Type: labhooks.ActorAnonymous, KeyPrefix: labhooks.KeyPrefixOf(strings.TrimSpace(key))}
		e.Source = source
		e.Details = labhooks.AuditDetails(nil, map[string]any{"error": labhooks.ErrorMessage(err)})
	} else {
		c.Source = source
		e = s.entry(c, labhooks.AuditSignIn, "session", "", c.partnerID())
		e.Details = labhooks.AuditDetails(nil, nil)
	}
	if aerr := s.store.AppendAudit(ctx, e); aerr != nil {
		return nil, aerr
	}
	return c, err
}

// partnerID is the caller's partner's ID, "" for the admin.
func (c *Caller) partnerID() string {
	if c.Partner == nil {
		return ""
	}
	return c.Partner.ID
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
	e := &labhooks.AuditEntry{Time: time.Now().UTC(), Actor: labhooks.AuditActor{Type: labhooks.ActorSystem},
		Action: labhooks.AuditAdminKeyInit, TargetType: "adminkey", Details: labhooks.AuditDetails(nil, map[string]any{"keyPrefix": labhooks.KeyPrefixOf(key)})}
	h, created, err := store.InitAdminKeyHash(labhooks.WithAudit(ctx, e), labhooks.KeyHash(key))
	if err != nil || !created {
		// Another process starting at the same moment created the key and
		// printed it.
		return h, err
	}
	fmt.Fprintf(out, "\nCreated the admin API key. It is shown only this once; keep it safe:\n\n    %s\n\n", key)
	fmt.Fprintf(out, "Use it as: Authorization: Bearer %s…   (or LABHOOKS_API_KEY for the CLI)\n\n", key[:8])
	return h, nil
}

// SignOut ends c's dashboard session for good, on every process: a copy of
// its cookie, which expires at expires, opens nothing afterwards.
func (s *Service) SignOut(ctx context.Context, c *Caller, sessionID string, expires time.Time) error {
	ctx = audited(ctx, s.entry(c, labhooks.AuditSignOut, "session", "", c.partnerID()), nil)
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
