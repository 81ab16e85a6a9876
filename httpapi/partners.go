package httpapi

import (
	"context"
	"net/http"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// createdPartner is a new partner with its API key, shown this once.
type createdPartner struct {
	*labhooks.Partner
	APIKey string `json:"apiKey"`
}

func (s *Server) createPartner(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string        `json:"name"`
		Role labhooks.Role `json:"role"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	out, err := s.createPartnerFor(r.Context(), in.Name, in.Role)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

// createPartnerFor stores a new partner with a fresh API key, which the
// answer carries this once.
func (s *Server) createPartnerFor(ctx context.Context, name string, role labhooks.Role) (*createdPartner, error) {
	now := s.cfg.Now().UTC()
	p := &labhooks.Partner{ID: id.New(id.Partner), Name: name, Role: role, CreatedAt: now, UpdatedAt: now}
	key := NewAPIKey(PartnerKeyPrefix)
	if err := s.cfg.Store.CreatePartner(ctx, p, KeyHash(key)); err != nil {
		return nil, err
	}
	return &createdPartner{p, key}, nil
}

func (s *Server) listPartners(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	if !c.admin {
		return writeJSON(w, http.StatusOK, list[*labhooks.Partner]{Data: []*labhooks.Partner{c.partner}})
	}
	ps, err := s.cfg.Store.Partners(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*labhooks.Partner]{Data: ps})
}

// partner returns the partner named in the path if the caller may see it;
// another partner's is reported missing, not forbidden, so that IDs cannot be
// probed.
func (s *Server) partner(r *http.Request) (*labhooks.Partner, error) {
	return s.partnerFor(r.Context(), callerOf(r), r.PathValue("id"))
}

// partnerFor returns partner pid if c may see it; ENotFound otherwise.
func (s *Server) partnerFor(ctx context.Context, c *caller, pid string) (*labhooks.Partner, error) {
	if !c.canSeePartner(pid) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", pid)
	}
	return s.cfg.Store.Partner(ctx, pid)
}

func (s *Server) getPartner(w http.ResponseWriter, r *http.Request) error {
	p, err := s.partner(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) updatePartner(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.partner(r); err != nil {
		return err
	}
	var u labhooks.PartnerUpdate
	if err := decode(w, r, &u); err != nil {
		return err
	}
	if u.Role != nil && !callerOf(r).admin {
		return labhooks.Errorf(labhooks.EForbidden, "role: only the admin may change a partner's role")
	}
	p, err := s.cfg.Store.UpdatePartner(r.Context(), r.PathValue("id"), u, s.cfg.Now().UTC())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) deletePartner(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Store.DeletePartner(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// list is the envelope of every listing.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"nextCursor,omitempty"`
}
