package httpapi

import (
	"net/http"

	"github.com/labhooks/labhooks"
)

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f labhooks.DeliveryFilter
	opt := func(name string) *string {
		if v := q.Get(name); v != "" {
			return &v
		}
		return nil
	}
	f.PartnerID, f.DataLinkID, f.EventID, f.Before = opt("partnerId"), opt("datalinkId"), opt("eventId"), opt("cursor")
	if v := opt("status"); v != nil {
		st := labhooks.DeliveryStatus(*v)
		if !st.Valid() {
			return labhooks.Errorf(labhooks.EInvalid, "status: %q is not pending, succeeded or failed", *v)
		}
		f.Status = &st
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	if limit > labhooks.MaxLimit {
		return labhooks.Errorf(labhooks.EInvalid, "limit: at most %d", labhooks.MaxLimit)
	}
	f.Limit = limit
	if c := callerOf(r); !c.admin {
		if f.PartnerID != nil && *f.PartnerID != c.partner.ID {
			return labhooks.Errorf(labhooks.ENotFound, "partner %s not found", *f.PartnerID)
		}
		f.PartnerID = &c.partner.ID
	}
	ds, next, err := s.cfg.Store.Deliveries(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*labhooks.Delivery]{Data: ds, NextCursor: next})
}

// delivery returns the delivery in the path if the caller may see it.
func (s *Server) delivery(r *http.Request) (*labhooks.Delivery, error) {
	did := r.PathValue("id")
	d, err := s.cfg.Store.Delivery(r.Context(), did)
	if err != nil {
		return nil, err
	}
	if !callerOf(r).canSeePartner(d.PartnerID) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", did)
	}
	return d, nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.delivery(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.delivery(r)
	if err != nil {
		return err
	}
	d, err = s.cfg.Store.RetryDelivery(r.Context(), d.ID, s.cfg.Now().UTC())
	if err != nil {
		return err
	}
	s.cfg.Notify()
	return writeJSON(w, http.StatusAccepted, d)
}
