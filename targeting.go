package labhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Who receives an event is decided here, once: the emit names a Target, the
// event type's roles and the Target select an AudienceQuery, a store answers
// it with an Audience, and Recipients picks the data links that get a
// delivery. A store may answer with more than the rule lets through, never
// less: its query only narrows what Recipients reads.

// Target is whom an emit names: one partner, the partners of one role, or,
// both empty, every partner whose role may receive the event.
type Target struct {
	PartnerID string
	Role      Role
}

// CheckTarget refuses a target the event type cannot reach: both a partner
// and a role (EInvalid), an unknown role (EInvalid), a role that may not
// receive the event (ERoleNotAllowed). A named partner's role is checked by
// Recipients, which reads it.
func (t *EventType) CheckTarget(tg Target) error {
	switch {
	case tg.PartnerID != "" && tg.Role != "":
		return Errorf(EInvalid, "give partnerId or role, not both")
	case tg.Role == "":
		return nil
	case !tg.Role.Valid():
		return NotARole("role", tg.Role)
	case !t.AllowsRole(tg.Role):
		return FieldErrorf(ERoleNotAllowed, "role", "%s goes only to %s", t.Name, RoleList(t.Roles))
	}
	return nil
}

// AudienceQuery selects the partners an event may reach, with their data
// links: the partner PartnerID when it is set, else the partners whose role
// is one of Roles.
type AudienceQuery struct {
	PartnerID string
	Roles     []Role
	// Fresh asks a store that answers from a cache (see Audience.Version)
	// to read its database instead, as before refusing an emit for a
	// partner the cache may not know yet.
	Fresh bool
}

// AudienceQuery returns the query whose answer holds every data link an
// event of this type aimed at tg can reach.
func (t *EventType) AudienceQuery(tg Target) AudienceQuery {
	switch {
	case tg.PartnerID != "":
		return AudienceQuery{PartnerID: tg.PartnerID}
	case tg.Role != "":
		return AudienceQuery{Roles: []Role{tg.Role}}
	}
	return AudienceQuery{Roles: t.Roles}
}

// Audience is a store's answer to an AudienceQuery.
type Audience struct {
	// PartnerRole is the role of the query's PartnerID; empty when the
	// query named no partner or the partner does not exist.
	PartnerRole Role
	// Links are the data links of the partners selected, enabled or not.
	Links []AudienceLink
	// Version is the store's count of changes to partners and data links
	// as this answer was read, for CreateEventParams.AudienceVersion: a
	// store shared by several processes may answer from a cache that
	// another process's change has made stale, and CreateEvent, checking
	// the version in its transaction, refuses deliveries picked from it
	// (ErrStaleAudience). Zero: the answer is exact, nothing to check.
	Version int64
}

// ErrStaleAudience is CreateEvent's answer when the partners or data links
// changed after the audience its deliveries were picked from was read: it
// stored nothing, and the store no longer answers from that audience.
// Target the event again with a new Audience. Should it reach a client,
// it says to try again.
var ErrStaleAudience = &Error{Code: EUnavailable, Message: "the partners or data links changed while the event was stored; try again"}

// AudienceLink is a data link as targeting sees it.
type AudienceLink struct {
	ID         string
	PartnerID  string
	Role       Role // its partner's
	EventNames []string
	Enabled    bool
	// Pull is set for a pull link (DataLinkPull): its deliveries are never
	// due, they wait for the partner to pull them.
	Pull bool
	// Ordered is the link's DataLink.Ordered as the audience was read.
	Ordered bool
}

// Recipients returns the data links that receive an event of this type
// aimed at tg: enabled, of a partner whose role may receive it (the one
// named, or of the role named), whose filter lets it through. ENotFound when
// the named partner does not exist, ERoleNotAllowed when its role may not
// receive the event.
func (t *EventType) Recipients(tg Target, a *Audience) ([]AudienceLink, error) {
	if tg.PartnerID != "" {
		switch {
		case a.PartnerRole == "":
			return nil, &Error{Code: ENotFound, Field: "partnerId", Message: "partner " + tg.PartnerID + " not found"}
		case !t.AllowsRole(a.PartnerRole):
			return nil, FieldErrorf(ERoleNotAllowed, "partnerId", "%s is a %s, and %s goes only to %s",
				tg.PartnerID, a.PartnerRole, t.Name, RoleList(t.Roles))
		}
	}
	var out []AudienceLink
	for _, l := range a.Links {
		switch {
		case !l.Enabled, !t.AllowsRole(l.Role), !AcceptsEvent(l.EventNames, t.Name):
		case tg.PartnerID != "" && l.PartnerID != tg.PartnerID:
		case tg.Role != "" && l.Role != tg.Role:
		default:
			out = append(out, l)
		}
	}
	return out, nil
}

// Deliver returns the event's deliveries to links, pending and due at now,
// each with an ID from newID.
func (e *Event) Deliver(links []AudienceLink, now time.Time, newID func() string) []*Delivery {
	out := make([]*Delivery, len(links))
	for i, l := range links {
		out[i] = &Delivery{
			ID: newID(), EventID: e.ID, EventName: e.EventName, PartnerID: l.PartnerID, DataLinkID: l.ID,
			Status: DeliveryPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now, Ordered: l.Ordered,
		}
		if l.Pull {
			// Never due: the engine never claims it; the feed serves it.
			out[i].NextAttemptAt = nil
		}
	}
	return out
}

// RequestHash identifies what an emit asked for, so that an Idempotency-Key
// reused for something else is refused rather than answered with the first
// call's event.
func (e *Event) RequestHash() string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(e.EventName), e.Data, []byte(e.PartnerID), []byte(e.Role)} {
		h.Write(part)
		h.Write([]byte{0})
	}
	// Only when the emitter set them (the caller hashes before filling in
	// the defaults), so hashes stored before stay valid.
	if !e.OccurredAt.IsZero() {
		h.Write([]byte("occurredAt=" + e.OccurredAt.UTC().Format(time.RFC3339Nano)))
		h.Write([]byte{0})
	}
	if e.Entity != "" {
		h.Write([]byte("entity=" + e.Entity))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// IdempotencyConflict is the error for an Idempotency-Key used before for a
// different request.
func IdempotencyConflict(key string) *Error {
	return &Error{Code: EConflict, Field: "Idempotency-Key",
		Message: fmt.Sprintf("Idempotency-Key %q was already used for a different request", key)}
}
