package labhooks

import (
	"crypto/subtle"
	"net/mail"
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
	// RoleOperator is the organisation that runs labhooks: its data links
	// receive labhooks' operational events (dataLinkFailing and the like)
	// and nothing else.
	RoleOperator Role = "operator"
)

// Roles lists every role, in the order the seed page names them, then
// RoleOperator.
var Roles = []Role{RoleSampler, RoleLab, RoleClient, RoleProvider, RoleChecker, RoleOperator}

// PlatformRoles are the roles of the seed page: the partners the
// platform's own events go to (every role but RoleOperator).
var PlatformRoles = []Role{RoleSampler, RoleLab, RoleClient, RoleProvider, RoleChecker}

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
	// Contacts are the email addresses labhooks writes to when one of the
	// partner's data links fails, is disabled or recovers; at most
	// MaxContacts, each a bare address (ValidateContacts).
	Contacts  []string  `json:"contacts"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
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
	Name     *string   `json:"name"`
	Role     *Role     `json:"role"`
	Contacts *[]string `json:"contacts"`
}

// Apply copies the fields set in u onto p.
func (u PartnerUpdate) Apply(p *Partner) {
	if u.Name != nil {
		p.Name = *u.Name
	}
	if u.Role != nil {
		p.Role = *u.Role
	}
	if u.Contacts != nil {
		p.Contacts = *u.Contacts
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
	contacts, err := ValidateContacts(p.Contacts)
	if err != nil {
		return err
	}
	p.Name, p.Contacts = name, contacts
	return nil
}

// ValidateContacts checks a partner's contact addresses and returns them
// trimmed, without duplicates (compared without case), never nil: at most
// MaxContacts, each a bare address such as lab-it@example.com (no display
// name, no list) of at most MaxContactLength characters, as net/mail reads
// it. EInvalid.
func ValidateContacts(contacts []string) ([]string, error) {
	if len(contacts) > MaxContacts {
		return nil, FieldErrorf(EInvalid, "contacts", "at most %d addresses", MaxContacts)
	}
	out := make([]string, 0, len(contacts))
	seen := map[string]bool{}
	for _, c := range contacts {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, FieldErrorf(EInvalid, "contacts", "an empty address; leave it out")
		}
		if len(c) > MaxContactLength {
			return nil, FieldErrorf(EInvalid, "contacts", "%.40q…: at most %d characters", c, MaxContactLength)
		}
		a, err := mail.ParseAddress(c)
		if err != nil || a.Name != "" || a.Address != c || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
			return nil, FieldErrorf(EInvalid, "contacts", "%q is not an email address such as lab-it@example.com (give the address alone, without a name or <>)", c)
		}
		if key := strings.ToLower(c); !seen[key] {
			seen[key] = true
			out = append(out, c)
		}
	}
	return out, nil
}
