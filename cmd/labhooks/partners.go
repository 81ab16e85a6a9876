package main

import (
	"context"
	"flag"
	"io"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

func runPartners(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runResource("partners", "Manage partners (admin key; a partner key sees only itself).", map[string]subcommand{
		"list": {"list", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if _, err := parseInterspersed(fs, args); err != nil {
				return err
			}
			cl, err := c.client()
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
			return table(stdout, "ID\tROLE\tNAME\tCREATED", rows)
		}},
		"create": {"create --name NAME --role sampler|lab|client|provider|checker", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			name := fs.String("name", "", "the partner's name")
			role := fs.String("role", "", "sampler, lab, client, provider or checker")
			if _, err := parseInterspersed(fs, args); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			var out struct {
				labhooks.Partner
				APIKey string `json:"apiKey"`
			}
			if err := cl.Do(ctx, "POST", "/v1/partners", map[string]string{"name": *name, "role": *role}, &out, nil); err != nil {
				return err
			}
			if c.json {
				return printJSON(stdout, out)
			}
			return table(stdout, "ID\tROLE\tNAME\tAPI KEY (shown only now)", [][]string{{out.ID, string(out.Role), out.Name, out.APIKey}})
		}},
		"show": {"show PARTNER_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			return showOne(ctx, c, fs, args, "/v1/partners/%s", stdout)
		}},
		"update": {"update PARTNER_ID [--name NAME] [--role ROLE]", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			name := fs.String("name", "", "new name")
			role := fs.String("role", "", "new role (admin only)")
			pos, err := parseInterspersed(fs, args)
			if err != nil {
				return err
			}
			if err := needArgs(pos, 1, "one PARTNER_ID"); err != nil {
				return err
			}
			in := map[string]string{}
			if *name != "" {
				in["name"] = *name
			}
			if *role != "" {
				in["role"] = *role
			}
			return callAndPrint(ctx, c, "PATCH", httpapi.Path("/v1/partners/%s", pos[0]), in, stdout)
		}},
		"delete": {"delete PARTNER_ID", func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			return deleteOne(ctx, c, fs, args, "/v1/partners/%s", stdout)
		}},
	}, args, stdout, stderr)
}

// showOne prints the object at format's path with the one positional ID.
func showOne(ctx context.Context, c *clientFlags, fs *flag.FlagSet, args []string, format string, stdout io.Writer) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(pos, 1, "one ID"); err != nil {
		return err
	}
	return callAndPrint(ctx, c, "GET", httpapi.Path(format, pos[0]), nil, stdout)
}

func deleteOne(ctx context.Context, c *clientFlags, fs *flag.FlagSet, args []string, format string, stdout io.Writer) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(pos, 1, "one ID"); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.Do(ctx, "DELETE", httpapi.Path(format, pos[0]), nil, nil, nil); err != nil {
		return err
	}
	_, err = io.WriteString(stdout, "deleted "+pos[0]+"\n")
	return err
}

// callAndPrint calls the API and prints its JSON answer.
func callAndPrint(ctx context.Context, c *clientFlags, method, path string, in any, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	var out any
	if err := cl.Do(ctx, method, path, in, &out, nil); err != nil {
		return err
	}
	return printJSON(stdout, out)
}
