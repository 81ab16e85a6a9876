package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/sqlstore"
)

// CreateEvent stores an event and its deliveries atomically, or returns
// what an earlier call with the same idempotency key stored, even when that
// call ran at the same moment in another process. EUnavailable;
// labhooks.ErrStaleAudience, having stored nothing and dropped the target
// cache, when p.AudienceVersion is set and not the target version as the
// transaction begins.
func (s *Store) CreateEvent(ctx context.Context, p labhooks.CreateEventParams) (*labhooks.CreateEventResult, error) {
	e := p.Event
	key := e.IdempotencyKey
	fresh := s.startFresh(p, time.Now())
	var out *labhooks.CreateEventResult
	err := s.retry(ctx, func() error {
		stored, seq, handed, err := s.storeEvent(ctx, s.newCreateRequest(p, fresh))
		switch {
		case errors.Is(err, errStale):
			s.targets.stale(p.AudienceVersion)
			return labhooks.ErrStaleAudience
		case err != nil:
			return err
		case stored:
			e.Sequence = seq
			out = &labhooks.CreateEventResult{Event: e, Deliveries: p.Deliveries, RequestHash: p.RequestHash}
			if len(handed) > 0 {
				// Committed (durable) first, handed over then; what the
				// engine does not take is released, for the claims.
				if jobs := fresh.jobs(e, p.Deliveries, handed); !fresh.offer(jobs) {
					s.Release(jobs)
				}
			}
			return nil
		case key == "":
			return fmt.Errorf("event %s: not stored, and no idempotency key explains why", e.ID)
		}
		out, err = sqlstore.Replay(ctx, db{q: s.pool}, e.IdempotencyKey)
		if err == nil && out == nil {
			err = fmt.Errorf("idempotency key %q: taken, but its event cannot be read", e.IdempotencyKey)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newCreateRequest is p as createEventSQL stores it, for a group commit,
// with the hand-over fresh (nil: none).
func (s *Store) newCreateRequest(p labhooks.CreateEventParams, fresh *freshEvent) *createRequest {
	e := p.Event
	n := len(p.Deliveries)
	ids, links, partners, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	due, created, updated := make([]*time.Time, n), make([]time.Time, n), make([]time.Time, n)
	for i, d := range p.Deliveries {
		ids[i], links[i], partners[i], statuses[i] = d.ID, d.DataLinkID, d.PartnerID, string(d.Status)
		due[i], created[i], updated[i] = tsPtr(d.NextAttemptAt), ts(d.CreatedAt), ts(d.UpdatedAt)
	}
	var key *string
	if e.IdempotencyKey != "" {
		key = &e.IdempotencyKey
	}
	var token *string
	var leaseEnd *time.Time
	hand, handLinks := make([]bool, n), []string{}
	if fresh != nil {
		token, leaseEnd, hand = &fresh.token, &fresh.leaseEnd, fresh.hand
		for i, d := range p.Deliveries {
			if hand[i] {
				handLinks = append(handLinks, d.DataLinkID)
			}
		}
	}
	return &createRequest{
		args: []any{e.ID, e.EventName, string(e.Data), e.PartnerID, string(e.Role), key, p.RequestHash, ts(e.CreatedAt),
			ids, links, partners, statuses, due, created, updated, s.channel, e.Traceparent, e.Entity, occurredAt(e),
			token, leaseEnd, hand, handLinks},
		entity:  e.Entity,
		ordered: slices.ContainsFunc(p.Deliveries, func(d *labhooks.Delivery) bool { return d.Ordered }),
		version: p.AudienceVersion,
		done:    make(chan error, 1),
	}
}

// createEventSQL stores an event, its deliveries and the NOTIFY that wakes
// the engines in one statement, so in one implicit transaction and one round
// trip. The unique index on idempotency_key decides between concurrent calls
// with one key: the insert waits for the other transaction and stores
// nothing if that one committed. It returns whether the event was stored.
//
// An event with an entity ($18) takes its number from the entity's counter
// row, raised by an upsert that holds the row until the commit, so
// concurrent emits number one entity's events 1, 2, 3… in any number of
// processes. The number is taken before the event is inserted (the insert
// stores it), unless the idempotency key is already stored; should a
// concurrent emit with the same key win meanwhile, labhooks_sequence_race
// fails the statement with a serialization failure, which rolls the number
// back and is tried again (then finding the key stored).
const createEventSQL = `WITH seq AS (
		INSERT INTO entity_sequences AS s (entity, seq)
		SELECT $18::text, 1 WHERE $18::text <> '' AND NOT EXISTS (SELECT FROM events WHERE idempotency_key = $6)
		ON CONFLICT (entity) DO UPDATE SET seq = s.seq + 1
		RETURNING seq
	), ev AS (
		INSERT INTO events (id, event_name, data, partner_id, role, idempotency_key, request_hash, created_at, traceparent,
			occurred_at, entity, entity_seq)
		VALUES ($1, $2, $3::text::json, $4, $5, $6, $7, $8, $17, $19, $18, COALESCE((SELECT seq FROM seq), 0))
		ON CONFLICT (idempotency_key) DO NOTHING
		RETURNING id, entity_seq
	), dl AS (
		INSERT INTO deliveries (id, event_id, datalink_id, partner_id, event_name, status, next_attempt_at, created_at, updated_at,
			lease_token, leased_until)
		SELECT d.id, ev.id, d.link, d.partner, $2, d.status, d.due, d.created, d.updated,
			CASE WHEN d.handed THEN $20::text END, CASE WHEN d.handed THEN $21::timestamptz END
		FROM ev, unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[],
				$22::boolean[]) AS d (id, link, partner, status, due, created, updated, handed)
		RETURNING lease_token IS NOT NULL AS leased
	), handed AS (
		-- What the attempts of those leased at insert need of their links
		-- ($23, one delivery each), read in the insert's snapshot, by
		-- primary key. Which to lease was decided from the audience, whose
		-- version the batch checked just before; a link disabled, deleted
		-- or made ordered in the instant between is left out here, its
		-- delivery leased to no attempt: a claim takes it when the lease
		-- runs out, and fails or orders it then.
		SELECT l.id, l.url, l.secret, COALESCE(l.previous_secret, '') AS previous_secret, l.previous_secret_expires_at
		FROM datalinks l WHERE l.id = ANY ($23::text[]) AND l.enabled AND NOT l.ordered AND l.kind = 'push'
	)
	SELECT EXISTS (SELECT FROM ev), (SELECT count(*) FROM (SELECT pg_notify($16, '') FROM dl WHERE NOT dl.leased LIMIT 1) n),
		CASE WHEN EXISTS (SELECT FROM ev) THEN (SELECT entity_seq FROM ev)
			WHEN EXISTS (SELECT FROM seq) AND labhooks_sequence_race() THEN 0 ELSE 0 END,
		ARRAY(SELECT id FROM handed ORDER BY id), ARRAY(SELECT url FROM handed ORDER BY id), ARRAY(SELECT secret FROM handed ORDER BY id),
		ARRAY(SELECT previous_secret FROM handed ORDER BY id), ARRAY(SELECT previous_secret_expires_at FROM handed ORDER BY id)`

// occurredAt is e's OccurredAt as stored: NULL when it is its CreatedAt.
func occurredAt(e *labhooks.Event) *time.Time {
	if e.OccurredAt.IsZero() || e.OccurredAt.Equal(e.CreatedAt) {
		return nil
	}
	t := ts(e.OccurredAt)
	return &t
}

// Ordered data links (sqlstore/ordered.go): an emit with a delivery to a
// link that was ordered when its audience was read runs lockOrderedSQL
// first in its transaction, locking the ordered links among $1, and
// blockOrderedSQL last, so that it sees every delivery that the emits,
// records and requeues which held them before committed. Other emits run
// neither: checking every delivery in the insert cost every emit about 40%
// of PostgreSQL's throughput (BENCHMARKS.md). An emit whose audience was
// read just before ordering was turned on goes as it would have before.

// lockOrderedSQL locks the ordered ones of data links $1, by ID (one order
// for every locker, against deadlocks); FOR NO KEY UPDATE leaves the
// foreign-key checks of other inserts alone.
const lockOrderedSQL = `SELECT id FROM datalinks WHERE id = ANY ($1) AND ordered ORDER BY id FOR NO KEY UPDATE`

// blockOrderedSQL makes the deliveries $1 just inserted wait, blocked, when
// their data link is ordered and has an older pending delivery, or one
// stored before (not among $1). Scalar subqueries, not EXISTS: the planner
// may turn an EXISTS into a hashed subplan, which reads every pending
// delivery once per statement.
const blockOrderedSQL = `UPDATE deliveries d SET next_attempt_at = NULL
	FROM datalinks l
	WHERE d.id = ANY ($1) AND l.id = d.datalink_id AND l.ordered AND d.status = 'pending'
	AND (SELECT 1 FROM deliveries o WHERE o.partner_id = d.partner_id AND o.datalink_id = d.datalink_id AND o.status = 'pending'
		AND o.id <> d.id AND (o.id < d.id OR o.id <> ALL ($1)) LIMIT 1) IS NOT NULL`

// deliveriesArg returns the delivery IDs of createEventSQL's arguments
// args, for blockOrderedSQL.
func deliveriesArg(args ...[]any) []string {
	var ids []string
	for _, a := range args {
		ids = append(ids, a[8].([]string)...)
	}
	return ids
}

// linksArg returns the data links of createEventSQL's arguments args, for
// lockOrderedSQL.
func linksArg(args ...[]any) []string {
	var links []string
	for _, a := range args {
		links = append(links, a[9].([]string)...)
	}
	return links
}
