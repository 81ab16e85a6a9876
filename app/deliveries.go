package app

import (
	"context"
	"time"

	"github.com/labhooks/labhooks"
)

// Deliveries lists deliveries newest first, a page at a time, confining a
// partner to its own. ENotFound when a partner names another.
func (s *Service) Deliveries(ctx context.Context, c *Caller, f labhooks.DeliveryFilter) ([]*labhooks.Delivery, string, error) {
	if !c.Admin {
		if f.PartnerID != nil && *f.PartnerID != c.Partner.ID {
			return nil, "", labhooks.Errorf(labhooks.ENotFound, "partner %s not found", *f.PartnerID)
		}
		f.PartnerID = &c.Partner.ID
	}
	return s.store.Deliveries(ctx, f)
}

// Delivery returns delivery id with its attempts if the caller may see it;
// another partner's is reported missing. ENotFound.
func (s *Service) Delivery(ctx context.Context, c *Caller, id string) (*labhooks.Delivery, error) {
	d, err := s.store.Delivery(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.CanSeePartner(d.PartnerID) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", id)
	}
	return d, nil
}

// DeliveryEvent returns the event a delivery the caller may see carries.
// ENotFound.
func (s *Service) DeliveryEvent(ctx context.Context, c *Caller, d *labhooks.Delivery) (*labhooks.Event, error) {
	if !c.CanSeePartner(d.PartnerID) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "delivery %s not found", d.ID)
	}
	return s.store.Event(ctx, d.EventID)
}

// RetryDelivery sends delivery id again now, whatever its status, with a
// fresh retry schedule. Retries are rate-limited per data link and per
// partner (labhooks.ManualSendRatePerLink). ENotFound; EConflict when its
// data link was deleted or is disabled; ERateLimited.
func (s *Service) RetryDelivery(ctx context.Context, c *Caller, id string) (*labhooks.Delivery, error) {
	d, err := s.Delivery(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if e, err := s.store.Event(ctx, d.EventID); err != nil {
		return nil, err
	} else if e.Erased {
		return nil, labhooks.Errorf(labhooks.EConflict, "delivery %s cannot be retried: its event's payload was erased", id)
	}
	if err := s.allowManualSend("the retry", d.DataLinkID, d.PartnerID); err != nil {
		return nil, err
	}
	link, err := s.store.DataLink(ctx, d.DataLinkID)
	switch {
	case labhooks.ErrorCode(err) == labhooks.ENotFound:
		return nil, labhooks.Errorf(labhooks.EConflict, "delivery %s cannot be retried: its data link was deleted", id)
	case err != nil:
		return nil, err
	case !link.Enabled:
		return nil, labhooks.Errorf(labhooks.EConflict, "delivery %s cannot be retried: its data link is disabled; enable it first", id)
	}
	ctx = audited(ctx, s.entry(c, labhooks.AuditDeliveryRetry, "delivery", id, d.PartnerID),
		map[string]any{"dataLinkId": d.DataLinkID, "eventId": d.EventID, "eventName": d.EventName})
	if _, err := s.store.Requeue(ctx, labhooks.RequeueParams{DeliveryID: id, Now: s.now()}); err != nil {
		return nil, err
	}
	s.cfg.Wake()
	return s.store.Delivery(ctx, id)
}

// Health returns the delivery queue's depth and the figures of the last
// window. Admin only.
func (s *Service) Health(ctx context.Context, c *Caller, window time.Duration) (*labhooks.Health, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	return s.store.Health(ctx, s.cfg.Now().Add(-window))
}

// HealthSeries returns what happened over the last window in buckets equal
// buckets, the last one ending at the next whole step from now (so buckets
// fall on round times), for the health charts. Admin only. EInvalid.
func (s *Service) HealthSeries(ctx context.Context, c *Caller, window time.Duration, buckets int) ([]labhooks.HealthBucket, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	return s.store.HealthSeries(ctx, s.seriesQuery(window, buckets))
}

// DataLinkSeries is HealthSeries for data link id alone, for the admin and
// the link's partner. ENotFound, EInvalid.
func (s *Service) DataLinkSeries(ctx context.Context, c *Caller, id string, window time.Duration, buckets int) ([]labhooks.HealthBucket, error) {
	if _, err := s.DataLink(ctx, c, id); err != nil {
		return nil, err
	}
	q := s.seriesQuery(window, buckets)
	q.DataLinkID = id
	return s.store.HealthSeries(ctx, q)
}

func (s *Service) seriesQuery(window time.Duration, buckets int) labhooks.SeriesQuery {
	q := labhooks.SeriesQuery{Buckets: buckets}
	if buckets > 0 {
		q.Step = window / time.Duration(buckets)
	}
	end := s.now()
	if q.Step > 0 {
		end = end.Truncate(q.Step).Add(q.Step)
	}
	q.Since = end.Add(-time.Duration(buckets) * q.Step)
	return q
}
