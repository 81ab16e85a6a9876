package labhooks

import (
	"context"
	"time"
)

// Store keeps labhooks' state. Its deliveries are the delivery queue: what a
// Store method has returned from is durable. Implementations: sqlite.Store and
// (for scale-out) postgres.Store; storetest.Run is the behaviour both must show.
type Store interface {
	// CreatePartner stores p with the hash of its API key. EInvalid for a
	// missing name or an unknown role.
	CreatePartner(ctx context.Context, p *Partner, apiKeyHash []byte) error
	// Partner returns one partner. ENotFound.
	Partner(ctx context.Context, id string) (*Partner, error)
	// PartnerByKeyHash returns the partner whose API key hashes to h. ENotFound.
	PartnerByKeyHash(ctx context.Context, h []byte) (*Partner, error)
	// Partners lists every partner, oldest first.
	Partners(ctx context.Context) ([]*Partner, error)
	// UpdatePartner changes a partner. ENotFound, EInvalid.
	UpdatePartner(ctx context.Context, id string, u PartnerUpdate, now time.Time) (*Partner, error)
	// DeletePartner removes a partner, its data links and their pending
	// deliveries. ENotFound.
	DeletePartner(ctx context.Context, id string) error

	// CreateDataLink stores d. ENotFound when its partner does not exist.
	CreateDataLink(ctx context.Context, d *DataLink) error
	// DataLink returns one data link with its secrets. ENotFound.
	DataLink(ctx context.Context, id string) (*DataLink, error)
	// DataLinks lists data links, oldest first.
	DataLinks(ctx context.Context, f DataLinkFilter) ([]*DataLink, error)
	// UpdateDataLink changes a data link. ENotFound.
	UpdateDataLink(ctx context.Context, id string, u DataLinkUpdate, now time.Time) (*DataLink, error)
	// RotateSecret makes r.NewSecret the link's secret and keeps the old one
	// signing for r.Overlap. ENotFound.
	RotateSecret(ctx context.Context, r SecretRotation) (*DataLink, error)
	// RewriteSecrets calls rewrite with every data link's secrets (the
	// previous one only when set) and stores what it returns in their place,
	// all in one transaction, leaving everything else as it is; it returns
	// how many links changed. An error from rewrite changes nothing and is
	// returned. For sealing secrets at rest (package sealing).
	RewriteSecrets(ctx context.Context, rewrite func(dataLinkID, secret string) (string, error)) (int, error)
	// DisableFailingDataLinks disables the enabled data links whose every
	// attempt has failed since p.FailingSince or earlier, with a
	// DisabledReason that says so, and returns them.
	DisableFailingDataLinks(ctx context.Context, p DisableParams) ([]*DataLink, error)
	// DeleteDataLink removes a data link; its deliveries stay listed, and
	// pending ones are failed. ENotFound.
	DeleteDataLink(ctx context.Context, id string, now time.Time) error

	// CreateEventType registers a custom event type. EConflict when the name
	// is taken.
	CreateEventType(ctx context.Context, t *EventType) error
	// EventTypes lists the custom event types.
	EventTypes(ctx context.Context) ([]*EventType, error)

	// CreateEvent stores an event and its deliveries in one transaction, or,
	// when p.Event.IdempotencyKey was used before, returns what that first
	// call stored with Replayed set. EConflict when the key was used for a
	// different request; ENotFound when the targeted partner does not exist.
	CreateEvent(ctx context.Context, p CreateEventParams) (*CreateEventResult, error)
	// Event returns one event. ENotFound.
	Event(ctx context.Context, id string) (*Event, error)

	// Delivery returns one delivery with all its attempts, oldest first. ENotFound.
	Delivery(ctx context.Context, id string) (*Delivery, error)
	// Deliveries lists deliveries newest first; next is the cursor of the
	// following page, empty on the last.
	Deliveries(ctx context.Context, f DeliveryFilter) (ds []*Delivery, next string, err error)
	// RetryDelivery makes a delivery due now again, whatever its status, and
	// gives it a fresh set of attempts. ENotFound.
	RetryDelivery(ctx context.Context, id string, now time.Time) (*Delivery, error)

	// RequeueFailed makes the failed deliveries of a data link created in
	// [p.Since, p.Until) due now with a fresh retry schedule, and returns how
	// many. ENotFound when the link does not exist.
	RequeueFailed(ctx context.Context, p RequeueParams) (int, error)

	// ClaimDeliveries leases up to p.Limit pending deliveries that are due,
	// oldest due first.
	ClaimDeliveries(ctx context.Context, p ClaimParams) ([]*Job, error)
	// RecordAttempts stores attempts and the new state of their deliveries. An
	// attempt whose owner lost the lease is still stored, but leaves the
	// delivery's state to the lease's new holder. Each result with a
	// DataLinkID keeps its link's FailingSince: a success clears it, a
	// failure starts it if unset.
	RecordAttempts(ctx context.Context, rs []AttemptResult) error
	// NextDue returns when the earliest pending delivery becomes due, or
	// ok=false when none is pending.
	NextDue(ctx context.Context) (t time.Time, ok bool, err error)

	// Health returns the delivery queue's depth and the figures of the
	// window [since, now), for operators.
	Health(ctx context.Context, since time.Time) (*Health, error)

	// AdminKeyHash returns the stored hash of the admin key, nil if none.
	AdminKeyHash(ctx context.Context) ([]byte, error)
	// InitAdminKeyHash stores h as the admin key's hash unless one is stored
	// already, and returns the hash in force and whether it is h: of several
	// processes starting at once on an empty database, exactly one wins.
	InitAdminKeyHash(ctx context.Context, h []byte) (stored []byte, created bool, err error)

	// RevokeSession ends the dashboard session id, whose cookie expires at
	// expires: SessionRevoked reports it until then. Sessions whose cookies
	// expired before now are forgotten.
	RevokeSession(ctx context.Context, id string, expires, now time.Time) error
	// SessionRevoked reports whether RevokeSession ended session id.
	SessionRevoked(ctx context.Context, id string) (bool, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
