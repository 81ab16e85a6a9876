package labhooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// The audit log records every change to labhooks' configuration — who made
// it, from where, what changed — in the same transaction as the change. Its
// entries form a hash chain: each carries the SHA-256 of the one before, so
// that editing or deleting an entry in the database breaks the chain at
// that entry (VerifyAudit names it). Emitted events are not audited: the
// events table is their record.

// Actor types of an audit entry.
const (
	ActorAdmin   = "admin"
	ActorPartner = "partner"
	// ActorSystem is labhooks itself: auto-disabling a failing link, the
	// admin key made at first start.
	ActorSystem = "system"
	// ActorAnonymous is someone whose key opened nothing (a failed
	// sign-in).
	ActorAnonymous = "anonymous"
)

// ActorTypes lists every actor type.
var ActorTypes = []string{ActorAdmin, ActorPartner, ActorSystem, ActorAnonymous}

// Audited actions, as noun.verb.
const (
	AuditPartnerCreate    = "partner.create"
	AuditPartnerUpdate    = "partner.update"
	AuditPartnerDelete    = "partner.delete"
	AuditPartnerSuspend   = "partner.suspend"
	AuditPartnerResume    = "partner.resume"
	AuditPartnerKeyRotate = "partner.key_rotate"
	AuditDataLinkCreate   = "datalink.create"
	AuditDataLinkUpdate   = "datalink.update"
	AuditDataLinkDelete   = "datalink.delete"
	AuditDataLinkRotate   = "datalink.secret_rotate"
	AuditDataLinkDisable  = "datalink.disable"
	AuditDataLinkTest     = "datalink.test"
	AuditDataLinkReplay   = "datalink.replay"
	AuditDeliveryRetry    = "delivery.retry"
	AuditEventTypeCreate  = "eventtype.create"
	AuditAdminKeyInit     = "adminkey.init"
	AuditAdminKeyOverride = "adminkey.override"
	AuditSignIn           = "session.signin"
	AuditSignInFailed     = "session.signin_failed"
	AuditSignOut          = "session.signout"
	AuditRetentionPurge   = "audit.purge"
	AuditEventTypeUpdate  = "eventtype.update"
	AuditErasureConfirm   = "erasure.confirm"
)

// AuditActions lists every action, for filters and documentation.
var AuditActions = []string{
	AuditPartnerCreate, AuditPartnerUpdate, AuditPartnerDelete, AuditPartnerSuspend, AuditPartnerResume,
	AuditPartnerKeyRotate, AuditDataLinkCreate, AuditDataLinkUpdate, AuditDataLinkDelete, AuditDataLinkRotate,
	AuditDataLinkDisable, AuditDataLinkTest, AuditDataLinkReplay, AuditDeliveryRetry, AuditEventTypeCreate,
	AuditAdminKeyInit, AuditAdminKeyOverride, AuditSignIn, AuditSignInFailed, AuditSignOut, AuditRetentionPurge,
	AuditEventTypeUpdate, AuditErasureConfirm,
}

// AuditActor is who made a change.
type AuditActor struct {
	// Type is ActorAdmin, ActorPartner or ActorSystem.
	Type string `json:"type"`
	// PartnerID is the partner whose key was used (ActorPartner).
	PartnerID string `json:"partnerId,omitempty"`
	// KeyPrefix is the start of the API key used, never the whole key.
	KeyPrefix string `json:"keyPrefix,omitempty"`
}

