package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

// errSilentFailure makes the command exit 1 after it has already printed why.
var errSilentFailure = errors.New("")

func runDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runResource("deliveries", "Watch deliveries and their attempts; retry them.", map[string]subcommand{
		"list": {"list [--partner ID] [--datalink ID] [--event ID] [--status pending|succeeded|failed] [--limit N] [--cursor C]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			q := url.Values{}
			params := map[string]*string{
				"partnerId":  fs.String("partner", "", "only this partner's"),
				"datalinkId": fs.String("datalink", "", "only this data link's"),
				"eventId":    fs.String("event", "", "only this event's"),
				"status":     fs.String("status", "", "pending, succeeded or failed"),
				"cursor":     fs.String("cursor", "", "the next page's cursor, printed under a full page"),
			}
			limit := fs.Int("limit", 50, "how many, at most 500")
			if _, err := parseInterspersed(fs, args); err != nil {
				return err
			}
			for k, v := range params {
				if *v != "" {
					q.Set(k, *v)
				}
			}
			q.Set("limit", strconv.Itoa(*limit))
			cl, err := c.client()
			if err != nil {
				return err
			}
			var out struct {
				Data       []*labhooks.Delivery `json:"data"`
				NextCursor string               `json:"nextCursor,omitempty"`
			}
			if err := cl.Do(ctx, "GET", "/v1/deliveries?"+q.Encode(), nil, &out, nil); err != nil {
				return err
			}
			if c.json {
				return printJSON(stdout, out)
			}
			rows := make([][]string, len(out.Data))
			for i, d := range out.Data {
				code := "-"
				if d.LastStatusCode != 0 {
					code = strconv.Itoa(d.LastStatusCode)
				}
				rows[i] = []string{d.ID, d.EventName, string(d.Status), strconv.Itoa(d.AttemptCount), code, orDash(d.LastError), d.DataLinkID, when(d.CreatedAt)}
			}
			if err := table(stdout, "ID\tEVENT\tSTATUS\tATTEMPTS\tLAST\tERROR\tDATALINK\tCREATED", rows); err != nil {
				return err
			}
			if out.NextCursor != "" {
				fmt.Fprintf(stdout, "more: --cursor %s\n", out.NextCursor)
			}
			return nil
		}},
		"show": {"show DELIVERY_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			return showOne(ctx, c, fs, args, "/v1/deliveries/%s", stdout)
		}},
		"retry": {"retry DELIVERY_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			pos, err := parseInterspersed(fs, args)
			if err != nil {
				return err
			}
			if err := needArgs(pos, 1, "one DELIVERY_ID"); err != nil {
				return err
			}
			return callAndPrint(ctx, c, "POST", httpapi.Path("/v1/deliveries/%s/retry", pos[0]), nil, stdout)
		}},
	}, args, stdout, stderr)
}
