package labhooks

import (
	"context"
	"time"
)

// The stores persist; they decide nothing. Every rule (who receives an
// event, what a retry or a rotation does, when a link is disabled) is a
// method of the domain types, applied by the application layer (package
// app); a store reads and writes what it is given, each method in one
// transaction. Each interface below is one role of the store; a consumer
// takes the narrowest it needs. Implementations: sqlite.Store and, for
// scale-out, postgres.Store; storetest.Run is the behaviour both must show.

// Audit: a store write whose context carries audit entries (WithAudit)
// appends them to the audit log in its own transaction, so that a change
// and its record commit together or not at all. This holds for every
// method of PartnerStore, DataLinkStore, SessionStore and AdminKeyStore
// that writes, for CreateEventType and for Requeue; the hot paths
// (CreateEvent, the queue's claims and records) are not audited.

// PartnerStore keeps partners and the hashes of their API keys.
type PartnerStore interface {
	// CreatePartner stores p, with the hash of its API key (KeyHash).
	// EConflict when the ID or the key hash is taken.
	CreatePartner(ctx context.Context, p *Partner) error
	// Partner returns one partner. ENotFound.
	Partner(ctx context.Context, id string) (*Partner, error)
	// PartnerByKeyHash returns the partner whose API key, current or
	// previous (Partner.Opens decides whether that still opens), hashes to
	// h. ENotFound.
	PartnerByKeyHash(ctx context.Context, h []byte) (*Partner, error)
	// Partners lists every partner, oldest first.
	Partners(ctx context.Context) ([]*Partner, error)
	// UpdatePartner reads partner id, lets change modify it and stores the
	// result, in one transaction that holds the partner against other
	// changes meanwhile; it returns the partner as stored. change may run
	// more than once (when the transaction is tried again) and must only
	// modify its argument. An error from change stores nothing and is
	// returned. ENotFound.
	UpdatePartner(ctx context.Context, id string, change func(*Partner) error) (*Partner, error)
	// DeletePartner removes a partner and its data links, and fails their
	// pending deliveries at now; the delivery history stays. ENotFound.
	DeletePartner(ctx context.Context, id string, now time.Time) error
}

// DataLinkStore keeps data links with their secrets.
type DataLinkStore interface {
	// CreateDataLink stores d. ENotFound when its partner does not exist,
	// EConflict when the ID is taken or the partner already has
	// MaxDataLinksPerPartner data links, counted in the transaction of the
	// insert so that concurrent creates cannot pass the cap.
	CreateDataLink(ctx context.Context, d *DataLink) error
	// DataLink returns one data link with its secrets. ENotFound.
	DataLink(ctx context.Context, id string) (*DataLink, error)
	// DataLinks lists data links, oldest first.
	DataLinks(ctx context.Context, f DataLinkFilter) ([]*DataLink, error)
	// UpdateDataLink reads data link id, lets change modify it and stores
	// every field but ID, PartnerID and CreatedAt, as UpdatePartner does.
	// ENotFound.
	UpdateDataLink(ctx context.Context, id string, change func(*DataLink) error) (*DataLink, error)
	// DeleteDataLink removes a data link and fails its pending deliveries at
	// now; its deliveries stay listed. ENotFound.
	DeleteDataLink(ctx context.Context, id string, now time.Time) error
	// OrderedQueue returns where data link id's deliveries stand as an
	// ordered link: the pending delivery it is sending (its head) and how
	// many are blocked behind it. ENotFound.
	OrderedQueue(ctx context.Context, id string) (*OrderedQueue, error)
	// RewriteSecrets calls rewrite with every data link's secrets (the
	// previous one only when set) and stores what it returns in their place,
	// all in one transaction, leaving everything else as it is; it returns
	// how many links changed. An error from rewrite changes nothing and is
	// returned. For sealing secrets at rest (package sealing).
	RewriteSecrets(ctx context.Context, rewrite func(dataLinkID, secret string) (string, error)) (int, error)
}

// EventStore keeps custom event types, events and their deliveries as
// emitted.
type EventStore interface {
	// CreateEventType registers a custom event type. EConflict when the name
	// is taken.
	CreateEventType(ctx context.Context, t *EventType) error
	// EventTypes lists the custom event types by name.
	EventTypes(ctx context.Context) ([]*EventType, error)
	// Audience answers q: the role of the partner it names, and the data
	// links of the partners it selects (see EventType.Recipients). It may
	// answer from a cache that lags the changes of other processes, never
	// those of its own, unless q.Fresh; its Version then lets CreateEvent
	// tell.
	Audience(ctx context.Context, q AudienceQuery) (*Audience, error)
	// CreateEvent stores an event and its deliveries in one transaction,
	// durably before it returns; when p.Event.IdempotencyKey is taken it
	// stores nothing and returns what the key's first call stored, with
	// Replayed set, even when that call runs at the same moment in another
	// process. ErrStaleAudience (stored nothing) when p.AudienceVersion is
	// set and the partners or data links changed since that audience was
	// read.
	CreateEvent(ctx context.Context, p CreateEventParams) (*CreateEventResult, error)
	// IdempotentEvent returns what was stored under an idempotency key, with
	// Replayed set. ENotFound.
	IdempotentEvent(ctx context.Context, key string) (*CreateEventResult, error)
	// Event returns one event. ENotFound.
	Event(ctx context.Context, id string) (*Event, error)
}

