package labhooks

import "time"

// Health is the state of the delivery queue and what happened in a recent
// window, for the operator's health view.
type Health struct {
	// QueueDepth is how many deliveries are pending (due now or waiting for
	// a retry).
	QueueDepth int
	// OldestPending is when the oldest pending delivery was created; nil
	// when none is pending.
	OldestPending *time.Time
	// Created is how many deliveries were created in the window.
	Created int
	// Attempts is how many attempts started in the window.
	Attempts int
	// FailedAttempts is how many of those got no 2xx answer.
	FailedAttempts int
	// FailingDataLinks are the data links whose latest attempt in the window
	// failed, most failed attempts first, at most MaxFailingDataLinks.
	FailingDataLinks []DataLinkFailures
}

// MaxFailingDataLinks bounds Health.FailingDataLinks.
const MaxFailingDataLinks = 100

// DataLinkFailures sums up a data link's failed attempts in a window.
type DataLinkFailures struct {
	// DataLinkID and PartnerID name the link and its partner.
	DataLinkID string
	PartnerID  string
	// FailedAttempts is how many of the link's attempts in the window failed.
	FailedAttempts int
	// LastAttemptAt, LastStatusCode and LastError describe the latest attempt.
	LastAttemptAt  time.Time
	LastStatusCode int
	LastError      string
}

// IDSkew is how far a delivery's ID, made from the clock of the process
// that stores it, may run behind its CreatedAt (CreateEventParams.Now). The
// health view counts a window's deliveries by ID range, as IDs sort by
// creation time, widened by IDSkew and then checked against CreatedAt.
const IDSkew = time.Minute

// SeriesQuery asks for the deliveries, attempts and queue depth of a recent
// span of time, in equal buckets, for the health charts.
type SeriesQuery struct {
	// Since is the first bucket's start; bucket i covers
	// [Since+i·Step, Since+(i+1)·Step).
	Since time.Time
	// Step is each bucket's width, at least a millisecond.
	Step time.Duration
	// Buckets is how many buckets, 1 to MaxSeriesBuckets. The last one
	// should end now: each bucket's QueueDepth is counted back from the
	// queue as it is.
	Buckets int
	// DataLinkID narrows every figure to one data link; empty: all.
	DataLinkID string
}

// MaxSeriesBuckets bounds SeriesQuery.Buckets.
const MaxSeriesBuckets = 1440

// HealthBucket is what happened in one bucket of a SeriesQuery.
type HealthBucket struct {
	Start time.Time
	// Created is how many deliveries were created in the bucket.
	Created int
	// Attempts is how many attempts started in it, FailedAttempts how many
	// of those got no 2xx answer.
	Attempts, FailedAttempts int
	// QueueDepth is how many deliveries were pending at the bucket's end,
	// counted back from those pending now: less those created since, plus
	// those whose final attempt came since. A delivery retried by hand
	// after it ended is counted from its manual retry only.
	QueueDepth int
}

// CheckSeriesQuery reports what is wrong with q.
func CheckSeriesQuery(q SeriesQuery) error {
	switch {
	case q.Step < time.Millisecond:
		return FieldErrorf(EInvalid, "step", "at least 1ms")
	case q.Buckets < 1 || q.Buckets > MaxSeriesBuckets:
		return FieldErrorf(EInvalid, "buckets", "between 1 and %d", MaxSeriesBuckets)
	}
	return nil
}
