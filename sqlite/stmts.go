package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// statements are the hot paths' SQL, prepared once: parsing a statement
// costs more than running it. They are prepared on the write pool's one
// connection and used inside transactions with tx.StmtContext. Lists travel
// as one JSON array argument (json_each) so that every statement's text is
// fixed.
type statements struct {
	savepoint, rollbackTo, release *sql.Stmt

	insertEvent, insertDelivery, nextSequence *sql.Stmt

	linksDue, linksNextDue, claimJobs *sql.Stmt

	insertAttempt, updateAfterAttempt, updateFailingSince *sql.Stmt

	orderedOf *sql.Stmt
}

func prepareStatements(ctx context.Context, db *sql.DB) (*statements, error) {
	var st statements
	for _, s := range []struct {
		dst  **sql.Stmt
		text string
	}{
		{&st.savepoint, `SAVEPOINT event`},
		{&st.rollbackTo, `ROLLBACK TO event`},
		{&st.release, `RELEASE event`},
		{&st.insertEvent, `INSERT INTO events (id, event_name, data, partner_id, role, idempotency_key, request_hash, created_at, traceparent,
			occurred_at, entity, entity_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.nextSequence, `INSERT INTO entity_sequences (entity, seq) VALUES (?1, 1)
			ON CONFLICT (entity) DO UPDATE SET seq = seq + 1 RETURNING seq`},
		// A delivery of an ordered link that has a pending delivery waits,
		// blocked (sqlstore/ordered.go): orderedInsertDue.
		{&st.insertDelivery, `INSERT INTO deliveries (id, event_id, datalink_id, partner_id, event_name, status,
			next_attempt_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ` + orderedInsertDue + `, ?8, ?9)`},
		// Each of a list of data links' first pending deliveries, due
		// first: a claim takes those due now, and the first of the others
		// tells when the link is due next. A pending delivery without a
		// due time waits for something else to make it due: no claim
		// takes it. ?3 are deliveries to step over (leased, or taken
		// already by the claim).
		{&st.linksDue, `SELECT l.value, d.id, d.next_attempt_at FROM json_each(?1) AS l JOIN deliveries d ON d.rowid IN (
				SELECT rowid FROM deliveries INDEXED BY deliveries_link_due WHERE datalink_id = l.value AND status = 'pending'
					AND next_attempt_at IS NOT NULL AND id NOT IN (SELECT value FROM json_each(?3))
				ORDER BY next_attempt_at, id LIMIT ?2)
			ORDER BY l.key, d.next_attempt_at, d.id`},
		// When each of a list of data links is next due; NULL: never.
		{&st.linksNextDue, `SELECT l.value, (SELECT MIN(next_attempt_at) FROM deliveries INDEXED BY deliveries_link_due
			WHERE datalink_id = l.value AND status = 'pending') FROM json_each(?1) AS l`},
		// The columns of sqlstore.ScanClaimedRow.
		{&st.claimJobs, `SELECT d.id, d.event_id, d.event_name, d.datalink_id, d.partner_id, d.attempt_count, d.attempt_base,
			d.created_at, e.data, l.id IS NOT NULL, COALESCE(l.url, ''), COALESCE(l.secret, ''), COALESCE(l.previous_secret, ''),
			l.previous_secret_expires_at, COALESCE(l.enabled, 0), e.traceparent,
			COALESCE(e.occurred_at, e.created_at), e.entity, e.entity_seq
			FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN datalinks l ON l.id = d.datalink_id
			WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.id`},
		{&st.insertAttempt, `INSERT INTO attempts (delivery_id, number, started_at, status_code, duration_ms, error, response_body)
			VALUES (?1, (SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE delivery_id = ?1), ?2, ?3, ?4, ?5, ?6)`},
		// Every attempt counts; only the lease's holder (?5, from the leases
		// in memory) moves the delivery on, and only while it is pending.
		// SET expressions all see the row as it was.
		{&st.updateAfterAttempt, `UPDATE deliveries SET attempt_count = attempt_count + 1,
			last_status_code = ?2, last_error = ?3, updated_at = ?4,
			status = CASE WHEN ?5 AND status = 'pending' THEN ?6 ELSE status END,
			next_attempt_at = CASE WHEN ?5 AND status = 'pending' THEN ?7 ELSE next_attempt_at END
			WHERE id = ?1`},
		// ?2 and ?3 are a labhooks.FailingRun's Since and Fresh. The row
		// is written only when the value changes, not on every batch.
		{&st.updateFailingSince, `UPDATE datalinks SET failing_since = CASE WHEN ?3 THEN ?2 ELSE COALESCE(failing_since, ?2) END
			WHERE id = ?1 AND failing_since IS NOT (CASE WHEN ?3 THEN ?2 ELSE COALESCE(failing_since, ?2) END)`},
		// Which of a list of data links are ordered (sqlstore/ordered.go):
		// each batch of attempt records asks, so its text is fixed.
		{&st.orderedOf, `SELECT id FROM datalinks WHERE id IN (SELECT value FROM json_each(?1)) AND ordered ORDER BY id`},
	} {
		stmt, err := db.PrepareContext(ctx, s.text)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("sqlite: preparing %q: %w", s.text, err)
		}
		*s.dst = stmt
	}
	return &st, nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.savepoint, st.rollbackTo, st.release,
		st.insertEvent, st.insertDelivery, st.linksDue, st.linksNextDue, st.claimJobs, st.insertAttempt, st.updateAfterAttempt, st.updateFailingSince, st.orderedOf} {
		if s != nil {
			s.Close()
		}
	}
}

// orderedInsertDue is the next_attempt_at of a delivery inserted with
// insertDelivery: none (blocked) when its data link is ordered and has a
// pending delivery already, else ?7. The one write connection holds the
// database, so no other transaction can change either meanwhile.
const orderedInsertDue = `CASE WHEN EXISTS (SELECT 1 FROM datalinks WHERE id = ?3 AND ordered)
	AND EXISTS (SELECT 1 FROM deliveries INDEXED BY deliveries_link_due WHERE datalink_id = ?3 AND status = 'pending')
	THEN NULL ELSE ?7 END`

// jsonList encodes a list for a json_each argument.
func jsonList[T any](items []T) string {
	if len(items) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(items)
	return string(b)
}