// DeliveryStore reads deliveries and their attempts.
type DeliveryStore interface {
	// Delivery returns one delivery with all its attempts, oldest first. ENotFound.
	Delivery(ctx context.Context, id string) (*Delivery, error)
	// Deliveries lists deliveries newest first; next is the cursor of the
	// following page, empty on the last.
	Deliveries(ctx context.Context, f DeliveryFilter) (ds []*Delivery, next string, err error)
	// Health returns the delivery queue's depth and the figures of the
	// window [since, now), for operators.
	Health(ctx context.Context, since time.Time) (*Health, error)
	// HealthSeries returns q's buckets, oldest first, for the health
	// charts. EInvalid for a query CheckSeriesQuery refuses.
	HealthSeries(ctx context.Context, q SeriesQuery) ([]HealthBucket, error)
}

// Queue is the deliveries as the delivery engine works them.
type Queue interface {
	// ClaimDeliveries leases up to p.Limit pending deliveries that are due,
	// oldest due first. A claimed delivery whose data link is gone or
	// disabled is failed (ClaimedRow.Job says why) instead of returned.
	ClaimDeliveries(ctx context.Context, p ClaimParams) ([]*Job, error)
	// RecordAttempts stores attempts and the new state of their deliveries. An
	// attempt whose owner lost the lease is still stored, but leaves the
	// delivery's state to the lease's new holder. Each result with a
	// DataLinkID keeps its link's FailingSince as FailingRuns says.
	RecordAttempts(ctx context.Context, rs []AttemptResult) error
	// NextDue returns when the earliest pending delivery becomes due, or
	// ok=false when none is pending.
	NextDue(ctx context.Context) (t time.Time, ok bool, err error)
	// Requeue makes the deliveries p selects pending and due at p.Now, each
	// with a fresh retry schedule (its ScheduleBase becomes its
	// AttemptCount), and returns how many. ENotFound when p.DeliveryID does
	// not exist. On an ordered data link a requeued delivery other than
	// the head waits, blocked, behind the head, if there is one.
	//
	// Ordered data links (DataLink.Ordered): only the oldest pending
	// delivery of such a link (its head) has a NextAttemptAt; the others
	// are pending with none (blocked) and are never claimed nor reported by
	// NextDue. CreateEvent inserts a delivery blocked when its ordered link
	// has a pending delivery; RecordAttempts, EraseUser and Requeue release
	// the oldest blocked one (due at once) when the head ends; a claim that
	// fails a head because its link is disabled fails the blocked ones with
	// it; UpdateDataLink turning ordering on blocks the pending deliveries
	// not in flight, and off releases them all.
	Requeue(ctx context.Context, p RequeueParams) (int, error)
}

// SessionStore remembers the dashboard sessions that were signed out.
type SessionStore interface {
	// RevokeSession ends the dashboard session id, whose cookie expires at
	// expires: SessionRevoked reports it until then. Sessions whose cookies
	// expired before now are forgotten.
	RevokeSession(ctx context.Context, id string, expires, now time.Time) error
	// SessionRevoked reports whether RevokeSession ended session id.
	SessionRevoked(ctx context.Context, id string) (bool, error)
}

// AdminKeyStore keeps the hash of the admin key labhooks made itself.
type AdminKeyStore interface {
	// AdminKeyHash returns the stored hash of the admin key, nil if none.
	AdminKeyHash(ctx context.Context) ([]byte, error)
	// InitAdminKeyHash stores h as the admin key's hash unless one is stored
	// already, and returns the hash in force and whether it is h: of several
	// processes starting at once on an empty database, exactly one wins.
	InitAdminKeyHash(ctx context.Context, h []byte) (stored []byte, created bool, err error)
}

// AuditStore keeps the audit log, a hash chain (see AuditEntry).
type AuditStore interface {
	// AppendAudit appends entries on their own, for actions that change
	// nothing else (a test send, a failed sign-in). Entries are sealed
	// into the chain in the order given, after every entry committed
	// before.
	AppendAudit(ctx context.Context, entries ...*AuditEntry) error
	// Audit lists the entries f selects, newest first (oldest first with
	// f.Ascending); next is the cursor of the following page, empty on the
	// last.
	Audit(ctx context.Context, f AuditFilter) (es []*AuditEntry, next string, err error)
	// AuditHead returns where the stored chain starts and ends.
	AuditHead(ctx context.Context) (*AuditHead, error)
	// PurgeAudit deletes the entries older than before, oldest first, and
	// moves the chain's anchor to the last one deleted, so that what is
	// kept still verifies; it returns how many it deleted.
	PurgeAudit(ctx context.Context, before time.Time) (int, error)
}

