package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"

	"github.com/labhooks/labhooks"
)

// targetCache holds, in memory, what Audience answers from: every partner's
// role and every data link, enabled or not. Reading them for every event
// was a third of the cost of storing one.
//
// It stays exact because this process is the database's only writer (see
// Open) and every durable write transaction that may change partners or
// data links drops the cache before it commits, while it holds the one
// write connection (inTx); a miss loads the cache again while holding that
// same connection, so never from data older than the last commit.
type targetCache struct {
	mu     sync.Mutex
	loaded bool
	roles  map[string]labhooks.Role // partner ID → role
	links  []labhooks.AudienceLink  // by ID, each with its partner's role
	// send is what an attempt needs of each data link (URL, secrets as
	// stored, Enabled), for the jobs handed over at insert (see
	// handOver).
	send map[string]*labhooks.DataLink
}

func (c *targetCache) drop() {
	c.mu.Lock()
	c.loaded, c.roles, c.links, c.send = false, nil, nil, nil
	c.mu.Unlock()
}

func (c *targetCache) get() (map[string]labhooks.Role, []labhooks.AudienceLink, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.roles, c.links, c.loaded
}

func (c *targetCache) set(roles map[string]labhooks.Role, links []labhooks.AudienceLink, send map[string]*labhooks.DataLink) {
	c.mu.Lock()
	c.loaded, c.roles, c.links, c.send = true, roles, links, send
	c.mu.Unlock()
}

// sendLinks returns what attempts need of every data link, by ID; ok is
// false when the cache is not loaded.
func (c *targetCache) sendLinks() (map[string]*labhooks.DataLink, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.send, c.loaded
}

// Audience answers q from the target cache: the role of the partner it
// names, and the data links of the partners it selects.
func (s *Store) Audience(ctx context.Context, q labhooks.AudienceQuery) (*labhooks.Audience, error) {
	roles, links, err := s.targets(ctx)
	if err != nil {
		return nil, err
	}
	a := &labhooks.Audience{}
	if q.PartnerID != "" {
		a.PartnerRole = roles[q.PartnerID]
	}
	for _, l := range links {
		if q.PartnerID != "" && l.PartnerID == q.PartnerID || q.PartnerID == "" && slices.Contains(q.Roles, l.Role) {
			a.Links = append(a.Links, l)
		}
	}
	return a, nil
}

// targets returns the cached roles and links, loading them on a miss.
func (s *Store) targets(ctx context.Context) (map[string]labhooks.Role, []labhooks.AudienceLink, error) {
	if roles, links, ok := s.targetCache.get(); ok {
		return roles, links, nil
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return nil, nil, dbError(err)
	}
	defer conn.Close()
	// Holding the write connection, no write commits until the cache is set.
	if roles, links, ok := s.targetCache.get(); ok { // loaded while this call waited
		return roles, links, nil
	}
	return s.loadTargets(ctx, conn)
}

// loadTargets fills the target cache with q, which holds the write
// connection (the connection itself, or a transaction on it).
func (s *Store) loadTargets(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}) (map[string]labhooks.Role, []labhooks.AudienceLink, error) {
	roles := map[string]labhooks.Role{}
	rows, err := q.QueryContext(ctx, `SELECT id, role FROM partners`)
	if err != nil {
		return nil, nil, dbError(err)
	}
	for rows.Next() {
		var id string
		var role labhooks.Role
		if err := rows.Scan(&id, &role); err != nil {
			rows.Close()
			return nil, nil, dbError(err)
		}
		roles[id] = role
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, dbError(err)
	}
	rows, err = q.QueryContext(ctx, `SELECT id, partner_id, event_names, enabled, kind = 'pull', url, secret, previous_secret,
		previous_secret_expires_at, ordered FROM datalinks ORDER BY id`)
	if err != nil {
		return nil, nil, dbError(err)
	}
	defer rows.Close()
	var links []labhooks.AudienceLink
	send := map[string]*labhooks.DataLink{}
	for rows.Next() {
		var l labhooks.AudienceLink
		d := &labhooks.DataLink{}
		if err := rows.Scan(&l.ID, &l.PartnerID, dialect{}.EventNames(&l.EventNames), &l.Enabled, &l.Pull,
			&d.URL, &d.Secret, &d.PreviousSecret, dialect{}.NullTime(&d.PreviousSecretExpiresAt), &d.Ordered); err != nil {
			return nil, nil, dbError(err)
		}
		l.Role, l.Ordered = roles[l.PartnerID], d.Ordered
		links = append(links, l)
		d.ID, d.PartnerID, d.Enabled = l.ID, l.PartnerID, l.Enabled
		send[d.ID] = d
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbError(err)
	}
	s.targetCache.set(roles, links, send)
	return roles, links, nil
}
