package httpapi

import (
	"net/http"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// eventAccepted is the 202 answer to an emit, and its replay.
type eventAccepted struct {
	ID         string             `json:"id"`
	EventName  string             `json:"eventName"`
	OccurredAt string             `json:"occurredAt"`
	Entity     string             `json:"entity,omitempty"`
	Sequence   int64              `json:"sequence,omitempty"`
	Deliveries []deliveryAccepted `json:"deliveries"`
}

type deliveryAccepted struct {
	ID         string `json:"id"`
	PartnerID  string `json:"partnerId"`
	DataLinkID string `json:"datalinkId"`
}

func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) error {
	var in app.EmitInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	in.IdempotencyKey = r.Header.Get("Idempotency-Key")
	in.Traceparent = r.Header.Get("Traceparent")
	res, err := s.app.Emit(r.Context(), callerOf(r), in)
	if err != nil {
		return err
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	out := eventAccepted{ID: res.Event.ID, EventName: res.Event.EventName, OccurredAt: labhooks.FormatOccurredAt(res.Event.OccurredAt),
		Entity: res.Event.Entity, Sequence: res.Event.Sequence, Deliveries: make([]deliveryAccepted, len(res.Deliveries))}
	for i, d := range res.Deliveries {
		out.Deliveries[i] = deliveryAccepted{d.ID, d.PartnerID, d.DataLinkID}
	}
	return writeJSON(w, http.StatusAccepted, out)
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := s.app.Event(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.app.EventTypeRetentions(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*app.EventTypeRetention]{Data: ts})
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request) error {
	var t labhooks.EventType
	if err := decode(w, r, &t); err != nil {
		return err
	}
	created, err := s.app.CreateEventType(r.Context(), callerOf(r), &t)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, created)
}