// AuditEntry is one record of the audit log.
type AuditEntry struct {
	// Seq numbers the entries 1, 2, 3… with no gap.
	Seq   int64      `json:"seq"`
	Time  time.Time  `json:"time"`
	Actor AuditActor `json:"actor"`
	// Source is the address the request came from; empty for the system.
	Source     string `json:"source,omitempty"`
	Action     string `json:"action"`
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	// PartnerID is the partner the entry is about: that partner sees it.
	PartnerID string `json:"partnerId,omitempty"`
	// Details is a JSON object: "changes" maps each changed field to its
	// {"old", "new"} values; other keys say what an action needs (a
	// reason, a count, a time range). Never a secret or a key.
	Details json.RawMessage `json:"details"`
	// PrevHash is the Hash of the entry before (empty for the first);
	// Hash covers PrevHash and every field above.
	PrevHash HexBytes `json:"prevHash"`
	Hash     HexBytes `json:"hash"`
}

// HexBytes is bytes shown as hex in JSON.
type HexBytes []byte

// MarshalText writes b as hex.
func (b HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(b)), nil }

// UnmarshalText reads hex.
func (b *HexBytes) UnmarshalText(text []byte) error {
	v, err := hex.DecodeString(string(text))
	*b = v
	return err
}

// AuditChange is one changed field of an entry's details.
type AuditChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// AuditDetails builds an entry's details from changes (nil or empty for
// none) and other keys; it panics on values that are not JSON, a
// programming error.
func AuditDetails(changes map[string]AuditChange, other map[string]any) json.RawMessage {
	m := make(map[string]any, len(other)+1)
	for k, v := range other {
		m[k] = v
	}
	if len(changes) > 0 {
		m["changes"] = changes
	}
	b, err := json.Marshal(m) // map keys sorted: canonical
	if err != nil {
		panic(fmt.Sprintf("audit details: %v", err))
	}
	return b
}

// Seal makes e entry seq of the chain, following the entry whose hash is
// prev: it sets Seq, PrevHash and Hash, and truncates Time to the
// millisecond that both stores keep.
func (e *AuditEntry) Seal(seq int64, prev []byte) {
	e.Seq, e.PrevHash = seq, append(HexBytes{}, prev...)
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	if len(e.Details) == 0 {
		e.Details = json.RawMessage(`{}`)
	}
	e.Hash = e.ChainHash()
}

// ChainHash computes the hash e should carry: SHA-256 over its PrevHash and
// each field, every one prefixed with its length so that no two entries
// encode alike.
func (e *AuditEntry) ChainHash() []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte("labhooks audit v1"))
	field(e.PrevHash)
	field(binary.BigEndian.AppendUint64(nil, uint64(e.Seq)))
	field(binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixMilli())))
	for _, s := range []string{e.Actor.Type, e.Actor.PartnerID, e.Actor.KeyPrefix, e.Source, e.Action,
		e.TargetType, e.TargetID, e.PartnerID} {
		field([]byte(s))
	}
	field(e.Details)
	return h.Sum(nil)
}

// AuditHead is where the stored chain starts and ends. Purging old entries
// moves the anchor: the kept part starts from the hash of the last entry
// purged, so it stays verifiable.
type AuditHead struct {
	// AnchorSeq is the Seq of the last entry purged (0 for none), and
	// AnchorHash its Hash: the PrevHash of the first entry kept.
	AnchorSeq  int64    `json:"anchorSeq"`
	AnchorHash HexBytes `json:"anchorHash"`
	// Seq and Hash are those of the newest entry (0 and empty for none).
	Seq  int64    `json:"seq"`
	Hash HexBytes `json:"hash"`
}

// AuditBreak is where a chain fails to verify.
type AuditBreak struct {
	// Seq is the first entry that does not match (for a missing entry, the
	// Seq that should be there).
	Seq    int64
	Reason string
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit entry %d: %s", b.Seq, b.Reason)
}

// AuditVerifier checks a chain entry by entry, oldest first, from its head's
// anchor: Check each entry, then End.
type AuditVerifier struct {
	head AuditHead
	seq  int64
	prev []byte
	n    int64
}

// NewAuditVerifier starts verifying the chain head describes.
func NewAuditVerifier(head AuditHead) *AuditVerifier {
	return &AuditVerifier{head: head, seq: head.AnchorSeq, prev: head.AnchorHash}
}

