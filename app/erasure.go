package app

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
	idpkg "github.com/labhooks/labhooks/id"
)

// ErasureEvent is the event type that starts an erasure.
const ErasureEvent = "dataDeletionRequest"

// erasureOf is the erasure a stored dataDeletionRequest starts: one target
// per partner it has a delivery for.
func erasureOf(e *labhooks.Event, ds []*labhooks.Delivery) *labhooks.Erasure {
	er := &labhooks.Erasure{EventID: e.ID, UserID: json.Number(labhooks.UserIDOf(e.Data)), RequestedAt: e.CreatedAt,
		Targets: []*labhooks.ErasureTarget{}}
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.PartnerID] {
			seen[d.PartnerID] = true
			er.Targets = append(er.Targets, &labhooks.ErasureTarget{PartnerID: d.PartnerID})
		}
	}
	return er
}

// recordErasure records the erasure an emitted dataDeletionRequest starts.
// Should that fail, the event is stored all the same and the next purge
// records it (Purge).
func (s *Service) recordErasure(ctx context.Context, res *labhooks.CreateEventResult) {
	if err := s.store.CreateErasure(ctx, erasureOf(res.Event, res.Deliveries)); err != nil {
		s.log.Warn("recording an erasure; the next purge will", "eventId", res.Event.ID, "err", err)
	}
}

// Erasures lists erasures newest first: every one for the admin, for a
// partner those it is a target of, with its target alone. Each carries
// its states at now.
func (s *Service) Erasures(ctx context.Context, c *Caller, f labhooks.ErasureFilter) ([]*labhooks.Erasure, string, error) {
	if !c.Admin {
		f.PartnerID = c.Partner.ID
	}
	es, next, err := s.store.Erasures(ctx, f)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	for _, e := range es {
		e.SetStates(s.cfg.ErasureDeadline, now)
	}
	return es, next, nil
}

// AllErasures lists every erasure the caller sees, for export.
func (s *Service) AllErasures(ctx context.Context, c *Caller) ([]*labhooks.Erasure, error) {
	var out []*labhooks.Erasure
	f := labhooks.ErasureFilter{Limit: labhooks.MaxLimit}
	for {
		es, next, err := s.Erasures(ctx, c, f)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
		if next == "" {
			return out, nil
		}
		f.Cursor = next
	}
}

// erasureID returns the event ID of erasure id, which is the request's
// event ID or the ID of one of its deliveries the caller sees (the
// webhook-id a receiver got).
func (s *Service) erasureID(ctx context.Context, c *Caller, id string) (string, error) {
	if !strings.HasPrefix(id, idpkg.Delivery+"_") {
		return id, nil
	}
	d, err := s.Delivery(ctx, c, id)
	if err != nil {
		return "", labhooks.Errorf(labhooks.ENotFound, "erasure %s not found", id)
	}
	return d.EventID, nil
}

// Erasure returns one erasure, by the request's event ID or the ID of one
// of its deliveries; a partner sees only those it is a target of, with its
// target alone. ENotFound.
func (s *Service) Erasure(ctx context.Context, c *Caller, id string) (*labhooks.Erasure, error) {
	eventID, err := s.erasureID(ctx, c, id)
	if err != nil {
		return nil, err
	}
	e, err := s.store.Erasure(ctx, eventID)
	if err != nil {
		return nil, err
	}
	if !c.Admin {
		i := slices.IndexFunc(e.Targets, func(t *labhooks.ErasureTarget) bool { return t.PartnerID == c.Partner.ID })
		if i < 0 {
			return nil, labhooks.Errorf(labhooks.ENotFound, "erasure %s not found", eventID)
		}
		e.Targets = e.Targets[i : i+1]
	}
	e.SetStates(s.cfg.ErasureDeadline, s.now())
	return e, nil
}

