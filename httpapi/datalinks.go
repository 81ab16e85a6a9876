package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/id"
)

// maxDataLinksPerPartner keeps one partner from fanning every event out to an
// unbounded number of URLs.
const maxDataLinksPerPartner = 50

// dataLinkJSON is a data link as the API shows it: the secret only as a hint,
// except in the answer that created or rotated it.
type dataLinkJSON struct {
	*labhooks.DataLink
	SecretHint string `json:"secretHint"`
	Secret     string `json:"secret,omitempty"`
}

func showDataLink(d *labhooks.DataLink) dataLinkJSON {
	return dataLinkJSON{DataLink: d, SecretHint: d.SecretHint()}
}

// checkEventNames refuses a filter naming events that do not exist or that
// the partner's role may not receive.
func (s *Server) checkEventNames(names []string, role labhooks.Role) error {
	for _, n := range names {
		t, ok := s.cfg.Catalog.Lookup(n)
		if !ok {
			return labhooks.Errorf(labhooks.EInvalid, "eventNames: %q is not an event type", n)
		}
		if !t.AllowsRole(role) {
			return labhooks.Errorf(labhooks.ERoleNotAllowed, "eventNames: a %s does not receive %s", role, n)
		}
	}
	return nil
}

func (s *Server) createDataLink(w http.ResponseWriter, r *http.Request) error {
	p, err := s.partner(r)
	if err != nil {
		return err
	}
	var in struct {
		URL         string   `json:"url"`
		Secret      string   `json:"secret"`
		EventNames  []string `json:"eventNames"`
		Description string   `json:"description"`
		Enabled     *bool    `json:"enabled"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := labhooks.ValidateDataLinkURL(in.URL, s.cfg.AllowHTTPTargets); err != nil {
		return err
	}
	if in.Secret == "" {
		in.Secret = labhooks.GenerateSecret()
	} else if err := labhooks.ValidateSecret(in.Secret); err != nil {
		return err
	}
	if err := s.checkEventNames(in.EventNames, p.Role); err != nil {
		return err
	}
	if len(in.Description) > 500 {
		return labhooks.Errorf(labhooks.EInvalid, "description: at most 500 characters")
	}
	existing, err := s.cfg.Store.DataLinks(r.Context(), labhooks.DataLinkFilter{PartnerID: &p.ID})
	if err != nil {
		return err
	}
	if len(existing) >= maxDataLinksPerPartner {
		return labhooks.Errorf(labhooks.EConflict, "a partner may have at most %d data links", maxDataLinksPerPartner)
	}
	now := s.cfg.Now().UTC()
	d := &labhooks.DataLink{
		ID: id.New(id.DataLink), PartnerID: p.ID, URL: in.URL, Description: in.Description, Secret: in.Secret,
		EventNames: in.EventNames, Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now,
	}
	if d.EventNames == nil {
		d.EventNames = []string{}
	}
	if err := s.cfg.Store.CreateDataLink(r.Context(), d); err != nil {
		return err
	}
	out := showDataLink(d)
	out.Secret = d.Secret
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listDataLinks(w http.ResponseWriter, r *http.Request) error {
	p, err := s.partner(r)
	if err != nil {
		return err
	}
	ds, err := s.cfg.Store.DataLinks(r.Context(), labhooks.DataLinkFilter{PartnerID: &p.ID})
	if err != nil {
		return err
	}
	out := make([]dataLinkJSON, len(ds))
	for i, d := range ds {
		out[i] = showDataLink(d)
	}
	return writeJSON(w, http.StatusOK, list[dataLinkJSON]{Data: out})
}

// dataLink returns the data link named in the path if the caller owns it (or
// is the admin); another partner's is reported missing.
func (s *Server) dataLink(r *http.Request) (*labhooks.DataLink, error) {
	did := r.PathValue("id")
	d, err := s.cfg.Store.DataLink(r.Context(), did)
	if err != nil {
		return nil, err
	}
	if !callerOf(r).canSeePartner(d.PartnerID) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "data link %s not found", did)
	}
	return d, nil
}

func (s *Server) getDataLink(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dataLink(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, showDataLink(d))
}

func (s *Server) updateDataLink(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dataLink(r)
	if err != nil {
		return err
	}
	var u labhooks.DataLinkUpdate
	if err := decode(w, r, &u); err != nil {
		return err
	}
	if u.URL != nil {
		if err := labhooks.ValidateDataLinkURL(*u.URL, s.cfg.AllowHTTPTargets); err != nil {
			return err
		}
	}
	if u.EventNames != nil {
		p, err := s.cfg.Store.Partner(r.Context(), d.PartnerID)
		if err != nil {
			return err
		}
		if err := s.checkEventNames(*u.EventNames, p.Role); err != nil {
			return err
		}
	}
	if u.Description != nil && len(*u.Description) > 500 {
		return labhooks.Errorf(labhooks.EInvalid, "description: at most 500 characters")
	}
	d, err = s.cfg.Store.UpdateDataLink(r.Context(), d.ID, u, s.cfg.Now().UTC())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, showDataLink(d))
}

func (s *Server) deleteDataLink(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dataLink(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteDataLink(r.Context(), d.ID, s.cfg.Now().UTC()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxRotationOverlap bounds how long an old secret may keep signing.
const maxRotationOverlap = 7 * 24 * time.Hour

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dataLink(r)
	if err != nil {
		return err
	}
	var in struct {
		Secret         string `json:"secret"`
		OverlapSeconds *int64 `json:"overlapSeconds"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Secret == "" {
		in.Secret = labhooks.GenerateSecret()
	} else if err := labhooks.ValidateSecret(in.Secret); err != nil {
		return err
	}
	if in.Secret == d.Secret {
		return labhooks.Errorf(labhooks.EInvalid, "secret: the new secret must differ from the current one")
	}
	overlap := 24 * time.Hour
	if in.OverlapSeconds != nil {
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
		if *in.OverlapSeconds < 0 || overlap > maxRotationOverlap {
			return labhooks.Errorf(labhooks.EInvalid, "overlapSeconds: between 0 and %d", int64(maxRotationOverlap/time.Second))
		}
	}
	d, err = s.cfg.Store.RotateSecret(r.Context(), labhooks.SecretRotation{DataLinkID: d.ID, NewSecret: in.Secret, Now: s.cfg.Now().UTC(), Overlap: overlap})
	if err != nil {
		return err
	}
	out := showDataLink(d)
	out.Secret = d.Secret
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) replayDataLink(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dataLink(r)
	if err != nil {
		return err
	}
	var in struct {
		Since *time.Time `json:"since"`
		Until *time.Time `json:"until"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Since == nil {
		return labhooks.Errorf(labhooks.EInvalid, "since: required, as an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	p := labhooks.RequeueParams{DataLinkID: d.ID, Since: *in.Since, Now: s.cfg.Now().UTC()}
	if in.Until != nil {
		if !in.Until.After(*in.Since) {
			return labhooks.Errorf(labhooks.EInvalid, "until: must be after since")
		}
		p.Until = *in.Until
	}
	if !d.Enabled {
		return labhooks.Errorf(labhooks.EConflict, "data link %s is disabled; enable it before replaying", d.ID)
	}
	n, err := s.cfg.Store.RequeueFailed(r.Context(), p)
	if err != nil {
		return err
	}
	if n > 0 {
		s.cfg.Notify()
	}
	return writeJSON(w, http.StatusOK, map[string]int{"requeued": n})
}

// testResult is the answer of the test button.
type testResult struct {
	OK           bool   `json:"ok"`
	StatusCode   int    `json:"statusCode"`
	DurationMs   int64  `json:"durationMs"`
	ResponseBody string `json:"responseBody"`
	Diagnosis    string `json:"diagnosis"`
	Error        string `json:"error,omitempty"`
	EventName    string `json:"eventName"`
	WebhookID    string `json:"webhookId"`
}

func (s *Server) testDataLink(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dataLink(r)
	if err != nil {
		return err
	}
	var in struct {
		EventName string `json:"eventName"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			return err
		}
	}
	p, err := s.cfg.Store.Partner(r.Context(), d.PartnerID)
	if err != nil {
		return err
	}
	t, err := s.testEventType(in.EventName, p.Role, d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.Sender.Timeout()+time.Second)
	defer cancel()
	var body bytes.Buffer
	if err := json.Compact(&body, t.Example); err != nil {
		return fmt.Errorf("the example of %s is not JSON: %w", t.Name, err)
	}
	req := delivery.Request{ID: id.New(id.Delivery), URL: d.URL, Secrets: d.Secrets(s.cfg.Now()), Body: body.Bytes()}
	res := s.cfg.Sender.Send(ctx, req)
	return writeJSON(w, http.StatusOK, testResult{
		OK: res.OK(), StatusCode: res.StatusCode, DurationMs: res.Duration.Milliseconds(), ResponseBody: res.ResponseBody,
		Diagnosis: delivery.Diagnose(res, s.cfg.Sender.Timeout()), Error: res.Summary(), EventName: t.Name, WebhookID: req.ID,
	})
}

// testEventType picks the event a test sends: the one asked for, else the
// first the link would receive. Preview types may be tested: partners get
// ready for them before they ship.
func (s *Server) testEventType(name string, role labhooks.Role, d *labhooks.DataLink) (*labhooks.EventType, error) {
	if name != "" {
		t, ok := s.cfg.Catalog.Lookup(name)
		if !ok {
			return nil, labhooks.Errorf(labhooks.EInvalid, "eventName: %q is not an event type", name)
		}
		if !t.AllowsRole(role) {
			return nil, labhooks.Errorf(labhooks.ERoleNotAllowed, "eventName: a %s does not receive %s", role, name)
		}
		return t, nil
	}
	for _, t := range s.cfg.Catalog.Types() {
		if t.AllowsRole(role) && d.Accepts(t.Name) && t.Status == labhooks.StatusAvailable {
			return t, nil
		}
	}
	return nil, labhooks.Errorf(labhooks.EInvalid, "eventName: this data link's filter lets no available event through; name one")
}
