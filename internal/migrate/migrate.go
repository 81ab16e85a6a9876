// Package migrate applies a store's embedded schema migrations: numbered
// *.sql files, run in name order, each once. Where the database keeps its
// version and how the run is locked against other processes is the
// store's (a Schema); the order, the count and the refusal of a schema
// newer than the binary are here, the same for every store.
package migrate

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Migration is one file of SQL that moves the schema to Version.
type Migration struct {
	Name    string
	SQL     string
	Version int
}

// load reads the *.sql files of dir in fsys, in name order: the first is
// version 1. Each name must start with its version in four digits
// (0001_init.sql): a database records the version it is at, so a gap or a
// duplicate, easily made when branches each add a migration, would apply a
// file twice or skip one.
func load(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]Migration, len(names))
	for i, name := range names {
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(path.Base(name), want) {
			return nil, fmt.Errorf("migration %s: is number %d in name order, so its name must start with %s", name, i+1, want)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out[i] = Migration{Name: path.Base(name), SQL: string(body), Version: i + 1}
	}
	return out, nil
}

// Latest is the version the migrations of dir in fsys bring a schema to.
func Latest(fsys fs.FS, dir string) int {
	names, _ := fs.Glob(fsys, path.Join(dir, "*.sql"))
	return len(names)
}

// Schema is a database's schema as a store keeps its version.
type Schema interface {
	// Version returns the version the database is at; 0 when empty.
	Version(ctx context.Context) (int, error)
	// Apply runs m and records m.Version as the database's version, both
	// or neither.
	Apply(ctx context.Context, m Migration) error
}

// Up applies to s, in order, the migrations of dir in fsys that it lacks.
// It refuses a schema newer than the newest of them: this binary would not
// know its tables.
func Up(ctx context.Context, s Schema, fsys fs.FS, dir string) error {
	ms, err := load(fsys, dir)
	if err != nil {
		return err
	}
	current, err := s.Version(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("the database's schema version %d is newer than this labhooks (%d): upgrade labhooks", current, len(ms))
	}
	for _, m := range ms[current:] {
		if err := s.Apply(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}
