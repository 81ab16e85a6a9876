package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

// --db errors name the path and what is wrong, and a refused start leaves
// nothing behind: no database, -wal, -shm or .lock.
func TestServeDBPathErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	folder := filepath.Join(dir, "a-folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	notADir := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ db, want string }{
		{folder, folder + ": is a folder; give the database file's path, such as " + filepath.Join(folder, "labhooks.db")},
		{filepath.Join(dir, "missing", "labhooks.db"), filepath.Join(dir, "missing", "labhooks.db") + ": the folder " + filepath.Join(dir, "missing") + " does not exist"},
		{filepath.Join(notADir, "labhooks.db"), filepath.Join(notADir, "labhooks.db") + ": a part of the path is a file, not a folder"},
	} {
		before := files(t, dir)
		code, _, stderr := cli(t, "serve", "--addr", "127.0.0.1:0", "--db", tt.db, "--admin-key", cliAdminKey)
		if code != 2 || !strings.Contains(stderr, "--db "+tt.want) {
			t.Errorf("--db %s: exit %d, want 2 and %q:\n%s", tt.db, code, tt.want, stderr)
		}
		if after := files(t, dir); !slices.Equal(before, after) {
			t.Errorf("--db %s left %v behind (before: %v)", tt.db, after, before)
		}
		if got := files(t, folder); len(got) != 0 {
			t.Errorf("--db %s left %v in the folder", tt.db, got)
		}
	}

	// A read-only file; root may write to any file, so only another user
	// sees this refusal.
	if os.Geteuid() == 0 {
		t.Log("skipping the read-only --db case: running as root, who may write to a read-only file")
		return
	}
	ro := filepath.Join(dir, "read-only.db")
	if err := os.WriteFile(ro, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "serve", "--addr", "127.0.0.1:0", "--db", ro, "--admin-key", cliAdminKey)
	if code != 2 || !strings.Contains(stderr, "--db "+ro+": the file is read-only for this user") {
		t.Errorf("a read-only --db: exit %d\n%s", code, stderr)
	}
	if got := files(t, dir); slices.Contains(got, "read-only.db.lock") || slices.Contains(got, "read-only.db-wal") {
		t.Errorf("a read-only --db left %v", got)
	}
}

// With the port taken on a first start, serve fails before it creates the
// database or prints a key.
func TestServePortTakenCreatesNothing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	code, stdout, stderr := cli(t, "serve", "--addr", ln.Addr().String(), "--db", filepath.Join(dir, "labhooks.db"))
	if code != 1 || !strings.Contains(stderr, "--addr "+ln.Addr().String()) || !strings.Contains(stderr, "address already in use") {
		t.Errorf("port taken: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout, "admin API key") {
		t.Errorf("a start that cannot serve printed a key:\n%s", stdout)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("a start that cannot serve left %v", got)
	}
}

// A clean shutdown leaves the database alone: its .lock goes (and SQLite's
// -wal and -shm with the last connection).
func TestServeCleanShutdownRemovesLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, _, stop := startServe(t, "--db", filepath.Join(dir, "labhooks.db"), "--admin-key", cliAdminKey)
	if got := files(t, dir); !slices.Contains(got, "labhooks.db.lock") {
		t.Fatalf("a running serve holds %v, want its .lock among them", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"labhooks.db"}) {
		t.Fatalf("after a clean shutdown the folder holds %v, want labhooks.db alone", got)
	}
	// The next start takes the lock again.
	_, _, stop = startServe(t, "--db", filepath.Join(dir, "labhooks.db"), "--admin-key", cliAdminKey)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// LABHOOKS_ADMIN_KEY over a stored key is logged loudly, at every start;
// the stored key alone, or the same key, is not.
func TestServeWarnsOfReplacedAdminKey(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "labhooks.db")
	stdout, stderr, stop := startServe(t, "--db", db)
	if !strings.Contains(stdout.String(), "Created the admin API key") {
		t.Fatalf("the first start printed no key:\n%s", stdout)
	}
	stop()
	if strings.Contains(stderr.String(), "ADMIN KEY REPLACED") {
		t.Fatalf("warned on the first start:\n%s", stderr)
	}
	_, stderr, stop = startServe(t, "--db", db, "--admin-key", cliAdminKey)
	stop()
	if !strings.Contains(stderr.String(), "level=WARN") || !strings.Contains(stderr.String(), "ADMIN KEY REPLACED") || !strings.Contains(stderr.String(), "LABHOOKS_ADMIN_KEY") {
		t.Fatalf("a key over the stored one was not logged loudly:\n%s", stderr)
	}
	_, stderr, stop = startServe(t, "--db", db, "--admin-key", cliAdminKey)
	stop()
	if !strings.Contains(stderr.String(), "ADMIN KEY REPLACED") {
		t.Fatalf("a second start with the key over the stored one was not logged:\n%s", stderr)
	}
	_, stderr, stop = startServe(t, "--db", db)
	stop()
	if strings.Contains(stderr.String(), "ADMIN KEY REPLACED") {
		t.Fatalf("warned without a configured key:\n%s", stderr)
	}
	// The audit log has the key's creation, and its replacement once,
	// whatever the number of starts.
	var out strings.Builder
	if err := run(t.Context(), []string{"audit", "export", "--db", db}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"action":"adminkey.init"`) || !strings.Contains(lines[1], `"action":"adminkey.override"`) ||
		!strings.Contains(lines[1], `"keyPrefix":"`+labhooks.KeyPrefixOf(cliAdminKey)+`"`) || strings.Contains(out.String(), cliAdminKey) {
		t.Fatalf("audit entries of the admin key:\n%s", out.String())
	}
}

// TestServeNotifyFlags: bad notification flags stop serve before it
// opens anything, saying which flag and why.
func TestServeNotifyFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-url", "smtp://mail.example.com:587"}, "--smtp-url needs --smtp-from"},
		{[]string{"--smtp-from", "labhooks@example.com"}, "--smtp-from needs --smtp-url"},
		{[]string{"--smtp-url", "imap://mail.example.com", "--smtp-from", "labhooks@example.com"}, "--smtp-url (LABHOOKS_SMTP_URL): must start with smtp://"},
		{[]string{"--smtp-url", "smtp://mail.example.com", "--smtp-from", "labhooks"}, "--smtp-from \"labhooks\": an email address"},
		{[]string{"--notify-operator", "ops"}, "--notify-operator \"ops\": an email address"},
		{[]string{"--notify-failing-after", "0s"}, "--notify-failing-after 0s: must be positive"},
		{[]string{"--public-url", "labhooks.example.com"}, "--public-url \"labhooks.example.com\""},
	} {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "labhooks.db"), "--admin-key", cliAdminKey}, tt.args...)
		code, _, stderr := cli(t, args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tt.args, code, tt.want, stderr)
		}
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("refused starts left %v behind", got)
	}
}
