package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/sqlstore"
)

// Requeue makes the deliveries p selects pending and due at p.Now, with a
// fresh retry schedule, and wakes the listening engines when it requeued
// any. ENotFound when p.DeliveryID does not exist.
func (s *Store) Requeue(ctx context.Context, p labhooks.RequeueParams) (int, error) {
	var n int
	err := s.writeTx(ctx, func(db sqlstore.DB) error {
		links, err := sqlstore.Requeue(ctx, db, p)
		if n = len(links); err != nil || n == 0 {
			return err
		}
		// Delivered once the transaction commits.
		_, err = db.Exec(ctx, `SELECT pg_notify($1, '')`, s.channel)
		return err
	})
	return n, err
}

// ClaimDeliveries leases up to p.Limit due deliveries, oldest due first, so
// that no data link has more than its cap (p.LinkCap) in flight, counting
// p.InFlight, nor any partner more than p.PerPartner, counting
// p.PartnerInFlight. Deliveries another process is claiming at the same moment are
// skipped, not waited for. Deliveries whose data link is gone or disabled
// are failed instead of returned.
func (s *Store) ClaimDeliveries(ctx context.Context, p labhooks.ClaimParams) ([]*labhooks.Job, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := ts(p.Now)
	exclude, excludePartners := p.ExcludeDataLinks, p.ExcludePartners
	if exclude == nil {
		exclude = []string{}
	}
	if excludePartners == nil {
		excludePartners = []string{}
	}
	// A link with a lower cap counts as having the difference in flight
	// already, so the statement compares every link with p.PerDataLink.
	used := maps.Clone(p.InFlight)
	if used == nil {
		used = map[string]int{}
	}
	if p.PerDataLink > 0 {
		for link := range p.DataLinkCaps {
			used[link] += p.PerDataLink - p.LinkCap(link)
		}
	}
	busyLinks, busyCounts := make([]string, 0, len(used)), make([]int32, 0, len(used))
	for link, n := range used {
		busyLinks, busyCounts = append(busyLinks, link), append(busyCounts, int32(n))
	}
	busyPartners, partnerCounts := make([]string, 0, len(p.PartnerInFlight)), make([]int32, 0, len(p.PartnerInFlight))
	for partner, n := range p.PartnerInFlight {
		busyPartners, partnerCounts = append(busyPartners, partner), append(partnerCounts, int32(n))
	}
	// Look at more than needed so that a backlog on one link or partner,
	// capped below, leaves room for the others.
	window := p.Limit
	if p.PerDataLink > 0 || p.PerPartner > 0 {
		window = p.Limit * 4
	}
	token := p.Owner + ":" + randomHex(8)
	// One statement, committed by itself: a claim whose outcome is lost with
	// the connection leaves its deliveries leased to no one, and they are
	// claimed again once the lease runs out.
	var jobs []*labhooks.Job
	var failed map[string]string
	err := s.retry(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(queueCommitSQL)
		b.Queue(claimSQL, now, exclude, window, p.PerDataLink, p.Limit, now.Add(p.Lease), token, busyLinks, busyCounts,
			excludePartners, p.PerPartner, busyPartners, partnerCounts)
		br := s.pool.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return ambiguous(err)
		}
		rows, err := br.Query()
		if err != nil {
			return ambiguous(err)
		}
		if jobs, failed, err = sqlstore.Claimed(dialect{}, rows, p.Now, token); err != nil {
			return ambiguous(err)
		}
		return ambiguous(br.Close())
	})
	if err != nil {
		return nil, err
	}
	if len(failed) > 0 {
		ids, reasons := make([]string, 0, len(failed)), make([]string, 0, len(failed))
		for id, why := range failed {
			ids, reasons = append(ids, id), append(reasons, why)
		}
		// Should this fail, the deliveries stay leased, and the claim after
		// the lease fails them. An ordered link's blocked deliveries fail
		// with its head, in the same transaction, after the lock of the
		// ordered links (sqlstore/ordered.go), taken first as everywhere.
		if err := s.inTx(ctx, func(tx pgx.Tx) error {
			links, err := sqlstore.LinksOf(ctx, db{q: tx}, ids)
			if err == nil {
				_, err = sqlstore.OrderedLinks(ctx, db{q: tx}, links)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE deliveries d SET status = 'failed', next_attempt_at = NULL, lease_token = NULL, leased_until = NULL,
				last_error = f.reason, updated_at = $1
				FROM unnest($2::text[], $3::text[]) AS f (id, reason)
				WHERE d.id = f.id AND d.id = ANY ($2) AND d.lease_token = $4`, now, ids, reasons, token); err != nil {
				return err
			}
			return sqlstore.FailBlockedBehind(ctx, db{q: tx}, failed, p.Now)
		}); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// queueCommitSQL, first in a batch (one implicit transaction), lets the
// transaction commit without waiting for its WAL to reach the disk: for
// leases and attempt records, whose loss in a crash of PostgreSQL's machine
// only means a delivery is sent again. The database stays consistent, and
// the next durable commit (an emit's) makes them durable too, as the WAL is
// written in order. The same trade as SQLite's synchronous=NORMAL for them.
//
// It also has the batch's statements planned with their parameters and the
// tables as they are (plan_cache_mode=force_custom_plan). Prepared once per
// connection, they could otherwise be planned once for any parameters (a
// generic plan) and keep that plan: one made while deliveries was small
// read it whole (a sequential scan) to record each batch of attempts, for
// as long as the connection lived; with autovacuum off, or between its
// ANALYZEs, nothing replaced it (4.7 ms a batch at 14,000 rows, growing
// with the table). The claim planned afresh anyway.
const queueCommitSQL = `SELECT set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true)`

// pendingPartnersCTE lists the partners, whose pending deliveries a claim
// reads through deliveries_partner_due, one index descent each. (A skip scan
// of that index for the partners with pending deliveries had to step over
// every entry that claims and records left dead until a vacuum.)
const pendingPartnersCTE = `pp (id) AS (SELECT id FROM partners)`

// claimSQL leases due deliveries and returns what their attempts need.
const claimSQL = `WITH ` + pendingPartnersCTE + `, candidates AS (
			-- The earliest due of each partner not excluded, read through
			-- deliveries_partner_due, no more of each than its share leaves
			-- room for, nor than its data links' caps could take: an
			-- excluded partner's backlog costs nothing, and a partner with
			-- one link is read for 16, not for the whole claim. Only those
			-- picked are locked (below).
			SELECT due.id, due.datalink_id, due.partner_id, due.next_attempt_at
			FROM pp p LEFT JOIN unnest($12::text[], $13::int[]) AS g (partner, n) ON g.partner = p.id
			CROSS JOIN LATERAL (
				SELECT id, datalink_id, partner_id, next_attempt_at FROM deliveries
				WHERE status = 'pending' AND partner_id = p.id AND next_attempt_at <= $1 AND datalink_id <> ALL($2::text[])
					AND (leased_until IS NULL OR leased_until <= $1)
				ORDER BY next_attempt_at, id
				LIMIT LEAST(CASE WHEN $11 > 0 THEN LEAST($5, GREATEST(0, $11 - COALESCE(g.n, 0))) ELSE $5 END,
					CASE WHEN $4 > 0 THEN $4 * GREATEST(1, (SELECT count(*) FROM datalinks l WHERE l.partner_id = p.id)) ELSE $5 END)
			) due
			WHERE p.id <> ALL($10::text[])
				-- A partner whose every data link is at its cap ($2) is
				-- skipped, as one at its share: its scan would step over its
				-- whole backlog to find nothing. (Deliveries of a link gone
				-- meanwhile, failed by the claim, are found once the
				-- partner's links have room, or when it has none.)
				AND (cardinality($2::text[]) = 0
					OR NOT EXISTS (SELECT FROM datalinks l WHERE l.partner_id = p.id)
					OR EXISTS (SELECT FROM datalinks l WHERE l.partner_id = p.id AND l.id <> ALL($2::text[])))
			ORDER BY due.next_attempt_at, due.id LIMIT $3
		), by_link AS (
			-- Within its data link's cap first, then within its partner's.
			SELECT c.id, c.partner_id, c.next_attempt_at,
				COALESCE(f.n, 0) + row_number() OVER (PARTITION BY c.datalink_id ORDER BY c.next_attempt_at, c.id) AS n
			FROM candidates c LEFT JOIN unnest($8::text[], $9::int[]) AS f (link, n) ON f.link = c.datalink_id
		), picked AS (
			SELECT id FROM (
				SELECT b.id, b.next_attempt_at,
					COALESCE(g.n, 0) + row_number() OVER (PARTITION BY b.partner_id ORDER BY b.next_attempt_at, b.id) AS m
				FROM by_link b LEFT JOIN unnest($12::text[], $13::int[]) AS g (partner, n) ON g.partner = b.partner_id
				WHERE $4 <= 0 OR b.n <= $4
			) ranked
			WHERE $11 <= 0 OR m <= $11
			ORDER BY next_attempt_at, id LIMIT $5
		), locked AS (
			-- Deliveries another process is claiming are skipped; one it
			-- claimed since this statement began fails the check again.
			-- (A lease leaves next_attempt_at alone and sets leased_until,
			-- which no index reads: the claim's update is a HOT one, see
			-- migration 0013.)
			-- One primary-key read each (a plain join was planned as a hash
			-- join over every pending delivery).
			SELECT l.id FROM picked p CROSS JOIN LATERAL (
				SELECT d.id FROM deliveries d
				WHERE d.id = p.id AND d.status = 'pending' AND d.next_attempt_at <= $1
					AND (d.leased_until IS NULL OR d.leased_until <= $1)
				FOR UPDATE SKIP LOCKED
			) l
		), claimed AS (
			-- A join with the few picked rows: the planner reads them by
			-- primary key. (With "id = ANY (ARRAY (...))" it expected ten
			-- and, on a table it had not analyzed yet, chose to read every
			-- row of the table, and kept that plan as the table grew.)
			UPDATE deliveries d SET leased_until = $6, lease_token = $7, updated_at = $1
			FROM locked p WHERE d.id = p.id
			RETURNING d.id, d.event_id, d.event_name, d.datalink_id, d.partner_id, d.attempt_count, d.attempt_base, d.created_at
		)
		-- The columns of sqlstore.ScanClaimedRow.
		-- The event is read once per delivery.
		SELECT c.id, c.event_id, c.event_name, c.datalink_id, c.partner_id, c.attempt_count, c.attempt_base, c.created_at,
			ev.data,
			l.id IS NOT NULL, COALESCE(l.url, ''), COALESCE(l.secret, ''), COALESCE(l.previous_secret, ''),
			l.previous_secret_expires_at, COALESCE(l.enabled, false),
			ev.traceparent, ev.occurred_at, ev.entity, ev.entity_seq
		FROM claimed c LEFT JOIN datalinks l ON l.id = c.datalink_id
		LEFT JOIN LATERAL (SELECT e.data::text AS data, e.traceparent, COALESCE(e.occurred_at, e.created_at) AS occurred_at,
			e.entity, e.entity_seq FROM events e WHERE e.id = c.event_id) ev ON true
		ORDER BY c.id`

// RecordAttempts stores attempts and the new state of their deliveries, and
// keeps their data links' failing_since, all in one implicit transaction and
// one round trip.
func (s *Store) RecordAttempts(ctx context.Context, rs []labhooks.AttemptResult) error {
	if len(rs) == 0 {
		return nil
	}
	// Each statement takes a delivery once; a second attempt of the same
	// delivery in the batch goes to the next statement, in order.
	var rounds [][]labhooks.AttemptResult
	seen := map[string]int{}
	for _, r := range rs {
		i := seen[r.Attempt.DeliveryID]
		seen[r.Attempt.DeliveryID]++
		if i == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[i] = append(rounds[i], r)
	}
	b := &pgx.Batch{}
	b.Queue(queueCommitSQL)
	// The ordered links whose head ends, locked before anything else (see
	// lockOrderedSQL), and their next deliveries released last.
	endedLinks, endedAt := endedHeads(rs)
	if len(endedLinks) > 0 {
		b.Queue(lockOrderedSQL, endedLinks)
	}
	// Links first, as DeleteDataLink locks them, so the two cannot deadlock.
	if runs := labhooks.FailingRuns(rs); len(runs) > 0 {
		links, since, fresh := make([]string, len(runs)), make([]*time.Time, len(runs)), make([]bool, len(runs))
		for i, run := range runs {
			links[i], since[i], fresh[i] = run.DataLinkID, tsPtr(run.Since), run.Fresh
		}
		b.Queue(failingSinceSQL, links, since, fresh)
	}
	for _, round := range rounds {
		n := len(round)
		var (
			ids, errs, bodies, statuses, tokens = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			codes                               = make([]int32, n)
			durations                           = make([]int64, n)
			started, updated                    = make([]time.Time, n), make([]time.Time, n)
			next                                = make([]*time.Time, n)
		)
		for i, r := range round {
			a := r.Attempt
			ids[i], errs[i], bodies[i], statuses[i], tokens[i] = a.DeliveryID, text(a.Error), text(a.ResponseBody), string(r.Status), r.LeaseToken
			codes[i], durations[i] = int32(a.StatusCode), a.DurationMs
			started[i], updated[i] = ts(a.StartedAt), ts(a.StartedAt.Add(time.Duration(a.DurationMs)*time.Millisecond))
			next[i] = tsPtr(r.NextAttemptAt)
		}
		b.Queue(recordSQL, ids, codes, errs, bodies, durations, started, updated, statuses, next, tokens)
	}
	if len(endedLinks) > 0 {
		b.Queue(releaseNextSQL, endedLinks, endedAt, s.channel)
	}
	// Should the connection fail, whether the batch was stored is unknown;
	// the engine records it again, which at worst counts an attempt twice.
	return s.retry(ctx, func() error {
		return ambiguous(s.pool.SendBatch(ctx, b).Close())
	})
}

// endedHeads returns the data links of the results in rs that end their
// delivery (delivered or failed), by ID, and when each link's last such
// attempt ended: if the link is ordered, its next delivery is due then.
func endedHeads(rs []labhooks.AttemptResult) ([]string, []time.Time) {
	ended := map[string]time.Time{}
	for _, r := range rs {
		if r.Status != labhooks.DeliveryPending && r.DataLinkID != "" {
			at := r.Attempt.StartedAt.Add(time.Duration(r.Attempt.DurationMs) * time.Millisecond)
			if at.After(ended[r.DataLinkID]) {
				ended[r.DataLinkID] = at
			}
		}
	}
	links := slices.Sorted(maps.Keys(ended))
	at := make([]time.Time, len(links))
	for i, link := range links {
		at[i] = ts(ended[link])
	}
	return links, at
}

// releaseNextSQL is sqlstore.ReleaseNext for the ordered ones of data links
// $1, each due at its time in $2, and NOTIFYs the engines when it released
// any. The links are locked already (lockOrderedSQL).
const releaseNextSQL = `WITH l AS (
		SELECT l.id, l.at FROM unnest($1::text[], $2::timestamptz[]) AS l (id, at)
		JOIN datalinks o ON o.id = l.id AND o.ordered
	), nxt AS (
		SELECT l.at, (SELECT b.id FROM deliveries b WHERE b.datalink_id = l.id AND b.status = 'pending' AND b.next_attempt_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM deliveries h WHERE h.partner_id = b.partner_id AND h.datalink_id = l.id
				AND h.status = 'pending' AND h.next_attempt_at IS NOT NULL)
			ORDER BY b.id LIMIT 1) AS id
		FROM l
	), u AS (
		UPDATE deliveries d SET next_attempt_at = nxt.at, updated_at = nxt.at FROM nxt WHERE d.id = nxt.id
		RETURNING 1
	)
	SELECT count(*) FROM (SELECT pg_notify($3, '') FROM u LIMIT 1) n`

// recordSQL stores one attempt for each of a set of distinct deliveries.
// Every attempt counts, and its number follows the delivery's count; only
// the lease's holder moves the delivery on (SET expressions all see the row
// as it was, so lease_token is compared before it is cleared).
const recordSQL = `WITH r AS (
		SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[],
			$7::timestamptz[], $8::text[], $9::timestamptz[], $10::text[])
			AS r (delivery_id, status_code, error, response_body, duration_ms, started_at, updated_at, status, next_attempt_at, lease_token)
	), d AS (
		UPDATE deliveries d SET attempt_count = d.attempt_count + 1, last_status_code = r.status_code, last_error = r.error,
			updated_at = r.updated_at,
			status = CASE WHEN d.lease_token = r.lease_token THEN r.status ELSE d.status END,
			next_attempt_at = CASE WHEN d.lease_token = r.lease_token THEN r.next_attempt_at ELSE d.next_attempt_at END,
			lease_token = CASE WHEN d.lease_token = r.lease_token THEN NULL ELSE d.lease_token END,
			leased_until = CASE WHEN d.lease_token = r.lease_token THEN NULL ELSE d.leased_until END
		FROM r WHERE d.id = r.delivery_id AND d.id = ANY ($1) -- lets the planner read by primary key
		RETURNING d.id, d.attempt_count
	)
	INSERT INTO attempts (delivery_id, number, started_at, status_code, duration_ms, error, response_body)
	SELECT r.delivery_id, d.attempt_count, r.started_at, r.status_code, r.duration_ms, r.error, r.response_body
	FROM r JOIN d ON d.id = r.delivery_id`

// failingSinceSQL applies labhooks.FailingRuns to data links. A row is
// written only when its value changes, not on every batch, so that a link
// every process is sending to is not a hot row.
// Both expressions read the row itself, so that an update waiting on a
// concurrent one sees what that one wrote.
const failingSinceSQL = `UPDATE datalinks l SET failing_since = CASE WHEN r.fresh THEN r.since ELSE COALESCE(l.failing_since, r.since) END
	FROM unnest($1::text[], $2::timestamptz[], $3::boolean[]) AS r (id, since, fresh)
	WHERE l.id = r.id AND l.id = ANY ($1)
		AND l.failing_since IS DISTINCT FROM (CASE WHEN r.fresh THEN r.since ELSE COALESCE(l.failing_since, r.since) END)`

// NextDue returns when the earliest pending delivery becomes due: one in
// flight when its lease runs out.
//
// For each partner: u, the first delivery not under a lease in due order,
// stepping over the leased ones before it; and the earliest lease's end
// among those. A lease is taken when its delivery is due and ends later, so
// no delivery after u is due before u.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	err := s.retry(ctx, func() error {
		// Bitmap scans off for the statement: on a table not analyzed
		// since it filled (a burst after a quiet spell), the planner
		// expected two rows per partner and read and sorted every pending
		// one through a bitmap, 50 ms a call at 60,000 pending; the index
		// scan reads the few it needs.
		b := &pgx.Batch{}
		b.Queue(`SELECT set_config('enable_bitmapscan', 'off', true)`)
		b.Queue(`WITH ` + pendingPartnersCTE + `, u AS (
				SELECT p.id, (SELECT next_attempt_at FROM deliveries WHERE status = 'pending' AND partner_id = p.id
					AND next_attempt_at IS NOT NULL AND leased_until IS NULL
					ORDER BY next_attempt_at, id LIMIT 1) AS next
				FROM pp p
			)
			SELECT MIN(LEAST(u.next, (SELECT MIN(leased_until) FROM deliveries WHERE status = 'pending' AND partner_id = u.id
				AND next_attempt_at <= COALESCE(u.next, 'infinity') AND leased_until IS NOT NULL)))
			FROM u`)
		br := s.pool.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := br.QueryRow().Scan(&next); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil || next == nil {
		return time.Time{}, false, err
	}
	return next.UTC(), true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
