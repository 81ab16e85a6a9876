package app

import (
	"context"
	"encoding/json"
	"errors"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/tracing"
)

// EmitInput is an event as the platform emits it.
type EmitInput struct {
	EventName string          `json:"eventName"`
	Data      json.RawMessage `json:"data"`
	// PartnerID or Role narrow the target; neither: every partner whose
	// role may receive the event.
	PartnerID string        `json:"partnerId"`
	Role      labhooks.Role `json:"role"`
	// OccurredAt is when the event occurred, RFC 3339, at most
	// labhooks.MaxOccurredAtAhead ahead; empty: when labhooks accepts it.
	OccurredAt string `json:"occurredAt,omitempty"`
	// Entity is the key of what the event is about, for the per-entity
	// sequence (labhooks.ValidateEntity); empty: catalog.EntityKey of the
	// data.
	Entity string `json:"entity,omitempty"`
	// IdempotencyKey makes a repeat harmless: the same key returns the
	// first call's answer (the Idempotency-Key header).
	IdempotencyKey string `json:"-"`
	// Traceparent is the emitter's W3C trace context (the traceparent
	// header): the emit's span continues its trace. A malformed one is
	// ignored.
	Traceparent string `json:"-"`
}

// Emit accepts an event: it validates the data against the catalog,
// targets it, and stores it with one delivery for each data link that
// receives it, durably, before it returns; then it wakes the engine. With
// an idempotency key used before for the same request, it stores nothing
// and returns the first call's result with Replayed set. Admin only.
// EInvalid, EPersonalData, EPreview, ERoleNotAllowed, ENotFound, EConflict.
func (s *Service) Emit(ctx context.Context, c *Caller, in EmitInput) (*labhooks.CreateEventResult, error) {
	parent := tracing.Parse(in.Traceparent)
	if s.tracer == nil {
		// Tracing off: the event keeps the emitter's trace context, for
		// the receivers.
		return s.emit(ctx, c, in, tracing.Format(parent))
	}
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := s.tracer.Start(ctx, tracing.SpanEmit, trace.WithSpanKind(trace.SpanKindProducer))
	res, err := s.emit(ctx, c, in, tracing.Format(span.SpanContext()))
	if span.IsRecording() {
		if err != nil {
			span.SetStatus(codes.Error, labhooks.ErrorMessage(err))
		} else {
			span.SetAttributes(tracing.AttrEventID.String(res.Event.ID), tracing.AttrEventName.String(res.Event.EventName),
				tracing.AttrDeliveries.Int(len(res.Deliveries)), tracing.AttrReplayed.Bool(res.Replayed))
			if in.PartnerID != "" {
				span.SetAttributes(tracing.AttrPartnerID.String(in.PartnerID))
			}
			if in.Role != "" {
				span.SetAttributes(tracing.AttrRole.String(string(in.Role)))
			}
		}
	}
	span.End()
	return res, err
}

