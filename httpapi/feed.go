package httpapi

import (
	"net/http"

	"github.com/labhooks/labhooks/app"
)

// getFeed answers GET /v1/feed?after=&limit=: the caller's pending pull
// deliveries, signed.
func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	f, err := s.app.Feed(r.Context(), callerOf(r), q.Get("after"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f)
}

// ackFeed answers POST /v1/feed/ack.
func (s *Server) ackFeed(w http.ResponseWriter, r *http.Request) error {
	var in app.FeedAckInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	out, err := s.app.AckFeed(r.Context(), callerOf(r), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// getFeedPosition answers GET /v1/partners/{id}/feed.
func (s *Server) getFeedPosition(w http.ResponseWriter, r *http.Request) error {
	pos, err := s.app.FeedPosition(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pos)
}
