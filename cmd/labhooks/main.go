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
	"regexp"
	"slices"
	"strings"
	"sync"
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
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr, unless it was reported already, and
// returns the exit status: 0, 1 for a failure, 2 for a command called
// wrongly.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errSilentFailure):
		return 1
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "labhooks: ") { // API errors already say it
		msg = "labhooks: " + msg
	}
	fmt.Fprintln(stderr, msg)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return usageError{errors.New("no command given")}
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return nil
	case "--version", "-version", "-v":
		return runVersion(ctx, args[1:], stdout, stderr)
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
	fmt.Fprintln(w, "\nRun `labhooks COMMAND --help` for a command's flags and the environment variable")
	fmt.Fprintln(w, "each is read from: serve's --allow-private-targets is LABHOOKS_ALLOW_PRIVATE_TARGETS.")
	fmt.Fprintln(w, "`labhooks --version` prints the version.")
}

// usageError marks errors in how a command was called (exit status 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// synopses holds each flag set's synopsis, for the short usage shown under
// a flag error.
var synopses sync.Map // *flag.FlagSet → string

// newFlagSet returns a flag set whose --help prints synopsis, then the flags
// with the environment variable each can be set from.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("labhooks "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags reports errors, once
	synopses.Store(fs, strings.TrimSpace(synopsis))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", strings.TrimSpace(synopsis))
		fs.VisitAll(func(f *flag.Flag) {
			kind, help := flag.UnquoteUsage(f)
			env := ""
			if e := envName(fs, f.Name); e != "" {
				env = "\t[" + e + "]"
			}
			dashes := "--"
			if len(f.Name) == 1 {
				dashes = "-"
			}
			if kind != "" {
				kind = " " + kind
			}
			fmt.Fprintf(stderr, "  %s%s%s%s\n", dashes, f.Name, kind, env)
			fmt.Fprintf(stderr, "    \t%s", strings.ReplaceAll(help, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(stderr, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(stderr)
		})
		fmt.Fprintln(stderr, "\nEach flag can also be set in the environment variable shown after it.")
	}
	return fs
}

// flagProblem reads the flag package's error messages, which name a flag as
// -name.
var (
	flagUnknown  = regexp.MustCompile(`^flag provided but not defined: -{1,2}(\S+)$`)
	flagNoValue  = regexp.MustCompile(`^flag needs an argument: -{1,2}(\S+)$`)
	flagBadValue = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for flag -{1,2}(\S+): (.*)$`)
)

// parseFlags parses args, then fills each flag not given on the command line
// from its environment variable (see envName). An error names the flag in
// its --flag form, once, followed by the command's short usage; a bad value
// in the environment is reported with the variable's name.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return err
	}
	if err != nil {
		return flagError(fs, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(fs, f.Name)
		if env == "" || given[f.Name] || err != nil {
			return
		}
		v, ok := os.LookupEnv(env)
		if !ok {
			return
		}
		if fs.Set(f.Name, v) != nil {
			want := "true or false"
			if kind, _ := flag.UnquoteUsage(f); kind != "" {
				want = "a " + kind
			}
			err = usageError{fmt.Errorf("%s=%q: want %s", env, v, want)}
		}
	})
	return err
}

// flagError rewrites a flag package error in --flag form and adds the
// command's short usage.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if m := flagUnknown.FindStringSubmatch(msg); m != nil {
		msg = "unknown flag --" + m[1]
		if m[1] == "url" {
			msg += " (the labhooks server's address is --server, or LABHOOKS_SERVER)"
		}
	} else if m := flagNoValue.FindStringSubmatch(msg); m != nil {
		msg = "--" + m[1] + " needs a value"
	} else if m := flagBadValue.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("--%s %s: %s", m[2], m[1], m[3])
	}
	return usageError{fmt.Errorf("%s: %s\n%s", strings.TrimPrefix(fs.Name(), "labhooks "), msg, shortUsage(fs))}
}

// shortUsage is the first line of fs's synopsis and where to find the rest.
func shortUsage(fs *flag.FlagSet) string {
	syn, _ := synopses.Load(fs)
	first, _, _ := strings.Cut(fmt.Sprint(syn), "\n")
	return first + "\nRun `" + fs.Name() + " --help` for its flags."
}

// envName is the environment variable a flag of fs is read from; each
// variable has one meaning wherever it is read (SPEC §6). serve, worker and
// migrate read LABHOOKS_ and the flag's name in capitals with - as _
// (--retry-schedule is LABHOOKS_RETRY_SCHEDULE). The partner-side commands
// (receive, listen) read LABHOOKS_RECEIVER_*, so that a shell set up for
// serve (LABHOOKS_DB, LABHOOKS_ADDR) does not point a receiver at labhooks'
// own database or port; demo and bench read LABHOOKS_DEMO_* and
// LABHOOKS_BENCH_*, so bench never measures on serve's database. The client
// commands share where and who they are: --server is LABHOOKS_SERVER, --key
// LABHOOKS_API_KEY (as SPEC §6 names it), --allow-http LABHOOKS_ALLOW_HTTP
// and --json LABHOOKS_JSON; their other flags are the command's own:
// datalinks' --url is LABHOOKS_DATALINKS_URL, deliveries' --event
// LABHOOKS_DELIVERIES_EVENT, emit's --data LABHOOKS_EMIT_DATA. version
// reads none.
func envName(fs *flag.FlagSet, flagName string) string {
	upper := strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	cmd, _, _ := strings.Cut(strings.TrimPrefix(fs.Name(), "labhooks "), " ")
	switch cmd {
	case "serve", "worker", "migrate":
		return "LABHOOKS_" + upper
	case "receive", "listen":
		return "LABHOOKS_RECEIVER_" + upper
	case "version":
		return ""
	}
	switch flagName {
	case "key":
		if cmd == "bench" || cmd == "demo" {
			break
		}
		return "LABHOOKS_API_KEY"
	case "server", "allow-http", "json":
		if cmd == "bench" || cmd == "demo" {
			break
		}
		return "LABHOOKS_" + upper
	}
	return "LABHOOKS_" + strings.ToUpper(cmd) + "_" + upper
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Usage: labhooks version\n\nPrints the version of this binary.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("version takes no arguments, got %q", fs.Args())}
	}
	fmt.Fprintln(stdout, "labhooks", version)
	return nil
}
