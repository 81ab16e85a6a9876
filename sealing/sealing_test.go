package sealing_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/postgres"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/sealing"
	"github.com/labhooks/labhooks/sqlite"
	"github.com/labhooks/labhooks/storetest"
)

const (
	key1 = "k1-0123456789abcdefghijklmnopqrstuvwxyz"
	key2 = "k2-0123456789abcdefghijklmnopqrstuvwxyz"
)

func keyring(t *testing.T, keys ...string) *sealing.Keyring {
	t.Helper()
	k, err := sealing.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sealed(t *testing.T, inner labhooks.Store, keys *sealing.Keyring) labhooks.Store {
	t.Helper()
	s, _, err := sealing.Open(t.Context(), inner, keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// over opens stores with open and wraps them sealing with keys.
func over(keys *sealing.Keyring, open func(t testing.TB) (labhooks.Store, error)) storetest.NewStore {
	return func(t testing.TB) (labhooks.Store, error) {
		inner, err := open(t)
		if err != nil {
			return nil, err
		}
		s, _, err := sealing.Open(t.Context(), inner, keys)
		if err != nil {
			inner.Close()
		}
		return s, err
	}
}

func newSQLite(t testing.TB) (labhooks.Store, error) {
	return sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
}

func newPostgres(t testing.TB) (labhooks.Store, error) {
	return postgres.Open(t.Context(), postgres.Config{URL: pgtest.NewSchema(t), MaxConns: 4})
}

// The whole store contract holds with sealing on, over both stores.
func TestConformance(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) { storetest.Run(t, over(keyring(t, key1), newSQLite)) })
	t.Run("SQLite without a key", func(t *testing.T) { storetest.Run(t, over(nil, newSQLite)) })
	t.Run("PostgreSQL", func(t *testing.T) { storetest.Run(t, over(keyring(t, key1), newPostgres)) })
}

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// newLink stores a lab's data link with a fresh secret through s.
func newLink(t *testing.T, s labhooks.Store) *labhooks.DataLink {
	t.Helper()
	return storetest.NewLink(t, s, labhooks.RoleLab)
}

func rotate(t *testing.T, s labhooks.Store, d *labhooks.DataLink) *labhooks.DataLink {
	t.Helper()
	got, err := s.UpdateDataLink(t.Context(), d.ID, func(d *labhooks.DataLink) error {
		return d.Rotate(labhooks.GenerateSecret(), now, time.Hour)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// emit stores a resultAdded for every lab through s.
func emit(t *testing.T, s labhooks.Store) {
	t.Helper()
	e := &labhooks.Event{ID: id.New(id.Event), Data: []byte(`{"id":1}`), CreatedAt: now}
	if _, err := storetest.Emit(t.Context(), s, storetest.ResultAdded, e); err != nil {
		t.Fatal(err)
	}
}

// stored returns a link's secrets as the database holds them.
func stored(t *testing.T, inner labhooks.Store, linkID string) (secret, previous string) {
	t.Helper()
	d, err := inner.DataLink(t.Context(), linkID)
	if err != nil {
		t.Fatal(err)
	}
	return d.Secret, d.PreviousSecret
}

// wantPlain checks that s shows the link's secrets as they were set.
func wantPlain(t *testing.T, s labhooks.Store, want *labhooks.DataLink) {
	t.Helper()
	got, err := s.DataLink(t.Context(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != want.Secret || got.PreviousSecret != want.PreviousSecret {
		t.Fatalf("secrets read back as %q/%q, want %q/%q", got.Secret, got.PreviousSecret, want.Secret, want.PreviousSecret)
	}
}

// No secret reaches the database file in the plain: not in the table, not
// in the WAL.
func TestSecretsNeverReachTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labhooks.db")
	inner := openSQLite(t, path)
	s := sealed(t, inner, keyring(t, key1))
	d := rotate(t, s, newLink(t, s))
	wantPlain(t, s, d)
	secret, previous := stored(t, inner, d.ID)
	if !sealing.IsSealed(secret) || !sealing.IsSealed(previous) {
		t.Fatalf("stored %q/%q, want both sealed", secret, previous)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, plain := range []string{d.Secret, d.PreviousSecret} {
			if bytes.Contains(b, []byte(plain)) || bytes.Contains(b, []byte(strings.TrimPrefix(plain, "whsec_"))) {
				t.Fatalf("%s holds a secret in the plain", filepath.Base(f))
			}
		}
	}
}

// Turning sealing on seals what was stored before; without the key the
// store refuses to start rather than send unsigned or wrongly signed
// webhooks; a wrong key changes nothing.
func TestTurningSealingOn(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "labhooks.db"))
	t.Cleanup(func() { inner.Close() })
	a := newLink(t, inner)
	b := rotate(t, inner, newLink(t, inner))

	s, n, err := sealing.Open(t.Context(), inner, keyring(t, key1))
	if err != nil || n != 2 {
		t.Fatalf("Open = %d resealed, %v; want 2", n, err)
	}
	for _, d := range []*labhooks.DataLink{a, b} {
		wantPlain(t, s, d)
		if secret, previous := stored(t, inner, d.ID); !sealing.IsSealed(secret) || (previous != "") != (d.PreviousSecret != "") || (previous != "" && !sealing.IsSealed(previous)) {
			t.Fatalf("after Open, %s stored as %q/%q", d.ID, secret, previous)
		}
	}
	if _, n, err := sealing.Open(t.Context(), inner, keyring(t, key1)); err != nil || n != 0 {
		t.Fatalf("second Open = %d resealed, %v; want 0", n, err)
	}

	before, _ := stored(t, inner, a.ID)
	for name, keys := range map[string]*sealing.Keyring{"no key": nil, "empty keyring": keyring(t), "another key": keyring(t, key2)} {
		if _, _, err := sealing.Open(t.Context(), inner, keys); !errors.Is(err, sealing.ErrUnknownKey) {
			t.Errorf("Open with %s = %v, want ErrUnknownKey", name, err)
		}
	}
	if after, _ := stored(t, inner, a.ID); after != before {
		t.Fatal("a refused Open changed a stored secret")
	}
}

// A new key goes first, the old one after it: Open reseals under the new
// one, after which the old key is no longer needed, nor enough.
func TestKeyRotation(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "labhooks.db"))
	t.Cleanup(func() { inner.Close() })
	d := rotate(t, inner, newLink(t, inner))
	sealed(t, inner, keyring(t, key1))

	if _, n, err := sealing.Open(t.Context(), inner, keyring(t, key2, key1)); err != nil || n != 1 {
		t.Fatalf("Open with the new key first = %d resealed, %v; want 1", n, err)
	}
	wantPlain(t, sealed(t, inner, keyring(t, key2)), d)
	if _, _, err := sealing.Open(t.Context(), inner, keyring(t, key1)); !errors.Is(err, sealing.ErrUnknownKey) {
		t.Fatalf("Open with the retired key alone = %v, want ErrUnknownKey", err)
	}
}

// A sealed secret copied onto another data link (by hand, in the database)
// does not open there.
func TestSecretBoundToItsLink(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "labhooks.db"))
	s := sealed(t, inner, keyring(t, key1))
	t.Cleanup(func() { s.Close() })
	a, b := newLink(t, s), newLink(t, s)
	aSecret, _ := stored(t, inner, a.ID)
	if _, err := inner.RewriteSecrets(t.Context(), func(link, v string) (string, error) {
		if link == b.ID {
			return aSecret, nil
		}
		return v, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DataLink(t.Context(), b.ID); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("reading a link holding another's sealed secret = %v, want an error", err)
	}
	if _, _, err := sealing.Open(t.Context(), inner, keyring(t, key1)); err == nil {
		t.Fatal("Open accepted a database with a moved secret")
	}
}