// emit is Emit under its span, whose traceparent the event keeps.
func (s *Service) emit(ctx context.Context, c *Caller, in EmitInput, traceparent string) (*labhooks.CreateEventResult, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	if len(in.IdempotencyKey) > labhooks.MaxIdempotencyKey {
		return nil, labhooks.FieldErrorf(labhooks.EInvalid, "Idempotency-Key", "at most %d characters", labhooks.MaxIdempotencyKey)
	}
	// Validate.
	if in.EventName == "" {
		return nil, labhooks.FieldErrorf(labhooks.EInvalid, "eventName", "required")
	}
	t, ok := s.cat.LookupRules(in.EventName)
	if !ok {
		s.syncEventTypes(ctx)
		t, ok = s.cat.LookupRules(in.EventName)
	}
	if !ok {
		// Validate words the error with the names that are close.
		_, err := s.cat.Validate(in.EventName, in.Data)
		return nil, err
	}
	if labhooks.IsOperationalEvent(t.Name) && !c.System {
		return nil, labhooks.FieldErrorf(labhooks.EForbidden, "eventName", "%s is an operational event that labhooks sends itself", t.Name)
	}
	if t.Status == labhooks.StatusPreview {
		return nil, labhooks.FieldErrorf(labhooks.EPreview, "eventName", "%s is announced as coming soon and cannot be emitted yet", t.Name)
	}
	if len(in.Data) == 0 {
		return nil, labhooks.FieldErrorf(labhooks.EInvalid, "data", "required")
	}
	data, err := s.cat.Validate(t.Name, in.Data)
	if err != nil {
		return nil, err
	}
	target := labhooks.Target{PartnerID: in.PartnerID, Role: in.Role}
	if err := t.CheckTarget(target); err != nil {
		return nil, err
	}
	now := s.now()
	e := &labhooks.Event{ID: id.New(id.Event), EventName: t.Name, Data: data, PartnerID: in.PartnerID, Role: in.Role,
		IdempotencyKey: in.IdempotencyKey, CreatedAt: now, Traceparent: traceparent, Entity: in.Entity}
	if in.OccurredAt != "" {
		if e.OccurredAt, err = labhooks.ParseOccurredAt(in.OccurredAt, now); err != nil {
			return nil, err
		}
	}
	if in.Entity != "" {
		if err := labhooks.ValidateEntity(in.Entity); err != nil {
			return nil, err
		}
	}
	// The hash covers what the emitter asked for; the defaults follow.
	hash := e.RequestHash()
	if e.OccurredAt.IsZero() {
		e.OccurredAt = now
	}
	if e.Entity == "" {
		e.Entity = catalog.EntityKey(data)
	}

	// Target and store. A store shared by several processes may answer the
	// audience from a cache that another process's change made stale:
	// CreateEvent then stores nothing (ErrStaleAudience) and the event is
	// targeted again, with the same ID, from a fresh reading.
	var res *labhooks.CreateEventResult
	for try := 1; ; try++ {
		q := t.AudienceQuery(target)
		audience, err := s.store.Audience(ctx, q)
		if err != nil {
			return nil, err
		}
		links, err := t.Recipients(target, audience)
		if err != nil && audience.Version != 0 {
			// The answer may come from a cache older than the partner
			// or its role: read them before refusing.
			q.Fresh = true
			if audience, err = s.store.Audience(ctx, q); err != nil {
				return nil, err
			}
			links, err = t.Recipients(target, audience)
		}
		if err != nil {
			// The key's first call may have reached the partner before it
			// was deleted or changed role: its answer stands.
			if e.IdempotencyKey != "" {
				if prev, perr := s.store.IdempotentEvent(ctx, e.IdempotencyKey); perr == nil {
					return replayed(prev, e.IdempotencyKey, hash)
				} else if labhooks.ErrorCode(perr) != labhooks.ENotFound {
					return nil, perr
				}
			}
			return nil, err
		}
		res, err = s.store.CreateEvent(ctx, labhooks.CreateEventParams{
			Event: e, Deliveries: e.Deliver(links, now, newDeliveryID), RequestHash: hash, AudienceVersion: audience.Version,
		})
		if errors.Is(err, labhooks.ErrStaleAudience) && try < maxTargetTries {
			continue
		}
		if err != nil {
			// After maxTargetTries, ErrStaleAudience: EUnavailable, try again.
			return nil, err
		}
		break
	}
	if t.Name == ErasureEvent {
		// A replay records it too: the first call may have stopped
		// before it did.
		s.recordErasure(ctx, res)
	}
	if res.Replayed {
		return replayed(res, e.IdempotencyKey, hash)
	}
	if len(res.Deliveries) > 0 {
		s.cfg.Wake()
	}
	s.cfg.OnAccepted(res.Event, len(res.Deliveries))
	return res, nil
}

func newDeliveryID() string { return id.New(id.Delivery) }

// maxTargetTries bounds how often one emit is targeted: each try after the
// first follows a change to the partners or data links, committed (by
// any process) between the try's reading and its insert. Five in a row
// mean the links change faster than an emit is stored; the emitter is told
// to try again (EUnavailable) rather than given a stale audience.
const maxTargetTries = 5

