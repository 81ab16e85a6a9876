package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := AuditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	es, next, err := s.app.Audit(r.Context(), callerOf(r), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[*labhooks.AuditEntry]{Data: es, NextCursor: next})
}

// AuditFilter reads an audit listing's query: since, until (RFC 3339),
// actor (admin, system, anonymous or a partner ID), target (an object's
// ID), action, partnerId, limit and cursor, each optional. EInvalid.
func AuditFilter(q url.Values) (labhooks.AuditFilter, error) {
	var f labhooks.AuditFilter
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, labhooks.FieldErrorf(labhooks.EInvalid, t.name, "%q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", v)
			}
			*t.to = at
		}
	}
	switch actor := q.Get("actor"); {
	case actor == "":
	case strings.HasPrefix(actor, "ptn_"):
		f.ActorType, f.ActorPartnerID = labhooks.ActorPartner, actor
	default:
		f.ActorType = actor
	}
	f.TargetID, f.Action, f.Cursor = q.Get("target"), q.Get("action"), q.Get("cursor")
	if v := q.Get("partnerId"); v != "" {
		f.PartnerID = &v
	}
	if f.Cursor != "" {
		if n, err := strconv.ParseInt(f.Cursor, 10, 64); err != nil || n < 1 || strconv.FormatInt(n, 10) != f.Cursor {
			return f, labhooks.FieldErrorf(labhooks.EInvalid, "cursor", "%q is not a cursor; pass on the nextCursor of the previous page as it is", f.Cursor)
		}
	}
	limit, err := queryLimit(q)
	if err != nil {
		return f, err
	}
	f.Limit = limit
	return f, nil
}

// auditVerification is the answer of GET /v1/audit/verify.
type auditVerification struct {
	OK      bool   `json:"ok"`
	Entries int64  `json:"entries"`
	Seq     int64  `json:"seq,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	n, err := s.app.VerifyAudit(r.Context(), callerOf(r))
	var b *labhooks.AuditBreak
	switch {
	case errors.As(err, &b):
		return writeJSON(w, http.StatusOK, auditVerification{Entries: n, Seq: b.Seq, Reason: b.Reason})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, auditVerification{OK: true, Entries: n})
}

func (s *Server) suspendPartner(w http.ResponseWriter, r *http.Request) error {
	p, err := s.app.SuspendPartner(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) resumePartner(w http.ResponseWriter, r *http.Request) error {
	p, err := s.app.ResumePartner(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) rotatePartnerKey(w http.ResponseWriter, r *http.Request) error {
	c, id := callerOf(r), r.PathValue("id")
	if _, err := s.app.Partner(r.Context(), c, id); err != nil {
		return err
	}
	var in app.KeyRotationInput
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	p, err := s.app.RotatePartnerKey(r.Context(), c, id, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}
