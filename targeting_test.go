package labhooks_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

func TestCheckTarget(t *testing.T) {
	typ := &labhooks.EventType{Name: "sampleUpdated", Roles: []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab}}
	tests := []struct {
		target labhooks.Target
		code   string
		field  string
	}{
		{labhooks.Target{}, "", ""},
		{labhooks.Target{PartnerID: "ptn_1"}, "", ""},
		{labhooks.Target{Role: labhooks.RoleLab}, "", ""},
		{labhooks.Target{PartnerID: "ptn_1", Role: labhooks.RoleLab}, labhooks.EInvalid, ""},
		{labhooks.Target{Role: "wizard"}, labhooks.EInvalid, "role"},
		{labhooks.Target{Role: labhooks.RoleChecker}, labhooks.ERoleNotAllowed, "role"},
	}
	for _, tt := range tests {
		err := typ.CheckTarget(tt.target)
		if labhooks.ErrorCode(err) != tt.code {
			t.Errorf("CheckTarget(%+v) = %v, want code %q", tt.target, err, tt.code)
		}
		if e, ok := err.(*labhooks.Error); ok && e.Field != tt.field {
			t.Errorf("CheckTarget(%+v): field %q, want %q", tt.target, e.Field, tt.field)
		}
	}
}

func TestAudienceQuery(t *testing.T) {
	typ := &labhooks.EventType{Name: "sampleUpdated", Roles: []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab}}
	for _, tt := range []struct {
		target labhooks.Target
		want   labhooks.AudienceQuery
	}{
		{labhooks.Target{}, labhooks.AudienceQuery{Roles: typ.Roles}},
		{labhooks.Target{Role: labhooks.RoleLab}, labhooks.AudienceQuery{Roles: []labhooks.Role{labhooks.RoleLab}}},
		{labhooks.Target{PartnerID: "ptn_1"}, labhooks.AudienceQuery{PartnerID: "ptn_1"}},
	} {
		got := typ.AudienceQuery(tt.target)
		if got.PartnerID != tt.want.PartnerID || !slices.Equal(got.Roles, tt.want.Roles) {
			t.Errorf("AudienceQuery(%+v) = %+v, want %+v", tt.target, got, tt.want)
		}
	}
}

// TestRecipients is the one rule of who receives an event: enabled links,
// of partners whose role may receive it (the one named, or of the role
// named), whose filter lets it through.
func TestRecipients(t *testing.T) {
	typ := &labhooks.EventType{Name: "sampleUpdated", Roles: []labhooks.Role{labhooks.RoleSampler, labhooks.RoleLab}}
	link := func(id, partner string, role labhooks.Role, enabled bool, names ...string) labhooks.AudienceLink {
		return labhooks.AudienceLink{ID: id, PartnerID: partner, Role: role, Enabled: enabled, EventNames: names}
	}
	all := []labhooks.AudienceLink{
		link("dl_lab", "ptn_lab", labhooks.RoleLab, true),
		link("dl_lab_off", "ptn_lab", labhooks.RoleLab, false),
		link("dl_lab_filtered_in", "ptn_lab", labhooks.RoleLab, true, "sampleReceived", "sampleUpdated"),
		link("dl_lab_filtered_out", "ptn_lab", labhooks.RoleLab, true, "sampleReceived"),
		link("dl_sampler", "ptn_sampler", labhooks.RoleSampler, true),
		link("dl_client", "ptn_client", labhooks.RoleClient, true), // more than the query asked: the rule still decides
	}
	ids := func(ls []labhooks.AudienceLink) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	tests := []struct {
		name     string
		target   labhooks.Target
		audience labhooks.Audience
		want     []string
		code     string
	}{
		{"every partner allowed", labhooks.Target{}, labhooks.Audience{Links: all}, []string{"dl_lab", "dl_lab_filtered_in", "dl_sampler"}, ""},
		{"one role", labhooks.Target{Role: labhooks.RoleSampler}, labhooks.Audience{Links: all}, []string{"dl_sampler"}, ""},
		{"one partner", labhooks.Target{PartnerID: "ptn_lab"}, labhooks.Audience{PartnerRole: labhooks.RoleLab, Links: all},
			[]string{"dl_lab", "dl_lab_filtered_in"}, ""},
		{"a partner without links", labhooks.Target{PartnerID: "ptn_lab"}, labhooks.Audience{PartnerRole: labhooks.RoleLab}, nil, ""},
		{"a partner that does not exist", labhooks.Target{PartnerID: "ptn_gone"}, labhooks.Audience{}, nil, labhooks.ENotFound},
		{"a partner whose role may not receive it", labhooks.Target{PartnerID: "ptn_client"},
			labhooks.Audience{PartnerRole: labhooks.RoleClient, Links: all}, nil, labhooks.ERoleNotAllowed},
		{"nobody", labhooks.Target{}, labhooks.Audience{}, nil, ""},
	}
	for _, tt := range tests {
		got, err := typ.Recipients(tt.target, &tt.audience)
		if labhooks.ErrorCode(err) != tt.code {
			t.Errorf("%s: err = %v, want code %q", tt.name, err, tt.code)
		}
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("%s: recipients %v, want %v", tt.name, ids(got), tt.want)
		}
	}
}

func TestDeliver(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &labhooks.Event{ID: "evt_1", EventName: "sampleUpdated"}
	n := 0
	ds := e.Deliver([]labhooks.AudienceLink{{ID: "dl_a", PartnerID: "ptn_a"}, {ID: "dl_b", PartnerID: "ptn_b"}}, now,
		func() string { n++; return fmt.Sprintf("dlv_%d", n) })
	if len(ds) != 2 {
		t.Fatalf("Deliver: %d deliveries", len(ds))
	}
	for i, d := range ds {
		if d.ID != fmt.Sprintf("dlv_%d", i+1) || d.EventID != "evt_1" || d.EventName != "sampleUpdated" || d.Status != labhooks.DeliveryPending ||
			d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(now) || !d.CreatedAt.Equal(now) {
			t.Errorf("delivery %d: %+v", i, d)
		}
	}
	if ds[0].DataLinkID != "dl_a" || ds[1].PartnerID != "ptn_b" {
		t.Errorf("deliveries go to the wrong links: %+v %+v", ds[0], ds[1])
	}
}

func TestRequestHash(t *testing.T) {
	base := labhooks.Event{EventName: "codeUsed", Data: []byte(`{"codeId":1}`)}
	same := base
	same.ID, same.IdempotencyKey = "evt_other", "key"
	if base.RequestHash() != same.RequestHash() {
		t.Error("the hash depends on the ID or the key, not only on what was asked")
	}
	for _, change := range []func(e *labhooks.Event){
		func(e *labhooks.Event) { e.EventName = "codeUsedX" },
		func(e *labhooks.Event) { e.Data = []byte(`{"codeId":2}`) },
		func(e *labhooks.Event) { e.PartnerID = "ptn_1" },
		func(e *labhooks.Event) { e.Role = labhooks.RoleClient },
	} {
		other := base
		change(&other)
		if other.RequestHash() == base.RequestHash() {
			t.Errorf("%+v hashes as %+v", other, base)
		}
	}
	// Fields cannot run into each other.
	a := labhooks.Event{EventName: "ab", PartnerID: "c"}
	b := labhooks.Event{EventName: "a", PartnerID: "bc"}
	if a.RequestHash() == b.RequestHash() {
		t.Error("fields run into each other")
	}
}
