// Command labhooks delivers a diagnostics platform's events to its partners'
// webhooks; see `labhooks help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one subcommand: its one-line summary and its entry point.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve":      {"run the API, the dashboard and the delivery workers", runServe},
	"worker":     {"run delivery workers only, on a shared PostgreSQL database", runWorker},
	"migrate":    {"bring the database's schema up to date", runMigrate},
	"emit":       {"emit an event through the API", runEmit},
	"partners":   {"list, create, show, update and delete partners", runPartners},
	"datalinks":  {"list, create, show, update, delete and test data links", runDataLinks},
	"deliveries": {"list, show and retry deliveries", runDeliveries},
	"receive":    {"a ready receiver: verify, de-duplicate and store what arrives", runReceive},
	"listen":     {"print what arrives, for development", runListen},
	"demo":       {"everything in one process, with sample partners and a stream of events", runDemo},
	"bench":      {"measure delivery throughput and latency against a built-in receiver", runBench},
	"audit":      {"verify the audit log's hash chain, or export it as JSON lines", runAudit},
	"version":    {"print the version", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errSilentFailure):
		os.Exit(1)
	default:
		msg := err.Error()
		if !strings.HasPrefix(msg, "labhooks: ") { // API errors already say it
			msg = "labhooks: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "labhooks delivers platform events to partners' webhooks, durably and signed.")
	fmt.Fprintln(w, "\nUsage: labhooks COMMAND [flags]\n\nCommands:")
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `labhooks COMMAND --help` for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "in the environment: --allow-private-targets is LABHOOKS_ALLOW_PRIVATE_TARGETS.")
}

// usageError marks errors in how a command was called (exit status 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// newFlagSet returns a flag set whose --help prints synopsis, then the flags
// with the environment variable each can be set from.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("labhooks "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags (each also read from the environment variable shown):\n", strings.TrimSpace(synopsis))
		fs.VisitAll(func(f *flag.Flag) {
			kind, help := flag.UnquoteUsage(f)
			fmt.Fprintf(stderr, "  --%s %s\t[%s]\n", f.Name, kind, envName(fs, f.Name))
			fmt.Fprintf(stderr, "    \t%s", strings.ReplaceAll(help, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(stderr, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(stderr)
		})
	}
	return fs
}

// parseFlags parses args, then fills each flag not given on the command line
// from its environment variable (see envName). A bad value in the
// environment is reported with the variable's name.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(envName(fs, f.Name))
		if given[f.Name] || !ok || err != nil {
			return
		}
		if fs.Set(f.Name, v) != nil {
			want := "true or false"
			if kind, _ := flag.UnquoteUsage(f); kind != "" {
				want = "a " + kind
			}
			err = usageError{fmt.Errorf("%s=%q: want %s", envName(fs, f.Name), v, want)}
		}
	})
	return err
}

// envName is the environment variable a flag of fs is read from: the
// command's prefix, then the flag's name in capitals with - as _; --key is
// LABHOOKS_API_KEY, as SPEC §6 names it. The partner-side commands (receive,
// listen) read LABHOOKS_RECEIVER_*, so that a shell set up for serve
// (LABHOOKS_DB, LABHOOKS_ADDR) does not point a receiver at labhooks' own
// database or port.
func envName(fs *flag.FlagSet, flagName string) string {
	if flagName == "key" {
		return "LABHOOKS_API_KEY"
	}
	prefix := "LABHOOKS_"
	if fs.Name() == "labhooks receive" || fs.Name() == "labhooks listen" {
		prefix = "LABHOOKS_RECEIVER_"
	}
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Usage: labhooks version\n\nPrints the version of this binary.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "labhooks", version)
	return nil
}