// Check verifies the next entry. *AuditBreak.
func (v *AuditVerifier) Check(e *AuditEntry) error {
	want := v.seq + 1
	switch {
	case e.Seq > want:
		return &AuditBreak{want, fmt.Sprintf("missing (the next entry stored is %d)", e.Seq)}
	case e.Seq < want:
		return &AuditBreak{e.Seq, "out of order or duplicated"}
	case !bytes.Equal(e.PrevHash, v.prev):
		return &AuditBreak{e.Seq, "its previous-entry hash does not match the entry before it (an entry before it was changed or removed)"}
	case !bytes.Equal(e.Hash, e.ChainHash()):
		return &AuditBreak{e.Seq, "its content does not match its hash (the entry was changed)"}
	}
	v.seq, v.prev = e.Seq, e.Hash
	v.n++
	return nil
}

// End checks that the chain ended where its head says, and returns how many
// entries were checked. *AuditBreak.
func (v *AuditVerifier) End() (int64, error) {
	switch {
	case v.seq < v.head.Seq:
		return v.n, &AuditBreak{v.seq + 1, fmt.Sprintf("missing (the chain's head is entry %d)", v.head.Seq)}
	case v.seq > v.head.Seq:
		return v.n, &AuditBreak{v.head.Seq + 1, fmt.Sprintf("not in the chain's head, which ends at entry %d", v.head.Seq)}
	case !bytes.Equal(v.prev, v.head.Hash):
		return v.n, &AuditBreak{v.seq, "its hash does not match the chain's head (the newest entry was changed)"}
	}
	return v.n, nil
}

// AuditFilter selects audit entries; zero fields do not filter.
type AuditFilter struct {
	// PartnerID selects the entries about that partner.
	PartnerID *string
	// ActorType and ActorPartnerID select who acted.
	ActorType      string
	ActorPartnerID string
	// TargetID selects the entries about one object.
	TargetID string
	Action   string
	// Since (inclusive) and Until (exclusive) bound the entries' times.
	Since, Until time.Time
	// Cursor continues a listing (the Seq of the last entry seen);
	// Ascending lists oldest first, for export.
	Cursor    string
	Ascending bool
	Limit     int
}

// Audit entries travel to the store in the context of the write they
// record, so that each is appended in that write's transaction.

type auditKey struct{}

type pendingAudit struct {
	entries []*AuditEntry
	done    atomic.Bool
}

// WithAudit returns ctx carrying entries: the next store write made with it
// appends them to the audit log in its own transaction (see Store). The
// entries are pointers so that a change function may fill in their details
// under the write's lock.
func WithAudit(ctx context.Context, entries ...*AuditEntry) context.Context {
	return context.WithValue(ctx, auditKey{}, &pendingAudit{entries: entries})
}

// PendingAudit returns the entries ctx carries that no write has appended
// yet; for stores.
func PendingAudit(ctx context.Context) []*AuditEntry {
	p, _ := ctx.Value(auditKey{}).(*pendingAudit)
	if p == nil || p.done.Load() {
		return nil
	}
	return p.entries
}

// AuditAppended marks ctx's entries appended, once the write that appended
// them committed; for stores.
func AuditAppended(ctx context.Context) {
	if p, _ := ctx.Value(auditKey{}).(*pendingAudit); p != nil {
		p.done.Store(true)
	}
}

// KeyPrefixLength is how much of an API key the audit log keeps: the type
// prefix and six characters, enough to tell keys apart, far too little to
// guess the rest.
const KeyPrefixLength = 10

// KeyPrefixOf returns the part of key an audit entry may show: at most
// KeyPrefixLength characters, and at most a quarter of a short one (a
// mistyped key may be some other secret).
func KeyPrefixOf(key string) string {
	n := min(KeyPrefixLength, len(key)/4)
	return key[:n]
}
