package app

import (
	"context"
	"time"

	"github.com/labhooks/labhooks"
)

// EventTypeRetention is an event type with its retention: the one it set
// for itself (null: none) and the one in force.
type EventTypeRetention struct {
	*labhooks.EventType
	// RetentionSeconds is the retention the type set for itself, null for
	// none.
	RetentionSeconds *int64 `json:"retentionSeconds"`
	// EffectiveRetentionSeconds is how long its payloads are kept: its own
	// retention, or for types with personal data 7 days, at most the
	// server's.
	EffectiveRetentionSeconds int64 `json:"effectiveRetentionSeconds"`
}

// EventTypeRetentions returns every event type with its retention,
// built-in first. Any caller (partners see the retention of the types
// they receive).
func (s *Service) EventTypeRetentions(ctx context.Context) ([]*EventTypeRetention, error) {
	own, err := s.store.EventTypeRetentions(ctx)
	if err != nil {
		return nil, err
	}
	types := s.EventTypes(ctx)
	out := make([]*EventTypeRetention, len(types))
	for i, t := range types {
		out[i] = s.retentionOf(t, own)
	}
	return out, nil
}

func (s *Service) retentionOf(t *labhooks.EventType, own map[string]time.Duration) *EventTypeRetention {
	v := &EventTypeRetention{EventType: t}
	var r *time.Duration
	if d, ok := own[t.Name]; ok {
		r = &d
		sec := int64(d / time.Second)
		v.RetentionSeconds = &sec
	}
	v.EffectiveRetentionSeconds = int64(t.Retention(s.cfg.Retention, r) / time.Second)
	return v
}

// EventTypeUpdate changes an event type's settings. RetentionSeconds null
// clears the type's own retention.
type EventTypeUpdate struct {
	RetentionSeconds *int64 `json:"retentionSeconds"`
}

// UpdateEventType sets an event type's own retention. Admin only; audited.
// ENotFound, EInvalid.
func (s *Service) UpdateEventType(ctx context.Context, c *Caller, name string, u EventTypeUpdate) (*EventTypeRetention, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	t, ok := s.EventType(ctx, name)
	if !ok {
		return nil, labhooks.Errorf(labhooks.ENotFound, "event type %s not found", name)
	}
	var r *time.Duration
	if u.RetentionSeconds != nil {
		if *u.RetentionSeconds < 1 || *u.RetentionSeconds > int64(labhooks.MaxRetention/time.Second) {
			return nil, labhooks.FieldErrorf(labhooks.EInvalid, "retentionSeconds", "between 1 and %d, or null for the default", int64(labhooks.MaxRetention/time.Second))
		}
		d := time.Duration(*u.RetentionSeconds) * time.Second
		r = &d
	}
	e := s.entry(c, labhooks.AuditEventTypeUpdate, "eventtype", t.Name, "")
	seconds := func(d *time.Duration) any {
		if d == nil {
			return nil
		}
		return int64(*d / time.Second)
	}
	_, err := s.store.SetEventTypeRetention(labhooks.WithAudit(ctx, e), t.Name, r, func(prev *time.Duration) {
		e.Details = labhooks.AuditDetails(map[string]labhooks.AuditChange{
			"retentionSeconds": {Old: seconds(prev), New: seconds(r)},
		}, nil)
	})
	if err != nil {
		return nil, err
	}
	own := map[string]time.Duration{}
	if r != nil {
		own[t.Name] = *r
	}
	return s.retentionOf(t, own), nil
}
