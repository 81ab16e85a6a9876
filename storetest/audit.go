package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// auditEntry is an entry for a test, about partner p.
func auditEntry(action string, p *labhooks.Partner, at time.Time) *labhooks.AuditEntry {
	return &labhooks.AuditEntry{Time: at, Actor: labhooks.AuditActor{Type: labhooks.ActorAdmin, KeyPrefix: "lha_test01"},
		Source: "192.0.2.1", Action: action, TargetType: "partner", TargetID: p.ID, PartnerID: p.ID,
		Details: labhooks.AuditDetails(map[string]labhooks.AuditChange{"name": {Old: "a", New: "b"}}, nil)}
}

// testAuditInTransaction: the entries a write's context carries are
// appended with the write, once, and not at all when the write fails.
func testAuditInTransaction(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p := b.partner(t, labhooks.RoleLab)
	count := func() int64 {
		t.Helper()
		h, err := b.s.AuditHead(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h.Seq
	}
	refused := errors.New("refused")
	ctx := labhooks.WithAudit(b.ctx, auditEntry(labhooks.AuditPartnerUpdate, p, b.now))
	if _, err := b.s.UpdatePartner(ctx, p.ID, func(*labhooks.Partner) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("UpdatePartner: %v", err)
	}
	err := b.s.CreateDataLink(ctx, &labhooks.DataLink{ID: id.New(id.DataLink), PartnerID: "ptn_missing", URL: "https://x.test",
		Secret: "s", CreatedAt: b.now, UpdatedAt: b.now})
	wantCode(t, err, labhooks.ENotFound)
	if n := count(); n != 0 {
		t.Fatalf("failed writes appended %d audit entries", n)
	}
	if _, err := b.s.UpdatePartner(ctx, p.ID, func(q *labhooks.Partner) error { q.Name = "b"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.UpdatePartner(ctx, p.ID, func(q *labhooks.Partner) error { q.Name = "c"; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("two writes with one context appended %d entries, want 1", n)
	}
	es, _, err := b.s.Audit(b.ctx, labhooks.AuditFilter{})
	if err != nil || len(es) != 1 {
		t.Fatalf("Audit = %v, %v", es, err)
	}
	e := es[0]
	want := auditEntry(labhooks.AuditPartnerUpdate, p, b.now)
	if e.Seq != 1 || !e.Time.Equal(b.now) || e.Actor != want.Actor || e.Source != want.Source || e.TargetID != p.ID ||
		e.PartnerID != p.ID || string(e.Details) != string(want.Details) || len(e.PrevHash) != 0 || len(e.Hash) != 32 {
		t.Errorf("stored entry %+v, want %+v", e, want)
	}
	if string(e.Hash) != string(e.ChainHash()) {
		t.Error("the stored entry does not match its hash")
	}
}

// testAuditListing: filters, both orders, cursors, and the chain's head.
func testAuditListing(t *testing.T, newStore NewStore) {
	t.Parallel()
	b := setup(t, newStore)
	p, q := b.partner(t, labhooks.RoleLab), b.partner(t, labhooks.RoleSampler)
	var entries []*labhooks.AuditEntry
	for i := range 6 {
		who := p
		if i%2 == 1 {
			who = q
		}
		entries = append(entries, auditEntry(labhooks.AuditPartnerUpdate, who, b.now.Add(time.Duration(i)*time.Minute)))
	}
	entries[5].Action, entries[5].Actor = labhooks.AuditDataLinkDisable, labhooks.AuditActor{Type: labhooks.ActorSystem}
	if err := b.s.AppendAudit(b.ctx, entries[:3]...); err != nil {
		t.Fatal(err)
	}
	if err := b.s.AppendAudit(b.ctx, entries[3:]...); err != nil {
		t.Fatal(err)
	}
	seqs := func(f labhooks.AuditFilter) ([]int64, string) {
		t.Helper()
		es, next, err := b.s.Audit(b.ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out, next
	}
	for name, c := range map[string]struct {
		f    labhooks.AuditFilter
		want []int64
	}{
		"all, newest first":  {labhooks.AuditFilter{}, []int64{6, 5, 4, 3, 2, 1}},
		"ascending":          {labhooks.AuditFilter{Ascending: true}, []int64{1, 2, 3, 4, 5, 6}},
		"about a partner":    {labhooks.AuditFilter{PartnerID: &p.ID}, []int64{5, 3, 1}},
		"by target":          {labhooks.AuditFilter{TargetID: q.ID}, []int64{6, 4, 2}},
		"by actor":           {labhooks.AuditFilter{ActorType: labhooks.ActorSystem}, []int64{6}},
		"by action":          {labhooks.AuditFilter{Action: labhooks.AuditPartnerUpdate, PartnerID: &q.ID}, []int64{4, 2}},
		"in a time range":    {labhooks.AuditFilter{Since: b.now.Add(time.Minute), Until: b.now.Add(3 * time.Minute)}, []int64{3, 2}},
		"after a cursor":     {labhooks.AuditFilter{Cursor: "4"}, []int64{3, 2, 1}},
		"ascending, cursor":  {labhooks.AuditFilter{Cursor: "4", Ascending: true}, []int64{5, 6}},
		"nothing in a range": {labhooks.AuditFilter{Since: b.now.Add(time.Hour)}, nil},
	} {
		if got, _ := seqs(c.f); !equalSeqs(got, c.want) {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	page, next := seqs(labhooks.AuditFilter{Limit: 4})
	if !equalSeqs(page, []int64{6, 5, 4, 3}) || next != "3" {
		t.Errorf("first page %v, next %q", page, next)
	}
	_, _, err := b.s.Audit(b.ctx, labhooks.AuditFilter{Cursor: "nope"})
	wantCode(t, err, labhooks.EInvalid)
	h, err := b.s.AuditHead(b.ctx)
	if err != nil || h.Seq != 6 || string(h.Hash) != string(entries[5].Hash) || h.AnchorSeq != 0 {
		t.Errorf("AuditHead = %+v, %v", h, err)
	}
	v := labhooks.NewAuditVerifier(*h)
	es, _, _ := b.s.Audit(b.ctx, labhooks.AuditFilter{Ascending: true})
	for _, e := range es {
		if err := v.Check(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.End(); err != nil {
		t.Fatal(err)
	}
}

func equalSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
