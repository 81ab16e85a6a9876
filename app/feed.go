package app

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/signature"
)

// FeedItem is one event of a partner's pull feed: the body a push would
// POST, and the headers it would carry (webhook-id, webhook-timestamp,
// webhook-signature and the labhooks- headers), signed at the time of the
// read with the pull link's secrets, so the receiver kit verifies it as it
// verifies a push.
type FeedItem struct {
	DeliveryID string `json:"deliveryId"`
	EventID    string `json:"eventId"`
	EventName  string `json:"eventName"`
	DataLinkID string `json:"datalinkId"`
	// Headers maps lower-case header names to their values.
	Headers map[string]string `json:"headers"`
	// Body is the exact bytes signed, as a string.
	Body string `json:"body"`
}

// Feed is a page of a partner's feed. NextCursor, when set, is the cursor of the
// page after (the last item's delivery ID); empty when the page was the last.
type Feed struct {
	Data       []*FeedItem `json:"data"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

// ParseFeedCursor checks a feed cursor (after, or an acknowledgement's
// upTo): empty, or a delivery ID. EInvalid.
func ParseFeedCursor(field, cursor string) (string, error) {
	if cursor != "" && !id.Valid(id.Delivery, cursor) {
		return "", labhooks.FieldErrorf(labhooks.EInvalid, field, "%.80q is not a cursor: give the deliveryId of a feed item, or nothing for the feed's start", cursor)
	}
	return cursor, nil
}

// feedPartner returns the partner whose feed the caller reads: a partner
// key's own. The admin has no feed. EForbidden.
func feedPartner(c *Caller) (*labhooks.Partner, error) {
	if c.Admin || c.Partner == nil {
		return nil, labhooks.Errorf(labhooks.EForbidden, "the feed is read with a partner's API key: it holds that partner's events")
	}
	return c.Partner, nil
}

// Feed returns up to limit of the caller's pending pull deliveries after the
// cursor after, oldest first, signed now. What is returned stays in the
// feed until acknowledged (AckFeed): a reader that acknowledges what it
// stored and then reads from the start again misses nothing, even a
// delivery committed late by another process. Partner keys only.
// EForbidden, EInvalid.
func (s *Service) Feed(ctx context.Context, c *Caller, after string, limit int) (*Feed, error) {
	p, err := feedPartner(c)
	if err != nil {
		return nil, err
	}
	if after, err = ParseFeedCursor("after", after); err != nil {
		return nil, err
	}
	limit = labhooks.ClampLimit(limit)
	items, err := s.store.Feed(ctx, labhooks.FeedQuery{PartnerID: p.ID, After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &Feed{Data: make([]*FeedItem, 0, len(items))}
	for _, it := range items {
		fi, err := signFeedItem(it, now.Unix(), it.Link.Secrets(now))
		if err != nil {
			return nil, err
		}
		out.Data = append(out.Data, fi)
	}
	if len(items) == limit {
		out.NextCursor = items[len(items)-1].DeliveryID
	}
	return out, nil
}

// signFeedItem signs it at unix time ts with secrets, as a push would be.
func signFeedItem(it *labhooks.FeedItem, ts int64, secrets []string) (*FeedItem, error) {
	body := it.Body()
	sig, err := signature.Sign(secrets, it.DeliveryID, ts, body)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if err := delivery.SetMeta(h, secrets, it.DeliveryID, ts, delivery.EventMeta(it.EventID, it.OccurredAt, it.Entity, it.Sequence)); err != nil {
		return nil, err
	}
	headers := map[string]string{"webhook-id": it.DeliveryID, "webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": sig}
	for _, name := range []string{signature.HeaderEventID, signature.HeaderOccurredAt, signature.HeaderEntity, signature.HeaderSequence, signature.HeaderMetaSignature} {
		if v := h.Get(name); v != "" {
			headers[name] = v
		}
	}
	return &FeedItem{DeliveryID: it.DeliveryID, EventID: it.EventID, EventName: it.EventName, DataLinkID: it.DataLinkID,
		Headers: headers, Body: string(body)}, nil
}

// FeedAckInput is what a partner acknowledges: deliveries by ID, or every
// one up to a cursor (included), or both.
type FeedAckInput struct {
	DeliveryIDs []string `json:"deliveryIds"`
	UpTo        string   `json:"upTo"`
}

// FeedAcked is the answer to an acknowledgement: the deliveries it marked
// delivered (those acknowledged before, or not the caller's, are left out).
type FeedAcked struct {
	Acked []string `json:"acked"`
}

// AckFeed records that the caller stored the deliveries in: each becomes
// succeeded, with an attempt saying it was pulled, which counts as
// delivered for retention and erasure tracking. Repeating it is harmless.
// Partner keys only. EForbidden, EInvalid.
func (s *Service) AckFeed(ctx context.Context, c *Caller, in FeedAckInput) (*FeedAcked, error) {
	p, err := feedPartner(c)
	if err != nil {
		return nil, err
	}
	if len(in.DeliveryIDs) == 0 && in.UpTo == "" {
		return nil, labhooks.FieldErrorf(labhooks.EInvalid, "deliveryIds", "give the deliveryIds to acknowledge, or upTo")
	}
	if len(in.DeliveryIDs) > labhooks.MaxFeedAck {
		return nil, labhooks.FieldErrorf(labhooks.EInvalid, "deliveryIds", "at most %d in one acknowledgement", labhooks.MaxFeedAck)
	}
	for _, d := range in.DeliveryIDs {
		if !id.Valid(id.Delivery, d) {
			return nil, labhooks.FieldErrorf(labhooks.EInvalid, "deliveryIds", "%.80q is not a delivery ID", d)
		}
	}
	if _, err := ParseFeedCursor("upTo", in.UpTo); err != nil {
		return nil, err
	}
	acked, err := s.store.AckFeed(ctx, labhooks.FeedAck{PartnerID: p.ID, DeliveryIDs: in.DeliveryIDs, UpTo: in.UpTo, Now: s.now()})
	if err != nil {
		return nil, err
	}
	return &FeedAcked{Acked: acked}, nil
}

// FeedPosition returns where partner partnerID stands in its feed: how many
// deliveries wait, and when it last acknowledged. ENotFound.
func (s *Service) FeedPosition(ctx context.Context, c *Caller, partnerID string) (*labhooks.FeedPosition, error) {
	if _, err := s.Partner(ctx, c, partnerID); err != nil {
		return nil, err
	}
	return s.store.FeedPosition(ctx, partnerID)
}
