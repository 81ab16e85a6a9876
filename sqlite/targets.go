package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"

	"github.com/labhooks/labhooks"
)

// targetCache holds, in memory, what CreateEvent needs to find an event's
// data links: every partner's role and every enabled data link. Reading
// them for every event was a third of the cost of storing one.
//
// It stays exact because this process is the database's only writer (see
// Open) and every durable write transaction except the events' own group
// commit drops the cache before it commits, while it holds the one write
// connection; the cache is loaded again only inside a group commit, on that
// same connection, so never from data older than the last commit.
type targetCache struct {
	mu     sync.Mutex
	loaded bool
	roles  map[string]labhooks.Role // partner ID → role
	links  []cachedLink             // enabled data links, by ID
}

type cachedLink struct {
	id, partnerID string
	eventNames    []string
}

func (c *targetCache) drop() {
	c.mu.Lock()
	c.loaded, c.roles, c.links = false, nil, nil
	c.mu.Unlock()
}

// targets returns the partners' roles and the enabled data links, loading
// them with tx if the cache was dropped.
func (c *targetCache) targets(ctx context.Context, tx *sql.Tx) (map[string]labhooks.Role, []cachedLink, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return c.roles, c.links, nil
	}
	roles := map[string]labhooks.Role{}
	rows, err := tx.QueryContext(ctx, `SELECT id, role FROM partners`)
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
	if err := rows.Close(); err != nil {
		return nil, nil, dbError(err)
	}
	var links []cachedLink
	rows, err = tx.QueryContext(ctx, `SELECT `+dataLinkColumns+` FROM datalinks WHERE enabled = 1 ORDER BY id`)
	if err != nil {
		return nil, nil, dbError(err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDataLink(rows)
		if err != nil {
			return nil, nil, dbError(err)
		}
		links = append(links, cachedLink{id: d.ID, partnerID: d.PartnerID, eventNames: d.EventNames})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbError(err)
	}
	c.loaded, c.roles, c.links = true, roles, links
	return roles, links, nil
}

// targetLinks returns the enabled data links that should receive the event,
// as partner and data link IDs. ENotFound when the targeted partner does
// not exist, ERoleNotAllowed when its role may not receive the event.
func (s *Store) targetLinks(ctx context.Context, tx *sql.Tx, p labhooks.CreateEventParams) ([]cachedLink, error) {
	e := p.Event
	roles, links, err := s.targetCache.targets(ctx, tx)
	if err != nil {
		return nil, err
	}
	if e.PartnerID != "" {
		role, ok := roles[e.PartnerID]
		if !ok {
			return nil, labhooks.Errorf(labhooks.ENotFound, "partner %s not found", e.PartnerID)
		}
		if !slices.Contains(p.Roles, role) {
			return nil, labhooks.PartnerRoleNotAllowed(e.PartnerID, role, e.EventName, p.Roles)
		}
	}
	var out []cachedLink
	for _, l := range links {
		role := roles[l.partnerID]
		switch {
		case !slices.Contains(p.Roles, role):
		case e.PartnerID != "" && l.partnerID != e.PartnerID:
		case e.Role != "" && role != e.Role:
		case len(l.eventNames) > 0 && !slices.Contains(l.eventNames, e.EventName):
		default:
			out = append(out, l)
		}
	}
	return out, nil
}
