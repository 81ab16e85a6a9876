package labhooks

import (
	"crypto/subtle"
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
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// KeyPrefix is the start of the partner's API key (KeyPrefixOf), to
	// tell keys apart; the key itself is stored only as its hash.
	KeyPrefix string `json:"keyPrefix"`
	// KeyHash is the hash of the API key; PreviousKeyHash that of the key
	// it replaced, which still opens until PreviousKeyExpiresAt.
	KeyHash              []byte     `json:"-"`
	PreviousKeyHash      []byte     `json:"-"`
	PreviousKeyExpiresAt *time.Time `json:"previousKeyExpiresAt,omitempty"`
	// SuspendedAt is when an admin suspended the partner: its keys open
	// nothing until it is resumed. Nil when active.
	SuspendedAt *time.Time `json:"suspendedAt,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

// RotateKey makes the key whose hash is h and whose prefix is prefix the
// partner's key at now; the old key keeps opening for overlap (none when
// overlap is 0). EInvalid for an overlap out of range.
func (p *Partner) RotateKey(h []byte, prefix string, now time.Time, overlap time.Duration) error {
	if overlap < 0 || overlap > MaxKeyOverlap {
		return FieldErrorf(EInvalid, "overlapSeconds", "between 0 and %d", int64(MaxKeyOverlap/time.Second))
	}
	p.PreviousKeyHash, p.PreviousKeyExpiresAt = nil, nil
	if overlap > 0 {
		until := now.Add(overlap)
		p.PreviousKeyHash, p.PreviousKeyExpiresAt = p.KeyHash, &until
	}
	p.KeyHash, p.KeyPrefix, p.UpdatedAt = h, prefix, now
	return nil
}

// Opens reports whether the key whose hash is h opens the partner's access
// at now: its current key, or its previous one during a rotation's
// overlap. A suspended partner's keys open nothing (see Suspended).
func (p *Partner) Opens(h []byte, now time.Time) bool {
	if subtle.ConstantTimeCompare(h, p.KeyHash) == 1 {
		return true
	}
	return p.PreviousKeyExpiresAt != nil && now.Before(*p.PreviousKeyExpiresAt) &&
		subtle.ConstantTimeCompare(h, p.PreviousKeyHash) == 1
}

// Suspended reports whether an admin suspended the partner.
func (p *Partner) Suspended() bool { return p.SuspendedAt != nil }

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
