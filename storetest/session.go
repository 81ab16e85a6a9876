package storetest

import (
	"testing"
	"time"
)

func testAdminKey(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	h, err := b.s.AdminKeyHash(b.ctx)
	if err != nil || h != nil {
		t.Fatalf("fresh store AdminKeyHash = %x, %v", h, err)
	}
	stored, created, err := b.s.InitAdminKeyHash(b.ctx, []byte("first"))
	if err != nil || !created || string(stored) != "first" {
		t.Fatalf("InitAdminKeyHash on an empty store = %q, %v, %v", stored, created, err)
	}
	// A second process starting at the same time loses, and learns the winner.
	stored, created, err = b.s.InitAdminKeyHash(b.ctx, []byte("second"))
	if err != nil || created || string(stored) != "first" {
		t.Fatalf("InitAdminKeyHash again = %q, %v, %v; want the first hash kept", stored, created, err)
	}
	if h, _ := b.s.AdminKeyHash(b.ctx); string(h) != "first" {
		t.Fatalf("AdminKeyHash = %q, want first", h)
	}
	if err := b.s.Ping(b.ctx); err != nil {
		t.Fatal(err)
	}
}

func testRevokedSessions(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	revoked := func(id string) bool {
		t.Helper()
		ok, err := b.s.SessionRevoked(b.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if revoked("s1") {
		t.Fatal("a session never revoked is revoked")
	}
	for range 2 { // revoking twice is no error
		if err := b.s.RevokeSession(b.ctx, "s1", b.now.Add(time.Hour), b.now); err != nil {
			t.Fatal(err)
		}
	}
	if !revoked("s1") || revoked("s2") {
		t.Fatal("RevokeSession revoked the wrong sessions")
	}
	// Once s1's cookie has expired, revoking another forgets it.
	if err := b.s.RevokeSession(b.ctx, "s2", b.now.Add(2*time.Hour), b.now.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if revoked("s1") || !revoked("s2") {
		t.Fatal("expired revocations are kept, or the new one is lost")
	}
}
