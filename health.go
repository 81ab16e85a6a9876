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
