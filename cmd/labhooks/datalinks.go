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
	SecretHint string `json:"secretHint"`
	Secret     string `json:"secret"`
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

func runDataLinks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runResource("datalinks", "Manage data links: where a partner's events are delivered.", map[string]subcommand{
		"list": {"list --partner PARTNER_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			partner := fs.String("partner", "", "the partner whose data links to list")
			if _, err := parseInterspersed(fs, args); err != nil {
				return err
			}
			if *partner == "" {
				return usageError{fmt.Errorf("--partner is required")}
			}
			cl, err := c.client()
			if err != nil {
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
					state = "disabled " + d.DisabledReason
				}
				rows[i] = []string{d.ID, d.URL, d.SecretHint, orDash(strings.Join(d.EventNames, ",")), state}
			}
			return table(stdout, "ID\tURL\tSECRET\tEVENTS\tSTATE", rows)
		}},
		"create": {"create --partner PARTNER_ID --webhook-url URL [--secret S] [--events a,b] [--description D]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			partner := fs.String("partner", "", "the partner the data link belongs to")
			url := fs.String("webhook-url", "", "the URL of the partner's webhook receiver")
			secret := fs.String("secret", "", "the secret sent as x-api-key and signing key; generated when empty")
			events := fs.String("events", "", "comma-separated event names to receive; empty: all the partner's role receives")
			desc := fs.String("description", "", "a note for people")
			if _, err := parseInterspersed(fs, args); err != nil {
				return err
			}
			if *partner == "" {
				return usageError{fmt.Errorf("--partner is required")}
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			in := map[string]any{"url": *url, "eventNames": splitList(*events), "description": *desc}
			if *secret != "" {
				in["secret"] = *secret
			}
			var out dataLinkOut
			if err := cl.Do(ctx, "POST", httpapi.Path("/v1/partners/%s/datalinks", *partner), in, &out, nil); err != nil {
				return err
			}
			if c.json {
				return printJSON(stdout, out)
			}
			return table(stdout, "ID\tURL\tSECRET (shown only now)", [][]string{{out.ID, out.URL, out.Secret}})
		}},
		"show": {"show DATALINK_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			return showOne(ctx, c, fs, args, "/v1/datalinks/%s", stdout)
		}},
		"update": {"update DATALINK_ID [--webhook-url U] [--events a,b] [--description D] [--enable|--disable]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			url := fs.String("webhook-url", "", "new receiver URL")
			events := fs.String("events", "", "new comma-separated event filter; \"all\" clears it")
			desc := fs.String("description", "", "new description")
			enable := fs.Bool("enable", false, "enable the data link")
			disable := fs.Bool("disable", false, "disable the data link")
			pos, err := parseInterspersed(fs, args)
			if err != nil {
				return err
			}
			if err := needArgs(pos, 1, "one DATALINK_ID"); err != nil {
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
			return callAndPrint(ctx, c, "PATCH", httpapi.Path("/v1/datalinks/%s", pos[0]), in, stdout)
		}},
		"delete": {"delete DATALINK_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			return deleteOne(ctx, c, fs, args, "/v1/datalinks/%s", stdout)
		}},
		"test": {"test DATALINK_ID [--event EVENTNAME]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			event := fs.String("event", "", "the event to send (its catalog example); default: the first the link receives")
			pos, err := parseInterspersed(fs, args)
			if err != nil {
				return err
			}
			if err := needArgs(pos, 1, "one DATALINK_ID"); err != nil {
				return err
			}
			cl, err := c.client()
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
			}
			in := map[string]string{}
			if *event != "" {
				in["eventName"] = *event
			}
			if err := cl.Do(ctx, "POST", httpapi.Path("/v1/datalinks/%s/test", pos[0]), in, &out, nil); err != nil {
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
			if out.ResponseBody != "" {
				fmt.Fprintf(stdout, "response: %s\n", out.ResponseBody)
			}
			if !out.OK {
				return errSilentFailure
			}
			return nil
		}},
		"rotate-secret": {"rotate-secret DATALINK_ID [--secret S] [--overlap 24h]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			secret := fs.String("secret", "", "the new secret; generated when empty")
			overlap := fs.Duration("overlap", 24*time.Hour, "how long the old secret keeps signing too")
			pos, err := parseInterspersed(fs, args)
			if err != nil {
				return err
			}
			if err := needArgs(pos, 1, "one DATALINK_ID"); err != nil {
				return err
			}
			in := map[string]any{"overlapSeconds": int64(overlap.Seconds())}
			if *secret != "" {
				in["secret"] = *secret
			}
			return callAndPrint(ctx, c, "POST", httpapi.Path("/v1/datalinks/%s/rotate-secret", pos[0]), in, stdout)
		}},
		"replay": {"replay DATALINK_ID --since TIME [--until TIME]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			since := fs.String("since", "", "RFC 3339 time, such as 2026-01-02T15:04:05Z, or a duration ago, such as 2h")
			until := fs.String("until", "", "RFC 3339 time or duration ago; default now")
			pos, err := parseInterspersed(fs, args)
			if err != nil {
				return err
			}
			if err := needArgs(pos, 1, "one DATALINK_ID"); err != nil {
				return err
			}
			in := map[string]any{}
			for name, v := range map[string]string{"since": *since, "until": *until} {
				if v == "" {
					continue
				}
				t, err := timeOrAgo(v)
				if err != nil {
					return usageError{fmt.Errorf("--%s: %w", name, err)}
				}
				in[name] = t
			}
			return callAndPrint(ctx, c, "POST", httpapi.Path("/v1/datalinks/%s/replay", pos[0]), in, stdout)
		}},
	}, args, stdout, stderr)
}

// timeOrAgo reads an RFC 3339 time or a duration before now.
func timeOrAgo(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", v)
	}
	return t, nil
}
