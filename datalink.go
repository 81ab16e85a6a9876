package labhooks

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DataLink is a partner's webhook endpoint.
type DataLink struct {
	ID        string `json:"id"`
	PartnerID string `json:"partnerId"`
	// Kind is how the link's events reach the partner: pushed to URL
	// (DataLinkPush) or pulled from the feed (DataLinkPull, no URL). Set at
	// creation, never changed.
	Kind        DataLinkKind `json:"kind"`
	URL         string       `json:"url"`
	Description string       `json:"description"`
	// Secret is sent as x-api-key and keys the signature. Never serialised:
	// the API shows it once, when it is created or rotated.
	Secret string `json:"-"`
	// PreviousSecret still signs, beside Secret, until PreviousSecretExpiresAt,
	// so receivers can switch over during a rotation.
	PreviousSecret          string     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
	// EventNames filters which events the link receives; empty means all the
	// events its partner's role may receive.
	EventNames []string `json:"eventNames"`
	Enabled    bool     `json:"enabled"`
	// DisabledReason says, for the partner, why labhooks disabled the link.
	DisabledReason string `json:"disabledReason,omitempty"`
	// FailingSince is when the link's current run of failed attempts began;
	// nil once an attempt succeeds. A run long enough disables the link.
	FailingSince *time.Time `json:"failingSince,omitempty"`
	// Ordered makes the link's deliveries go one at a time, in event order
	// (the order of their IDs): a delivery waits, blocked, until the one
	// before it (the head) is delivered or failed for good. See Mode.
	Ordered   bool      `json:"ordered"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Queue is, for an ordered link as read on its own (DataLinkStore's
	// OrderedQueue), the delivery being sent and how many wait behind it;
	// nil otherwise. Not stored.
	Queue *OrderedQueue `json:"queue,omitempty"`
}

// Link modes, as the API, the dashboard and the CLI show them.
const (
	ModeOrdered    = "ordered"
	ModeConcurrent = "concurrent"
)

// Mode is "ordered" or "concurrent".
func (d *DataLink) Mode() string {
	if d.Ordered {
		return ModeOrdered
	}
	return ModeConcurrent
}

// OrderedQueue is where an ordered link's deliveries stand: Head is the
// pending delivery being sent or retried ("" when none is pending), and
// Waiting how many pending deliveries are blocked behind it.
type OrderedQueue struct {
	Head    string `json:"head,omitempty"`
	Waiting int    `json:"waiting"`
}

// DataLinkKind says how a data link's events reach its partner.
type DataLinkKind string

// Data link kinds.
const (
	// DataLinkPush links are POSTed to by the delivery engine.
	DataLinkPush DataLinkKind = "push"
	// DataLinkPull links have no URL: their deliveries wait, pending and
	// never due, until the partner pulls them from GET /v1/feed and
	// acknowledges them (POST /v1/feed/ack). The secret signs the feed's
	// items as it would sign a push.
	DataLinkPull DataLinkKind = "pull"
)

// Valid reports whether k is a known kind.
func (k DataLinkKind) Valid() bool { return k == DataLinkPush || k == DataLinkPull }

// KindOrPush returns the link's kind, push when unset.
func (d *DataLink) KindOrPush() DataLinkKind {
	if d.Kind == "" {
		return DataLinkPush
	}
	return d.Kind
}

// Pull reports whether the link is pulled rather than pushed.
func (d *DataLink) Pull() bool { return d.Kind == DataLinkPull }

// SecretHint returns the last four characters of the secret, for display.
func (d *DataLink) SecretHint() string {
	if len(d.Secret) <= 4 {
		return ""
	}
	return "…" + d.Secret[len(d.Secret)-4:]
}

// Accepts reports whether the link's event filter lets eventName through.
func (d *DataLink) Accepts(eventName string) bool { return AcceptsEvent(d.EventNames, eventName) }

// AcceptsEvent reports whether an event filter lets eventName through: an
// empty filter lets every event through.
func AcceptsEvent(filter []string, eventName string) bool {
	return len(filter) == 0 || slices.Contains(filter, eventName)
}

// Secrets returns the secrets that sign a request sent at now: the current
// one, and the previous one while a rotation's overlap lasts.
func (d *DataLink) Secrets(now time.Time) []string {
	if d.PreviousSecret != "" && d.PreviousSecretExpiresAt != nil && now.Before(*d.PreviousSecretExpiresAt) {
		return []string{d.Secret, d.PreviousSecret}
	}
	return []string{d.Secret}
}

// AllSecrets returns every secret d holds, current and previous, whether or
// not it still signs: what must never be stored from a receiver's answer.
func (d *DataLink) AllSecrets() []string {
	if d.PreviousSecret != "" {
		return []string{d.Secret, d.PreviousSecret}
	}
	return []string{d.Secret}
}

// DataLinkUpdate holds the fields of a data link to change; nil leaves a field
// as it is.
type DataLinkUpdate struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventNames  *[]string `json:"eventNames"`
	Enabled     *bool     `json:"enabled"`
	// Ordered turns ordered delivery on or off (see DataLink.Ordered).
	Ordered *bool `json:"ordered"`
}

// DataLinkFilter selects data links; nil fields do not filter.
type DataLinkFilter struct {
	PartnerID *string
	// IDs selects these links only.
	IDs []string
}

// Apply copies the fields set in u onto d.
func (u DataLinkUpdate) Apply(d *DataLink) {
	if u.URL != nil {
		d.URL = *u.URL
	}
	if u.Description != nil {
		d.Description = *u.Description
	}
	if u.EventNames != nil {
		d.EventNames = *u.EventNames
	}
	if u.Ordered != nil {
		d.Ordered = *u.Ordered
	}
	if u.Enabled != nil {
		if *u.Enabled && !d.Enabled {
			// Enabling a link is a fresh start: its failures before do not
			// count towards disabling it again.
			d.FailingSince = nil
		}
		d.Enabled = *u.Enabled
		if d.Enabled {
			d.DisabledReason = ""
		}
	}
}

// Rotate makes secret the link's secret at now; the old one keeps signing
// beside it for overlap (none when overlap is 0), so receivers can switch
// over. EInvalid when secret is the current one.
func (d *DataLink) Rotate(secret string, now time.Time, overlap time.Duration) error {
	if secret == d.Secret {
		return FieldErrorf(EInvalid, "secret", "the new secret must differ from the current one")
	}
	d.PreviousSecret, d.Secret = d.Secret, secret
	d.PreviousSecretExpiresAt = nil
	if overlap > 0 {
		exp := now.Add(overlap)
		d.PreviousSecretExpiresAt = &exp
	} else {
		d.PreviousSecret = ""
	}
	d.UpdatedAt = now
	return nil
}

// FailedFor reports whether every attempt to the enabled link has failed
// since bound or earlier: the rule that disables a link (SPEC §4).
func (d *DataLink) FailedFor(bound time.Time) bool {
	return d.Enabled && d.FailingSince != nil && !d.FailingSince.After(bound)
}

// DisableForFailing disables the link at now, if FailedFor(bound), with a
// reason that says since when it failed and what the receiver last
// answered (lastStatus, else lastError); it reports whether it did.
func (d *DataLink) DisableForFailing(now, bound time.Time, lastStatus int, lastError string) bool {
	if !d.FailedFor(bound) {
		return false
	}
	d.Enabled, d.UpdatedAt = false, now
	d.DisabledReason = FailingReason(now, *d.FailingSince, lastStatus, lastError)
	return true
}

// DisableGone disables the enabled link at now because its receiver answered
// 410 Gone, which says the endpoint is gone for good; it reports whether it
// did.
func (d *DataLink) DisableGone(now time.Time) bool {
	if !d.Enabled {
		return false
	}
	d.Enabled, d.UpdatedAt = false, now
	d.DisabledReason = fmt.Sprintf("labhooks disabled this data link on %s: its receiver answered 410 Gone, "+
		"which means the address will never take webhooks again. Point the link at a working receiver, enable it, "+
		"then replay the deliveries that failed meanwhile.", now.UTC().Format("2006-01-02 15:04 UTC"))
	return true
}

// FailingReason is the DisabledReason of a link labhooks disabled at now
// because every attempt since failingSince failed; lastStatus and lastError
// describe the latest failure, when known.
func FailingReason(now, failingSince time.Time, lastStatus int, lastError string) string {
	const layout = "2006-01-02 15:04 UTC"
	last := ""
	switch {
	case lastStatus != 0:
		last = fmt.Sprintf(" (last: HTTP %d)", lastStatus)
	case lastError != "":
		if r := []rune(lastError); len(r) > 200 {
			lastError = string(r[:200]) + "…"
		}
		last = " (last: " + lastError + ")"
	}
	return fmt.Sprintf("labhooks disabled this data link on %s: every delivery attempt has failed since %s%s. "+
		"Fix the receiver, enable the link, then replay the deliveries that failed meanwhile.",
		now.UTC().Format(layout), failingSince.UTC().Format(layout), last)
}

// Secret strength rules: the seed asks partners to "choose a long difficult
// secret"; these make that a check rather than a hope.
const (
	MinSecretLength      = 24
	MaxSecretLength      = 256
	minDistinctInSecret  = 10
	minWhsecKeyBytes     = 24
	maxWhsecKeyBytes     = 64
	whsecPrefix          = "whsec_"
	generatedSecretBytes = 32
)

// SealedSecretPrefix starts a data-link secret as stored when labhooks seals
// secrets at rest (package sealing); no secret a partner sets may start so.
const SealedSecretPrefix = "lhsealed1."

// ValidateSecret refuses a secret that is short, guessable, or cannot travel
// in an HTTP header. A secret starting with whsec_ must be the Standard
// Webhooks form: base64 of 24 to 64 random bytes. EWeakSecret.
func ValidateSecret(secret string) error {
	if len(secret) < MinSecretLength {
		return FieldErrorf(EWeakSecret, "secret", "too short (%d characters); choose a long, difficult secret of at least %d characters, or leave it out and one is generated", len(secret), MinSecretLength)
	}
	if len(secret) > MaxSecretLength {
		return FieldErrorf(EWeakSecret, "secret", "at most %d characters", MaxSecretLength)
	}
	for _, r := range secret {
		if r <= ' ' || r > '~' {
			return FieldErrorf(EWeakSecret, "secret", "only printable ASCII without spaces can travel in the x-api-key header")
		}
	}
	if why := Guessable(secret); why != "" {
		return FieldErrorf(EWeakSecret, "secret", "too easy to guess (%s); choose a long, difficult secret", why)
	}
	if strings.HasPrefix(secret, SealedSecretPrefix) {
		return FieldErrorf(EWeakSecret, "secret", "may not start with %s, which marks a secret sealed by labhooks", SealedSecretPrefix)
	}
	if rest, ok := strings.CutPrefix(secret, whsecPrefix); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(key) < minWhsecKeyBytes || len(key) > maxWhsecKeyBytes {
			return FieldErrorf(EWeakSecret, "secret", "a secret starting with whsec_ is read as a Standard Webhooks secret and must be whsec_ followed by base64 of %d to %d bytes", minWhsecKeyBytes, maxWhsecKeyBytes)
		}
	}
	return nil
}

// Guessable says why a secret or key is too easy to guess, or "" when it is
// not: fewer than 10 different characters, or one character making up over
// a quarter of it.
func Guessable(s string) string {
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	if len(counts) < minDistinctInSecret {
		return fmt.Sprintf("only %d different characters", len(counts))
	}
	for _, n := range counts {
		if n*4 > len(s) {
			return "one character makes up over a quarter of it"
		}
	}
	return ""
}

// GenerateSecret returns a new strong secret in the Standard Webhooks form,
// so official Standard Webhooks libraries take it as it is.
func GenerateSecret() string {
	b := make([]byte, generatedSecretBytes)
	rand.Read(b)
	return whsecPrefix + base64.StdEncoding.EncodeToString(b)
}

// ValidateDataLinkURL checks a data link's URL: absolute http(s) with a host,
// no credentials in it, no fragment. Plain http is refused unless allowHTTP,
// since the secret travels in the x-api-key header. EInvalid.
func ValidateDataLinkURL(raw string, allowHTTP bool) error {
	if len(raw) > MaxURLLength {
		return FieldErrorf(EInvalid, "url", "at most %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	schemes := "https://"
	if allowHTTP {
		schemes = "http:// or https://"
	}
	switch {
	case raw == "":
		return FieldErrorf(EInvalid, "url", "a data link needs the URL of your webhook receiver")
	case strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return FieldErrorf(EInvalid, "url", "must not contain spaces or control characters (write a space in a path as %%20)")
	case err != nil && strings.Contains(err.Error(), "invalid port"):
		return FieldErrorf(EInvalid, "url", "%q has an invalid port: a port is a number from 1 to 65535", raw)
	case err != nil:
		return FieldErrorf(EInvalid, "url", "%q is not a URL", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return FieldErrorf(EInvalid, "url", "must start with %s", schemes)
	case u.Scheme == "http" && !allowHTTP:
		return FieldErrorf(EInvalid, "url", "must be https: the secret is sent in the x-api-key header and plain http would expose it")
	case u.Host == "" || u.Hostname() == "":
		return FieldErrorf(EInvalid, "url", "%q has no host", raw)
	case u.User != nil:
		return FieldErrorf(EInvalid, "url", "must not carry a user name or password; labhooks authenticates with x-api-key and a signature")
	case u.Fragment != "":
		return FieldErrorf(EInvalid, "url", "must not have a #fragment")
	case strings.HasSuffix(u.Host, ":"):
		return FieldErrorf(EInvalid, "url", "%q has an empty port: leave out the colon, or give a number from 1 to 65535", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return FieldErrorf(EInvalid, "url", "%q has an invalid port: a port is a number from 1 to 65535", raw)
		}
	}
	return nil
}

// ValidateDescription bounds a data link's description, one line of text
// (ValidateText). EInvalid.
func ValidateDescription(s string) error {
	if len(s) > MaxDescription {
		return FieldErrorf(EInvalid, "description", "at most %d characters", MaxDescription)
	}
	return ValidateText("description", s)
}

// RewriteLinkSecrets applies a Store.RewriteSecrets rewrite to one link's
// secret and previous secret (when set), and reports whether either changed.
func RewriteLinkSecrets(id, secret, previous string, rewrite func(dataLinkID, secret string) (string, error)) (newSecret, newPrevious string, changed bool, err error) {
	if newSecret, err = rewrite(id, secret); err != nil {
		return "", "", false, err
	}
	newPrevious = previous
	if previous != "" {
		if newPrevious, err = rewrite(id, previous); err != nil {
			return "", "", false, err
		}
	}
	return newSecret, newPrevious, newSecret != secret || newPrevious != previous, nil
}
