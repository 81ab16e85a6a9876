package httpapi

import (
	"encoding/csv"
	"net/http"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/id"
)

func (s *Server) listErasures(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	switch format := q.Get("format"); format {
	case "", "json":
	case "csv":
		es, err := s.app.AllErasures(r.Context(), callerOf(r))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="erasures.csv"`)
		return WriteErasuresCSV(w, es)
	default:
		return labhooks.FieldErrorf(labhooks.EInvalid, "format", "%q: json or csv", format)
	}
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	if c := q.Get("cursor"); c != "" && !id.Valid(id.Event, c) {
		return labhooks.FieldErrorf(labhooks.EInvalid, "cursor", "%q is not a cursor; pass on the nextCursor of the previous page as it is", c)
	}
	es, next, err := s.app.Erasures(r.Context(), callerOf(r), labhooks.ErasureFilter{Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*labhooks.Erasure]{Data: es, NextCursor: next})
}

// ErasureCSVHeader is the first row of the erasures' CSV export: one row
// per request and target partner.
var ErasureCSVHeader = []string{"eventId", "userId", "requestedAt", "deadline", "erasedAt", "partnerId", "state", "deliveredAt", "confirmedAt"}

// WriteErasuresCSV writes es as CSV, one row per target (a request with
// none has one row with no partner).
func WriteErasuresCSV(w http.ResponseWriter, es []*labhooks.Erasure) error {
	cw := csv.NewWriter(w)
	cw.Write(ErasureCSVHeader)
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, e := range es {
		row := func(t *labhooks.ErasureTarget) {
			rec := []string{e.EventID, string(e.UserID), at(&e.RequestedAt), at(&e.Deadline), at(e.ErasedAt), "", string(e.State), "", ""}
			if t != nil {
				rec[5], rec[6], rec[7], rec[8] = t.PartnerID, string(t.State), at(t.DeliveredAt), at(t.ConfirmedAt)
			}
			cw.Write(rec)
		}
		if len(e.Targets) == 0 {
			row(nil)
		}
		for _, t := range e.Targets {
			row(t)
		}
	}
	cw.Flush()
	return cw.Error()
}

func (s *Server) getErasure(w http.ResponseWriter, r *http.Request) error {
	e, err := s.app.Erasure(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

func (s *Server) confirmErasure(w http.ResponseWriter, r *http.Request) error {
	e, err := s.app.ConfirmErasure(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

func (s *Server) updateEventType(w http.ResponseWriter, r *http.Request) error {
	var u app.EventTypeUpdate
	if err := decode(w, r, &u); err != nil {
		return err
	}
	t, err := s.app.UpdateEventType(r.Context(), callerOf(r), r.PathValue("name"), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}
