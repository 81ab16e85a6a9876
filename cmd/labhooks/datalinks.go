package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

// dataLinkOut is a data link as the API answers it.
type dataLinkOut struct {
	labhooks.DataLink
	SecretHint string `json:"secretHint,omitempty"`
	Secret     string `json:"secret,omitempty"`
	Mode       string `json:"mode,omitempty"`
}

// modeOf says how d delivers: concurrently, or in order with, for an
// ordered link read on its own, its head and how many wait behind it.
func modeOf(d *dataLinkOut) string {
	if !d.Ordered {
		return labhooks.ModeConcurrent
	}
	if d.Queue == nil || d.Queue.Head == "" {
		return labhooks.ModeOrdered + " (one at a time, in event order)"
	}
	return fmt.Sprintf("%s (one at a time, in event order): sending %s, %d waiting", labhooks.ModeOrdered, d.Queue.Head, d.Queue.Waiting)
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func printDataLink(w io.Writer, d *dataLinkOut) error {
	state := "enabled"
	if !d.Enabled {
		state = "disabled"
		if d.DisabledReason != "" {
			state += ": " + d.DisabledReason
		}
	}
	url := d.URL
	if d.Kind == labhooks.DataLinkPull {
		url = "- (pull: the partner reads GET /v1/feed, e.g. labhooks receive --pull)"
	}
	pairs := []string{"ID", d.ID, "PARTNER", d.PartnerID, "KIND", string(d.KindOrPush()), "URL", url, "EVENTS", eventsOf(d.EventNames), "STATE", state, "MODE", modeOf(d)}
	if d.Secret != "" {
		pairs = append(pairs, "SECRET", d.Secret+"   (shown only now: give it to your receiver)")
	} else {
		pairs = append(pairs, "SECRET", orDash(d.SecretHint))
	}
	if d.PreviousSecretExpiresAt != nil {
		pairs = append(pairs, "OLD SECRET", "still signs until "+whenPtr(d.PreviousSecretExpiresAt))
	}
	if d.FailingSince != nil {
		pairs = append(pairs, "FAILING SINCE", whenPtr(d.FailingSince))
	}
	pairs = append(pairs, "DESCRIPTION", orDash(d.Description), "CREATED", when(d.CreatedAt), "UPDATED", when(d.UpdatedAt))
	return fields(w, pairs...)
}

func eventsOf(names []string) string {
	if len(names) == 0 {
		return "all the partner's role receives"
	}
	return strings.Join(names, ",")
}

func runDataLinks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runResource("datalinks", "Manage data links: where a partner's events are delivered.", map[string]subcommand{
		"list": {"list [--partner PARTNER_ID]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			partner := fs.String("partner", "", "the partner whose data links to list (a partner key needs none)")
			if err := noArgs(fs, args); err != nil {
				return err
			}
			cl, err := c.client(ctx)
			if err != nil {
				return err
			}
			if *partner, err = partnerOf(ctx, c, cl, *partner); err != nil {
				return err
			}
			var out struct {
				Data []dataLinkOut `json:"data"`
			}
			if err := cl.Do(ctx, "GET", httpapi.Path("/v1/partners/%s/datalinks", *partner), nil, &out, nil); err != nil {
				return err
			}
			if c.json {
				return printJSON(stdout, out)
			}
			rows := make([][]string, len(out.Data))
			for i, d := range out.Data {
				state := "enabled"
				if !d.Enabled {
					state = "disabled"
				}
				mode := labhooks.ModeConcurrent
				if d.Ordered {
					mode = labhooks.ModeOrdered
				}
				rows[i] = []string{d.ID, string(d.KindOrPush()), orDash(d.URL), orDash(d.SecretHint), orDash(strings.Join(d.EventNames, ",")), state, mode}
			}
			return listing(stdout, "no data links", "ID\tKIND\tURL\tSECRET\tEVENTS\tSTATE\tMODE", rows)
		}},
		"create": {"create [--partner PARTNER_ID] (--url URL | --pull) [--secret SECRET] [--events NAME,NAME] [--description TEXT] [--ordered] [-q]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			partner := fs.String("partner", "", "the partner the data link belongs to (a partner key needs none)")
			url := fs.String("url", "", "the data link's URL: where the partner's receiver takes events")
			pull := fs.Bool("pull", false, "a pull link: no URL; the partner reads its events from GET /v1/feed (labhooks receive --pull)")
			kind := fs.String("kind", "", "push (the default, with --url) or pull (the same as --pull)")
			secret := fs.String("secret", "", "the secret sent as x-api-key and signing key; generated when empty")
			events := fs.String("events", "", "comma-separated event names to receive; empty: all the partner's role receives")
			desc := fs.String("description", "", "a note for people")
			ordered := fs.Bool("ordered", false, "deliver one at a time, in event order: a failing delivery holds back those behind it")
			quiet := fs.Bool("q", false, "print only the new data link's ID")
			if err := noArgs(fs, args); err != nil {
				return err
			}
			if *pull {
				if *kind != "" && *kind != string(labhooks.DataLinkPull) {
					return usageError{fmt.Errorf("--pull and --kind %s contradict each other", *kind)}
				}
				*kind = string(labhooks.DataLinkPull)
			}
			switch {
			case *kind != "" && !labhooks.DataLinkKind(*kind).Valid():
				return usageError{fmt.Errorf("--kind %q: a data link is push or pull", *kind)}
			case *kind == string(labhooks.DataLinkPull) && *url != "":
				return usageError{fmt.Errorf("a pull link has no --url: its partner reads GET /v1/feed")}
			case *kind != string(labhooks.DataLinkPull) && *url == "":
				return usageError{fmt.Errorf("--url URL is required: where the partner's receiver takes events (or --pull, for a partner that reads the feed)")}
			}
			cl, err := c.client(ctx)
			if err != nil {
				return err
			}
			if *partner, err = partnerOf(ctx, c, cl, *partner); err != nil {
				return err
			}
			in := map[string]any{"eventNames": splitList(*events), "description": *desc, "ordered": *ordered}
			if *url != "" {
				in["url"] = *url
			}
			if *kind != "" {
				in["kind"] = *kind
			}
			if *secret != "" {
				in["secret"] = *secret
			}
			var out dataLinkOut
			if err := cl.Do(ctx, "POST", httpapi.Path("/v1/partners/%s/datalinks", *partner), in, &out, nil); err != nil {
				return err
			}
			switch {
			case c.json:
				return printJSON(stdout, out)
			case *quiet:
				_, err := fmt.Fprintln(stdout, out.ID)
				return err
			}
			return printDataLink(stdout, &out)
		}},
		"show": {"show DATALINK_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			id, err := oneArg(fs, args, "DATALINK_ID")
			if err != nil {
				return err
			}
			return callAndShow(ctx, c, "GET", httpapi.Path("/v1/datalinks/%s", id), nil, stdout, printDataLink)
		}},
		"update": {"update DATALINK_ID [--url URL] [--events NAME,NAME|all] [--description TEXT] [--enable|--disable] [--ordered|--ordered=false]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			url := fs.String("url", "", "the data link's new URL")
			events := fs.String("events", "", "new comma-separated event filter; \"all\" clears it")
			desc := fs.String("description", "", "new description")
			enable := fs.Bool("enable", false, "enable the data link")
			disable := fs.Bool("disable", false, "disable the data link")
			ordered := fs.Bool("ordered", false, "deliver one at a time, in event order (--ordered=false: concurrently again, releasing all that wait)")
			id, err := oneArg(fs, args, "DATALINK_ID")
			if err != nil {
				return err
			}
			in := map[string]any{}
			if *url != "" {
				in["url"] = *url
			}
			if *events == "all" {
				in["eventNames"] = []string{}
			} else if *events != "" {
				in["eventNames"] = splitList(*events)
			}
			if *desc != "" {
				in["description"] = *desc
			}
			if *enable && *disable {
				return usageError{fmt.Errorf("--enable or --disable, not both")}
			}
			if *enable || *disable {
				in["enabled"] = *enable
			}
			fs.Visit(func(f *flag.Flag) {
				if f.Name == "ordered" {
					in["ordered"] = *ordered
				}
			})
			return callAndShow(ctx, c, "PATCH", httpapi.Path("/v1/datalinks/%s", id), in, stdout, printDataLink)
		}},
		"delete": {"delete DATALINK_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			return deleteOne(ctx, c, fs, args, "/v1/datalinks/%s", "DATALINK_ID", stdout)
		}},
		"test": {"test DATALINK_ID [--event EVENT_NAME]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			event := fs.String("event", "", "the event to send (its catalog example); default: the first the link receives")
			id, err := oneArg(fs, args, "DATALINK_ID")
			if err != nil {
				return err
			}
			cl, err := c.client(ctx)
			if err != nil {
				return err
			}
			var out struct {
				OK           bool   `json:"ok"`
				StatusCode   int    `json:"statusCode"`
				DurationMs   int64  `json:"durationMs"`
				ResponseBody string `json:"responseBody"`
				Diagnosis    string `json:"diagnosis"`
				EventName    string `json:"eventName"`
				WebhookID    string `json:"webhookId,omitempty"`
			}
			in := map[string]string{}
			if *event != "" {
				in["eventName"] = *event
			}
			if err := cl.Do(ctx, "POST", httpapi.Path("/v1/datalinks/%s/test", id), in, &out, nil); err != nil {
				return err
			}
			if c.json {
				return printJSON(stdout, out)
			}
			verdict := "FAILED"
			if out.OK {
				verdict = "OK"
			}
			fmt.Fprintf(stdout, "%s  %s  status %d  %d ms\n%s\n", verdict, out.EventName, out.StatusCode, out.DurationMs, out.Diagnosis)
			if out.WebhookID != "" {
				fmt.Fprintf(stdout, "webhook-id: %s (a test send: it is in no delivery list)\n", out.WebhookID)
			}
			if out.ResponseBody != "" {
				fmt.Fprintf(stdout, "response: %s\n", out.ResponseBody)
			}
			if !out.OK {
				return errSilentFailure
			}
			return nil
		}},
		"rotate-secret": {"rotate-secret DATALINK_ID [--secret SECRET] [--overlap 24h]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			secret := fs.String("secret", "", "the new secret; generated when empty")
			overlap := fs.Duration("overlap", 24*time.Hour, "how long the old secret keeps signing too")
			id, err := oneArg(fs, args, "DATALINK_ID")
			if err != nil {
				return err
			}
			in := map[string]any{"overlapSeconds": int64(overlap.Seconds())}
			if *secret != "" {
				in["secret"] = *secret
			}
			return callAndShow(ctx, c, "POST", httpapi.Path("/v1/datalinks/%s/rotate-secret", id), in, stdout, printDataLink)
		}},
		"replay": {"replay DATALINK_ID --since TIME [--until TIME]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			since := fs.String("since", "", "RFC 3339 time, such as 2026-01-02T15:04:05Z, or a duration ago, such as 2h")
			until := fs.String("until", "", "RFC 3339 time or duration ago; default now")
			id, err := oneArg(fs, args, "DATALINK_ID")
			if err != nil {
				return err
			}
			in := map[string]any{}
			now := time.Now() // one now for both, so "--since 1h --until 1h" is one moment
			for name, v := range map[string]string{"since": *since, "until": *until} {
				if v == "" {
					continue
				}
				t, err := timeOrAgo(v, now)
				if err != nil {
					return usageError{fmt.Errorf("--%s: %w", name, err)}
				}
				in[name] = t
			}
			return callAndShow(ctx, c, "POST", httpapi.Path("/v1/datalinks/%s/replay", id), in, stdout, func(w io.Writer, out *struct {
				Requeued int `json:"requeued"`
			}) error {
				_, err := fmt.Fprintf(w, "%s of %s queued to be sent again\n", plural(out.Requeued, "failed delivery", "failed deliveries"), id)
				return err
			})
		}},
	}, args, stdout, stderr)
}

// timeOrAgo reads an RFC 3339 time or a duration before now.
func timeOrAgo(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", v)
	}
	return t, nil
}
