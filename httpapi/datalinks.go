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
func (s *Server) checkEventNames(ctx context.Context, names []string, role labhooks.Role) error {
	for _, n := range names {
		t, ok := s.eventType(ctx, n)
		if !ok {
			return labhooks.Errorf(labhooks.EInvalid, "eventNames: %q is not an event type", n)
		}
		if !t.AllowsRole(role) {
			return labhooks.Errorf(labhooks.ERoleNotAllowed, "eventNames: a %s does not receive %s", role, n)
		}
	}
	return nil
}

// dataLinkInput is a new data link as a caller describes it.
type dataLinkInput struct {
	URL         string   `json:"url"`
	Secret      string   `json:"secret"`
	EventNames  []string `json:"eventNames"`
	Description string   `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

func (s *Server) createDataLink(w http.ResponseWriter, r *http.Request) error {
	p, err := s.partner(r)
	if err != nil {
		return err
	}
	var in dataLinkInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	d, err := s.createDataLinkFor(r.Context(), p, in)
	if err != nil {
		return err
	}
	out := showDataLink(d)
	out.Secret = d.Secret
	return writeJSON(w, http.StatusCreated, out)
}

// createDataLinkFor checks in and stores it as a data link of p, generating
// a secret when none is given. The caller has checked that it may see p.
func (s *Server) createDataLinkFor(ctx context.Context, p *labhooks.Partner, in dataLinkInput) (*labhooks.DataLink, error) {
	if err := labhooks.ValidateDataLinkURL(in.URL, s.cfg.AllowHTTPTargets); err != nil {
		return nil, err
	}
	if in.Secret == "" {
		in.Secret = labhooks.GenerateSecret()
	} else if err := labhooks.ValidateSecret(in.Secret); err != nil {
		return nil, err
	}
	if err := s.checkEventNames(ctx, in.EventNames, p.Role); err != nil {
		return nil, err
	}
	if len(in.Description) > 500 {
		return nil, labhooks.Errorf(labhooks.EInvalid, "description: at most 500 characters")
	}
	existing, err := s.cfg.Store.DataLinks(ctx, labhooks.DataLinkFilter{PartnerID: &p.ID})
	if err != nil {
		return nil, err
	}
	if len(existing) >= maxDataLinksPerPartner {
		return nil, labhooks.Errorf(labhooks.EConflict, "a partner may have at most %d data links", maxDataLinksPerPartner)
	}
	now := s.cfg.Now().UTC()
	d := &labhooks.DataLink{
		ID: id.New(id.DataLink), PartnerID: p.ID, URL: in.URL, Description: in.Description, Secret: in.Secret,
		EventNames: in.EventNames, Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now,
	}
	if d.EventNames == nil {
		d.EventNames = []string{}
	}
	if err := s.cfg.Store.CreateDataLink(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
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
	return s.dataLinkFor(r.Context(), callerOf(r), r.PathValue("id"))
}

// dataLinkFor returns data link did if c owns it (or is the admin).
func (s *Server) dataLinkFor(ctx context.Context, c *caller, did string) (*labhooks.DataLink, error) {
	d, err := s.cfg.Store.DataLink(ctx, did)
	if err != nil {
		return nil, err
	}
	if !c.canSeePartner(d.PartnerID) {
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
	d, err = s.updateDataLinkFor(r.Context(), d, u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, showDataLink(d))
}

// updateDataLinkFor checks u and applies it to d.
func (s *Server) updateDataLinkFor(ctx context.Context, d *labhooks.DataLink, u labhooks.DataLinkUpdate) (*labhooks.DataLink, error) {
	if u.URL != nil {
		if err := labhooks.ValidateDataLinkURL(*u.URL, s.cfg.AllowHTTPTargets); err != nil {
			return nil, err
		}
	}
	if u.EventNames != nil {
		p, err := s.cfg.Store.Partner(ctx, d.PartnerID)
		if err != nil {
			return nil, err
		}
		if err := s.checkEventNames(ctx, *u.EventNames, p.Role); err != nil {
			return nil, err
		}
	}
	if u.Description != nil && len(*u.Description) > 500 {
		return nil, labhooks.Errorf(labhooks.EInvalid, "description: at most 500 characters")
	}
	return s.cfg.Store.UpdateDataLink(ctx, d.ID, u, s.cfg.Now().UTC())
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
	var in rotationInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	d, err = s.rotateSecretFor(r.Context(), d, in)
	if err != nil {
		return err
	}
	out := showDataLink(d)
	out.Secret = d.Secret
	return writeJSON(w, http.StatusOK, out)
}

// rotationInput asks for a new secret; the old one keeps signing for the
// overlap (default a day).
type rotationInput struct {
	Secret         string `json:"secret"`
	OverlapSeconds *int64 `json:"overlapSeconds"`
}

// rotateSecretFor checks in and makes its secret (or a generated one) d's.
func (s *Server) rotateSecretFor(ctx context.Context, d *labhooks.DataLink, in rotationInput) (*labhooks.DataLink, error) {
	if in.Secret == "" {
		in.Secret = labhooks.GenerateSecret()
	} else if err := labhooks.ValidateSecret(in.Secret); err != nil {
		return nil, err
	}
	if in.Secret == d.Secret {
		return nil, labhooks.Errorf(labhooks.EInvalid, "secret: the new secret must differ from the current one")
	}
	overlap := 24 * time.Hour
	if in.OverlapSeconds != nil {
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
		if *in.OverlapSeconds < 0 || overlap > maxRotationOverlap {
			return nil, labhooks.Errorf(labhooks.EInvalid, "overlapSeconds: between 0 and %d", int64(maxRotationOverlap/time.Second))
		}
	}
	return s.cfg.Store.RotateSecret(ctx, labhooks.SecretRotation{DataLinkID: d.ID, NewSecret: in.Secret, Now: s.cfg.Now().UTC(), Overlap: overlap})
}

// replayInput is the time range of failed deliveries to send again.
type replayInput struct {
	Since *time.Time `json:"since"`
	Until *time.Time `json:"until"`
}

func (s *Server) replayDataLink(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dataLink(r)
	if err != nil {
		return err
	}
	var in replayInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	n, err := s.replayFor(r.Context(), d, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]int{"requeued": n})
}

// replayFor requeues d's failed deliveries created in the range and returns
// how many.
func (s *Server) replayFor(ctx context.Context, d *labhooks.DataLink, in replayInput) (int, error) {
	if in.Since == nil {
		return 0, labhooks.Errorf(labhooks.EInvalid, "since: required, as an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	p := labhooks.RequeueParams{DataLinkID: d.ID, Since: *in.Since, Now: s.cfg.Now().UTC()}
	if in.Until != nil {
		if !in.Until.After(*in.Since) {
			return 0, labhooks.Errorf(labhooks.EInvalid, "until: must be after since")
		}
		p.Until = *in.Until
	}
	if !d.Enabled {
		return 0, labhooks.Errorf(labhooks.EConflict, "data link %s is disabled; enable it before replaying", d.ID)
	}
	n, err := s.cfg.Store.RequeueFailed(ctx, p)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.cfg.Notify()
	}
	return n, nil
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
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	res, err := s.testDataLinkFor(r.Context(), d, in.EventName)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// testDataLinkFor sends d a test event now (eventName's example, or the
// first the link would receive) and says how its receiver answered.
func (s *Server) testDataLinkFor(ctx context.Context, d *labhooks.DataLink, eventName string) (*testResult, error) {
	p, err := s.cfg.Store.Partner(ctx, d.PartnerID)
	if err != nil {
		return nil, err
	}
	t, err := s.testEventType(ctx, eventName, p.Role, d)
	if err != nil {
		return nil, err
	}
	// The partner waits for the answer, but a closed browser tab or client
	// must not cut the receiver off mid-request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Sender.Timeout()+time.Second)
	defer cancel()
	var body bytes.Buffer
	if err := json.Compact(&body, t.Example); err != nil {
		return nil, fmt.Errorf("the example of %s is not JSON: %w", t.Name, err)
	}
	req := delivery.Request{ID: id.New(id.Delivery), URL: d.URL, Secrets: d.Secrets(s.cfg.Now()), Body: body.Bytes()}
	res := s.cfg.Sender.Send(ctx, req)
	return &testResult{
		OK: res.OK(), StatusCode: res.StatusCode, DurationMs: res.Duration.Milliseconds(), ResponseBody: res.ResponseBody,
		Diagnosis: delivery.Diagnose(res, s.cfg.Sender.Timeout()), Error: res.Summary(), EventName: t.Name, WebhookID: req.ID,
	}, nil
}

// testEventType picks the event a test sends: the one asked for, else the
// first the link would receive. Preview types may be tested: partners get
// ready for them before they ship.
func (s *Server) testEventType(ctx context.Context, name string, role labhooks.Role, d *labhooks.DataLink) (*labhooks.EventType, error) {
	if name != "" {
		t, ok := s.eventType(ctx, name)
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