// A process without the key, already running when another one seals a
// secret, fails the claim that meets it rather than sign with the sealed
// value; the lease runs out and a process with the key delivers.
func TestNoKeyNeverSignsWithASealedValue(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "labhooks.db"))
	t.Cleanup(func() { inner.Close() })
	keyless := sealed(t, inner, nil)
	keyed := sealed(t, inner, keyring(t, key1))
	d := newLink(t, keyed)
	emit(t, keyless)
	claim := labhooks.ClaimParams{Owner: "t", Now: now, Lease: time.Minute, Limit: 10}
	if jobs, err := keyless.ClaimDeliveries(t.Context(), claim); !errors.Is(err, sealing.ErrUnknownKey) || jobs != nil {
		t.Fatalf("keyless claim = %v, %v; want ErrUnknownKey and no job", jobs, err)
	}
	if _, err := keyless.DataLink(t.Context(), d.ID); !errors.Is(err, sealing.ErrUnknownKey) {
		t.Fatalf("keyless DataLink = %v, want ErrUnknownKey", err)
	}
	claim.Now = now.Add(2 * time.Minute)
	jobs, err := keyed.ClaimDeliveries(t.Context(), claim)
	if err != nil || len(jobs) != 1 || jobs[0].Secrets[0] != d.Secret {
		t.Fatalf("after the lease, the keyed claim = %+v, %v", jobs, err)
	}
}

// Claims carry the plain secrets that sign the request.
func TestClaimsCarryPlainSecrets(t *testing.T) {
	inner := openSQLite(t, filepath.Join(t.TempDir(), "labhooks.db"))
	s := sealed(t, inner, keyring(t, key1))
	t.Cleanup(func() { s.Close() })
	d := rotate(t, s, newLink(t, s))
	for range 2 { // the second time from the cache
		emit(t, s)
		jobs, err := s.ClaimDeliveries(t.Context(), labhooks.ClaimParams{Owner: "t", Now: now, Lease: time.Minute, Limit: 10})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claimed %d, %v", len(jobs), err)
		}
		if got := jobs[0].Secrets; len(got) != 2 || got[0] != d.Secret || got[1] != d.PreviousSecret {
			t.Fatalf("job secrets = %q, want the link's plain secrets", got)
		}
		// What is kept out of the attempt log is the plain secrets too.
		if got := jobs[0].Redact; len(got) != 2 || got[0] != d.Secret || got[1] != d.PreviousSecret {
			t.Fatalf("job secrets to redact = %q, want the link's plain secrets", got)
		}
	}
}

