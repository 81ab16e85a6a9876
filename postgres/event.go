package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// CreateEvent stores an event and its deliveries atomically, or returns
// what an earlier call with the same idempotency key stored, even when that
// call ran at the same moment in another process. EConflict, ENotFound,
// EUnavailable.
func (s *Store) CreateEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	var out *labhooks.CreateEventResult
	err := s.retry(ctx, func() error {
		var err error
		out, err = s.createEvent(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// createEventSQL stores an event, its deliveries and the NOTIFY that wakes
// the engines in one statement, so in one implicit transaction and one round
// trip. The unique index on idempotency_key decides between concurrent calls
// with one key: the insert waits for the other transaction and stores
// nothing if that one committed. It returns whether the event was stored.
const createEventSQL = `WITH ev AS (
		INSERT INTO events (id, event_name, data, partner_id, role, idempotency_key, request_hash, created_at)
		VALUES ($1, $2, $3::text::json, $4, $5, $6, $7, $8)
		ON CONFLICT (idempotency_key) DO NOTHING
		RETURNING id
	), dl AS (
		INSERT INTO deliveries (id, event_id, datalink_id, partner_id, event_name, status, next_attempt_at, created_at, updated_at)
		SELECT d.id, ev.id, d.link, d.partner, $2, 'pending', $9, $9, $9
		FROM ev, unnest($10::text[], $11::text[], $12::text[]) AS d (id, link, partner)
		RETURNING 1
	)
	SELECT EXISTS (SELECT FROM ev), (SELECT count(*) FROM (SELECT pg_notify($13, '') FROM dl LIMIT 1) n)`

func (s *Store) createEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	e := p.Event
	links, err := targetLinks(ctx, s.pool, p)
	if labhooks.ErrorCode(err) == labhooks.ENotFound && e.IdempotencyKey != "" {
		// The key's first call may have targeted the partner before it was
		// deleted; its answer stands.
		if prev, rerr := replay(ctx, s.pool, e.IdempotencyKey, p.RequestHash); prev != nil || rerr != nil {
			return prev, rerr
		}
	}
	if err != nil {
		return nil, err
	}
	res := &labhooks.CreateEventResult{Event: e, Deliveries: make([]*labhooks.Delivery, 0, len(links))}
	ids, linkIDs, partnerIDs := make([]string, len(links)), make([]string, len(links)), make([]string, len(links))
	for i, l := range links {
		d := &labhooks.Delivery{
			ID: id.New(id.Delivery), EventID: e.ID, EventName: e.EventName, PartnerID: l.partnerID, DataLinkID: l.id,
			Status: labhooks.DeliveryPending, NextAttemptAt: &p.Now, CreatedAt: p.Now, UpdatedAt: p.Now,
		}
		ids[i], linkIDs[i], partnerIDs[i] = d.ID, d.DataLinkID, d.PartnerID
		res.Deliveries = append(res.Deliveries, d)
	}
	var key *string
	if e.IdempotencyKey != "" {
		key = &e.IdempotencyKey
	}
	stored, err := s.storeEvent(ctx, []any{
		e.ID, e.EventName, string(e.Data), e.PartnerID, string(e.Role), key, p.RequestHash, ts(e.CreatedAt),
		ts(p.Now), ids, linkIDs, partnerIDs, s.channel,
	})
	if err != nil {
		return nil, err
	}
	if stored {
		return res, nil
	}
	if key == nil {
		return nil, fmt.Errorf("event %s: not stored, and no idempotency key explains why", e.ID)
	}
	prev, err := replay(ctx, s.pool, e.IdempotencyKey, p.RequestHash)
	if err == nil && prev == nil {
		err = fmt.Errorf("idempotency key %q: taken, but its event cannot be read", e.IdempotencyKey)
	}
	return prev, err
}

// replay returns what was stored under an idempotency key, nil if nothing.
func replay(ctx context.Context, q querier, key, requestHash string) (*labhooks.CreateEventResult, error) {
	var eventID, hash string
	err := q.QueryRow(ctx, `SELECT id, request_hash FROM events WHERE idempotency_key = $1`, key).Scan(&eventID, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if hash != requestHash {
		return nil, labhooks.Errorf(labhooks.EConflict, "Idempotency-Key %q was already used for a different request", key)
	}
	e, err := event(ctx, q, eventID)
	if err != nil {
		return nil, err
	}
	ds, err := queryDeliveries(ctx, q, `WHERE event_id = $1 ORDER BY id`, eventID)
	if err != nil {
		return nil, err
	}
	return &labhooks.CreateEventResult{Event: e, Deliveries: ds, Replayed: true}, nil
}

// target is a data link that receives an event.
type target struct{ id, partnerID string }

// targetLinks returns the enabled data links that should receive the event,
// in one query: ENotFound when the targeted partner does not exist,
// ERoleNotAllowed when its role may not receive the event. Its read and the
// insert that follows need no transaction between them: a link disabled or
// deleted meanwhile gets a pending delivery, which the claim then fails as
// it does any delivery whose link went away.
func targetLinks(ctx context.Context, q querier, p labhooks.CreateEventParams) ([]target, error) {
	e := p.Event
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	var rows pgx.Rows
	var err error
	if e.PartnerID != "" {
		// The partner's row comes back even without links, for its role.
		rows, err = q.Query(ctx, `SELECT p.role, p.id, l.id, l.event_names FROM partners p
			LEFT JOIN datalinks l ON l.partner_id = p.id AND l.enabled
			WHERE p.id = $1 ORDER BY l.id`, e.PartnerID)
	} else {
		rows, err = q.Query(ctx, `SELECT p.role, p.id, l.id, l.event_names FROM datalinks l JOIN partners p ON p.id = l.partner_id
			WHERE l.enabled AND p.role = ANY($1) AND ($2 = '' OR p.role = $2)
			ORDER BY l.id`, roles, string(e.Role))
	}
	if err != nil {
		return nil, err
	}
	var out []target
	found := false
	var role labhooks.Role
	_, err = collect(rows, func(row pgx.Row) (struct{}, error) {
		var partnerID string
		var linkID *string
		var names []string
		if err := row.Scan(&role, &partnerID, &linkID, &names); err != nil {
			return struct{}{}, err
		}
		found = true
		l := labhooks.DataLink{EventNames: names}
		if linkID != nil && l.Accepts(e.EventName) {
			out = append(out, target{*linkID, partnerID})
		}
		return struct{}{}, nil
	})
	switch {
	case err != nil:
		return nil, err
	case e.PartnerID == "":
		return out, nil
	case !found:
		return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", e.PartnerID)
	case !slices.Contains(p.Roles, role):
		return nil, labhooks.PartnerRoleNotAllowed(e.PartnerID, role, e.EventName, p.Roles)
	case e.Role != "" && role != e.Role:
		return nil, nil
	}
	return out, nil
}

// Event returns one event. ENotFound.
func (s *Store) Event(ctx context.Context, id string) (*labhooks.Event, error) {
	var e *labhooks.Event
	err := s.retry(ctx, func() error {
		var err error
		e, err = event(ctx, s.pool, id)
		return err
	})
	return e, err
}

func event(ctx context.Context, q querier, id string) (*labhooks.Event, error) {
	var e labhooks.Event
	var data string
	var key *string
	err := q.QueryRow(ctx, `SELECT id, event_name, data::text, partner_id, role, idempotency_key, created_at FROM events WHERE id = $1`, id).
		Scan(&e.ID, &e.EventName, &data, &e.PartnerID, &e.Role, &key, &e.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, labhooks.Errorf(labhooks.ENotFound, "event %s not found", id)
	} else if err != nil {
		return nil, err
	}
	e.Data, e.CreatedAt = []byte(data), e.CreatedAt.UTC()
	if key != nil {
		e.IdempotencyKey = *key
	}
	return &e, nil
}

// prefixed qualifies each column of a comma-separated list with p.
func prefixed(p, columns string) string {
	var b []byte
	for i, c := range strings.Split(columns, ",") {
		c = strings.TrimSpace(c)
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, p...)
		b = append(b, c...)
	}
	return string(b)
}
