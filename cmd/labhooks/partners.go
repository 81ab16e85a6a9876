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

// partnerOut is a partner as the API answers it; APIKey only on create.
type partnerOut struct {
	labhooks.Partner
	APIKey string `json:"apiKey,omitempty"`
}

func printPartner(w io.Writer, p *partnerOut) error {
	pairs := []string{"ID", p.ID, "NAME", p.Name, "ROLE", string(p.Role)}
	if p.KeyPrefix != "" && p.APIKey == "" {
		pairs = append(pairs, "KEY", p.KeyPrefix+"…   (its start; the key is stored only as a hash)")
	}
	if p.PreviousKeyExpiresAt != nil {
		pairs = append(pairs, "PREVIOUS KEY", "works until "+when(*p.PreviousKeyExpiresAt))
	}
	if p.SuspendedAt != nil {
		pairs = append(pairs, "SUSPENDED", when(*p.SuspendedAt)+"   (its keys open nothing until resumed)")
	}
	contacts := "none   (set with --contact: told when a data link fails, is disabled or recovers)"
	if len(p.Contacts) > 0 {
		contacts = strings.Join(p.Contacts, ", ")
	}
	pairs = append(pairs, "CONTACTS", contacts)
	pairs = append(pairs, "CREATED", when(p.CreatedAt), "UPDATED", when(p.UpdatedAt))
	if p.APIKey != "" {
		pairs = append(pairs, "API KEY", p.APIKey+"   (shown only now: keep it)")
	}
	return fields(w, pairs...)
}

func runPartners(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runResource("partners", "Manage partners (admin key; a partner key sees only itself).", map[string]subcommand{
		"list": {"list", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if err := noArgs(fs, args); err != nil {
				return err
			}
			cl, err := c.client(ctx)
			if err != nil {
				return err
			}
			var out struct {
				Data []*labhooks.Partner `json:"data"`
			}
			if err := cl.Do(ctx, "GET", "/v1/partners", nil, &out, nil); err != nil {
				return err
			}
			if c.json {
				return printJSON(stdout, out)
			}
			rows := make([][]string, len(out.Data))
			for i, p := range out.Data {
				rows[i] = []string{p.ID, string(p.Role), p.Name, when(p.CreatedAt)}
			}
			return listing(stdout, "no partners", "ID\tROLE\tNAME\tCREATED", rows)
		}},
		"create": {"create --name NAME --role sampler|lab|client|provider|checker|operator [--contact EMAIL]... [-q]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			name := fs.String("name", "", "the partner's name")
			role := fs.String("role", "", "sampler, lab, client, provider or checker; operator for the organisation running labhooks, whose data links receive its operational events")
			var contacts listFlag
			fs.Var(&contacts, "contact", "a contact email address, told when one of the partner's data links fails, is disabled or recovers; repeat for several")
			quiet := fs.Bool("q", false, "print only the new partner's ID")
			if err := noArgs(fs, args); err != nil {
				return err
			}
			cl, err := c.client(ctx)
			if err != nil {
				return err
			}
			var out partnerOut
			in := map[string]any{"name": *name, "role": *role, "contacts": []string(contacts)}
			if contacts == nil {
				in["contacts"] = []string{}
			}
			if err := cl.Do(ctx, "POST", "/v1/partners", in, &out, nil); err != nil {
				return err
			}
			switch {
			case c.json:
				return printJSON(stdout, out)
			case *quiet:
				_, err := fmt.Fprintln(stdout, out.ID)
				return err
			}
			return printPartner(stdout, &out)
		}},
		"show": {"show PARTNER_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			id, err := oneArg(fs, args, "PARTNER_ID")
			if err != nil {
				return err
			}
			return callAndShow(ctx, c, "GET", httpapi.Path("/v1/partners/%s", id), nil, stdout, printPartner)
		}},
		"update": {"update PARTNER_ID [--name NAME] [--role ROLE] [--contact EMAIL]... [--no-contacts]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			name := fs.String("name", "", "new name")
			role := fs.String("role", "", "new role (admin only)")
			var contacts listFlag
			fs.Var(&contacts, "contact", "replace the contact email addresses with these; repeat for several")
			noContacts := fs.Bool("no-contacts", false, "remove every contact email address")
			id, err := oneArg(fs, args, "PARTNER_ID")
			if err != nil {
				return err
			}
			in := map[string]any{}
			if *name != "" {
				in["name"] = *name
			}
			if *role != "" {
				in["role"] = *role
			}
			switch {
			case *noContacts && contacts != nil:
				return usageError{fmt.Errorf("give --contact or --no-contacts, not both")}
			case *noContacts:
				in["contacts"] = []string{}
			case contacts != nil:
				in["contacts"] = []string(contacts)
			}
			return callAndShow(ctx, c, "PATCH", httpapi.Path("/v1/partners/%s", id), in, stdout, printPartner)
		}},
		"delete": {"delete PARTNER_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			return deleteOne(ctx, c, fs, args, "/v1/partners/%s", "PARTNER_ID", stdout)
		}},
		"rotate-key": {"rotate-key PARTNER_ID [--overlap 24h]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			overlap := fs.Duration("overlap", labhooks.DefaultKeyOverlap, "how long the old key keeps working; 0 ends it at once")
			id, err := oneArg(fs, args, "PARTNER_ID")
			if err != nil {
				return err
			}
			if *overlap < 0 || *overlap > labhooks.MaxKeyOverlap || *overlap%time.Second != 0 {
				return usageError{fmt.Errorf("--overlap %s: whole seconds between 0 and %s", *overlap, labhooks.MaxKeyOverlap)}
			}
			in := map[string]int64{"overlapSeconds": int64(*overlap / time.Second)}
			return callAndShow(ctx, c, "POST", httpapi.Path("/v1/partners/%s/rotate-key", id), in, stdout, printPartner)
		}},
		"suspend": {"suspend PARTNER_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			id, err := oneArg(fs, args, "PARTNER_ID")
			if err != nil {
				return err
			}
			return callAndShow(ctx, c, "POST", httpapi.Path("/v1/partners/%s/suspend", id), nil, stdout, printPartner)
		}},
		"resume": {"resume PARTNER_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			id, err := oneArg(fs, args, "PARTNER_ID")
			if err != nil {
				return err
			}
			return callAndShow(ctx, c, "POST", httpapi.Path("/v1/partners/%s/resume", id), nil, stdout, printPartner)
		}},
	}, args, stdout, stderr)
}

func deleteOne(ctx context.Context, c *clientFlags, fs *flag.FlagSet, args []string, format, what string, stdout io.Writer) error {
	id, err := oneArg(fs, args, what)
	if err != nil {
		return err
	}
	cl, err := c.client(ctx)
	if err != nil {
		return err
	}
	if err := cl.Do(ctx, "DELETE", httpapi.Path(format, id), nil, nil, nil); err != nil {
		return err
	}
	_, err = io.WriteString(stdout, "deleted "+id+"\n")
	return err
}

// callAndShow calls the API and prints its answer with show, or as JSON
// with --json.
func callAndShow[T any](ctx context.Context, c *clientFlags, method, path string, in any, stdout io.Writer, show func(io.Writer, *T) error) error {
	cl, err := c.client(ctx)
	if err != nil {
		return err
	}
	var out T
	if err := cl.Do(ctx, method, path, in, &out, nil); err != nil {
		return err
	}
	if c.json {
		return printJSON(stdout, out)
	}
	return show(stdout, &out)
}

// listFlag is a flag given once per value, such as --contact.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
