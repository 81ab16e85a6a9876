package sqlstore

import (
	"encoding/json"
	"time"

	"github.com/labhooks/labhooks"
)

// The columns each scanner reads, in its order.
const (
	partnerColumns = `id, name, role, key_prefix, api_key_hash, previous_key_hash, previous_key_expires_at, suspended_at,
	created_at, updated_at, contacts`
	dataLinkColumns = `id, partner_id, url, description, secret, previous_secret, previous_secret_expires_at,
	event_names, enabled, disabled_reason, failing_since, created_at, updated_at, kind, ordered`
	deliveryColumns = `id, event_id, event_name, partner_id, datalink_id, status, attempt_count, next_attempt_at,
	last_status_code, last_error, created_at, updated_at`
	attemptColumns = `delivery_id, number, started_at, status_code, duration_ms, error, response_body`
	eventColumns   = `id, event_name, data, partner_id, role, COALESCE(idempotency_key, ''), created_at, erased_at,
	COALESCE(occurred_at, created_at), entity, entity_seq`
)

// scanPartner reads the partnerColumns of a row.
func scanPartner(d Dialect, row Row) (*labhooks.Partner, error) {
	var p labhooks.Partner
	var contacts string
	if err := row.Scan(&p.ID, &p.Name, &p.Role, &p.KeyPrefix, &p.KeyHash, &p.PreviousKeyHash, d.NullTime(&p.PreviousKeyExpiresAt),
		d.NullTime(&p.SuspendedAt), d.Time(&p.CreatedAt), d.Time(&p.UpdatedAt), &contacts); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(contacts), &p.Contacts); err != nil || p.Contacts == nil {
		p.Contacts = []string{}
	}
	utc(&p.CreatedAt, &p.UpdatedAt)
	utcPtr(&p.PreviousKeyExpiresAt, &p.SuspendedAt)
	return &p, nil
}

// scanDataLink reads the dataLinkColumns of a row.
func scanDataLink(d Dialect, row Row) (*labhooks.DataLink, error) {
	var l labhooks.DataLink
	err := row.Scan(&l.ID, &l.PartnerID, &l.URL, &l.Description, &l.Secret, &l.PreviousSecret, d.NullTime(&l.PreviousSecretExpiresAt),
		d.EventNames(&l.EventNames), &l.Enabled, &l.DisabledReason, d.NullTime(&l.FailingSince), d.Time(&l.CreatedAt), d.Time(&l.UpdatedAt), &l.Kind, &l.Ordered)
	if err != nil {
		return nil, err
	}
	if l.EventNames == nil {
		l.EventNames = []string{}
	}
	utc(&l.CreatedAt, &l.UpdatedAt)
	utcPtr(&l.PreviousSecretExpiresAt, &l.FailingSince)
	return &l, nil
}

// scanDelivery reads the deliveryColumns of a row. A delivery that is not
// pending has no next attempt, whatever the row holds.
func scanDelivery(d Dialect, row Row) (*labhooks.Delivery, error) {
	var v labhooks.Delivery
	var next *time.Time
	err := row.Scan(&v.ID, &v.EventID, &v.EventName, &v.PartnerID, &v.DataLinkID, &v.Status, &v.AttemptCount, d.NullTime(&next),
		&v.LastStatusCode, &v.LastError, d.Time(&v.CreatedAt), d.Time(&v.UpdatedAt))
	if err != nil {
		return nil, err
	}
	if v.Status == labhooks.DeliveryPending {
		v.NextAttemptAt = next
	}
	utc(&v.CreatedAt, &v.UpdatedAt)
	utcPtr(&v.NextAttemptAt)
	return &v, nil
}

func scanAttempt(d Dialect, row Row) (*labhooks.Attempt, error) {
	var a labhooks.Attempt
	if err := row.Scan(&a.DeliveryID, &a.Number, d.Time(&a.StartedAt), &a.StatusCode, &a.DurationMs, &a.Error, &a.ResponseBody); err != nil {
		return nil, err
	}
	utc(&a.StartedAt)
	return &a, nil
}

func scanEvent(d Dialect, row Row) (*labhooks.Event, error) {
	var e labhooks.Event
	if err := row.Scan(&e.ID, &e.EventName, (*[]byte)(&e.Data), &e.PartnerID, &e.Role, &e.IdempotencyKey, d.Time(&e.CreatedAt), d.NullTime(&e.ErasedAt),
		d.Time(&e.OccurredAt), &e.Entity, &e.Sequence); err != nil {
		return nil, err
	}
	utc(&e.CreatedAt, &e.OccurredAt)
	utcPtr(&e.ErasedAt)
	e.Erased = e.ErasedAt != nil
	return &e, nil
}

// ScanClaimedRow reads a claimed delivery: d.id, d.event_id, d.event_name,
// d.datalink_id, d.partner_id, d.attempt_count, d.attempt_base, d.created_at, the event's
// data, then of its data link (LEFT JOINed): whether it exists, its url,
// secret and previous_secret (each empty when it does not),
// previous_secret_expires_at, and enabled (false when it does not); then
// the event's traceparent, occurred_at (created_at when NULL), entity and
// entity_seq.
func ScanClaimedRow(d Dialect, row Row) (*labhooks.ClaimedRow, error) {
	var r labhooks.ClaimedRow
	var l labhooks.DataLink
	var linked bool
	err := row.Scan(&r.DeliveryID, &r.EventID, &r.EventName, &r.DataLinkID, &r.PartnerID, &r.AttemptCount, &r.ScheduleBase, d.Time(&r.CreatedAt), &r.Data,
		&linked, &l.URL, &l.Secret, &l.PreviousSecret, d.NullTime(&l.PreviousSecretExpiresAt), &l.Enabled,
		&r.Traceparent, d.Time(&r.OccurredAt), &r.Entity, &r.Sequence)
	if err != nil {
		return nil, err
	}
	utc(&r.CreatedAt, &r.OccurredAt)
	if linked {
		l.ID = r.DataLinkID
		r.Link = &l
	}
	return &r, nil
}
