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

func lastAnswer(code int, errText string) string {
	switch {
	case code != 0:
		return strconv.Itoa(code)
	case errText != "":
		return errText
	}
	return "-"
}

// printDelivery prints a delivery and, when read alone, its attempts.
func printDelivery(w io.Writer, d *labhooks.Delivery) error {
	if err := fields(w, "ID", d.ID, "EVENT", d.EventName+"  ("+d.EventID+")", "PARTNER", d.PartnerID, "DATALINK", d.DataLinkID,
		"STATUS", statusOf(d), "ATTEMPTS", strconv.Itoa(d.AttemptCount), "NEXT ATTEMPT", whenPtr(d.NextAttemptAt),
		"LAST ANSWER", lastAnswer(d.LastStatusCode, d.LastError), "CREATED", when(d.CreatedAt), "UPDATED", when(d.UpdatedAt)); err != nil {
		return err
	}
	if d.Attempts == nil {
		return nil
	}
	fmt.Fprintln(w)
	rows := make([][]string, len(d.Attempts))
	for i, a := range d.Attempts {
		rows[i] = []string{strconv.Itoa(a.Number), when(a.StartedAt), lastAnswer(a.StatusCode, a.Error), fmt.Sprintf("%d ms", a.DurationMs), orDash(oneLine(a.ResponseBody, 60))}
	}
	return listing(w, "no attempts yet", "ATTEMPT\tSTARTED\tANSWER\tDURATION\tRESPONSE", rows)
}

// oneLine shortens s to one line of at most n characters.
func oneLine(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\r' || c == '\t' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}

func runDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runResource("deliveries", "Watch deliveries and their attempts; retry them.", map[string]subcommand{
		"list": {"list [--partner PARTNER_ID] [--datalink DATALINK_ID] [--event EVENT_NAME] [--event-id EVENT_ID] [--status pending|succeeded|failed] [--limit N] [--cursor CURSOR] [-q]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			q := url.Values{}
			params := map[string]*string{
				"partnerId":  fs.String("partner", "", "only this partner's (a partner key sees only its own)"),
				"datalinkId": fs.String("datalink", "", "only this data link's"),
				"eventName":  fs.String("event", "", "only deliveries of this event type, such as sampleReceived"),
				"eventId":    fs.String("event-id", "", "only this event's (evt_…)"),
				"status":     fs.String("status", "", "pending, succeeded or failed"),
				"cursor":     fs.String("cursor", "", "the next page's cursor, printed under a full page"),
			}
			limit := fs.Int("limit", 50, "how many, at most 500")
			quiet := fs.Bool("q", false, "print only the deliveries' IDs, one a line, newest first")
			if err := noArgs(fs, args); err != nil {
				return err
			}
			for k, v := range params {
				if *v != "" {
					q.Set(k, *v)
				}
			}
			q.Set("limit", strconv.Itoa(*limit))
			cl, err := c.client(ctx)
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
			switch {
			case c.json:
				return printJSON(stdout, out)
			case *quiet:
				for _, d := range out.Data {
					fmt.Fprintln(stdout, d.ID)
				}
				return nil
			}
			rows := make([][]string, len(out.Data))
			for i, d := range out.Data {
				rows[i] = []string{d.ID, d.EventName, statusOf(d), strconv.Itoa(d.AttemptCount), lastAnswer(d.LastStatusCode, d.LastError), d.DataLinkID, when(d.CreatedAt)}
			}
			if err := listing(stdout, "no deliveries", "ID\tEVENT\tSTATUS\tATTEMPTS\tLAST ANSWER\tDATALINK\tCREATED", rows); err != nil {
				return err
			}
			if out.NextCursor != "" {
				fmt.Fprintf(stdout, "more: --cursor %s\n", out.NextCursor)
			}
			return nil
		}},
		"show": {"show DELIVERY_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			id, err := oneArg(fs, args, "DELIVERY_ID")
			if err != nil {
				return err
			}
			return callAndShow(ctx, c, "GET", httpapi.Path("/v1/deliveries/%s", id), nil, stdout, printDelivery)
		}},
		"retry": {"retry DELIVERY_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			id, err := oneArg(fs, args, "DELIVERY_ID")
			if err != nil {
				return err
			}
			return callAndShow(ctx, c, "POST", httpapi.Path("/v1/deliveries/%s/retry", id), nil, stdout, func(w io.Writer, d *labhooks.Delivery) error {
				fmt.Fprintf(w, "retry of %s queued: it is sent again now\n\n", d.ID)
				return printDelivery(w, d)
			})
		}},
	}, args, stdout, stderr)
}

// statusOf is a delivery's status, saying what a blocked one waits for.
func statusOf(d *labhooks.Delivery) string {
	if d.BlockedBehind != "" {
		return string(d.Status) + " (blocked behind " + d.BlockedBehind + ")"
	}
	return string(d.Status)
}
