package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

func testPartners(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p := b.partner(t, labhooks.RoleLab)
	got, err := b.s.Partner(b.ctx, p.ID)
	if err != nil || got.Name != p.Name || got.Role != labhooks.RoleLab || !got.CreatedAt.Equal(b.now) || !got.UpdatedAt.Equal(b.now) {
		t.Fatalf("Partner = %+v, %v; want %+v", got, err, p)
	}
	byKey, err := b.s.PartnerByKeyHash(b.ctx, []byte("hash-"+p.ID))
	if err != nil || byKey.ID != p.ID {
		t.Fatalf("PartnerByKeyHash = %+v, %v", byKey, err)
	}
	_, err = b.s.PartnerByKeyHash(b.ctx, []byte("nope"))
	wantCode(t, err, labhooks.ENotFound)
	_, err = b.s.Partner(b.ctx, "ptn_missing")
	wantCode(t, err, labhooks.ENotFound)
	err = b.s.CreatePartner(b.ctx, &labhooks.Partner{ID: id.New(id.Partner), Name: "dup key", Role: labhooks.RoleLab, KeyHash: []byte("hash-" + p.ID)})
	wantCode(t, err, labhooks.EConflict)
	err = b.s.CreatePartner(b.ctx, &labhooks.Partner{ID: p.ID, Name: "dup id", Role: labhooks.RoleLab, KeyHash: []byte("another hash")})
	wantCode(t, err, labhooks.EConflict)

	q := b.partner(t, labhooks.RoleSampler)
	all, err := b.s.Partners(b.ctx)
	if err != nil || len(all) != 2 || all[0].ID != p.ID || all[1].ID != q.ID {
		t.Fatalf("Partners = %v, %v", all, err)
	}
	if err := b.s.DeletePartner(b.ctx, p.ID, b.now); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.s.DeletePartner(b.ctx, p.ID, b.now), labhooks.ENotFound)
	if all, _ := b.s.Partners(b.ctx); len(all) != 1 {
		t.Fatalf("after delete, %d partners", len(all))
	}
}

// testUpdatePartner changes a partner through its callback: what the
// callback leaves is stored, but for the ID and creation time; a callback
// that fails stores nothing.
func testUpdatePartner(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p := b.partner(t, labhooks.RoleLab)
	later := b.now.Add(time.Hour)
	up, err := b.s.UpdatePartner(b.ctx, p.ID, func(q *labhooks.Partner) error {
		if q.ID != p.ID || q.Name != p.Name || q.Role != p.Role {
			t.Errorf("UpdatePartner's callback got %+v, want the stored %+v", q, p)
		}
		labhooks.PartnerUpdate{Name: new("Renamed Lab"), Role: new(labhooks.RoleChecker),
			Contacts: &[]string{"it@lab.example", "oncall@lab.example"}}.Apply(q)
		q.UpdatedAt = later
		q.ID, q.CreatedAt = "ptn_other", later // not stored
		return nil
	})
	if err != nil || up.ID != p.ID || up.Name != "Renamed Lab" || up.Role != labhooks.RoleChecker || !up.UpdatedAt.Equal(later) || !up.CreatedAt.Equal(b.now) {
		t.Fatalf("UpdatePartner = %+v, %v", up, err)
	}
	if got, _ := b.s.Partner(b.ctx, p.ID); got.Name != up.Name || got.Role != up.Role || !got.UpdatedAt.Equal(later) || !got.CreatedAt.Equal(b.now) ||
		!slices.Equal(got.Contacts, []string{"it@lab.example", "oncall@lab.example"}) {
		t.Fatalf("stored %+v, want %+v", got, up)
	}
	if all, _ := b.s.Partners(b.ctx); len(all) != 1 || len(all[0].Contacts) != 2 {
		t.Fatalf("Partners = %+v, want the contacts too", all)
	}

	refused := errors.New("refused")
	_, err = b.s.UpdatePartner(b.ctx, p.ID, func(q *labhooks.Partner) error {
		q.Name, q.Role = "Changed", labhooks.RoleLab
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdatePartner with a failing callback = %v, want its error", err)
	}
	if got, _ := b.s.Partner(b.ctx, p.ID); got.Name != up.Name || got.Role != up.Role {
		t.Fatalf("a refused update stored %+v", got)
	}
	_, err = b.s.UpdatePartner(b.ctx, "ptn_missing", func(*labhooks.Partner) error {
		t.Error("UpdatePartner called back for a missing partner")
		return nil
	})
	wantCode(t, err, labhooks.ENotFound)
}
