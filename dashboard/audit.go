package dashboard

import (
	"errors"
	"net/http"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/httpapi"
)

// auditPageSize is how many audit entries a dashboard page lists.
const auditPageSize = 50

// auditData is the audit page: the filter, a page of entries, and the
// chain's verdict when the admin asked for it.
type auditData struct {
	Entries []*labhooks.AuditEntry
	Actions []string
	// Actor, Action and Target are the filter's values.
	Actor, Action, Target string
	Partners              map[string]*labhooks.Partner
	Older, First          string
	// Verified is set when the admin asked to verify the chain.
	Verified *verdict
}

// verdict is the outcome of verifying the chain.
type verdict struct {
	OK      bool
	Entries int64
	Break   *labhooks.AuditBreak
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	q := r.URL.Query()
	for _, name := range []string{"actor", "action", "target"} {
		if q.Get(name) == "" {
			q.Del(name)
		}
	}
	f, err := httpapi.AuditFilter(q)
	if err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = auditPageSize
	}
	es, next, err := s.app.Audit(r.Context(), c, f)
	if err != nil {
		return err
	}
	partners, _, err := s.partnersByID(r.Context(), c)
	if err != nil {
		return err
	}
	data := auditData{Entries: es, Actions: labhooks.AuditActions, Actor: q.Get("actor"), Action: q.Get("action"),
		Target: q.Get("target"), Partners: partners}
	// Paging keeps the filter, not a request to verify the chain.
	paging := cloneValues(q)
	paging.Del("verify")
	data.Older, data.First = pageLinks("/audit", paging, next)
	if q.Get("verify") != "" && c.Admin {
		n, err := s.app.VerifyAudit(r.Context(), c)
		var b *labhooks.AuditBreak
		switch {
		case errors.As(err, &b):
			data.Verified = &verdict{Entries: n, Break: b}
		case err != nil:
			return err
		default:
			data.Verified = &verdict{OK: true, Entries: n}
		}
	}
	return s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Nav: "audit", Data: data})
}

func (s *Server) suspendPartnerPage(suspend bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, id := callerOf(r), r.PathValue("id")
		op, done := s.app.ResumePartner, "resumed"
		if suspend {
			op, done = s.app.SuspendPartner, "suspended"
		}
		if _, err := op(r.Context(), c, id); err != nil {
			return err
		}
		http.Redirect(w, r, "/partners/"+id+"?done="+done, http.StatusSeeOther)
		return nil
	}
}

func (s *Server) rotatePartnerKeyPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	p, err := s.app.RotatePartnerKey(r.Context(), c, r.PathValue("id"), app.KeyRotationInput{})
	if err != nil {
		return err
	}
	if !c.Admin {
		// A partner rotating its own key stays signed in: its session
		// moves to the new key, so it does not end with the old one's
		// overlap.
		sess := r.Context().Value(sessionCtxKey{}).(*session)
		moved := *sess
		moved.KeyHash, moved.KeyPrefix = labhooks.KeyHash(p.APIKey), p.KeyPrefix
		setCookie(w, r, sessionCookie, s.dash.sessions.seal(&moved), int(time.Until(time.Unix(sess.Expires, 0))/time.Second))
	}
	return s.renderPartnerPage(w, r, p.Partner, p)
}
