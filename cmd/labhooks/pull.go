package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/receiver"
)

// feedPage is a page of GET /v1/feed.
type feedPage struct {
	Data []struct {
		DeliveryID string            `json:"deliveryId"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	} `json:"data"`
	NextCursor string `json:"nextCursor"`
}

// feedPageSize is how many feed items one read asks for.
const feedPageSize = 100

// pullFeed reads the partner's feed until ctx ends: each round reads it from
// its start, page by page, takes each item as a push (h.ReceivePulled) and
// acknowledges the page's items it stored or found stored. An item refused
// (a bad signature, a body that is no event) is logged and left in the feed,
// unacknowledged, for someone to look at; a failure to store ends the round
// early, to be tried again. The round starts from the feed's start because
// labhooks keeps what is not acknowledged: a delivery committed late is
// never skipped.
func pullFeed(ctx context.Context, cl *httpapi.Client, h *receiver.Handler, poll time.Duration, log *slog.Logger) error {
	for {
		took, err := pullRound(ctx, cl, h, log)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Error("reading labhooks' feed", "err", err)
		}
		if took > 0 && err == nil {
			continue // more may have come meanwhile
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

// pullRound reads the feed once through and returns how many items it
// acknowledged.
func pullRound(ctx context.Context, cl *httpapi.Client, h *receiver.Handler, log *slog.Logger) (int, error) {
	acked, after := 0, ""
	for {
		path := "/v1/feed?limit=" + strconv.Itoa(feedPageSize)
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page feedPage
		if err := cl.Do(ctx, "GET", path, nil, &page, nil); err != nil {
			return acked, err
		}
		var ids []string
		var stop error
		for _, it := range page.Data {
			header := http.Header{}
			for k, v := range it.Headers {
				header.Set(k, v)
			}
			e, status, err := h.ReceivePulled(ctx, header, []byte(it.Body))
			var he *receiver.HTTPError
			if errors.As(err, &he) && he.Status < 500 {
				log.Error("refused an event of the feed; it stays there, unacknowledged", "deliveryId", it.DeliveryID, "code", he.Code, "err", err)
				continue
			}
			if err != nil {
				stop = err
				break
			}
			log.Info("pulled", "webhookId", e.ID, "eventName", e.Name, "status", status)
			ids = append(ids, it.DeliveryID)
		}
		if len(ids) > 0 {
			var out struct {
				Acked []string `json:"acked"`
			}
			if err := cl.Do(ctx, "POST", "/v1/feed/ack", map[string]any{"deliveryIds": ids}, &out, nil); err != nil {
				return acked, err
			}
			acked += len(ids)
		}
		if stop != nil {
			return acked, stop
		}
		if page.NextCursor == "" {
			return acked, nil
		}
		after = page.NextCursor
	}
}
