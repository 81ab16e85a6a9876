package labhooks

import "time"

// Every default and bound of labhooks, in one place: the flags, the engine,
// the API and the dashboard all take theirs from here.

// Delivery defaults (SPEC §4).
const (
	// DefaultTimeout is how long a receiver has to answer an attempt.
	DefaultTimeout = 15 * time.Second
	// DefaultJitter spreads each retry delay by ± this fraction, so that
	// deliveries failing together do not retry together.
	DefaultJitter = 0.2
	// DefaultWorkers is how many deliveries one process attempts at once.
	DefaultWorkers = 256
	// DefaultPerDataLink is how many of those may go to one data link, so a
	// slow or dead receiver cannot take every slot.
	DefaultPerDataLink = 16
	// TripAfterTimeouts is how many attempts to one data link in a row may
	// time out before the link gets a single slot until it answers again.
	TripAfterTimeouts = 3
	// LeaseMargin is how much longer than an attempt's timeout a claim's
	// lease lasts: a delivery whose worker died is claimed again after it.
	LeaseMargin = 15 * time.Second
	// DefaultPollInterval is the longest an idle engine waits before looking
	// for due deliveries when nothing wakes it.
	DefaultPollInterval = time.Second
	// DefaultDisableAfter is how long a data link may only fail before it is
	// disabled.
	DefaultDisableAfter = 5 * 24 * time.Hour
	// DefaultDisableCheckInterval is how often the engine looks for data
	// links to disable.
	DefaultDisableCheckInterval = time.Minute
)

// DefaultRetrySchedule is the delay before each retry after a failed attempt;
// the first attempt is always immediate. Eight attempts in all over about 28
// hours, then the delivery is failed.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
}

// Bounds of what the API accepts.
const (
	// MaxRequestBody bounds every API request body; events are small.
	MaxRequestBody = 1 << 20
	// MaxFormBody bounds a dashboard form.
	MaxFormBody = 64 << 10
	// MaxIdempotencyKey bounds the Idempotency-Key header.
	MaxIdempotencyKey = 255
	// MaxPartnerName bounds a partner's name, in bytes.
	MaxPartnerName = 200
	// MaxContacts bounds a partner's contact addresses, and
	// MaxContactLength each one (RFC 5321's limit of a path), in bytes.
	MaxContacts      = 10
	MaxContactLength = 254
	// MaxDescription bounds a data link's description, in bytes.
	MaxDescription = 500
	// MaxURLLength bounds a data link's URL.
	MaxURLLength = 2048
	// MaxDataLinksPerPartner keeps one partner from fanning every event out
	// to an unbounded number of URLs.
	MaxDataLinksPerPartner = 50
	// DefaultRotationOverlap is how long an old secret keeps signing after a
	// rotation unless the caller says otherwise; MaxRotationOverlap bounds it.
	DefaultRotationOverlap = 24 * time.Hour
	MaxRotationOverlap     = 7 * 24 * time.Hour
	// DefaultKeyOverlap is how long a partner's old API key keeps opening
	// after a rotation unless the caller says otherwise (0: it stops at
	// once); MaxKeyOverlap bounds it.
	DefaultKeyOverlap = 24 * time.Hour
	MaxKeyOverlap     = 7 * 24 * time.Hour
	// DefaultAuditRetention is how long audit entries are kept: six years,
	// as HIPAA asks of security records.
	DefaultAuditRetention = 6 * 365 * 24 * time.Hour
	// MaxResponseBody is how much of a receiver's answer an attempt keeps.
	MaxResponseBody = 1024
	// MaxResponseHeaderBytes bounds the headers of a receiver's answer: an
	// attempt whose answer has more fails, so a receiver cannot make
	// labhooks hold megabytes for it.
	MaxResponseHeaderBytes = 16 << 10
)

// Rate limits of what a caller could otherwise repeat in a loop: sending a
// data link's test, retrying a delivery and replaying a link take one token
// from the link's bucket and one from its partner's, whoever asks (the
// admin too). A bucket holds Burst tokens and refills at Rate a second.
const (
	ManualSendRatePerLink     = 1.0
	ManualSendBurstPerLink    = 10
	ManualSendRatePerPartner  = 5.0
	ManualSendBurstPerPartner = 30
	// SignInRate and SignInBurst bound the dashboard's sign-in attempts
	// per key prefix (SignInPrefix characters of the key entered).
	SignInRate   = 1.0 / 6
	SignInBurst  = 10
	SignInPrefix = 8
	// MaxRateLimitKeys bounds how many keys (links, partners, prefixes) one
	// process keeps a bucket for; idle ones are forgotten first.
	MaxRateLimitKeys = 100_000
)

// Retention and erasure defaults (README "Retention and erasure").
const (
	// DefaultRetention is how long an event's payload is kept once its
	// deliveries are final; DefaultHistory how long its rows are kept.
	DefaultRetention = 30 * 24 * time.Hour
	DefaultHistory   = 90 * 24 * time.Hour
	// DefaultPersonalDataRetention is the retention of the event types
	// that carry personal data, unless they set their own.
	DefaultPersonalDataRetention = 7 * 24 * time.Hour
	// MaxRetention bounds the retention an event type sets.
	MaxRetention = 100 * 365 * 24 * time.Hour
	// DefaultErasureDeadline is how long a partner has to confirm a
	// dataDeletionRequest before it is overdue.
	DefaultErasureDeadline = 30 * 24 * time.Hour
	// DefaultPurgeInterval is how often serve erases payloads, deletes
	// history and erases its copy of users' data after their deletion
	// requests.
	DefaultPurgeInterval = time.Minute
	// PurgeBatch bounds the events one purge transaction changes, and
	// after each, the purge pauses PurgeYield times as long as it took:
	// it takes at most a quarter of the database's time, so that
	// deliveries never wait long behind it (BENCHMARKS.md).
	PurgeBatch = 200
	PurgeYield = 3
)

// Listing page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ClampLimit returns a page size within 1 and MaxLimit, DefaultLimit for 0.
func ClampLimit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

// Notifications (README "Notifications and operational events").
const (
	// DefaultNotifyFailingAfter is how long a data link's attempts must
	// only have failed before its partner and the operator are told.
	DefaultNotifyFailingAfter = time.Hour
	// DefaultNotifyInterval is how often each process compares the data
	// links' states with the last ones notified, and sends what is due.
	DefaultNotifyInterval = 30 * time.Second
	// NotificationLease is how long a process holds a notification it is
	// sending before another may send it (after a crash).
	NotificationLease = 2 * time.Minute
	// NotificationMaxBackoff caps the wait between a notification's
	// attempts, and NotificationGiveUp is how long it is tried before it
	// is marked failed.
	NotificationMaxBackoff = time.Hour
	NotificationGiveUp     = 72 * time.Hour
	// DisabledNoticeWindow: a data link found disabled with no notice
	// sent about it is announced only if it was disabled this recently,
	// so that upgrading to a labhooks that notifies does not announce
	// links disabled long ago.
	DisabledNoticeWindow = 24 * time.Hour
)