// replayed answers an emit whose idempotency key was taken: with the first
// call's result when it asked for the same, else EConflict.
func replayed(prev *labhooks.CreateEventResult, key, requestHash string) (*labhooks.CreateEventResult, error) {
	if prev.RequestHash != requestHash {
		return nil, labhooks.IdempotencyConflict(key)
	}
	return prev, nil
}

// EventDetail is an event with every one of its deliveries.
type EventDetail struct {
	*labhooks.Event
	Deliveries []*labhooks.Delivery `json:"deliveries"`
}

// Event returns event id with its deliveries, however many data links it
// fanned out to. Admin only. ENotFound.
func (s *Service) Event(ctx context.Context, c *Caller, id string) (*EventDetail, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	e, err := s.store.Event(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &EventDetail{Event: e, Deliveries: []*labhooks.Delivery{}}
	f := labhooks.DeliveryFilter{EventID: &e.ID, Limit: labhooks.MaxLimit}
	for {
		ds, next, err := s.store.Deliveries(ctx, f)
		if err != nil {
			return nil, err
		}
		out.Deliveries = append(out.Deliveries, ds...)
		if next == "" {
			return out, nil
		}
		f.Before = &next
	}
}

// Custom event types are registered through any process and only ever
// added, so a process that shares its database with others may lack some:
// before it answers that a name is not an event type, and before it lists
// the types, it takes in those it lacks.

// EventType returns the named event type.
func (s *Service) EventType(ctx context.Context, name string) (*labhooks.EventType, bool) {
	if t, ok := s.cat.Lookup(name); ok {
		return t, true
	}
	s.syncEventTypes(ctx)
	return s.cat.Lookup(name)
}

// EventTypes returns every event type, built-in first.
func (s *Service) EventTypes(ctx context.Context) []*labhooks.EventType {
	s.syncEventTypes(ctx)
	return s.cat.Types()
}

// EventTypesFor returns the event types a role receives, in catalog order.
func (s *Service) EventTypesFor(ctx context.Context, role labhooks.Role) []*labhooks.EventType {
	var out []*labhooks.EventType
	for _, t := range s.EventTypes(ctx) {
		if t.AllowsRole(role) {
			out = append(out, t)
		}
	}
	return out
}

// syncEventTypes adds to the catalog the custom types stored by other
// processes. Should the store fail, the catalog answers as it is.
func (s *Service) syncEventTypes(ctx context.Context) {
	stored, err := s.store.EventTypes(ctx)
	if err != nil {
		s.log.Warn("reading custom event types", "err", err)
		return
	}
	for _, t := range stored {
		if _, ok := s.cat.Lookup(t.Name); !ok {
			// Added meanwhile by another request: EConflict, harmless.
			s.cat.Add(t)
		}
	}
}

// CreateEventType registers a custom event type. Admin only. EInvalid,
// EConflict.
func (s *Service) CreateEventType(ctx context.Context, c *Caller, t *labhooks.EventType) (*labhooks.EventType, error) {
	if err := c.RequireAdmin(); err != nil {
		return nil, err
	}
	t.Custom = true
	if t.Status == "" {
		t.Status = labhooks.StatusAvailable
	}
	if err := catalog.Check(t); err != nil {
		return nil, err
	}
	if err := labhooks.ValidateText("description", t.Description); err != nil {
		return nil, err
	}
	if _, ok := s.cat.Lookup(t.Name); ok {
		return nil, labhooks.FieldErrorf(labhooks.EConflict, "name", "event type %s exists", t.Name)
	}
	ctx = audited(ctx, s.entry(c, labhooks.AuditEventTypeCreate, "eventtype", t.Name, ""),
		map[string]any{"roles": t.Roles, "status": t.Status, "description": t.Description})
	if err := s.store.CreateEventType(ctx, t); err != nil {
		return nil, err
	}
	if err := s.cat.Add(t); err != nil {
		return nil, err
	}
	return t, nil
}
