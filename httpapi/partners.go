package httpapi

import (
	"net/http"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

func (s *Server) createPartner(w http.ResponseWriter, r *http.Request) error {
	var in app.PartnerInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	out, err := s.app.CreatePartner(r.Context(), callerOf(r), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listPartners(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.app.Partners(r.Context(), callerOf(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*labhooks.Partner]{Data: ps})
}

func (s *Server) getPartner(w http.ResponseWriter, r *http.Request) error {
	p, err := s.app.Partner(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) updatePartner(w http.ResponseWriter, r *http.Request) error {
	c, id := callerOf(r), r.PathValue("id")
	if _, err := s.app.Partner(r.Context(), c, id); err != nil {
		return err // another partner's is missing, whatever the body says
	}
	var u labhooks.PartnerUpdate
	if err := decode(w, r, &u); err != nil {
		return err
	}
	p, err := s.app.UpdatePartner(r.Context(), c, id, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) deletePartner(w http.ResponseWriter, r *http.Request) error {
	if err := s.app.DeletePartner(r.Context(), callerOf(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
