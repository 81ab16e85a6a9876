package labhooks

import (
	"encoding/json"
	"slices"
	"time"
)

// EventTypeStatus says whether an event type can be emitted yet.
type EventTypeStatus string

// Event type statuses.
const (
	StatusAvailable EventTypeStatus = "available"
	StatusPreview   EventTypeStatus = "preview" // "coming soon": listed, testable, not emitted
)

// EventType is one named event of the catalog.
type EventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Roles       []Role          `json:"roles"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	Status      EventTypeStatus `json:"status"`
	// ContainsPersonalData marks the few events that must carry contact data
	// (GDPR deletion requests, data shares); every other event is refused at
	// emit time if its data looks personal.
	ContainsPersonalData bool `json:"containsPersonalData"`
	// Custom is true for types an admin registered, false for the built-in catalog.
	Custom bool `json:"custom"`
}

// AllowsRole reports whether partners of role r may receive events of this type.
func (t *EventType) AllowsRole(r Role) bool { return slices.Contains(t.Roles, r) }

// Event is one emitted occurrence of an event type.
type Event struct {
	ID        string          `json:"id"`
	EventName string          `json:"eventName"`
	Data      json.RawMessage `json:"data"`
	// PartnerID and Role record how the event was targeted; both empty means
	// every partner whose role may receive it.
	PartnerID      string    `json:"partnerId,omitempty"`
	Role           Role      `json:"role,omitempty"`
	IdempotencyKey string    `json:"idempotencyKey,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	// Erased is true once the payload was erased (retention, or a
	// dataDeletionRequest for the event's user): Data is then null, and
	// ErasedAt says when.
	Erased   bool       `json:"erased"`
	ErasedAt *time.Time `json:"erasedAt,omitempty"`
	// OccurredAt is when the event occurred: the emitter's occurredAt, else
	// when labhooks accepted it (CreatedAt). Sent as labhooks-occurred-at.
	OccurredAt time.Time `json:"occurredAt"`
	// Entity is the key of the entity the event is about, such as
	// "appointment:apt_123" (see EntityKey); empty when it names none.
	Entity string `json:"entity,omitempty"`
	// Sequence is the event's number among the events about Entity, 1, 2,
	// 3… in the order they were stored: the store assigns it in the
	// event's insert transaction. 0 when Entity is empty.
	Sequence int64 `json:"sequence,omitempty"`
	// Traceparent is the W3C trace context of the emit (its span's, or the
	// emitter's when tracing is off), kept so every attempt, in any process
	// and after restarts, continues the emit's trace; empty when none.
	Traceparent string `json:"-"`
}

// Body returns the bytes POSTed to receivers: exactly the seed page's shape,
// {"eventName":…,"data":…}. Data must already be valid, compact JSON.
func (e *Event) Body() []byte {
	name, _ := json.Marshal(e.EventName)
	b := make([]byte, 0, len(name)+len(e.Data)+24)
	b = append(b, `{"eventName":`...)
	b = append(b, name...)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	return append(b, '}')
}

// CreateEventParams is an event to store together with its deliveries.
type CreateEventParams struct {
	Event *Event
	// Deliveries are the event's deliveries, pending and due at their
	// NextAttemptAt, as Event.Deliver made them.
	Deliveries []*Delivery
	// RequestHash identifies the request behind Event.IdempotencyKey, so a
	// key reused for a different request can be refused.
	RequestHash string
	// AudienceVersion is the Version of the Audience the deliveries were
	// picked from: when it is not zero, a store stores nothing and returns
	// ErrStaleAudience if its partners or data links changed since. Zero:
	// no check (an exact audience, or a caller that picked no audience).
	AudienceVersion int64
}

// CreateEventResult is what CreateEvent stored, or found stored under the same
// idempotency key.
type CreateEventResult struct {
	Event      *Event
	Deliveries []*Delivery
	// Replayed is true when the idempotency key was taken and nothing new
	// was stored: Event and Deliveries are what the key's first call
	// stored, and RequestHash that call's.
	Replayed    bool
	RequestHash string
}

// MaxEntity bounds an entity key (Event.Entity).
const MaxEntity = 200

// ValidateEntity checks an entity key: 1 to MaxEntity bytes of printable
// ASCII without spaces, since it travels in the labhooks-entity header.
// EInvalid.
func ValidateEntity(key string) error {
	if key == "" || len(key) > MaxEntity {
		return FieldErrorf(EInvalid, "entity", "1 to %d characters, such as appointment:apt_123", MaxEntity)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return FieldErrorf(EInvalid, "entity", "only printable ASCII without spaces: it travels in the labhooks-entity header")
		}
	}
	return nil
}

// MaxOccurredAtAhead is how far ahead of labhooks' clock an emitter's
// occurredAt may be (clocks differ a little; an event does not occur in
// the future).
const MaxOccurredAtAhead = 5 * time.Minute

// minOccurredAt is the earliest occurredAt taken: anything before is a
// mistake (a zero or unset time), not an event.
var minOccurredAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseOccurredAt reads an emitter's occurredAt: RFC 3339 with a time zone,
// from 2000 on and at most MaxOccurredAtAhead ahead of now; it returns it
// in UTC, to the millisecond that both stores keep. EInvalid.
func ParseOccurredAt(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, FieldErrorf(EInvalid, "occurredAt", "%q is not an RFC 3339 time such as 2026-03-01T09:30:00Z", s)
	}
	t = t.UTC().Truncate(time.Millisecond)
	switch {
	case t.Before(minOccurredAt):
		return time.Time{}, FieldErrorf(EInvalid, "occurredAt", "%s is before 2000", s)
	case t.Sub(now) > MaxOccurredAtAhead:
		return time.Time{}, FieldErrorf(EInvalid, "occurredAt", "%s is %s ahead of labhooks' clock; at most %s ahead is taken", s, t.Sub(now).Truncate(time.Second), MaxOccurredAtAhead)
	}
	return t, nil
}

// FormatOccurredAt writes an occurredAt as labhooks-occurred-at carries it:
// RFC 3339 in UTC, to the millisecond.
func FormatOccurredAt(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
