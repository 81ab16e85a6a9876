package labhooks

import (
	"encoding/json"
	"strings"
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
func (t *EventType) AllowsRole(r Role) bool {
	for _, x := range t.Roles {
		if x == r {
			return true
		}
	}
	return false
}

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

// CreateEventParams describes an event to store together with its deliveries.
type CreateEventParams struct {
	Event *Event
	// Roles are the roles allowed to receive the event; the store creates one
	// delivery for each enabled, accepting data link of each partner with such
	// a role (only Event.PartnerID's when set, only Event.Role's when set).
	// A partner named by Event.PartnerID must exist (ENotFound) and have one
	// of these roles (ERoleNotAllowed, see PartnerRoleNotAllowed): the store
	// checks it with the same read that finds the data links.
	Roles []Role
	// RequestHash identifies the request behind an idempotency key, so a key
	// reused for a different request is refused instead of silently answered.
	RequestHash string
	Now         time.Time
}

// CreateEventResult is what CreateEvent stored, or found stored under the same
// idempotency key.
type CreateEventResult struct {
	Event      *Event
	Deliveries []*Delivery
	// Replayed is true when the idempotency key was seen before and nothing new
	// was stored.
	Replayed bool
}

// PartnerRoleNotAllowed is the error for an event aimed at a partner whose
// role may not receive it.
func PartnerRoleNotAllowed(partnerID string, role Role, eventName string, roles []Role) *Error {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return Errorf(ERoleNotAllowed, "partnerId: %s is a %s, and %s goes only to %s", partnerID, role, eventName, strings.Join(names, ", "))
}
