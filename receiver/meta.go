package receiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labhooks/labhooks/signature"
)

// Header names of the labhooks- headers: what the event is, when it
// occurred, and its place among the events about the same entity. They are
// signed in HeaderMetaSignature, beside webhook-signature.
const (
	HeaderEventID       = "Labhooks-Event-Id"
	HeaderOccurredAt    = "Labhooks-Occurred-At"
	HeaderEntity        = "Labhooks-Entity"
	HeaderSequence      = "Labhooks-Sequence"
	HeaderMetaSignature = "Labhooks-Signature"
)

// ErrInvalidMeta: a labhooks- header is malformed (it was signed, so it
// came so from labhooks: a version this kit does not know), or
// labhooks-entity and labhooks-sequence do not come together.
var ErrInvalidMeta = errors.New("invalid labhooks- header")

// Meta is what the labhooks- headers say about an event.
type Meta struct {
	// EventID is the event's ID (labhooks-event-id): the same in every
	// delivery of the event, to any data link or through the feed.
	EventID string
	// OccurredAt is when the event occurred (labhooks-occurred-at).
	OccurredAt time.Time
	// Entity is the key of what the event is about, such as
	// appointment:apt_123 (labhooks-entity); empty when it names none.
	Entity string
	// Sequence is the event's number among the events about Entity, 1, 2,
	// 3… in the order labhooks accepted them (labhooks-sequence); 0 with no
	// Entity. A higher number is a newer state of the entity.
	Sequence int64
}

// maxMetaValue bounds each labhooks- header value.
const maxMetaValue = 256

// metaOf reads the labhooks- header values of h, as received.
func metaOf(h http.Header) signature.Meta {
	return signature.Meta{EventID: h.Get(HeaderEventID), OccurredAt: h.Get(HeaderOccurredAt),
		Entity: h.Get(HeaderEntity), Sequence: h.Get(HeaderSequence)}
}

// ParseMeta reads the labhooks- header values: labhooks-event-id (printable
// ASCII), labhooks-occurred-at (RFC 3339), and labhooks-entity with
// labhooks-sequence (a whole number from 1), both or neither. All empty is
// no Meta (nil, nil): a sender that does not send them. It does not verify:
// call it on headers a Verifier accepted. The error wraps ErrInvalidMeta.
func ParseMeta(eventID, occurredAt, entity, sequence string) (*Meta, error) {
	if eventID == "" && occurredAt == "" && entity == "" && sequence == "" {
		return nil, nil
	}
	for _, v := range []struct{ name, v string }{{"labhooks-event-id", eventID}, {"labhooks-occurred-at", occurredAt},
		{"labhooks-entity", entity}, {"labhooks-sequence", sequence}} {
		if len(v.v) > maxMetaValue {
			return nil, fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalidMeta, v.name, maxMetaValue)
		}
		for i := 0; i < len(v.v); i++ {
			if v.v[i] <= ' ' || v.v[i] > '~' {
				return nil, fmt.Errorf("%w: %s holds a byte that is not printable ASCII", ErrInvalidMeta, v.name)
			}
		}
	}
	if eventID == "" {
		return nil, fmt.Errorf("%w: labhooks-event-id is missing", ErrInvalidMeta)
	}
	m := &Meta{EventID: eventID, Entity: entity}
	t, err := time.Parse(time.RFC3339Nano, occurredAt)
	if err != nil {
		return nil, fmt.Errorf("%w: labhooks-occurred-at %q is not an RFC 3339 time", ErrInvalidMeta, occurredAt)
	}
	m.OccurredAt = t.UTC()
	switch {
	case entity == "" && sequence == "":
		return m, nil
	case entity == "" || sequence == "":
		return nil, fmt.Errorf("%w: labhooks-entity and labhooks-sequence come together", ErrInvalidMeta)
	}
	for i := 0; i < len(sequence); i++ {
		if sequence[i] < '0' || sequence[i] > '9' {
			return nil, fmt.Errorf("%w: labhooks-sequence %q is not a whole number", ErrInvalidMeta, sequence)
		}
	}
	n, err := strconv.ParseInt(sequence, 10, 64)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("%w: labhooks-sequence %q is not a whole number from 1", ErrInvalidMeta, sequence)
	}
	m.Sequence = n
	return m, nil
}

// ReadMeta parses the labhooks- headers of h (see ParseMeta).
func ReadMeta(h http.Header) (*Meta, error) {
	m := metaOf(h)
	return ParseMeta(m.EventID, m.OccurredAt, m.Entity, m.Sequence)
}

// verifyMeta checks labhooks-signature when any labhooks- header is there:
// a labhooks- header without its signature, or changed on the way, is
// refused. None at all passes (a sender that does not send them).
func (v *Verifier) verifyMeta(h http.Header) error {
	m, sig := metaOf(h), h.Get(HeaderMetaSignature)
	if m == (signature.Meta{}) && sig == "" {
		return nil
	}
	if sig == "" {
		return fmt.Errorf("%w: labhooks- headers came without labhooks-signature", ErrNoMatchingSignature)
	}
	return v.signer.VerifyMeta(h.Get(HeaderID), h.Get(HeaderTimestamp), m, sig)
}

// LatestStore is a Store that can keep to the newest event about each
// entity (Handler.LatestOnly). The store subpackage's Store and MemoryStore
// are ones.
type LatestStore interface {
	Store
	// SaveIfNewer stores e as Save does, unless an event about e.Entity
	// with a Sequence at or above e.Sequence is stored: then it stores
	// nothing and reports stale. Checking and storing are one step, even
	// for concurrent calls. An event without an Entity is saved as Save
	// does.
	SaveIfNewer(ctx context.Context, e *Event) (stored, stale bool, err error)
	// Stale reports whether an event about e.Entity with a Sequence at or
	// above e.Sequence is stored: a cheap look before OnEvent runs.
	Stale(ctx context.Context, e *Event) (bool, error)
}
