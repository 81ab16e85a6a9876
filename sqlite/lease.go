package sqlite

import (
	"sync"

	"github.com/labhooks/labhooks"
)

// leases are the deliveries this process has claimed and not yet recorded,
// kept in memory rather than in the deliveries' rows: one process owns the
// file (see Open), so a lease written to disk would only ever be read by
// this process, and Open releases every lease anyway. A claim then costs no
// write, and an attempt's record is the one write of its delivery.
//
// A lease holds a delivery against other claims until it ends; a record
// moves its delivery on only while its claim holds the lease (held). Writers
// change leases while they hold the one write connection, so that claims,
// which read the queue with it, see the leases and the rows together.
type leases struct {
	mu     sync.Mutex
	byID   map[string]lease // delivery ID → its lease
	byLink map[string]int   // data link ID → how many of its deliveries have a lease
}

type lease struct {
	token string
	until int64 // Unix ms
	link  string
}

func (l *leases) init() {
	l.byID, l.byLink = map[string]lease{}, map[string]int{}
}

// take leases delivery id of link to token until until, replacing an
// expired lease.
func (l *leases) take(id, link, token string, until int64) {
	l.mu.Lock()
	l.takeLocked(id, link, token, until)
	l.mu.Unlock()
}

func (l *leases) takeLocked(id, link, token string, until int64) {
	if _, ok := l.byID[id]; !ok {
		l.byLink[link]++
	}
	l.byID[id] = lease{token: token, until: until, link: link}
}

// liveOf returns the deliveries of links leased at now, and the earliest
// end of each link's live leases.
func (l *leases) liveOf(links []string, now int64) ([]string, map[string]int64) {
	want := make(map[string]bool, len(links))
	for _, link := range links {
		want[link] = true
	}
	var ids []string
	until := map[string]int64{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, le := range l.byID {
		if le.until <= now || !want[le.link] {
			continue
		}
		ids = append(ids, id)
		if u, ok := until[le.link]; !ok || le.until < u {
			until[le.link] = le.until
		}
	}
	return ids, until
}

// count is how many deliveries of link have a lease, live or expired: 0
// when nothing of the link is in flight.
func (l *leases) count(link string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byLink[link]
}

// settle reports whether token holds delivery id's lease, and ends it if
// so: its attempt's record moves the delivery on.
func (l *leases) settle(id, token string) (lease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	le, ok := l.byID[id]
	if !ok || le.token != token {
		return lease{}, false
	}
	l.dropLocked(id, le)
	return le, true
}

// restore puts back a lease that settle ended, unless the delivery was
// leased again meanwhile.
func (l *leases) restore(id string, le lease) {
	l.mu.Lock()
	if _, ok := l.byID[id]; !ok {
		l.takeLocked(id, le.link, le.token, le.until)
	}
	l.mu.Unlock()
}

// drop ends delivery id's lease, whoever holds it.
func (l *leases) drop(id string) {
	l.mu.Lock()
	if le, ok := l.byID[id]; ok {
		l.dropLocked(id, le)
	}
	l.mu.Unlock()
}

func (l *leases) dropLocked(id string, le lease) {
	delete(l.byID, id)
	if l.byLink[le.link]--; l.byLink[le.link] <= 0 {
		delete(l.byLink, le.link)
	}
}

// release ends the leases that jobs still hold.
func (l *leases) release(jobs []*labhooks.Job) {
	l.mu.Lock()
	for _, j := range jobs {
		if le, ok := l.byID[j.DeliveryID]; ok && le.token == j.LeaseToken {
			l.dropLocked(j.DeliveryID, le)
		}
	}
	l.mu.Unlock()
}

// ofLink returns the IDs of the deliveries of link that have a lease.
func (l *leases) ofLink(link string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byLink[link] == 0 {
		return nil
	}
	var ids []string
	for id, le := range l.byID {
		if le.link == link {
			ids = append(ids, id)
		}
	}
	return ids
}
