package postgres

import (
	"context"
	"slices"
	"sync"

	"github.com/labhooks/labhooks"
)

// The target cache. Reading the audience cost every emit a round trip and
// a transaction of its own before its insert, and about a tenth of
// labhooks' CPU in the e2e benchmark (BENCHMARKS.md, issue 17). Each process now keeps every partner's role
// and every data link's targeting columns in memory, with the target
// version (migration 0014) read in the same statement, so in the same
// snapshot. Triggers raise the version with every change to them, by any
// process; an emit's insert transaction checks it first
// (labhooks_check_targets) and stores nothing when it moved
// (labhooks.ErrStaleAudience): the app layer then targets the event again
// from a fresh read. Under READ COMMITTED that check sees every change
// committed before the insert transaction began, so no emit uses an
// audience older than that, in any process.
//
// This process's own writes (writeTx) drop the cache when they commit, so
// Audience answers them at once, as the Store interface promises.

// targets is one reading of the partners and data links.
type targets struct {
	version   int64
	roles     map[string]labhooks.Role                  // partner ID → role
	links     []labhooks.AudienceLink                   // every link, by ID
	byPartner map[string][]labhooks.AudienceLink        // each partner's links, by ID
	byRole    map[labhooks.Role][]labhooks.AudienceLink // the links of each role's partners, by ID
}

// targetCache holds the last reading, and drops it when this process
// changes partners or data links or an emit finds it stale.
type targetCache struct {
	mu  sync.Mutex
	cur *targets // nil: none
	// gen counts drops: a reading that began before a drop may predate the
	// change that caused it, and is not kept.
	gen uint64
	// loading is the reading under way since generation gen, which the
	// emits that miss meanwhile wait for rather than each read.
	loading *loading
}

// loading is one reading of the targets under way.
type loading struct {
	gen  uint64
	done chan struct{}
	t    *targets
	err  error
}

// cached returns the reading kept, or nil and the reading to wait for, or
// nil and a new reading that the caller must do and finish.
func (c *targetCache) cached() (t *targets, wait, mine *loading) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.cur != nil:
		return c.cur, nil, nil
	case c.loading != nil && c.loading.gen == c.gen:
		return nil, c.loading, nil
	}
	c.loading = &loading{gen: c.gen, done: make(chan struct{})}
	return nil, nil, c.loading
}

// finish ends reading l with t or err, keeping t unless a drop came since
// it began.
func (c *targetCache) finish(l *loading, t *targets, err error) {
	c.mu.Lock()
	if c.loading == l {
		c.loading = nil
	}
	c.mu.Unlock()
	if err == nil {
		c.set(t, l.gen)
	}
	l.t, l.err = t, err
	close(l.done)
}

func (c *targetCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// set keeps t, read after the cache's generation was gen, unless a drop
// came since or a newer reading is kept.
func (c *targetCache) set(t *targets, gen uint64) {
	if t == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && (c.cur == nil || c.cur.version <= t.version) {
		c.cur = t
	}
}

// drop forgets the reading.
func (c *targetCache) drop() {
	c.mu.Lock()
	c.cur, c.gen = nil, c.gen+1
	c.mu.Unlock()
}

// stale forgets the reading if it is at version or older: an emit found
// version stale. A newer reading, taken meanwhile, stays.
func (c *targetCache) stale(version int64) {
	c.mu.Lock()
	if c.cur != nil && c.cur.version <= version {
		c.cur, c.gen = nil, c.gen+1
	}
	c.mu.Unlock()
}

// readTargetsSQL reads the version and, in the same snapshot, every
// partner with its data links (one row for a partner without any; one
// row with no partner when there is none).
const readTargetsSQL = `SELECT v.version, p.id, p.role, l.id, COALESCE(l.event_names, '{}'), COALESCE(l.enabled, false),
		COALESCE(l.kind, 'push') = 'pull', COALESCE(l.ordered, false)
	FROM target_version v LEFT JOIN (partners p LEFT JOIN datalinks l ON l.partner_id = p.id) ON true
	ORDER BY l.id`

// Audience answers q from the target cache, read again when it is empty
// or q.Fresh; the answer's Version is the cache's.
func (s *Store) Audience(ctx context.Context, q labhooks.AudienceQuery) (*labhooks.Audience, error) {
	t, err := s.cachedTargets(ctx, q.Fresh)
	if err != nil {
		return nil, err
	}
	a := &labhooks.Audience{Version: t.version}
	switch {
	case q.PartnerID != "":
		a.PartnerRole, a.Links = t.roles[q.PartnerID], t.byPartner[q.PartnerID]
	case len(q.Roles) == 1:
		a.Links = t.byRole[q.Roles[0]]
	default:
		for _, l := range t.links {
			if slices.Contains(q.Roles, l.Role) {
				a.Links = append(a.Links, l)
			}
		}
	}
	// The cache's slices are shared: an append by the caller must copy.
	a.Links = slices.Clip(a.Links)
	return a, nil
}

// cachedTargets returns the cache's reading, or reads the targets when it
// has none, or when fresh.
func (s *Store) cachedTargets(ctx context.Context, fresh bool) (*targets, error) {
	if fresh {
		gen := s.targets.generation()
		t, err := s.readTargets(ctx)
		if err == nil {
			s.targets.set(t, gen)
		}
		return t, err
	}
	t, wait, mine := s.targets.cached()
	switch {
	case t != nil:
		return t, nil
	case wait != nil:
		select {
		case <-wait.done:
			return wait.t, wait.err
		case <-ctx.Done():
			return nil, dbError(ctx.Err())
		}
	}
	// Not the caller's context: the callers waiting for this reading
	// must not lose it when the caller gives up.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout)
	defer cancel()
	t, err := s.readTargets(rctx)
	s.targets.finish(mine, t, err)
	return t, err
}

// readTargets reads the partners and data links, and the version, in one
// statement.
func (s *Store) readTargets(ctx context.Context) (*targets, error) {
	var t *targets
	err := s.retry(ctx, func() error {
		t = &targets{roles: map[string]labhooks.Role{}, byPartner: map[string][]labhooks.AudienceLink{},
			byRole: map[labhooks.Role][]labhooks.AudienceLink{}}
		rows, err := s.pool.Query(ctx, readTargetsSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l labhooks.AudienceLink
			var partnerID, role, linkID *string
			if err := rows.Scan(&t.version, &partnerID, &role, &linkID, &l.EventNames, &l.Enabled, &l.Pull, &l.Ordered); err != nil {
				return err
			}
			if partnerID == nil {
				continue
			}
			t.roles[*partnerID] = labhooks.Role(*role)
			if linkID != nil {
				l.ID, l.PartnerID, l.Role = *linkID, *partnerID, labhooks.Role(*role)
				t.links = append(t.links, l)
				t.byPartner[l.PartnerID] = append(t.byPartner[l.PartnerID], l)
				t.byRole[l.Role] = append(t.byRole[l.Role], l)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}