// ConfirmErasure records that the calling partner erased the user's data
// of request id (its event ID, or the ID of the delivery the partner
// received: the webhook-id). Idempotent: a second confirmation changes nothing
// and keeps the first time. Target partners only; audited once.
// EForbidden for the admin, ENotFound for a partner not targeted.
func (s *Service) ConfirmErasure(ctx context.Context, c *Caller, id string) (*labhooks.Erasure, error) {
	if c.Partner == nil {
		return nil, labhooks.Errorf(labhooks.EForbidden, "only a partner the request went to confirms its erasure, with its own key")
	}
	eventID, err := s.erasureID(ctx, c, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	e := s.entry(c, labhooks.AuditErasureConfirm, "erasure", eventID, c.Partner.ID)
	confirm := func() error {
		_, err := s.store.ConfirmErasure(audited(ctx, e, map[string]any{"confirmedAt": now}), eventID, c.Partner.ID, now)
		return err
	}
	err = confirm()
	if labhooks.ErrorCode(err) == labhooks.ENotFound {
		// The request can reach its receiver, which confirms at once,
		// before the emit that stored it has recorded its erasure (the
		// engine of another process starts at the commit): record it now
		// from the stored request, and try again.
		if rerr := s.recordStoredErasure(ctx, eventID); rerr == nil {
			err = confirm()
		}
	}
	if err != nil {
		return nil, err
	}
	return s.Erasure(ctx, c, eventID)
}

// recordStoredErasure records the erasure of the stored dataDeletionRequest
// eventID, as its emit does. ENotFound when there is no such request.
func (s *Service) recordStoredErasure(ctx context.Context, eventID string) error {
	ev, err := s.store.Event(ctx, eventID)
	if err != nil {
		return err
	}
	if ev.EventName != ErasureEvent {
		return labhooks.Errorf(labhooks.ENotFound, "erasure %s not found", eventID)
	}
	var ds []*labhooks.Delivery
	f := labhooks.DeliveryFilter{EventID: &eventID, Limit: labhooks.MaxLimit}
	for {
		page, next, err := s.store.Deliveries(ctx, f)
		if err != nil {
			return err
		}
		ds = append(ds, page...)
		if next == "" {
			break
		}
		f.Before = &next
	}
	return s.store.CreateErasure(ctx, erasureOf(ev, ds))
}

// PurgeResult is what one Purge did.
type PurgeResult struct {
	// Erased is how many payloads retention erased, Deleted how many
	// events (with their deliveries and attempts) the history purge
	// deleted, Erasures how many users' data was erased for their
	// deletion requests, and Notifications how many sent or failed
	// notifications past the history were deleted.
	Erased, Deleted, Erasures, Notifications int
}

// Purge applies retention and erasure once, a bounded batch per
// transaction: it records erasures an emit left unrecorded, erases
// labhooks' copy of the data of each user whose deletion request has no
// pending delivery left, erases the payloads past each event type's
// retention, and deletes the rows past the history (notifications that
// are done included, but the last about each subject). The system does it.
func (s *Service) Purge(ctx context.Context) (PurgeResult, error) {
	var r PurgeResult
	var errs []error
	if n, err := s.eraseUsers(ctx); err != nil {
		errs = append(errs, err)
	} else {
		r.Erasures = n
	}
	own, err := s.store.EventTypeRetentions(ctx)
	if err != nil {
		return r, errors.Join(append(errs, err)...)
	}
	now := s.now()
	for _, t := range s.EventTypes(ctx) {
		p := labhooks.ErasePayloadsParams{EventName: t.Name, Now: now, Limit: labhooks.PurgeBatch}
		var r0 *time.Duration
		if d, ok := own[t.Name]; ok {
			r0 = &d
		}
		p.Before = now.Add(-t.Retention(s.cfg.Retention, r0))
		for ctx.Err() == nil {
			start := time.Now()
			n, err := s.store.ErasePayloads(ctx, p)
			s.yield(ctx, start)
			r.Erased += n
			if err != nil {
				errs = append(errs, err)
				break
			}
			if n < p.Limit {
				break
			}
		}
	}
	before := now.Add(-s.cfg.History)
	for ctx.Err() == nil {
		start := time.Now()
		n, err := s.store.DeleteHistory(ctx, before, labhooks.PurgeBatch)
		s.yield(ctx, start)
		r.Deleted += n
		if err != nil {
			errs = append(errs, err)
			break
		}
		if n < labhooks.PurgeBatch {
			break
		}
	}
	for ctx.Err() == nil {
		n, err := s.store.PurgeNotifications(ctx, before, labhooks.PurgeBatch)
		r.Notifications += n
		if err != nil {
			errs = append(errs, err)
			break
		}
		if n < labhooks.PurgeBatch {
			break
		}
	}
	return r, errors.Join(errs...)
}

// yield pauses a purge after a batch that started at start, for
// PurgeYield times as long as the batch took, so that the purge takes at
// most a share of the database's writes and deliveries keep theirs.
func (s *Service) yield(ctx context.Context, start time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(labhooks.PurgeYield) * time.Since(start)):
	}
}

// eraseUsers records the unrecorded erasures and erases the data of the
// users whose requests are done; it returns how many users.
func (s *Service) eraseUsers(ctx context.Context) (int, error) {
	done := 0
	for ctx.Err() == nil {
		due, unrecorded, err := s.store.ErasuresDue(ctx, labhooks.PurgeBatch)
		if err != nil {
			return done, err
		}
		for _, id := range unrecorded {
			e, err := s.Event(ctx, System(), id)
			if err != nil {
				return done, err
			}
			if err := s.store.CreateErasure(ctx, erasureOf(e.Event, e.Deliveries)); err != nil {
				return done, err
			}
		}
		for _, e := range due {
			if err := s.store.EraseUser(ctx, labhooks.EraseUserParams{EventID: e.EventID, UserID: string(e.UserID), Now: s.now()}); err != nil {
				return done, err
			}
			done++
		}
		if len(due) < labhooks.PurgeBatch && len(unrecorded) == 0 {
			return done, nil
		}
	}
	return done, ctx.Err()
}
