package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/labhooks/labhooks"
)

const auditColumns = `seq, at, actor_type, actor_partner_id, actor_key_prefix, source, action, target_type,
	target_id, partner_id, details, prev_hash, hash`

// AppendAudit appends the audit entries ctx carries (labhooks.WithAudit)
// in db, the write transaction of the change they record: the embedding
// store's write function calls it before it commits, and
// labhooks.AuditAppended once it has. The chain's row is locked first, so
// that the processes sharing a database extend one chain, one append at a
// time.
func AppendAudit(ctx context.Context, db DB) error {
	return appendAudit(ctx, db, labhooks.PendingAudit(ctx))
}

func appendAudit(ctx context.Context, db DB, entries []*labhooks.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var seq int64
	var head []byte
	if err := db.QueryRow(ctx, `SELECT head_seq, head_hash FROM audit_chain WHERE id = 1`+db.LockRows()).Scan(&seq, &head); err != nil {
		return fmt.Errorf("reading the audit chain: %w", err)
	}
	for _, e := range entries {
		seq++
		e.Seal(seq, head)
		head = e.Hash
		_, err := db.Exec(ctx, `INSERT INTO audit_log (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			e.Seq, db.TimeArg(e.Time), e.Actor.Type, e.Actor.PartnerID, e.Actor.KeyPrefix, db.TextArg(e.Source), e.Action,
			e.TargetType, e.TargetID, e.PartnerID, string(e.Details), []byte(e.PrevHash), []byte(e.Hash))
		if err != nil {
			return err
		}
	}
	_, err := db.Exec(ctx, `UPDATE audit_chain SET head_seq = $1, head_hash = $2 WHERE id = 1`, seq, head)
	return err
}

// AppendAudit appends entries on their own.
func (s *Store) AppendAudit(ctx context.Context, entries ...*labhooks.AuditEntry) error {
	return s.Write(ctx, func(db DB) error { return appendAudit(ctx, db, entries) })
}

// Audit lists the entries f selects, a page at a time.
func (s *Store) Audit(ctx context.Context, f labhooks.AuditFilter) ([]*labhooks.AuditEntry, string, error) {
	w := &where{}
	if f.PartnerID != nil {
		w.add("partner_id = $%d", *f.PartnerID)
	}
	for _, c := range []struct{ column, v string }{
		{"actor_type", f.ActorType}, {"actor_partner_id", f.ActorPartnerID}, {"target_id", f.TargetID}, {"action", f.Action},
	} {
		if c.v != "" {
			w.add(c.column+" = $%d", c.v)
		}
	}
	order := "DESC"
	if f.Cursor != "" {
		after, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || after < 0 {
			return nil, "", labhooks.FieldErrorf(labhooks.EInvalid, "cursor", "not a cursor this listing gave")
		}
		if f.Ascending {
			w.add("seq > $%d", after)
		} else {
			w.add("seq < $%d", after)
		}
	}
	if f.Ascending {
		order = "ASC"
	}
	limit := labhooks.ClampLimit(f.Limit)
	es, err := call(ctx, s.Read, func(db DB) ([]*labhooks.AuditEntry, error) {
		if !f.Since.IsZero() {
			w.add("at >= $%d", db.TimeArg(f.Since))
		}
		if !f.Until.IsZero() {
			w.add("at < $%d", db.TimeArg(f.Until))
		}
		q := fmt.Sprintf(`SELECT %s FROM audit_log %s ORDER BY seq %s LIMIT $%d`, auditColumns, w.String(), order, len(w.args)+1)
		return query(ctx, db, scanAudit, q, append(w.args, limit+1)...)
	})
	if err != nil {
		return nil, "", err
	}
	if len(es) > limit {
		es = es[:limit]
		return es, strconv.FormatInt(es[limit-1].Seq, 10), nil
	}
	return es, "", nil
}

func scanAudit(d Dialect, row Row) (*labhooks.AuditEntry, error) {
	var e labhooks.AuditEntry
	var details string
	var prev, hash []byte
	err := row.Scan(&e.Seq, d.Time(&e.Time), &e.Actor.Type, &e.Actor.PartnerID, &e.Actor.KeyPrefix, &e.Source, &e.Action,
		&e.TargetType, &e.TargetID, &e.PartnerID, &details, &prev, &hash)
	if err != nil {
		return nil, err
	}
	utc(&e.Time)
	e.Details, e.PrevHash, e.Hash = []byte(details), prev, hash
	return &e, nil
}

// AuditHead returns the chain's anchor and head.
func (s *Store) AuditHead(ctx context.Context) (*labhooks.AuditHead, error) {
	return call(ctx, s.Read, func(db DB) (*labhooks.AuditHead, error) {
		var h labhooks.AuditHead
		var anchor, head []byte
		err := db.QueryRow(ctx, `SELECT anchor_seq, anchor_hash, head_seq, head_hash FROM audit_chain WHERE id = 1`).
			Scan(&h.AnchorSeq, &anchor, &h.Seq, &head)
		h.AnchorHash, h.Hash = anchor, head
		return &h, err
	})
}

// purgeBatch bounds the entries one purge transaction deletes, so that it
// never holds the chain for long.
const purgeBatch = 1000

// PurgeAudit deletes the entries older than before, a batch per
// transaction, each moving the anchor to the last entry it deleted.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := call(ctx, s.Write, func(db DB) (int, error) {
			var anchorSeq int64
			if err := db.QueryRow(ctx, `SELECT anchor_seq FROM audit_chain WHERE id = 1`+db.LockRows()).Scan(&anchorSeq); err != nil {
				return 0, err
			}
			var last int64
			var hash []byte
			err := db.QueryRow(ctx, `SELECT seq, hash FROM audit_log WHERE seq = (SELECT MAX(seq) FROM (
				SELECT seq FROM audit_log WHERE at < $1 ORDER BY seq LIMIT $2) AS old)`, db.TimeArg(before), purgeBatch).Scan(&last, &hash)
			if errors.Is(err, sql.ErrNoRows) {
				return 0, nil
			} else if err != nil {
				return 0, err
			}
			// Entries are appended in time order, so every one up to last
			// is old: delete by seq, which keeps the chain a prefix.
			n, err := db.Exec(ctx, `DELETE FROM audit_log WHERE seq <= $1`, last)
			if err != nil {
				return 0, err
			}
			_, err = db.Exec(ctx, `UPDATE audit_chain SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1`, last, hash)
			return int(n), err
		})
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}
