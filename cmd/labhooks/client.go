package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labhooks/labhooks/httpapi"
)

// clientFlags are the flags every API-calling command takes.
type clientFlags struct {
	url  string
	key  string
	json bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the labhooks server")
	fs.StringVar(&c.key, "key", "", "API key, admin or partner")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON answer instead of a table")
}

func (c *clientFlags) client() (*httpapi.Client, error) {
	if c.key == "" {
		return nil, usageError{fmt.Errorf("no API key: pass --key or set LABHOOKS_API_KEY")}
	}
	return &httpapi.Client{BaseURL: c.url, Key: c.key}, nil
}

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

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// needArgs checks the count of positional arguments.
func needArgs(args []string, n int, what string) error {
	if len(args) != n {
		return usageError{fmt.Errorf("want %s", what)}
	}
	return nil
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
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
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
