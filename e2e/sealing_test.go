package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/labhooks/labhooks/postgres/pgtest"
)

const (
	secretsKey1 = "e2e-secrets-key-one-0123456789abcdefgh"
	secretsKey2 = "e2e-secrets-key-two-0123456789abcdefgh"
)

// serveRefuses runs `labhooks serve` on db with args, expects it to exit
// with an error at start, and returns what it printed.
func serveRefuses(t *testing.T, db string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
	cmd.Env = append(os.Environ(), "LABHOOKS_ADMIN_KEY="+adminKey)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("labhooks serve %q did not refuse to start (%v):\n%s", args, err, out)
	}
	return string(out)
}

// verifiedDeliveries emits one event and waits until rc has acknowledged n
// deliveries in all, each of which the Standard Webhooks library verifies
// with the plain secret.
func verifiedDeliveries(t *testing.T, s *server, rc *receiver, n int) {
	t.Helper()
	if _, err := s.emit(map[string]any{"eventName": "patientUpdated", "data": eventExamples(t, s)["patientUpdated"]}, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the delivery", func() bool { return len(rc.acknowledged()) == n })
	wh, err := standardwebhooks.NewWebhookRaw([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rc.requests() {
		if r.Header.Get("x-api-key") != secret {
			t.Fatalf("x-api-key = %q, want the plain secret", r.Header.Get("x-api-key"))
		}
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Fatalf("a delivery does not verify with the plain secret: %v", err)
		}
	}
}

// With --secrets-key the database never holds a secret in the plain, the
// deliveries are signed as before, a start without the key (or with the
// wrong one) is refused, and the key can be changed.
func TestSecretsSealedAtRest(t *testing.T) {
	db := filepath.Join(t.TempDir(), "labhooks.db")
	s := startServer(t, db, "--secrets-key", secretsKey1)
	rc := newReceiver(t, nil)
	p, _ := s.partner("provider", "Sealed Provider")
	s.dataLink(p, rc.URL, secret)
	verifiedDeliveries(t, s, rc, 1)
	s.stop()

	files, _ := filepath.Glob(db + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("%s holds the data link's secret in the plain", filepath.Base(f))
		}
	}

	if out := serveRefuses(t, db); !strings.Contains(out, "--secrets-key") || !strings.Contains(out, "sealed") {
		t.Errorf("serve without the key said:\n%s", out)
	}
	if out := serveRefuses(t, db, "--secrets-key", secretsKey2); !strings.Contains(out, "key that was not given") {
		t.Errorf("serve with another key said:\n%s", out)
	}
	if out := serveRefuses(t, db, "--secrets-key", "short"); !strings.Contains(out, "at least 32 characters") {
		t.Errorf("serve with a short key said:\n%s", out)
	}

	// Changing the key: the new one first, the old one after it, once.
	s = startServer(t, db, "--secrets-key", secretsKey2+","+secretsKey1)
	if !strings.Contains(s.logs.String(), "sealed data-link secrets") {
		t.Errorf("no word of resealing in the log:\n%s", s.logs)
	}
	verifiedDeliveries(t, s, rc, 2)
	s.stop()
	serveRefuses(t, db, "--secrets-key", secretsKey1)
	s = startServer(t, db, "--secrets-key", secretsKey2)
	verifiedDeliveries(t, s, rc, 3)
}

// Turning sealing on for a database with secrets stored in the plain seals
// them; PostgreSQL's API and worker processes share the key.
func TestSecretsSealedOnPostgres(t *testing.T) {
	db := pgtest.NewSchema(t)
	s := startServer(t, db)
	rc := newReceiver(t, nil)
	p, _ := s.partner("provider", "Plain Provider")
	s.dataLink(p, rc.URL, secret)
	verifiedDeliveries(t, s, rc, 1)
	s.stop()

	api := startServer(t, db, "--workers", "0", "--secrets-key", secretsKey1)
	if !strings.Contains(api.logs.String(), "sealed data-link secrets") {
		t.Errorf("no word of sealing in the log:\n%s", api.logs)
	}
	startWorker(t, db, "--secrets-key", secretsKey1)
	verifiedDeliveries(t, api, rc, 2)
	if out := serveRefuses(t, db); !strings.Contains(out, "sealed") {
		t.Errorf("serve without the key said:\n%s", out)
	}
}

// Turning sealing on for a SQLite database with secrets stored in the
// plain leaves no trace of them in its files: the database file and its
// write-ahead log are scanned while the sealed server runs, and after.
func TestSecretsSealedScrubSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "labhooks.db")
	s := startServer(t, db)
	rc := newReceiver(t, nil)
	p, _ := s.partner("provider", "Plain Provider")
	s.dataLink(p, rc.URL, secret)
	verifiedDeliveries(t, s, rc, 1)
	s.stop()
	holding := func() []string {
		var found []string
		files, _ := filepath.Glob(db + "*")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(secret)) {
				found = append(found, filepath.Base(f))
			}
		}
		return found
	}
	if len(holding()) == 0 {
		t.Fatal("the test's premise fails: the unsealed database does not hold the secret")
	}

	s = startServer(t, db, "--secrets-key", secretsKey1)
	if !strings.Contains(s.logs.String(), "sealed data-link secrets") {
		t.Errorf("no word of sealing in the log:\n%s", s.logs)
	}
	if found := holding(); len(found) != 0 {
		t.Fatalf("with the secrets sealed, %v still hold one in the plain", found)
	}
	verifiedDeliveries(t, s, rc, 2)
	s.stop()
	if found := holding(); len(found) != 0 {
		t.Fatalf("after the sealed server stopped, %v hold a secret in the plain", found)
	}
}
