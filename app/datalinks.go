package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/id"
)

// DataLinkInput is a new data link as a caller describes it.
type DataLinkInput struct {
	// Kind is push (the default: labhooks POSTs to URL) or pull (no URL:
	// the partner reads GET /v1/feed).
	Kind        labhooks.DataLinkKind `json:"kind"`
	URL         string                `json:"url"`
	Secret      string                `json:"secret"`
	EventNames  []string              `json:"eventNames"`
	Description string                `json:"description"`
	Enabled     *bool                 `json:"enabled"`
	// Ordered asks for ordered delivery (labhooks.DataLink.Ordered).
	Ordered bool `json:"ordered"`
}

// CreateDataLink checks in and stores it as a data link of partner
// partnerID, generating a secret when none is given; the link returned
// carries the secret, to be shown this once. ENotFound, EInvalid,
// EWeakSecret, ERoleNotAllowed, EConflict.
func (s *Service) CreateDataLink(ctx context.Context, c *Caller, partnerID string, in DataLinkInput) (*labhooks.DataLink, error) {
	p, err := s.Partner(ctx, c, partnerID)
	if err != nil {
		return nil, err
	}
	switch {
	case in.Kind == "":
		in.Kind = labhooks.DataLinkPush
	case !in.Kind.Valid():
		return nil, labhooks.FieldErrorf(labhooks.EInvalid, "kind", "%q is not a kind of data link: push or pull", in.Kind)
	}
	if in.Kind == labhooks.DataLinkPull {
		if in.URL != "" {
			return nil, labhooks.FieldErrorf(labhooks.EInvalid, "url", "a pull data link has no URL: its partner reads GET /v1/feed")
		}
	} else if err := labhooks.ValidateDataLinkURL(in.URL, s.cfg.AllowHTTPTargets); err != nil {
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
	if err := labhooks.ValidateDescription(in.Description); err != nil {
		return nil, err
	}
	// The store refuses a link past labhooks.MaxDataLinksPerPartner in the
	// transaction of the insert, so racing creates cannot pass the cap.
	now := s.now()
	d := &labhooks.DataLink{
		ID: id.New(id.DataLink), PartnerID: p.ID, Kind: in.Kind, URL: in.URL, Description: in.Description, Secret: in.Secret,
		EventNames: in.EventNames, Enabled: in.Enabled == nil || *in.Enabled, Ordered: in.Ordered, CreatedAt: now, UpdatedAt: now,
	}
	if d.EventNames == nil {
		d.EventNames = []string{}
	}
	ctx = audited(ctx, s.entry(c, labhooks.AuditDataLinkCreate, "datalink", d.ID, d.PartnerID), map[string]any{
		"kind": d.Kind, "url": d.URL, "description": d.Description, "eventNames": d.EventNames, "enabled": d.Enabled, "ordered": d.Ordered})
	if err := s.store.CreateDataLink(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// checkEventNames refuses a filter naming events that do not exist or that
// the partner's role may not receive.
func (s *Service) checkEventNames(ctx context.Context, names []string, role labhooks.Role) error {
	for _, n := range names {
		t, ok := s.EventType(ctx, n)
		if !ok {
			return labhooks.FieldErrorf(labhooks.EInvalid, "eventNames", "%q is not an event type", n)
		}
		if !t.AllowsRole(role) {
			return labhooks.FieldErrorf(labhooks.ERoleNotAllowed, "eventNames", "a %s does not receive %s", role, n)
		}
	}
	return nil
}

// DataLinks lists the data links of partner partnerID, or, when it is
// empty, every data link the caller may see. ENotFound.
func (s *Service) DataLinks(ctx context.Context, c *Caller, partnerID string) ([]*labhooks.DataLink, error) {
	var f labhooks.DataLinkFilter
	switch {
	case partnerID != "":
		if _, err := s.Partner(ctx, c, partnerID); err != nil {
			return nil, err
		}
		f.PartnerID = &partnerID
	case !c.Admin:
		f.PartnerID = &c.Partner.ID
	}
	ds, err := s.store.DataLinks(ctx, f)
	for _, d := range ds {
		if err == nil {
			err = s.withQueue(ctx, d)
		}
	}
	return ds, err
}

// DataLink returns data link id if the caller owns it (or is the admin);
// another partner's is reported missing. ENotFound.
func (s *Service) DataLink(ctx context.Context, c *Caller, id string) (*labhooks.DataLink, error) {
	d, err := s.store.DataLink(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.CanSeePartner(d.PartnerID) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "data link %s not found", id)
	}
	return d, s.withQueue(ctx, d)
}

// withQueue sets d.Queue when d is ordered: its head and how many wait.
func (s *Service) withQueue(ctx context.Context, d *labhooks.DataLink) error {
	if !d.Ordered {
		return nil
	}
	var err error
	d.Queue, err = s.store.OrderedQueue(ctx, d.ID)
	return err
}

// UpdateDataLink checks u and applies it to data link id; enabling a link
// clears its run of failures and the reason it was disabled. ENotFound,
// EInvalid, ERoleNotAllowed.
func (s *Service) UpdateDataLink(ctx context.Context, c *Caller, id string, u labhooks.DataLinkUpdate) (*labhooks.DataLink, error) {
	d, err := s.DataLink(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if u.URL != nil && d.Pull() {
		return nil, labhooks.FieldErrorf(labhooks.EInvalid, "url", "a pull data link has no URL: its partner reads GET /v1/feed")
	}
	if u.URL != nil {
		if err := labhooks.ValidateDataLinkURL(*u.URL, s.cfg.AllowHTTPTargets); err != nil {
			return nil, err
		}
	}
	if u.EventNames != nil {
		p, err := s.store.Partner(ctx, d.PartnerID)
		if err != nil {
			return nil, err
		}
		if err := s.checkEventNames(ctx, *u.EventNames, p.Role); err != nil {
			return nil, err
		}
	}
	if u.Description != nil {
		if err := labhooks.ValidateDescription(*u.Description); err != nil {
			return nil, err
		}
	}
	now := s.now()
	e := s.entry(c, labhooks.AuditDataLinkUpdate, "datalink", id, d.PartnerID)
	d, err = s.store.UpdateDataLink(labhooks.WithAudit(ctx, e), id, func(d *labhooks.DataLink) error {
		old := *d
		u.Apply(d)
		d.UpdatedAt = now
		ch := changes{}
		ch.add("url", old.URL, d.URL)
		ch.add("description", old.Description, d.Description)
		ch.add("eventNames", old.EventNames, d.EventNames)
		ch.add("enabled", old.Enabled, d.Enabled)
		ch.add("ordered", old.Ordered, d.Ordered)
		ch.add("disabledReason", old.DisabledReason, d.DisabledReason)
		e.Details = labhooks.AuditDetails(ch, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, s.withQueue(ctx, d)
}

// DeleteDataLink removes data link id; its deliveries stay listed, and
// pending ones fail. ENotFound.
func (s *Service) DeleteDataLink(ctx context.Context, c *Caller, id string) error {
	d, err := s.DataLink(ctx, c, id)
	if err != nil {
		return err
	}
	ctx = audited(ctx, s.entry(c, labhooks.AuditDataLinkDelete, "datalink", id, d.PartnerID), map[string]any{"url": d.URL})
	return s.store.DeleteDataLink(ctx, id, s.now())
}

// RotationInput asks for a new secret; the old one keeps signing for the
// overlap (default labhooks.DefaultRotationOverlap).
type RotationInput struct {
	Secret         string `json:"secret"`
	OverlapSeconds *int64 `json:"overlapSeconds"`
}

// RotateSecret makes in's secret (or a generated one) the secret of data
// link id; the link returned carries it, to be shown this once. ENotFound,
// EInvalid, EWeakSecret.
func (s *Service) RotateSecret(ctx context.Context, c *Caller, id string, in RotationInput) (*labhooks.DataLink, error) {
	d, err := s.DataLink(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if in.Secret == "" {
		in.Secret = labhooks.GenerateSecret()
	} else if err := labhooks.ValidateSecret(in.Secret); err != nil {
		return nil, err
	}
	overlap := labhooks.DefaultRotationOverlap
	if in.OverlapSeconds != nil {
		// Checked before it is turned into a Duration, which a huge number
		// of seconds would overflow into a valid-looking one.
		if max := int64(labhooks.MaxRotationOverlap / time.Second); *in.OverlapSeconds < 0 || *in.OverlapSeconds > max {
			return nil, labhooks.FieldErrorf(labhooks.EInvalid, "overlapSeconds", "between 0 and %d", max)
		}
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
	}
	now := s.now()
	ctx = audited(ctx, s.entry(c, labhooks.AuditDataLinkRotate, "datalink", id, d.PartnerID),
		map[string]any{"overlapSeconds": int64(overlap / time.Second)})
	return s.store.UpdateDataLink(ctx, id, func(d *labhooks.DataLink) error {
		return d.Rotate(in.Secret, now, overlap)
	})
}

// ReplayInput is the time range of failed deliveries to send again.
type ReplayInput struct {
	Since *time.Time `json:"since"`
	Until *time.Time `json:"until"`
}

// Replay sends the failed deliveries of data link id created in the range
// again, each with a fresh retry schedule, and returns how many. One call
// counts as one manual send (see labhooks.ManualSendRatePerLink). ENotFound,
// EInvalid, EConflict when the link is disabled, ERateLimited.
func (s *Service) Replay(ctx context.Context, c *Caller, id string, in ReplayInput) (int, error) {
	d, err := s.DataLink(ctx, c, id)
	if err != nil {
		return 0, err
	}
	if err := s.allowManualSend("the replay", d.ID, d.PartnerID); err != nil {
		return 0, err
	}
	if in.Since == nil {
		return 0, labhooks.FieldErrorf(labhooks.EInvalid, "since", "required, as an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	p := labhooks.RequeueParams{DataLinkID: d.ID, Since: *in.Since, Now: s.now()}
	if in.Until != nil {
		if !in.Until.After(*in.Since) {
			return 0, labhooks.FieldErrorf(labhooks.EInvalid, "until", "must be after since")
		}
		p.Until = *in.Until
	}
	if !d.Enabled {
		return 0, labhooks.Errorf(labhooks.EConflict, "data link %s is disabled; enable it before replaying", d.ID)
	}
	e := s.entry(c, labhooks.AuditDataLinkReplay, "datalink", d.ID, d.PartnerID)
	p.OnCount = func(n int) {
		details := map[string]any{"since": p.Since, "count": n}
		if !p.Until.IsZero() {
			details["until"] = p.Until
		}
		e.Details = labhooks.AuditDetails(nil, details)
	}
	n, err := s.store.Requeue(labhooks.WithAudit(ctx, e), p)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.cfg.Wake()
	}
	return n, nil
}

// ReplaySince is where a replay should start to recover what a data link
// failed to receive since failingSince, under the retry policy in force.
func (s *Service) ReplaySince(failingSince time.Time) time.Time {
	return s.cfg.Policy.ReplaySince(failingSince)
}

// TestResult is how a receiver answered a test.
type TestResult struct {
	OK           bool   `json:"ok"`
	StatusCode   int    `json:"statusCode"`
	DurationMs   int64  `json:"durationMs"`
	ResponseBody string `json:"responseBody"`
	// Diagnosis says in plain words what went wrong, if anything.
	Diagnosis string `json:"diagnosis"`
	Error     string `json:"error,omitempty"`
	EventName string `json:"eventName"`
	WebhookID string `json:"webhookId"`
}

// TestDataLink sends data link linkID a test event now (eventName's example,
// or the first available one the link would receive) and says how its
// receiver answered. Preview types may be tested: partners get ready for
// them before they ship. Tests are rate-limited per link and per partner
// (labhooks.ManualSendRatePerLink). ENotFound, EInvalid, ERoleNotAllowed,
// ERateLimited.
func (s *Service) TestDataLink(ctx context.Context, c *Caller, linkID, eventName string) (*TestResult, error) {
	d, err := s.DataLink(ctx, c, linkID)
	if err != nil {
		return nil, err
	}
	if d.Pull() {
		return nil, labhooks.Errorf(labhooks.EInvalid, "data link %s is a pull link: it has no receiver to test; read GET /v1/feed", d.ID)
	}
	if err := s.allowManualSend("the test", d.ID, d.PartnerID); err != nil {
		return nil, err
	}
	p, err := s.store.Partner(ctx, d.PartnerID)
	if err != nil {
		return nil, err
	}
	t, err := s.testEventType(ctx, eventName, p.Role, d)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := json.Compact(&body, t.Example); err != nil {
		return nil, fmt.Errorf("the example of %s is not JSON: %w", t.Name, err)
	}
	// The partner waits for the answer, but a closed browser tab or client
	// must not cut the receiver off mid-request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Sender.Timeout()+time.Second)
	defer cancel()
	testID := id.New(id.Test)
	req := delivery.Request{ID: testID, URL: d.URL, Secrets: d.Secrets(s.cfg.Now()), Redact: d.AllSecrets(), Body: body.Bytes(),
		Meta: delivery.EventMeta(testID, s.cfg.Now(), "", 0)}
	res := s.cfg.Sender.Send(ctx, req)
	e := s.entry(c, labhooks.AuditDataLinkTest, "datalink", d.ID, d.PartnerID)
	e.Details = labhooks.AuditDetails(nil, map[string]any{"eventName": t.Name, "webhookId": req.ID, "ok": res.OK(), "statusCode": res.StatusCode})
	if err := s.store.AppendAudit(ctx, e); err != nil {
		return nil, err
	}
	return &TestResult{
		OK: res.OK(), StatusCode: res.StatusCode, DurationMs: res.Duration.Milliseconds(), ResponseBody: res.ResponseBody,
		Diagnosis: delivery.Diagnose(res, s.cfg.Sender.Timeout()), Error: res.Summary(), EventName: t.Name, WebhookID: req.ID,
	}, nil
}

// testEventType picks the event a test sends: the one asked for, else the
// first available one the link would receive.
func (s *Service) testEventType(ctx context.Context, name string, role labhooks.Role, d *labhooks.DataLink) (*labhooks.EventType, error) {
	if name != "" {
		t, ok := s.EventType(ctx, name)
		if !ok {
			return nil, labhooks.FieldErrorf(labhooks.EInvalid, "eventName", "%q is not an event type", name)
		}
		if !t.AllowsRole(role) {
			return nil, labhooks.FieldErrorf(labhooks.ERoleNotAllowed, "eventName", "a %s does not receive %s", role, name)
		}
		return t, nil
	}
	for _, t := range s.cat.Types() {
		if t.AllowsRole(role) && d.Accepts(t.Name) && t.Status == labhooks.StatusAvailable {
			return t, nil
		}
	}
	return nil, labhooks.FieldErrorf(labhooks.EInvalid, "eventName", "this data link's filter lets no available event through; name one")
}

// errUnchanged tells a store's change callback to store nothing.
var errUnchanged = errors.New("unchanged")

// DisableFailing disables, among the data links failing lately in this
// process, those whose every attempt has failed for Config.DisableAfter,
// each with a reason that says since when and what its receiver last
// answered (SPEC §4); and, at once, those whose receiver answered 410 Gone
// (FailingLink.Gone), with a reason that says so. Only links a process has seen fail are considered, so
// that a run of failures left open while labhooks was down for days does
// not disable a link before it has been tried again. Every process checks;
// the store's row lock lets one of them disable each link.
func (s *Service) DisableFailing(ctx context.Context, failing []delivery.FailingLink) error {
	if len(failing) == 0 {
		return nil
	}
	last := make(map[string]delivery.FailingLink, len(failing))
	ids := make([]string, len(failing))
	for i, f := range failing {
		last[f.DataLinkID], ids[i] = f, f.DataLinkID
	}
	now := s.now()
	bound := now.Add(-s.cfg.DisableAfter)
	links, err := s.store.DataLinks(ctx, labhooks.DataLinkFilter{IDs: ids})
	if err != nil {
		return err
	}
	for _, d := range links {
		f := last[d.ID]
		if !f.Gone && !d.FailedFor(bound) || f.Gone && !d.Enabled {
			continue
		}
		e := s.entry(System(), labhooks.AuditDataLinkDisable, "datalink", d.ID, d.PartnerID)
		d, err := s.store.UpdateDataLink(labhooks.WithAudit(ctx, e), d.ID, func(d *labhooks.DataLink) error {
			if f.Gone && !d.DisableGone(now) || !f.Gone && !d.DisableForFailing(now, bound, f.LastStatus, f.LastError) {
				return errUnchanged
			}
			e.Details = labhooks.AuditDetails(changes{"enabled": {Old: true, New: false}},
				map[string]any{"reason": d.DisabledReason, "failingSince": d.FailingSince})
			return nil
		})
		switch {
		case errors.Is(err, errUnchanged), labhooks.ErrorCode(err) == labhooks.ENotFound:
			continue // enabled again, succeeded, or deleted meanwhile
		case err != nil:
			return err
		}
		// The URL's host only: a path or query may hold a receiver's token.
		if f.Gone {
			s.log.Warn("disabled a data link whose receiver answered 410 Gone", "datalinkId", d.ID, "partnerId", d.PartnerID, "host", urlHost(d.URL))
			continue
		}
		s.log.Warn("disabled a failing data link", "datalinkId", d.ID, "partnerId", d.PartnerID, "host", urlHost(d.URL),
			"failingSince", *d.FailingSince, "reason", d.DisabledReason)
	}
	return nil
}

// urlHost is the host of a data link's URL, for logs.
func urlHost(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Hostname()
	}
	return ""
}
