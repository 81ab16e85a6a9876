package dashboard

import (
	"net/http"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

// erasuresData is the erasures page: a page of dataDeletionRequests with
// their targets.
type erasuresData struct {
	Erasures []*labhooks.Erasure
	Partners map[string]*labhooks.Partner
	Older    string
	// Confirmed is the request the partner just confirmed.
	Confirmed string
}

func (s *Server) erasuresPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	q := r.URL.Query()
	if q.Get("format") == "csv" {
		es, err := s.app.AllErasures(r.Context(), c)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="erasures.csv"`)
		return httpapi.WriteErasuresCSV(w, es)
	}
	es, next, err := s.app.Erasures(r.Context(), c, labhooks.ErasureFilter{Cursor: q.Get("cursor"), Limit: labhooks.DefaultLimit})
	if err != nil {
		return err
	}
	partners, _, err := s.partnersByID(r.Context(), c)
	if err != nil {
		return err
	}
	data := erasuresData{Erasures: es, Partners: partners, Confirmed: q.Get("confirmed")}
	if next != "" {
		data.Older = "/erasures?cursor=" + next
	}
	return s.render(w, r, http.StatusOK, "erasures", &view{Title: "Erasures", Nav: "erasures", Data: data})
}

func (s *Server) confirmErasurePage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.app.ConfirmErasure(r.Context(), callerOf(r), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/erasures?confirmed="+id, http.StatusSeeOther)
	return nil
}