// RetentionStore erases old payloads and deletes old rows, a bounded batch
// per call (each in one transaction), so that a purge never holds the
// database for long; callers loop until a call returns less than its limit.
type RetentionStore interface {
	// EventTypeRetentions returns the retention each event type set for
	// itself, by name; types that set none are absent.
	EventTypeRetentions(ctx context.Context) (map[string]time.Duration, error)
	// SetEventTypeRetention sets the retention of event type name (nil:
	// none of its own) and returns the one it replaced, which it also
	// passes to seen (when not nil) in its transaction, before the audit
	// entries ctx carries are appended: seen may fill in their details.
	SetEventTypeRetention(ctx context.Context, name string, r *time.Duration, seen func(prev *time.Duration)) (prev *time.Duration, err error)
	// ErasePayloads erases the data of the events p selects (oldest
	// first), marking them erased at p.Now, and the response excerpts of
	// their attempts; it returns how many events it erased.
	ErasePayloads(ctx context.Context, p ErasePayloadsParams) (int, error)
	// DeleteHistory deletes up to limit events created before before that
	// have no pending delivery (oldest first), with their deliveries and
	// attempts, and returns how many events it deleted. Erasure records
	// stay.
	DeleteHistory(ctx context.Context, before time.Time, limit int) (int, error)
}

// ErasureStore keeps the erasures that dataDeletionRequest events start
// (see Erasure). Read erasures carry no states: the caller sets them
// (Erasure.SetStates).
type ErasureStore interface {
	// CreateErasure records an erasure with its targets; one recorded
	// already for the same event stays as it is.
	CreateErasure(ctx context.Context, e *Erasure) error
	// Erasure returns one erasure, its targets' DeliveredAt read from the
	// deliveries' attempts while they are kept. ENotFound.
	Erasure(ctx context.Context, eventID string) (*Erasure, error)
	// Erasures lists erasures newest first; next is the cursor of the
	// following page, empty on the last.
	Erasures(ctx context.Context, f ErasureFilter) (es []*Erasure, next string, err error)
	// ConfirmErasure records that partnerID erased the user's data at at,
	// unless it confirmed before; it reports whether it recorded it (the
	// audit entries ctx carries are appended only then). ENotFound when
	// the partner is not a target of the request.
	ConfirmErasure(ctx context.Context, eventID, partnerID string, at time.Time) (bool, error)
	// ErasuresDue returns up to limit erasures whose own copy is not
	// erased yet and whose request has no pending delivery, oldest first;
	// and the IDs of up to limit dataDeletionRequest events that have no
	// erasure recorded (an emit that stopped between the two writes).
	ErasuresDue(ctx context.Context, limit int) (due []*Erasure, unrecorded []string, err error)
	// EraseUser erases labhooks' copy of p.UserID's data: the personal
	// fields of the request p.EventID (StripPersonalFields), the payloads
	// of the events created before it whose data.userId is p.UserID (their
	// attempts' response excerpts too, and their pending deliveries are
	// failed), a bounded batch per transaction; then it records the
	// targets' delivery times and marks the erasure erased at p.Now.
	EraseUser(ctx context.Context, p EraseUserParams) error
}

// Store keeps labhooks' state. Its deliveries are the delivery queue: what a
// Store method has returned from is durable.
type Store interface {
	PartnerStore
	DataLinkStore
	EventStore
	DeliveryStore
	Queue
	SessionStore
	AdminKeyStore
	AuditStore
	RetentionStore
	ErasureStore
	NotificationStore
	FeedStore
	// Ping checks that the database answers. EUnavailable.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// DueListener is a store that learns when deliveries become due in any
// process that shares its database (PostgreSQL's LISTEN/NOTIFY), so that an
// idle engine wakes at once rather than at its next poll. Optional: a store
// used by one process alone (SQLite) has no need of it, and the application
// layer wakes its engine itself.
type DueListener interface {
	// Listen calls notify whenever deliveries become due now, whichever
	// process stored them, until ctx ends; then it returns nil. notify must
	// not block.
	Listen(ctx context.Context, notify func()) error
}

// FreshQueue is a Queue that can lease deliveries as it stores them and
// hand them straight to this process's delivery engine (claim at insert),
// so that a fresh delivery costs the engine no claim. SQLite, whose leases
// live in memory, writes no lease at all; PostgreSQL writes it in the
// insert, so that no other process claims the delivery meanwhile. Optional
// for a Queue; the application layer finds it on the store and gives it to
// the engine.
//
// A delivery handed over is durable before it is handed (the commit comes
// first) and is leased to the engine as ClaimDeliveries would lease it: no
// claim takes it while the lease holds. Should the process die before its
// attempt is recorded, it is simply pending in the database.
type FreshQueue interface {
	// OfferFresh makes the store offer, after each commit that stores
	// deliveries due at once to ordinary (push) data links, their jobs (Try
	// 1), each already leased under owner for lease, to offer; it reports
	// whether the store can (a store that wraps another may not). offer
	// must not block: when it returns false, the store releases the jobs
	// at once; jobs it took and cannot attempt, its caller gives back with
	// Release. A nil offer stops the offers.
	OfferFresh(owner string, lease time.Duration, offer func(jobs []*Job) bool) bool
	// Release ends the leases of jobs that were handed over and not
	// attempted: their deliveries are due again at once, for the next
	// claim.
	Release(jobs []*Job)
}
