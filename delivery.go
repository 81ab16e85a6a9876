package labhooks

import (
	"cmp"
	"slices"
	"time"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Valid reports whether s is a known status.
func (s DeliveryStatus) Valid() bool {
	return s == DeliveryPending || s == DeliverySucceeded || s == DeliveryFailed
}

// Delivery is one event to one data link. Its ID is the webhook-id receivers
// see, the same on every attempt.
type Delivery struct {
	ID            string         `json:"id"`
	EventID       string         `json:"eventId"`
	EventName     string         `json:"eventName"`
	PartnerID     string         `json:"partnerId"`
	DataLinkID    string         `json:"datalinkId"`
	Status        DeliveryStatus `json:"status"`
	AttemptCount  int            `json:"attemptCount"`
	NextAttemptAt *time.Time     `json:"nextAttemptAt,omitempty"`
	// BlockedBehind is, for a pending delivery of an ordered data link that
	// waits its turn (it has no NextAttemptAt), the ID of the delivery being
	// sent before it: the link's head.
	BlockedBehind  string    `json:"blockedBehind,omitempty"`
	LastStatusCode int       `json:"lastStatusCode,omitempty"`
	LastError      string    `json:"lastError,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	// Attempts is filled only when a single delivery is read (then it is
	// never nil, so the JSON shows [] for none); listings leave it out.
	Attempts []*Attempt `json:"attempts,omitzero"`
	// Ordered is set, on a delivery Event.Deliver made, when its data link
	// was ordered as the audience was read: the store then checks, under
	// the link's lock, whether it waits behind the link's head. Not stored.
	Ordered bool `json:"-"`
}

// Attempt is one HTTP POST of a delivery.
type Attempt struct {
	DeliveryID string    `json:"deliveryId"`
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"startedAt"`
	StatusCode int       `json:"statusCode,omitempty"`
	DurationMs int64     `json:"durationMs"`
	Error      string    `json:"error,omitempty"`
	// ResponseBody is the first KiB of what the receiver answered.
	ResponseBody string `json:"responseBody"`
}

// DeliveryFilter selects deliveries for a listing, newest first.
type DeliveryFilter struct {
	PartnerID  *string
	DataLinkID *string
	EventID    *string
	// EventName selects deliveries of one event type.
	EventName *string
	Status    *DeliveryStatus
	// Before is a cursor: only deliveries with a smaller ID are listed.
	Before *string
	Limit  int
}

// Job is a claimed delivery with all a worker needs to attempt it.
type Job struct {
	DeliveryID string
	EventID    string
	EventName  string
	DataLinkID string
	// PartnerID is the partner the delivery is for, whose share of the
	// engine's slots it takes.
	PartnerID string
	URL       string
	Secrets   []string
	// Redact is every secret the data link holds, current and previous,
	// signing or not: none may be stored from a receiver's answer.
	Redact []string
	Body   []byte
	// Try is the number of the attempt about to be made within the current
	// retry schedule (1-based); a manual retry starts the schedule afresh.
	Try int
	// LeaseToken identifies this claim; the result is recorded against it.
	LeaseToken string
	// CreatedAt is when the delivery was created, for latency figures.
	CreatedAt time.Time
	// Traceparent is the event's (Event.Traceparent), for tracing.
	Traceparent string
	// OccurredAt, Entity and Sequence are the event's, sent in the
	// labhooks- headers.
	OccurredAt time.Time
	Entity     string
	Sequence   int64
}

// ClaimedRow is what a store reads of each delivery it claims.
type ClaimedRow struct {
	DeliveryID, EventID, EventName, DataLinkID, PartnerID string
	// AttemptCount is every attempt the delivery has had; ScheduleBase is
	// how many of them came before its current retry schedule began (a
	// retry by hand or a replay starts a fresh one: see Queue.Requeue).
	AttemptCount, ScheduleBase int
	CreatedAt                  time.Time
	Data                       []byte
	// Link is the delivery's data link (URL, secrets, Enabled); nil when it
	// was deleted.
	Link *DataLink
	// Traceparent is the delivery's event's Traceparent.
	Traceparent string
	// OccurredAt, Entity and Sequence are the delivery's event's.
	OccurredAt time.Time
	Entity     string
	Sequence   int64
}

// Job returns the job of a claimed delivery at now under leaseToken, or,
// when its data link is gone or disabled, nil and why the delivery fails
// instead of being sent.
func (r *ClaimedRow) Job(now time.Time, leaseToken string) (*Job, string) {
	switch {
	case r.Link == nil:
		return nil, "the data link was deleted"
	case !r.Link.Enabled:
		return nil, "the data link is disabled"
	}
	e := Event{EventName: r.EventName, Data: r.Data}
	return &Job{
		DeliveryID: r.DeliveryID, EventID: r.EventID, EventName: r.EventName, DataLinkID: r.DataLinkID,
		PartnerID: r.PartnerID, URL: r.Link.URL, Redact: r.Link.AllSecrets(), Secrets: r.Link.Secrets(now), Body: e.Body(),
		Try: r.AttemptCount - r.ScheduleBase + 1, LeaseToken: leaseToken, CreatedAt: r.CreatedAt, Traceparent: r.Traceparent,
		OccurredAt: r.OccurredAt, Entity: r.Entity, Sequence: r.Sequence,
	}, ""
}

// ClaimParams bounds one claim of due deliveries.
type ClaimParams struct {
	// Owner names the claiming process; results are recorded only while it
	// still holds the lease.
	Owner string
	Now   time.Time
	// Lease is how long the claim lasts; a delivery whose lease expires (its
	// worker died) is claimed again.
	Lease time.Duration
	Limit int
	// PerDataLink caps how many deliveries of one data link may be in flight
	// in the claiming process, counting InFlight, so a backlog or a slow
	// receiver on one link cannot crowd out the others. 0: no cap.
	PerDataLink int
	// DataLinkCaps lowers PerDataLink for some data links (those whose
	// receivers stopped answering): at most that many in flight. A cap of 0
	// or above PerDataLink is ignored.
	DataLinkCaps map[string]int
	// InFlight is how many deliveries of each data link the claiming process
	// already has in flight.
	InFlight map[string]int
	// ExcludeDataLinks are links that already have enough in flight.
	ExcludeDataLinks []string
	// PerPartner caps how many deliveries of one partner (over all its data
	// links) may be in flight in the claiming process, counting
	// PartnerInFlight. 0: no cap.
	PerPartner int
	// PartnerInFlight is how many deliveries of each partner the claiming
	// process already has in flight.
	PartnerInFlight map[string]int
	// ExcludePartners are partners that already have enough in flight.
	ExcludePartners []string
}

// LinkCap is how many deliveries of data link link a claim under p may
// have in flight in all: PerDataLink, lowered by DataLinkCaps; 0 for no cap.
func (p *ClaimParams) LinkCap(link string) int {
	if c, ok := p.DataLinkCaps[link]; ok && c > 0 && (p.PerDataLink <= 0 || c < p.PerDataLink) {
		return c
	}
	return p.PerDataLink
}

// AttemptResult is the outcome of one attempt and what follows from it.
type AttemptResult struct {
	// LeaseToken is the Job's: the delivery's state changes only while the
	// claim that made the attempt still holds it.
	LeaseToken string
	// DataLinkID is the Job's data link: an attempt's outcome starts, extends
	// or ends the link's run of failures (DataLink.FailingSince).
	DataLinkID string
	Attempt    Attempt
	// Status is the delivery's new status: pending (with NextAttemptAt),
	// succeeded or failed.
	Status        DeliveryStatus
	NextAttemptAt *time.Time
}

// FailingRun is what a batch of attempt results says about one data link's
// run of failed attempts.
type FailingRun struct {
	DataLinkID string
	// Since is when the failures that end the batch began: nil when the
	// link's latest attempt in the batch succeeded.
	Since *time.Time
	// Fresh says the batch holds a success before Since, so the link's run
	// starts at Since; otherwise the failures may continue a run already
	// under way, whose start a store keeps.
	Fresh bool
}

// FailingRuns sums up rs per data link, by link ID so that stores touch
// links in one order; results without a DataLinkID are left out.
func FailingRuns(rs []AttemptResult) []FailingRun {
	byLink := map[string][]*AttemptResult{}
	for i := range rs {
		if r := &rs[i]; r.DataLinkID != "" {
			byLink[r.DataLinkID] = append(byLink[r.DataLinkID], r)
		}
	}
	out := make([]FailingRun, 0, len(byLink))
	for link, results := range byLink {
		// Results arrive as attempts finish; the run follows their starts.
		slices.SortStableFunc(results, func(a, b *AttemptResult) int { return a.Attempt.StartedAt.Compare(b.Attempt.StartedAt) })
		run := FailingRun{DataLinkID: link}
		for _, r := range results {
			switch {
			case r.Status == DeliverySucceeded:
				run.Since, run.Fresh = nil, true
			case run.Since == nil:
				start := r.Attempt.StartedAt
				run.Since = &start
			}
		}
		out = append(out, run)
	}
	slices.SortFunc(out, func(a, b FailingRun) int { return cmp.Compare(a.DataLinkID, b.DataLinkID) })
	return out
}

// RequeueParams selects deliveries to send again, each with a fresh retry
// schedule: the one delivery DeliveryID, whatever its status, or the failed
// deliveries of DataLinkID created in [Since, Until).
type RequeueParams struct {
	DeliveryID string
	DataLinkID string
	Since      time.Time
	// Until is exclusive; the zero time means no upper bound.
	Until time.Time
	// Now is when they become due.
	Now time.Time
	// OnCount, if set, is told how many deliveries are requeued, inside the
	// transaction and before it commits (for the audit entry that records
	// the requeue). It may be called again if the transaction is retried.
	OnCount func(n int)
}
