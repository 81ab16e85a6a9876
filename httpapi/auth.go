package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

type callerKey struct{}

// callerOf returns the caller auth found.
func callerOf(r *http.Request) *app.Caller { return r.Context().Value(callerKey{}).(*app.Caller) }

// auth serves h to any valid key, sent as Authorization: Bearer <key>.
func (s *Server) auth(h handlerFunc) http.Handler {
	return s.public(func(w http.ResponseWriter, r *http.Request) error {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" {
			return labhooks.Errorf(labhooks.EUnauthorized, "send your API key as the header Authorization: Bearer <key>")
		}
		c, err := s.app.Authenticate(r.Context(), key)
		if err != nil {
			return err
		}
		c.Source = s.proxies.Addr(r)
		return h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// admin serves h to the admin key only, refusing others before it reads the
// request (the operations check it again).
func (s *Server) admin(h handlerFunc) http.Handler {
	return s.auth(func(w http.ResponseWriter, r *http.Request) error {
		if err := callerOf(r).RequireAdmin(); err != nil {
			return err
		}
		return h(w, r)
	})
}
