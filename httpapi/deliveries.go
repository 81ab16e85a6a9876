package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labhooks/labhooks"
)

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	f, err := deliveryFilterFor(callerOf(r), r.URL.Query())
	if err != nil {
		return err
	}
	ds, next, err := s.cfg.Store.Deliveries(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*labhooks.Delivery]{Data: ds, NextCursor: next})
}

// deliveryFilterFor reads a deliveries listing's query (partnerId,
// datalinkId, eventId, eventName, status, limit, cursor) and confines a
// partner caller to its own deliveries.
func deliveryFilterFor(c *caller, q url.Values) (labhooks.DeliveryFilter, error) {
	var f labhooks.DeliveryFilter
	opt := func(name string) *string {
		if v := q.Get(name); v != "" {
			return &v
		}
		return nil
	}
	f.PartnerID, f.DataLinkID, f.EventID, f.Before = opt("partnerId"), opt("datalinkId"), opt("eventId"), opt("cursor")
	f.EventName = opt("eventName")
	if v := opt("status"); v != nil {
		st := labhooks.DeliveryStatus(*v)
		if !st.Valid() {
			return f, labhooks.Errorf(labhooks.EInvalid, "status: %q is not pending, succeeded or failed", *v)
		}
		f.Status = &st
	}
	limit, err := queryInt(q, "limit")
	if err != nil {
		return f, err
	}
	if limit > labhooks.MaxLimit {
		return f, labhooks.Errorf(labhooks.EInvalid, "limit: at most %d", labhooks.MaxLimit)
	}
	f.Limit = limit
	if !c.admin {
		if f.PartnerID != nil && *f.PartnerID != c.partner.ID {
			return f, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", *f.PartnerID)
		}
		f.PartnerID = &c.partner.ID
	}
	return f, nil
}

// delivery returns the delivery in the path if the caller may see it.
func (s *Server) delivery(r *http.Request) (*labhooks.Delivery, error) {
	return s.deliveryFor(r.Context(), callerOf(r), r.PathValue("id"))
}

// deliveryFor returns delivery did, with its attempts, if c may see it;
// another partner's is reported missing.
func (s *Server) deliveryFor(ctx context.Context, c *caller, did string) (*labhooks.Delivery, error) {
	d, err := s.cfg.Store.Delivery(ctx, did)
	if err != nil {
		return nil, err
	}
	if !c.canSeePartner(d.PartnerID) {
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
	d, err = s.retryDeliveryFor(r.Context(), d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, d)
}

// retryDeliveryFor makes d due now with a fresh retry schedule and wakes the
// workers.
func (s *Server) retryDeliveryFor(ctx context.Context, d *labhooks.Delivery) (*labhooks.Delivery, error) {
	d, err := s.cfg.Store.RetryDelivery(ctx, d.ID, s.cfg.Now().UTC())
	if err != nil {
		return nil, err
	}
	s.cfg.Notify()
	return d, nil
}
