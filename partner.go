package labhooks

import (
	"slices"
	"strings"
	"time"
)

// Role is what kind of organisation a partner is; it decides which events the
// partner may receive.
type Role string

// The partner roles of the catalog.
const (
	RoleSampler  Role = "sampler"
	RoleLab      Role = "lab"
	RoleClient   Role = "client"
	RoleProvider Role = "provider"
	RoleChecker  Role = "checker"
)

// Roles lists every role, in the order the seed page names them.
var Roles = []Role{RoleSampler, RoleLab, RoleClient, RoleProvider, RoleChecker}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Partner is an organisation that receives events.
type Partner struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// PartnerUpdate holds the fields of a partner to change; nil leaves a field as it is.
type PartnerUpdate struct {
	Name *string `json:"name"`
	Role *Role   `json:"role"`
}

// Apply copies the fields set in u onto p.
func (u PartnerUpdate) Apply(p *Partner) {
	if u.Name != nil {
		p.Name = *u.Name
	}
	if u.Role != nil {
		p.Role = *u.Role
	}
}

// ValidatePartner checks a partner's fields. EInvalid.
func ValidatePartner(p *Partner) error {
	name := strings.TrimSpace(p.Name)
	switch {
	case name == "":
		return Errorf(EInvalid, "name: a partner needs a name")
	case len(name) > 200:
		return Errorf(EInvalid, "name: at most 200 characters")
	case !p.Role.Valid():
		return Errorf(EInvalid, "role: %q is not a role; use one of sampler, lab, client, provider, checker", p.Role)
	}
	p.Name = name
	return nil
}
