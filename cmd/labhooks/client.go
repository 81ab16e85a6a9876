package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/httpapi"
)

// clientFlags are the flags every API-calling command takes.
type clientFlags struct {
	server    string
	key       string
	allowHTTP bool
	json      bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "http://127.0.0.1:8080", "the labhooks server's address")
	fs.StringVar(&c.key, "key", "", "API key, admin (lha_…) or partner (lhp_…)")
	fs.BoolVar(&c.allowHTTP, "allow-http", false, "allow a plain http:// server that is not on this machine (the key then crosses the network unencrypted)")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON answer instead of a table")
}

// client returns an API client for --server and --key, once the server has
// shown that it is labhooks: the key is never sent anywhere else. A plain
// http:// server is refused unless it is on this machine or --allow-http is
// given.
func (c *clientFlags) client(ctx context.Context) (*httpapi.Client, error) {
	if c.key == "" {
		return nil, usageError{fmt.Errorf("no API key: pass --key or set LABHOOKS_API_KEY")}
	}
	base, err := checkServerURL(c.server, c.allowHTTP)
	if err != nil {
		return nil, err
	}
	// Never follow a redirect: it could carry the key elsewhere.
	hc := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		return fmt.Errorf("not following its redirect to %s: labhooks' API never redirects, and the key must not go elsewhere", r.URL.Redacted())
	}}
	if err := confirmLabhooks(ctx, hc, base); err != nil {
		return nil, err
	}
	return &httpapi.Client{BaseURL: base, Key: c.key, HTTP: hc}, nil
}

// checkServerURL checks --server: http or https, a host, no path beyond
// "/", and plain http only to this machine unless allowHTTP. It returns the
// URL without a trailing slash.
func checkServerURL(raw string, allowHTTP bool) (string, error) {
	bad := func(why string) error {
		return usageError{fmt.Errorf("--server %q: %s", raw, why)}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", bad("want the labhooks server's address, such as https://labhooks.example.com or http://127.0.0.1:8080")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("must start with http:// or https://")
	case u.User != nil:
		return "", bad("must not hold a user name or password; the key goes in --key")
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return "", bad("the server's address is its root, with no path: the API's paths are added to it (a data link's URL goes in --url of datalinks create)")
	case u.Scheme == "http" && !allowHTTP && !isLoopback(u.Hostname()):
		return "", bad("plain http to another machine would send the API key unencrypted; use https://, or --allow-http (LABHOOKS_ALLOW_HTTP) if the network is trusted")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host, "/"), nil
}

// isLoopback reports whether host is this machine by its name or address.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// confirmLabhooks asks base for its OpenAPI document, without a key, and
// checks that it is labhooks': a wrong address or port fails here, before
// any request carries the key.
func confirmLabhooks(ctx context.Context, hc *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/openapi.json", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("--server %s: %w", base, err)
	}
	defer resp.Body.Close()
	var doc struct {
		Info struct {
			Title string `json:"title"`
		} `json:"info"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&doc) != nil || doc.Info.Title != labhooksAPITitle {
		return fmt.Errorf("--server %s does not answer as labhooks (GET /openapi.json: %s); check the address and port: no API key was sent", base, resp.Status)
	}
	return nil
}

// labhooksAPITitle is the title of labhooks' OpenAPI document.
const labhooksAPITitle = "labhooks API"

// parseInterspersed parses flags that may come before, between or after
// positional arguments (`deliveries show ID --json`), and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// subcommand is one verb of a resource command.
type subcommand struct {
	usage string
	run   func(c *clientFlags, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error
}

// printJSON prints v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table prints rows under a header, aligned.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// listing prints rows under a header, or says that there are none.
func listing(w io.Writer, none, header string, rows [][]string) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, none)
		return err
	}
	return table(w, header, rows)
}

// fields prints one object as aligned "NAME  value" lines.
func fields(w io.Writer, pairs ...string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s\t%s\n", pairs[i], pairs[i+1])
	}
	return tw.Flush()
}

// plural says n thing or n things.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// timeLayout shows a time in this machine's zone, with the zone's offset.
const timeLayout = "2006-01-02 15:04:05 -07:00"

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeLayout)
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return when(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// needArgs checks the count of positional arguments.
func needArgs(args []string, n int, what string) error {
	if len(args) == n {
		return nil
	}
	if n == 0 {
		return usageError{fmt.Errorf("takes no arguments, got %q", args)}
	}
	if len(args) < n {
		return usageError{fmt.Errorf("want %s", what)}
	}
	return usageError{fmt.Errorf("want %s, got %q", what, args)}
}

// noArgs parses args of a verb that takes no positional ones.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	return needArgs(pos, 0, "")
}

// oneArg parses args of a verb that takes one positional ID.
func oneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if err := needArgs(pos, 1, "one "+what); err != nil {
		return "", err
	}
	return pos[0], nil
}

// partnerOf returns the partner a command is about: --partner when given,
// else the key's own partner when the key is a partner's (it has one).
func partnerOf(ctx context.Context, c *clientFlags, cl *httpapi.Client, partner string) (string, error) {
	if partner != "" {
		return partner, nil
	}
	if !strings.HasPrefix(c.key, labhooks.PartnerKeyPrefix) {
		return "", usageError{fmt.Errorf("--partner PARTNER_ID is required with the admin key (a partner key needs none)")}
	}
	var out struct {
		Data []*labhooks.Partner `json:"data"`
	}
	if err := cl.Do(ctx, "GET", "/v1/partners", nil, &out, nil); err != nil {
		return "", err
	}
	if len(out.Data) != 1 {
		return "", fmt.Errorf("the partner key sees %d partners, want its own one", len(out.Data))
	}
	return out.Data[0].ID, nil
}

// runResource dispatches `labhooks RESOURCE VERB …` to its verb.
func runResource(name, summary string, verbs map[string]subcommand, args []string, stdout, stderr io.Writer) error {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s\n\nUsage:\n", summary)
		for _, v := range slices.Sorted(maps.Keys(verbs)) {
			fmt.Fprintf(w, "  labhooks %s %s\n", name, verbs[v].usage)
		}
		fmt.Fprintf(w, "\nRun `labhooks %s VERB --help` for a verb's flags.\n", name)
	}
	if len(args) == 0 {
		usage(stderr)
		return usageError{fmt.Errorf("%s: which verb? %s", name, strings.Join(slices.Sorted(maps.Keys(verbs)), ", "))}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	v, ok := verbs[args[0]]
	if !ok {
		usage(stderr)
		return usageError{fmt.Errorf("%s: unknown verb %q", name, args[0])}
	}
	var c clientFlags
	fs := newFlagSet(name+" "+args[0], "Usage: labhooks "+name+" "+v.usage, stderr)
	c.register(fs)
	return v.run(&c, fs, args[1:], stdout, stderr)
}
