package app

import (
	"context"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// PartnerInput is a new partner as the admin describes it.
type PartnerInput struct {
	Name string        `json:"name"`
	Role labhooks.Role `json:"role"`
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
	p := &labhooks.Partner{ID: id.New(id.Partner), Name: in.Name, Role: in.Role, CreatedAt: now, UpdatedAt: now}
	if err := labhooks.ValidatePartner(p); err != nil {
		return nil, err
	}
	key := labhooks.NewAPIKey(labhooks.PartnerKeyPrefix)
	if err := s.store.CreatePartner(ctx, p, labhooks.KeyHash(key)); err != nil {
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
	return s.store.UpdatePartner(ctx, id, func(p *labhooks.Partner) error {
		u.Apply(p)
		p.UpdatedAt = now
		return labhooks.ValidatePartner(p)
	})
}

// DeletePartner removes a partner and its data links; their pending
// deliveries fail, the history stays. Admin only. ENotFound.
func (s *Service) DeletePartner(ctx context.Context, c *Caller, id string) error {
	if err := c.RequireAdmin(); err != nil {
		return err
	}
	return s.store.DeletePartner(ctx, id, s.now())
}