func TestNewKeyring(t *testing.T) {
	for _, tt := range []struct {
		keys []string
		want string
	}{
		{[]string{"short"}, "at least 32 characters"},
		{[]string{key1, strings.Repeat("x", 31)}, "key 2 of 2"},
		{[]string{key1, key2, key1}, "keys 1 and 3 are the same"},
	} {
		if _, err := sealing.NewKeyring(tt.keys...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewKeyring(%q) = %v, want an error saying %q", tt.keys, err, tt.want)
		}
	}
	if got := sealing.SplitKeys(" " + key2 + " ,," + key1 + ","); len(got) != 2 || got[0] != key2 || got[1] != key1 {
		t.Errorf("SplitKeys = %q", got)
	}
}

func FuzzOpen(f *testing.F) {
	k, err := sealing.NewKeyring(key1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("dl_1", k.Seal("dl_1", "whsec_abc"))
	f.Add("dl_1", labhooks.SealedSecretPrefix+"AAAA")
	f.Add("dl_2", "plain-secret")
	f.Fuzz(func(t *testing.T, link, stored string) {
		plain, err := k.Open(link, stored)
		if !sealing.IsSealed(stored) && (err != nil || plain != stored) {
			t.Fatalf("Open of an unsealed value = %q, %v; want it as it is", plain, err)
		}
		if stored == "" {
			return
		}
		again, err := k.Open(link, k.Seal(link, stored))
		if err != nil || again != stored {
			t.Fatalf("Open(Seal(%q)) = %q, %v", stored, again, err)
		}
	})
}

// TestSealingScrubsSQLiteFiles: once sealing has rewritten the secrets a
// SQLite database held in the plain, neither the database file nor its
// write-ahead log holds them any more, while the store is still open (the
// rewrite checkpoints the log, truncates it and vacuums the freed pages).
func TestSealingScrubsSQLiteFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "labhooks.db")
	plain := openSQLite(t, path)
	var secrets []string
	for range 3 {
		d := storetest.NewLink(t, plain, labhooks.RoleLab)
		secrets = append(secrets, d.Secret)
	}
	// A rotation leaves a previous secret, in the plain too.
	rotated, err := plain.UpdateDataLink(t.Context(), storetestLinkID(t, plain), func(d *labhooks.DataLink) error {
		return d.Rotate(labhooks.GenerateSecret(), time.Now(), time.Hour)
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, rotated.Secret)
	plainInFiles := func() []string {
		var found []string
		files, _ := filepath.Glob(path + "*")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					found = append(found, filepath.Base(f))
					break
				}
			}
		}
		return found
	}
	// Closing checkpoints the log into the database file: the secrets are
	// in its pages now, where the rewrite must not leave them behind.
	plain.Close()
	plain = openSQLite(t, path)
	if found := plainInFiles(); !slices.Contains(found, "labhooks.db") {
		t.Fatalf("the test's premise fails: no plain secret in the database file before sealing (%v)", found)
	}

	s, n, err := sealing.Open(t.Context(), plain, keyring(t, key1))
	if err != nil || n != len(secrets)-1 {
		t.Fatalf("sealing.Open resealed %d links (%v), want %d", n, err, len(secrets)-1)
	}
	if found := plainInFiles(); len(found) != 0 {
		t.Fatalf("after sealing, %v still hold a secret in the plain", found)
	}
	// The store works on: the secrets open, and deliveries can be signed.
	links, err := s.DataLinks(t.Context(), labhooks.DataLinkFilter{})
	if err != nil || len(links) != 3 {
		t.Fatalf("DataLinks after sealing: %v, %v", links, err)
	}
	for _, d := range links {
		if d.Secret != secrets[0] && d.Secret != secrets[1] && d.Secret != secrets[2] && d.Secret != secrets[3] {
			t.Errorf("link %s opens to a secret it never had", d.ID)
		}
	}
	s.Close()
	if found := plainInFiles(); len(found) != 0 {
		t.Fatalf("after closing, %v hold a secret in the plain", found)
	}
}

// storetestLinkID is the ID of the first data link of s.
func storetestLinkID(t *testing.T, s labhooks.Store) string {
	links, err := s.DataLinks(t.Context(), labhooks.DataLinkFilter{})
	if err != nil || len(links) == 0 {
		t.Fatalf("DataLinks: %v, %v", links, err)
	}
	return links[0].ID
}
