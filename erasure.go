package labhooks

import (
	"encoding/json"
	"time"
)

// Erasure tracks one dataDeletionRequest: a user asked for their data to be
// deleted, and each partner the request went to must erase it. labhooks
// records when each target partner was delivered the request (its first
// 2xx) and when it confirmed the erasure, and erases its own copy of the
// user's data once no delivery of the request is pending.
type Erasure struct {
	// EventID is the dataDeletionRequest event's ID.
	EventID string `json:"eventId"`
	// UserID is the request's data.userId.
	UserID      json.Number `json:"userId"`
	RequestedAt time.Time   `json:"requestedAt"`
	// Deadline is when a target that has not confirmed becomes overdue.
	Deadline time.Time `json:"deadline"`
	// ErasedAt is when labhooks erased its own copy: the request's
	// personal fields, and the payloads of the user's earlier events.
	ErasedAt *time.Time `json:"erasedAt"`
	// State sums up the targets': confirmed when every one confirmed,
	// overdue when any is, delivered when every one was delivered the
	// request, else pending.
	State   ErasureState     `json:"state"`
	Targets []*ErasureTarget `json:"targets"`
}

// ErasureTarget is one partner a dataDeletionRequest went to.
type ErasureTarget struct {
	PartnerID string `json:"partnerId"`
	// DeliveredAt is the start of the first attempt the partner answered
	// with a 2xx, on any of its data links.
	DeliveredAt *time.Time `json:"deliveredAt"`
	// ConfirmedAt is when the partner confirmed it erased the user's data.
	ConfirmedAt *time.Time   `json:"confirmedAt"`
	State       ErasureState `json:"state"`
}

// ErasureState is where a target stands.
type ErasureState string

// Erasure states.
const (
	ErasurePending   ErasureState = "pending"   // not yet delivered
	ErasureDelivered ErasureState = "delivered" // delivered, not confirmed, before the deadline
	ErasureConfirmed ErasureState = "confirmed" // the partner confirmed
	ErasureOverdue   ErasureState = "overdue"   // not confirmed by the deadline
)

// ErasureStates lists the states, for filters and documentation.
var ErasureStates = []ErasureState{ErasurePending, ErasureDelivered, ErasureConfirmed, ErasureOverdue}

// State returns where t stands at now for a request whose deadline is
// deadline.
func (t *ErasureTarget) StateAt(deadline, now time.Time) ErasureState {
	switch {
	case t.ConfirmedAt != nil:
		return ErasureConfirmed
	case !now.Before(deadline):
		return ErasureOverdue
	case t.DeliveredAt != nil:
		return ErasureDelivered
	}
	return ErasurePending
}

// SetStates sets e's Deadline, its targets' states and its own, at now,
// for partners given deadline to confirm.
func (e *Erasure) SetStates(deadline time.Duration, now time.Time) {
	e.Deadline = e.RequestedAt.Add(deadline)
	all := map[ErasureState]int{}
	for _, t := range e.Targets {
		t.State = t.StateAt(e.Deadline, now)
		all[t.State]++
	}
	n := len(e.Targets)
	switch {
	case all[ErasureConfirmed] == n:
		e.State = ErasureConfirmed
	case all[ErasureOverdue] > 0:
		e.State = ErasureOverdue
	case all[ErasureConfirmed]+all[ErasureDelivered] == n:
		e.State = ErasureDelivered
	default:
		e.State = ErasurePending
	}
}

// ErasureFilter selects erasures for a listing, newest first.
type ErasureFilter struct {
	// PartnerID selects the requests that went to that partner, with that
	// partner's target only.
	PartnerID string
	// Cursor continues a listing (the last event ID seen).
	Cursor string
	Limit  int
}

// EraseUserParams is labhooks erasing its own copy of a user's data for
// the dataDeletionRequest EventID.
type EraseUserParams struct {
	EventID string
	UserID  string
	Now     time.Time
}
