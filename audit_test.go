package labhooks

import (
	"errors"
	"testing"
	"time"
)

// chain returns n sealed entries.
func chain(n int) []*AuditEntry {
	var es []*AuditEntry
	var prev []byte
	for i := range n {
		e := &AuditEntry{Time: time.Date(2026, 1, 2, 3, 4, 5, 678900000, time.UTC).Add(time.Duration(i) * time.Second),
			Actor: AuditActor{Type: ActorAdmin}, Action: AuditPartnerUpdate, TargetType: "partner", TargetID: "ptn_1",
			Details: AuditDetails(map[string]AuditChange{"name": {Old: "a", New: "b"}}, map[string]any{"n": i})}
		e.Seal(int64(i+1), prev)
		prev = e.Hash
		es = append(es, e)
	}
	return es
}

func verify(head AuditHead, es []*AuditEntry) error {
	v := NewAuditVerifier(head)
	for _, e := range es {
		if err := v.Check(e); err != nil {
			return err
		}
	}
	_, err := v.End()
	return err
}

func TestAuditVerifierNamesTheFirstBrokenEntry(t *testing.T) {
	es := chain(5)
	head := AuditHead{Seq: 5, Hash: es[4].Hash}
	if err := verify(head, es); err != nil {
		t.Fatalf("an intact chain: %v", err)
	}
	if es[0].Time.Nanosecond()%int(time.Millisecond) != 0 {
		t.Error("Seal kept more than milliseconds, which the stores do not")
	}
	wantBreak := func(name string, es []*AuditEntry, head AuditHead, seq int64) {
		t.Helper()
		var b *AuditBreak
		if err := verify(head, es); !errors.As(err, &b) || b.Seq != seq {
			t.Errorf("%s: %v, want a break at entry %d", name, err, seq)
		}
	}
	edit := func(i int, change func(e *AuditEntry)) []*AuditEntry {
		c := chain(5)
		change(c[i])
		return c
	}
	wantBreak("details changed", edit(2, func(e *AuditEntry) { e.Details = []byte(`{"n":9}`) }), head, 3)
	wantBreak("actor changed", edit(1, func(e *AuditEntry) { e.Actor.Type = ActorSystem }), head, 2)
	wantBreak("time changed", edit(3, func(e *AuditEntry) { e.Time = e.Time.Add(time.Millisecond) }), head, 4)
	wantBreak("rehashed after a change", edit(2, func(e *AuditEntry) { e.Source = "x"; e.Hash = e.ChainHash() }), head, 4)
	wantBreak("newest changed and rehashed", edit(4, func(e *AuditEntry) { e.Source = "x"; e.Hash = e.ChainHash() }), head, 5)
	wantBreak("an entry removed", append(chain(5)[:2], chain(5)[3:]...), head, 3)
	wantBreak("the newest removed", chain(5)[:4], head, 5)
	wantBreak("the oldest removed", chain(5)[1:], head, 1)
	// A purge moves the anchor: the rest verifies from it.
	if err := verify(AuditHead{AnchorSeq: 2, AnchorHash: es[1].Hash, Seq: 5, Hash: es[4].Hash}, es[2:]); err != nil {
		t.Errorf("from an anchor: %v", err)
	}
	wantBreak("a wrong anchor", es[2:], AuditHead{AnchorSeq: 2, AnchorHash: es[0].Hash, Seq: 5, Hash: es[4].Hash}, 3)
}

func TestKeyPrefixOf(t *testing.T) {
	for key, want := range map[string]string{
		"lhp_abcdefghijklmnopqrstuvwxyz0123456789": "lhp_abcdef",
		"short-secret": "sho",
		"":             "",
	} {
		if got := KeyPrefixOf(key); got != want {
			t.Errorf("KeyPrefixOf(%q) = %q, want %q", key, got, want)
		}
	}
}
