package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/postgres/pgtest"
	"github.com/labhooks/labhooks/storetest"
)

// TestClaimReadsOnlyWhatItTakes runs the claim's statement under EXPLAIN
// ANALYZE with a backlog of due deliveries and some in flight, and checks
// how many index entries it read: the deliveries it takes and those in
// flight it steps over, not the backlog. Before migration 0012 it read and
// sorted every due delivery on every claim, so a drain slowed down as the
// backlog grew. The count is the plan's, not a time: it fails the same way
// on a fast machine and a slow one.
func TestClaimReadsOnlyWhatItTakes(t *testing.T) {
	s, err := Open(t.Context(), Config{URL: pgtest.NewSchema(t), MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	link := storetest.NewLink(t, s, labhooks.RoleSampler)
	const backlog, inFlight, limit = 3000, 40, 20
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, q := range []string{
		`INSERT INTO events (id, event_name, data, created_at)
			SELECT 'evt_' || lpad(i::text, 6, '0'), 'appointmentCreated', '{"appointmentId":1}', $1
			FROM generate_series(1, $2::int) AS i`,
		// The first inFlight are leased (in flight); the others fell due
		// at one instant, as a requeue of a link's failures makes them.
		`INSERT INTO deliveries (id, event_id, datalink_id, partner_id, event_name, status, next_attempt_at, created_at, updated_at,
				lease_token, leased_until)
			SELECT 'dlv_' || lpad(i::text, 6, '0'), 'evt_' || lpad(i::text, 6, '0'), $3, $4, 'appointmentCreated', 'pending',
				$1::timestamptz - CASE WHEN i <= $5 THEN interval '1 minute' ELSE interval '1 second' END, $1, $1,
				CASE WHEN i <= $5 THEN 'someone' END, CASE WHEN i <= $5 THEN $1::timestamptz + interval '1 minute' END
			FROM generate_series(1, $2::int) AS i`,
		`ANALYZE deliveries`,
	} {
		args := []any{now, backlog, link.ID, link.PartnerID, inFlight}
		if !strings.Contains(q, "$1") {
			args = nil
		} else if !strings.Contains(q, "$3") {
			args = args[:2]
		}
		if _, err := s.pool.Exec(t.Context(), q, args...); err != nil {
			t.Fatal(err)
		}
	}

	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	// claim runs the claim under EXPLAIN ANALYZE, with the data links in
	// exclude at their cap, and returns how many entries of
	// deliveries it read looking for due ones (through deliveries_partner_due
	// or otherwise) and how many it leased.
	claims := 0
	claim := func(exclude []string, perLink int) (read, claimed float64) {
		t.Helper()
		var plan []struct{ Plan planNode }
		// Each claim is undone before the next (the last one's leases
		// are looked at below).
		undo := `ROLLBACK TO SAVEPOINT claim`
		if claims++; claims == 1 {
			undo = `SAVEPOINT claim`
		}
		if _, err := tx.Exec(t.Context(), undo); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(t.Context(), `EXPLAIN (ANALYZE, FORMAT JSON) `+claimSQL, now, exclude, limit, perLink, limit,
			now.Add(time.Minute), "test", []string{}, []int32{}, []string{}, 0, []string{}, []int32{}).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		plan[0].Plan.walk(func(n *planNode) {
			// The reads of pending deliveries that look for due ones,
			// whatever the plan; not the primary-key reads of those picked.
			if n.RelationName == "deliveries" && n.NodeType != "ModifyTable" && n.IndexName != "deliveries_pkey" && n.IndexName != "deliveries_pending" {
				read += (n.ActualRows + n.RowsRemovedByFilter) * n.ActualLoops
			}
			if n.NodeType == "ModifyTable" {
				claimed += n.ActualRows * n.ActualLoops
			}
		})
		return read, claimed
	}

	// The partner's one link at its cap: nothing to take, nothing to read.
	// (The scan used to step over the whole backlog looking for another
	// link's delivery.)
	if read, claimed := claim([]string{link.ID}, 0); claimed != 0 || read != 0 {
		t.Errorf("with its only link at its cap, the claim took %v and read %v deliveries; want none", claimed, read)
	}

	// Its link may take 5 more: the claim reads for 5, not for 20.
	if read, claimed := claim([]string{}, 5); claimed != 5 || read > 5+inFlight {
		t.Errorf("with 5 free slots on the partner's one link, the claim took %v and read %v deliveries; want 5 and at most %d",
			claimed, read, 5+inFlight)
	}

	read, claimed := claim([]string{}, 0)
	if claimed != limit {
		t.Fatalf("the claim took %v deliveries, want %d", claimed, limit)
	}
	if read > limit+inFlight {
		t.Errorf("the claim read %v deliveries for %d deliveries with %d in flight before them and %d due: it reads the backlog",
			read, limit, inFlight, backlog)
	}
	// The lease leaves next_attempt_at, the index's key, alone: the update
	// writes no index entry (a HOT update, when the page has room).
	var moved int
	if err := tx.QueryRow(t.Context(), `SELECT count(*) FROM deliveries WHERE lease_token = 'test' AND next_attempt_at > $1`, now).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	if moved != 0 {
		t.Errorf("%d claimed deliveries had next_attempt_at moved", moved)
	}
}

// planNode is the part of EXPLAIN's JSON the test reads.
type planNode struct {
	NodeType            string     `json:"Node Type"`
	RelationName        string     `json:"Relation Name"`
	IndexName           string     `json:"Index Name"`
	ActualRows          float64    `json:"Actual Rows"`
	ActualLoops         float64    `json:"Actual Loops"`
	RowsRemovedByFilter float64    `json:"Rows Removed by Filter"`
	Plans               []planNode `json:"Plans"`
}

func (n *planNode) walk(fn func(*planNode)) {
	fn(n)
	for i := range n.Plans {
		n.Plans[i].walk(fn)
	}
}
