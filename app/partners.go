package app

import (
	"context"
	"errors"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// PartnerInput is a new partner as the admin describes it.
type PartnerInput struct {
	Name string        `json:"name"`
	Role labhooks.Role `json:"role"`
	// Contacts are the partner's contact email addresses (see
	// labhooks.ValidateContacts); none by default.
	Contacts []string `json:"contacts"`
}

// CreatedPartner is a new partner with its API key, shown this once.
type CreatedPartner struct {
	*labhooks.Partner
	APIKey string `json:"apiKey"`
}

// CreatePartner stores a new partner with a fresh API key, which the
// answer carries this once. Admin only. EInvalid.
func (s *Service) CreatePartner(ctx context.Context, c *Caller, in PartnerInput) (*CreatedPartner, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	now := s.now()
	key := labhooks.NewAPIKey(labhooks.PartnerKeyPrefix)
	p := &labhooks.Partner{ID: id.New(id.Partner), Name: in.Name, Role: in.Role, Contacts: in.Contacts, KeyPrefix: labhooks.KeyPrefixOf(key),
		KeyHash: labhooks.KeyHash(key), CreatedAt: now, UpdatedAt: now}
	if err := labhooks.ValidatePartner(p); err != nil {
		return nil, err
	}
	ctx = audited(ctx, s.entry(c, labhooks.AuditPartnerCreate, "partner", p.ID, p.ID),
		map[string]any{"name": p.Name, "role": p.Role, "keyPrefix": p.KeyPrefix, "contacts": p.Contacts})
	if err := s.store.CreatePartner(ctx, p); err != nil {
		return nil, err
	}
	return &CreatedPartner{p, key}, nil
}

// Partners lists the partners the caller may see: every one for the
// admin, itself for a partner.
func (s *Service) Partners(ctx context.Context, c *Caller) ([]*labhooks.Partner, error) {
	if !c.Admin {
		return []*labhooks.Partner{c.Partner}, nil
	}
	return s.store.Partners(ctx)
}

// Partner returns partner id if the caller may see it. Another partner is
// reported missing, not forbidden, so that IDs cannot be probed. ENotFound.
func (s *Service) Partner(ctx context.Context, c *Caller, id string) (*labhooks.Partner, error) {
	if !c.CanSeePartner(id) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", id)
	}
	return s.store.Partner(ctx, id)
}

// UpdatePartner changes partner id; only the admin may change a role.
// ENotFound, EInvalid, EForbidden.
func (s *Service) UpdatePartner(ctx context.Context, c *Caller, id string, u labhooks.PartnerUpdate) (*labhooks.Partner, error) {
	if _, err := s.Partner(ctx, c, id); err != nil {
		return nil, err
	}
	if u.Role != nil && !c.Admin {
		return nil, labhooks.FieldErrorf(labhooks.EForbidden, "role", "only the admin may change a partner's role")
	}
	now := s.now()
	e := s.entry(c, labhooks.AuditPartnerUpdate, "partner", id, id)
	return s.store.UpdatePartner(labhooks.WithAudit(ctx, e), id, func(p *labhooks.Partner) error {
		old := *p
		u.Apply(p)
		p.UpdatedAt = now
		if err := labhooks.ValidatePartner(p); err != nil {
			return err
		}
		ch := changes{}
		ch.add("name", old.Name, p.Name)
		ch.add("role", old.Role, p.Role)
		ch.add("contacts", old.Contacts, p.Contacts)
		e.Details = labhooks.AuditDetails(ch, nil)
		return nil
	})
}

// DeletePartner removes a partner and its data links; their pending
// deliveries fail, the history stays. Admin only. ENotFound.
func (s *Service) DeletePartner(ctx context.Context, c *Caller, id string) error {
	if err := c.RequireAdmin(); err != nil {
		return err
	}
	p, err := s.store.Partner(ctx, id)
	if err != nil {
		return err
	}
	ctx = audited(ctx, s.entry(c, labhooks.AuditPartnerDelete, "partner", id, id), map[string]any{"name": p.Name, "role": p.Role})
	return s.store.DeletePartner(ctx, id, s.now())
}

// SuspendPartner locks partner id's keys out of the API and the dashboard
// until ResumePartner; its data links and their deliveries are left as
// they are (disable them to stop deliveries). Admin only. ENotFound.
func (s *Service) SuspendPartner(ctx context.Context, c *Caller, id string) (*labhooks.Partner, error) {
	return s.setSuspended(ctx, c, id, true)
}

// ResumePartner lets a suspended partner's keys in again. Admin only.
// ENotFound.
func (s *Service) ResumePartner(ctx context.Context, c *Caller, id string) (*labhooks.Partner, error) {
	return s.setSuspended(ctx, c, id, false)
}

func (s *Service) setSuspended(ctx context.Context, c *Caller, id string, suspend bool) (*labhooks.Partner, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	action := labhooks.AuditPartnerResume
	if suspend {
		action = labhooks.AuditPartnerSuspend
	}
	now := s.now()
	ctx = audited(ctx, s.entry(c, action, "partner", id, id), nil)
	p, err := s.store.UpdatePartner(ctx, id, func(p *labhooks.Partner) error {
		if p.Suspended() == suspend {
			return errUnchanged
		}
		p.SuspendedAt, p.UpdatedAt = nil, now
		if suspend {
			p.SuspendedAt = &now
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return s.store.Partner(ctx, id) // already so: nothing to record
	}
	return p, err
}

// KeyRotationInput asks for a new partner API key; the old one keeps
// opening for the overlap (default labhooks.DefaultKeyOverlap; 0 ends it
// at once).
type KeyRotationInput struct {
	OverlapSeconds *int64 `json:"overlapSeconds"`
}

// RotatePartnerKey gives partner id a new API key, which the answer carries
// this once; the admin or the partner itself may. ENotFound, EInvalid.
func (s *Service) RotatePartnerKey(ctx context.Context, c *Caller, id string, in KeyRotationInput) (*CreatedPartner, error) {
	if _, err := s.Partner(ctx, c, id); err != nil {
		return nil, err
	}
	overlap := labhooks.DefaultKeyOverlap
	if in.OverlapSeconds != nil {
		// Checked before any arithmetic, which could overflow.
		if *in.OverlapSeconds < 0 || *in.OverlapSeconds > int64(labhooks.MaxKeyOverlap/time.Second) {
			return nil, labhooks.FieldErrorf(labhooks.EInvalid, "overlapSeconds", "between 0 and %d", int64(labhooks.MaxKeyOverlap/time.Second))
		}
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
	}
	key := labhooks.NewAPIKey(labhooks.PartnerKeyPrefix)
	now := s.now()
	e := s.entry(c, labhooks.AuditPartnerKeyRotate, "partner", id, id)
	p, err := s.store.UpdatePartner(labhooks.WithAudit(ctx, e), id, func(p *labhooks.Partner) error {
		old := p.KeyPrefix
		if err := p.RotateKey(labhooks.KeyHash(key), labhooks.KeyPrefixOf(key), now, overlap); err != nil {
			return err
		}
		details := map[string]any{"overlapSeconds": int64(overlap / time.Second)}
		if p.PreviousKeyExpiresAt != nil {
			details["previousKeyExpiresAt"] = *p.PreviousKeyExpiresAt
		}
		e.Details = labhooks.AuditDetails(changes{"keyPrefix": {Old: old, New: p.KeyPrefix}}, details)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CreatedPartner{p, key}, nil
}
