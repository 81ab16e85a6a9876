package labhooks

import (
	"context"
	"encoding/json"
	"time"
)

// The pull feed. A partner that takes no inbound HTTPS has a data link of
// kind DataLinkPull: emits give it deliveries as they give any link, stored
// pending and never due, so the engine never claims them; the partner reads
// them from GET /v1/feed and acknowledges them with POST /v1/feed/ack, which
// records an attempt and makes them succeeded. So the audience, the filters,
// retention (an event with a pending delivery is kept), erasure tracking and
// the deliveries' listings treat them as they treat pushed ones.

// FeedStore serves the pull feed.
type FeedStore interface {
	// Feed returns up to q.Limit of q.PartnerID's pending deliveries to its
	// enabled pull links whose ID sorts after q.After, by ID, each with its
	// event and its link's secrets; erased events are left out.
	Feed(ctx context.Context, q FeedQuery) ([]*FeedItem, error)
	// AckFeed marks p.PartnerID's pending pull deliveries p selects
	// succeeded at p.Now, each with an attempt that says it was pulled, and
	// returns the IDs it marked. IDs of other partners' deliveries, of push
	// deliveries or of ones acknowledged before are passed over.
	AckFeed(ctx context.Context, p FeedAck) ([]string, error)
	// FeedPosition returns where partnerID stands in its feed.
	FeedPosition(ctx context.Context, partnerID string) (*FeedPosition, error)
}

// FeedQuery selects a page of a partner's feed.
type FeedQuery struct {
	PartnerID string
	// After is a delivery ID: only deliveries after it are returned; empty
	// for the feed's start.
	After string
	Limit int
}

// FeedItem is one pending pull delivery with what it takes to sign it.
type FeedItem struct {
	DeliveryID, EventID, EventName, DataLinkID string
	CreatedAt                                  time.Time
	Data                                       json.RawMessage
	OccurredAt                                 time.Time
	Entity                                     string
	Sequence                                   int64
	// Link holds the pull link's secrets (Secret, PreviousSecret and its
	// expiry), which sign the item as they would sign a push.
	Link *DataLink
}

// Body returns the item's body: exactly what a push would POST.
func (it *FeedItem) Body() []byte {
	e := Event{EventName: it.EventName, Data: it.Data}
	return e.Body()
}

// FeedAck selects the deliveries a partner acknowledges: those in
// DeliveryIDs, or, when UpTo is set, every one up to and including UpTo.
type FeedAck struct {
	PartnerID   string
	DeliveryIDs []string
	UpTo        string
	Now         time.Time
}

// MaxFeedAck bounds the delivery IDs of one acknowledgement.
const MaxFeedAck = MaxLimit

// PulledResponse is the response excerpt of the attempt that records an
// acknowledged pull; its status is 200.
const PulledResponse = "pulled from the feed and acknowledged"

// FeedPosition is where a partner stands in its pull feed.
type FeedPosition struct {
	// Pending is how many deliveries wait in the feed.
	Pending int `json:"pending"`
	// LastAckAt is when the partner last acknowledged a delivery; nil if
	// never (or no acknowledged delivery is kept).
	LastAckAt *time.Time `json:"lastAckAt,omitempty"`
}
