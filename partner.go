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

// RoleList names roles for a message: "sampler, lab, client".
func RoleList(roles []Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// NotARole is the error for a role that is not one of Roles.
func NotARole(field string, r Role) *Error {
	return FieldErrorf(EInvalid, field, "%q is not a role; use one of %s", r, RoleList(Roles))
}

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

// ValidatePartner checks a partner's fields, trimming its name; the name
// is one line of text (ValidateText). EInvalid.
func ValidatePartner(p *Partner) error {
	name := strings.TrimSpace(p.Name)
	switch {
	case name == "":
		return FieldErrorf(EInvalid, "name", "a partner needs a name")
	case len(name) > MaxPartnerName:
		return FieldErrorf(EInvalid, "name", "at most %d characters", MaxPartnerName)
	case !p.Role.Valid():
		return NotARole("role", p.Role)
	}
	if err := ValidateText("name", name); err != nil {
		return err
	}
	p.Name = name
	return nil
}
