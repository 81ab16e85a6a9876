package httpapi

import (
	"net/http"
	"net/url"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	f, err := DeliveryFilter(r.URL.Query())
	if err != nil {
		return err
	}
	ds, next, err := s.app.Deliveries(r.Context(), callerOf(r), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*labhooks.Delivery]{Data: ds, NextCursor: next})
}

// DeliveryFilter reads a deliveries listing's query: partnerId, datalinkId,
// eventId, eventName, status, limit and cursor, each optional. EInvalid.
func DeliveryFilter(q url.Values) (labhooks.DeliveryFilter, error) {
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
			return f, labhooks.FieldErrorf(labhooks.EInvalid, "status", "%q is not pending, succeeded or failed", *v)
		}
		f.Status = &st
	}
	if f.Before != nil && !id.Valid(id.Delivery, *f.Before) {
		return f, labhooks.FieldErrorf(labhooks.EInvalid, "cursor", "%q is not a cursor; pass on the nextCursor of the previous page as it is", *f.Before)
	}
	limit, err := queryLimit(q)
	if err != nil {
		return f, err
	}
	f.Limit = limit
	return f, nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.app.Delivery(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.app.RetryDelivery(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, d)
}
