package labhooks_test

import (
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
)

func TestValidatePartner(t *testing.T) {
	tests := []struct {
		name     string
		p        labhooks.Partner
		ok       bool
		wantName string
	}{
		{"lab", labhooks.Partner{Name: "Acme Lab", Role: labhooks.RoleLab}, true, "Acme Lab"},
		{"name is trimmed", labhooks.Partner{Name: "  Acme  ", Role: labhooks.RoleChecker}, true, "Acme"},
		{"empty name", labhooks.Partner{Name: "", Role: labhooks.RoleLab}, false, ""},
		{"blank name", labhooks.Partner{Name: " \t ", Role: labhooks.RoleLab}, false, ""},
		{"name of 200", labhooks.Partner{Name: strings.Repeat("n", 200), Role: labhooks.RoleLab}, true, strings.Repeat("n", 200)},
		{"name of 201", labhooks.Partner{Name: strings.Repeat("n", 201), Role: labhooks.RoleLab}, false, ""},
		{"unknown role", labhooks.Partner{Name: "x", Role: "doctor"}, false, ""},
		{"no role", labhooks.Partner{Name: "x"}, false, ""},
	}
	for _, tt := range tests {
		p := tt.p
		err := labhooks.ValidatePartner(&p)
		switch {
		case tt.ok && (err != nil || p.Name != tt.wantName):
			t.Errorf("%s: ValidatePartner = %v, name %q; want nil, %q", tt.name, err, p.Name, tt.wantName)
		case !tt.ok && labhooks.ErrorCode(err) != labhooks.EInvalid:
			t.Errorf("%s: ValidatePartner = %v, want an %s error", tt.name, err, labhooks.EInvalid)
		}
	}
}

func TestRoleAndStatusValid(t *testing.T) {
	for _, r := range labhooks.Roles {
		if !r.Valid() {
			t.Errorf("%q is not Valid", r)
		}
	}
	for _, r := range []labhooks.Role{"", "Lab", "admin"} {
		if r.Valid() {
			t.Errorf("%q is Valid", r)
		}
	}
	for s, want := range map[labhooks.DeliveryStatus]bool{
		labhooks.DeliveryPending: true, labhooks.DeliverySucceeded: true, labhooks.DeliveryFailed: true, "": false, "done": false,
	} {
		if s.Valid() != want {
			t.Errorf("DeliveryStatus(%q).Valid() = %v", s, !want)
		}
	}
}

func TestClampLimit(t *testing.T) {
	for in, want := range map[int]int{-5: labhooks.DefaultLimit, 0: labhooks.DefaultLimit, 1: 1, 50: 50, 500: 500, 501: 500, 1 << 30: 500} {
		if got := labhooks.ClampLimit(in); got != want {
			t.Errorf("ClampLimit(%d) = %d, want %d", in, got, want)
		}
	}
}
