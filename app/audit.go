package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/labhooks/labhooks"
)

// Every operation that changes something records it in the audit log, in
// the transaction of the change: it builds the entry (entry), and hands it
// to the store in the context of its one write (labhooks.WithAudit).
// Operations that write nothing else (a test send, a sign-in) append their
// entry on its own.

// actor is who c is, for an audit entry.
func (c *Caller) actor() labhooks.AuditActor {
	switch {
	case c == nil || c.System:
		return labhooks.AuditActor{Type: labhooks.ActorSystem}
	case c.Admin:
		return labhooks.AuditActor{Type: labhooks.ActorAdmin, KeyPrefix: c.KeyPrefix}
	}
	return labhooks.AuditActor{Type: labhooks.ActorPartner, PartnerID: c.Partner.ID, KeyPrefix: c.KeyPrefix}
}

// entry starts the audit entry of c doing action to target (targetType,
// targetID), about partner partnerID ("" for none: only the admin sees it).
func (s *Service) entry(c *Caller, action, targetType, targetID, partnerID string) *labhooks.AuditEntry {
	e := &labhooks.AuditEntry{Time: s.now(), Actor: c.actor(), Action: action, TargetType: targetType,
		TargetID: targetID, PartnerID: partnerID}
	if c != nil {
		e.Source = c.Source
	}
	return e
}

// audited returns ctx carrying e for the store write that makes the change
// e records.
func audited(ctx context.Context, e *labhooks.AuditEntry, details map[string]any) context.Context {
	e.Details = labhooks.AuditDetails(nil, details)
	return labhooks.WithAudit(ctx, e)
}

// changes collects the fields an update changed, for an audit entry.
type changes map[string]labhooks.AuditChange

// add records field's change from old to new, if it changed.
func (ch changes) add(field string, old, new any) {
	if !equalValues(old, new) {
		ch[field] = labhooks.AuditChange{Old: old, New: new}
	}
}

func equalValues(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, ok := b.([]string)
		return ok && slices.Equal(as, bs)
	}
	return a == b
}

// Audit lists audit entries newest first, a page at a time: every entry
// for the admin, the entries about itself for a partner. ENotFound when a
// partner names another.
func (s *Service) Audit(ctx context.Context, c *Caller, f labhooks.AuditFilter) ([]*labhooks.AuditEntry, string, error) {
	if !c.Admin {
		if f.PartnerID != nil && *f.PartnerID != c.Partner.ID {
			return nil, "", labhooks.Errorf(labhooks.ENotFound, "partner %s not found", *f.PartnerID)
		}
		f.PartnerID = &c.Partner.ID
	}
	if f.ActorType != "" && !slices.Contains(labhooks.ActorTypes, f.ActorType) {
		return nil, "", labhooks.FieldErrorf(labhooks.EInvalid, "actor", "%q is not an actor; use admin, system, anonymous, or a partner ID", f.ActorType)
	}
	if f.Action != "" && !slices.Contains(labhooks.AuditActions, f.Action) {
		return nil, "", labhooks.FieldErrorf(labhooks.EInvalid, "action", "%q is not an audited action", f.Action)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, "", labhooks.FieldErrorf(labhooks.EInvalid, "until", "must be after since")
	}
	return s.store.Audit(ctx, f)
}

// VerifyAudit walks the whole audit chain, oldest first, and returns how
// many entries it checked; a *labhooks.AuditBreak names the first entry
// that does not match.
func VerifyAudit(ctx context.Context, store labhooks.AuditStore) (int64, error) {
	head, err := store.AuditHead(ctx)
	if err != nil {
		return 0, err
	}
	v := labhooks.NewAuditVerifier(*head)
	err = WalkAudit(ctx, store, func(e *labhooks.AuditEntry) error {
		if e.Seq > head.Seq {
			return errStop // appended after the head was read
		}
		return v.Check(e)
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, err
	}
	return v.End()
}

// WalkAudit calls fn with every audit entry, oldest first, a page at a
// time, until fn returns an error, which it returns.
func WalkAudit(ctx context.Context, store labhooks.AuditStore, fn func(*labhooks.AuditEntry) error) error {
	f := labhooks.AuditFilter{Ascending: true, Limit: labhooks.MaxLimit}
	for {
		es, next, err := store.Audit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// PurgeAudit deletes the audit entries older than retention, keeping the
// chain verifiable from the last one deleted, and records that it did.
func (s *Service) PurgeAudit(ctx context.Context, retention time.Duration) (int, error) {
	before := s.now().Add(-retention)
	n, err := s.store.PurgeAudit(ctx, before)
	if err != nil || n == 0 {
		return n, err
	}
	e := s.entry(nil, labhooks.AuditRetentionPurge, "audit", "", "")
	e.Details = labhooks.AuditDetails(nil, map[string]any{"deleted": n, "before": before})
	return n, s.store.AppendAudit(ctx, e)
}

// VerifyAudit walks the audit chain as the package function does. Admin
// only.
func (s *Service) VerifyAudit(ctx context.Context, c *Caller) (int64, error) {
	if err := c.RequireAdmin(); err != nil {
		return 0, err
	}
	return VerifyAudit(ctx, s.store)
}
