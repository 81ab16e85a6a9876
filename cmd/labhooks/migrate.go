package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/sqlite"
)

const migrateUsage = `Usage: labhooks migrate --db ./labhooks.db | postgres://…

Brings the database's schema up to this labhooks' version, creating it if
needed, and prints the version. serve and worker do the same when they
start; run migrate first to upgrade a shared PostgreSQL database before
rolling out the new binary. A database migrated by a newer labhooks is
refused, never downgraded.`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", migrateUsage, stderr)
	db := fs.String("db", "./labhooks.db", "SQLite database file, or a postgres:// URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	store, _, err := openStore(ctx, *db, slog.Default())
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	version := sqlite.SchemaVersion()
	if isPostgres(*db) {
		version = postgres.SchemaVersion()
	}
	fmt.Fprintf(stdout, "%s: schema version %d, up to date\n", displayDB(*db), version)
	return nil
}
