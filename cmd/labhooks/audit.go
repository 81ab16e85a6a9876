package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

const auditUsage = `Usage: labhooks audit verify --db DB
       labhooks audit export --db DB [--since T] [--until T] [--output FILE]

verify walks the audit log's hash chain, oldest entry first, and says
whether every entry matches its hash and the entry before it; if not, it
names the first that does not, and exits with status 1.

export writes the audit entries, oldest first, as JSON lines (one entry a
line, as GET /v1/audit shows them) to standard output or --output.

Both read the database directly: a SQLite file while labhooks is stopped
(one process owns it; a running server verifies through GET
/v1/audit/verify), a postgres:// database at any time.`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(stderr, auditUsage)
		if len(args) == 0 {
			return usageError{errors.New("audit: say verify or export")}
		}
		return usageError{fmt.Errorf("audit: unknown subcommand %q; use verify or export", args[0])}
	}
	sub := args[0]
	fs := newFlagSet("audit", auditUsage, stderr)
	db := fs.String("db", "./labhooks.db", "SQLite database file, or a postgres:// URL")
	var since, until, output string
	if sub == "export" {
		fs.StringVar(&since, "since", "", "only entries at or after this RFC 3339 time")
		fs.StringVar(&until, "until", "", "only entries before this RFC 3339 time")
		fs.StringVar(&output, "output", "", "write to this file instead of standard output")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("audit %s: unexpected argument %q", sub, fs.Arg(0))}
	}
	var f labhooks.AuditFilter
	for _, t := range []struct {
		flag, v string
		to      *time.Time
	}{{"--since", since, &f.Since}, {"--until", until, &f.Until}} {
		if t.v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return usageError{fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", t.flag, t.v)}
		}
		*t.to = at
	}
	if sub == "verify" {
		if _, err := os.Stat(*db); !isPostgres(*db) && err != nil {
			return fmt.Errorf("--db %s: %w", *db, err)
		}
	}
	store, _, err := openStore(ctx, *db, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer store.Close()
	if sub == "verify" {
		return auditVerify(ctx, store, stdout)
	}
	out := stdout
	if output != "" {
		file, err := os.Create(output)
		if err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer file.Close()
		out = file
	}
	return auditExport(ctx, store, f, out)
}

func auditVerify(ctx context.Context, store labhooks.AuditStore, stdout io.Writer) error {
	n, err := app.VerifyAudit(ctx, store)
	var b *labhooks.AuditBreak
	switch {
	case errors.As(err, &b):
		fmt.Fprintf(stdout, "BROKEN: %v\n%d entries before it verified.\n", b, n)
		return errSilentFailure
	case err != nil:
		return err
	}
	head, err := store.AuditHead(ctx)
	if err != nil {
		return err
	}
	from := "the first entry"
	if head.AnchorSeq > 0 {
		from = fmt.Sprintf("entry %d (older ones were purged)", head.AnchorSeq+1)
	}
	entries := "entries"
	if n == 1 {
		entries = "entry"
	}
	fmt.Fprintf(stdout, "OK: %d %s verified, from %s to entry %d.\n", n, entries, from, head.Seq)
	return nil
}

func auditExport(ctx context.Context, store labhooks.AuditStore, f labhooks.AuditFilter, out io.Writer) error {
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	f.Ascending, f.Limit = true, labhooks.MaxLimit
	for {
		es, next, err := store.Audit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		if next == "" {
			return w.Flush()
		}
		f.Cursor = next
	}
}
