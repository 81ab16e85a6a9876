package sqlite

import (
	"context"
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
}

func (c *targetCache) drop() {
	c.mu.Lock()
	c.loaded, c.roles, c.links = false, nil, nil
	c.mu.Unlock()
}

func (c *targetCache) get() (map[string]labhooks.Role, []labhooks.AudienceLink, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.roles, c.links, c.loaded
}

func (c *targetCache) set(roles map[string]labhooks.Role, links []labhooks.AudienceLink) {
	c.mu.Lock()
	c.loaded, c.roles, c.links = true, roles, links
	c.mu.Unlock()
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
	roles := map[string]labhooks.Role{}
	rows, err := conn.QueryContext(ctx, `SELECT id, role FROM partners`)
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
	rows, err = conn.QueryContext(ctx, `SELECT id, partner_id, event_names, enabled, kind = 'pull' FROM datalinks ORDER BY id`)
	if err != nil {
		return nil, nil, dbError(err)
	}
	defer rows.Close()
	var links []labhooks.AudienceLink
	for rows.Next() {
		var l labhooks.AudienceLink
		if err := rows.Scan(&l.ID, &l.PartnerID, dialect{}.EventNames(&l.EventNames), &l.Enabled, &l.Pull); err != nil {
			return nil, nil, dbError(err)
		}
		l.Role = roles[l.PartnerID]
		links = append(links, l)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbError(err)
	}
	s.targetCache.set(roles, links)
	return roles, links, nil
}
