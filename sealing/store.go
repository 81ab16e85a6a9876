package sealing

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/labhooks/labhooks"
)

// Store is a labhooks.Store whose data-link secrets are sealed in the store
// beneath it and open above it: callers see plain secrets, the database
// never holds one. It hides what the store beneath implements beyond
// labhooks.Store, except labhooks.FreshQueue, which it passes on (see
// OfferFresh): find a labhooks.DueListener on that store before wrapping
// it.
type Store struct {
	labhooks.Store
	keys *Keyring

	// opened caches the secrets claims carry, by link and sealed value:
	// claims read the same few secrets over and over.
	mu     sync.RWMutex
	opened map[[2]string]string
}

var _ labhooks.FreshQueue = (*Store)(nil)

// maxOpened bounds the claims' cache; it starts afresh when full.
const maxOpened = 4096

// Open checks the secrets stored in inner against keys and returns a Store
// over inner:
//
//   - with no key, after checking that no secret is sealed; secrets are then
//     stored in the plain, and one sealed meanwhile by another process fails
//     the read (or claim) that meets it rather than being sent as it is;
//   - with keys, after sealing under the first key every secret stored in
//     the plain or under another key of the keyring, in one transaction.
//
// A secret that does not open is an error, and nothing changes: one sealed
// under a key not given wraps ErrUnknownKey. resealed is how many data links
// Open sealed.
func Open(ctx context.Context, inner labhooks.Store, keys *Keyring) (s labhooks.Store, resealed int, err error) {
	links, err := inner.DataLinks(ctx, labhooks.DataLinkFilter{})
	if err != nil {
		return nil, 0, err
	}
	stale := false
	for _, d := range links {
		for _, v := range []string{d.Secret, d.PreviousSecret} {
			if v == "" {
				continue
			}
			if !keys.Enabled() && IsSealed(v) {
				return nil, 0, fmt.Errorf("data link %s: its secret is %w (the database's secrets are sealed, and no key to open them was given)", d.ID, ErrUnknownKey)
			}
			if keys.Enabled() {
				// Every secret must open, or deliveries would fail later.
				if _, err := keys.Open(d.ID, v); err != nil {
					return nil, 0, err
				}
				stale = stale || !keys.current(v)
			}
		}
	}
	if stale {
		resealed, err = inner.RewriteSecrets(ctx, func(link, stored string) (string, error) {
			if keys.current(stored) {
				return stored, nil
			}
			plain, err := keys.Open(link, stored)
			if err != nil {
				return "", err
			}
			return keys.Seal(link, plain), nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return &Store{Store: inner, keys: keys, opened: map[[2]string]string{}}, resealed, nil
}

// seal seals secret for link when there is a key to seal with.
func (s *Store) seal(link, secret string) string {
	if !s.keys.Enabled() {
		return secret
	}
	return s.keys.Seal(link, secret)
}

// CreateDataLink stores d with its secrets sealed; d keeps them plain.
func (s *Store) CreateDataLink(ctx context.Context, d *labhooks.DataLink) error {
	secret, previous := d.Secret, d.PreviousSecret
	d.Secret, d.PreviousSecret = s.seal(d.ID, secret), s.seal(d.ID, previous)
	err := s.Store.CreateDataLink(ctx, d)
	d.Secret, d.PreviousSecret = secret, previous
	return err
}

// DataLink returns one data link with its secrets opened.
func (s *Store) DataLink(ctx context.Context, id string) (*labhooks.DataLink, error) {
	return s.openLink(s.Store.DataLink(ctx, id))
}

// DataLinks lists data links with their secrets opened.
func (s *Store) DataLinks(ctx context.Context, f labhooks.DataLinkFilter) ([]*labhooks.DataLink, error) {
	return s.openLinks(s.Store.DataLinks(ctx, f))
}

// UpdateDataLink lets change modify the link with its secrets open, inside
// the transaction of the store beneath, and stores what change leaves
// sealed: a secret change leaves as it found it stays as it was stored.
func (s *Store) UpdateDataLink(ctx context.Context, id string, change func(*labhooks.DataLink) error) (*labhooks.DataLink, error) {
	return s.openLink(s.Store.UpdateDataLink(ctx, id, func(d *labhooks.DataLink) error {
		stored := [2]string{d.Secret, d.PreviousSecret}
		if _, err := s.openLink(d, nil); err != nil {
			return err
		}
		plain := [2]string{d.Secret, d.PreviousSecret}
		if err := change(d); err != nil {
			return err
		}
		for i, v := range []*string{&d.Secret, &d.PreviousSecret} {
			if *v == plain[i] {
				*v = stored[i]
			} else {
				*v = s.seal(id, *v) // the ID stored, whatever change did to d's
			}
		}
		return nil
	}))
}

// RewriteSecrets hands rewrite the plain secrets and seals what it returns.
func (s *Store) RewriteSecrets(ctx context.Context, rewrite func(dataLinkID, secret string) (string, error)) (int, error) {
	return s.Store.RewriteSecrets(ctx, func(link, stored string) (string, error) {
		plain, err := s.keys.Open(link, stored)
		if err != nil {
			return "", err
		}
		next, err := rewrite(link, plain)
		if err != nil || next == plain {
			return stored, err
		}
		return s.seal(link, next), nil
	})
}

// ClaimDeliveries returns the claimed jobs with their secrets opened. A
// secret that does not open (sealed by a process with a key this one lacks,
// or written into the database by hand) fails the claim, whose leases then
// run out for another process to take them: no webhook is signed with a
// sealed value.
func (s *Store) ClaimDeliveries(ctx context.Context, p labhooks.ClaimParams) ([]*labhooks.Job, error) {
	jobs, err := s.Store.ClaimDeliveries(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := s.openJobs(jobs); err != nil {
		return nil, err
	}
	return jobs, nil
}

// openJobs opens the secrets of jobs in place.
func (s *Store) openJobs(jobs []*labhooks.Job) (err error) {
	for _, j := range jobs {
		for i, v := range j.Secrets {
			if j.Secrets[i], err = s.openCached(j.DataLinkID, v); err != nil {
				return err
			}
		}
		// What is redacted from answers must be the secrets themselves; one
		// that does not open is no longer sent, and is left out.
		redact := j.Redact[:0]
		for _, v := range j.Redact {
			if plain, err := s.openCached(j.DataLinkID, v); err == nil {
				redact = append(redact, plain)
			}
		}
		j.Redact = redact
	}
	return nil
}

// OfferFresh passes labhooks.FreshQueue on to the store beneath, when it
// has it, with each job's secrets opened as ClaimDeliveries opens them; a
// hand-over with a secret that does not open is refused (the store releases
// it, and the claim that meets it fails as above).
func (s *Store) OfferFresh(owner string, lease time.Duration, offer func([]*labhooks.Job) bool) bool {
	inner, ok := s.Store.(labhooks.FreshQueue)
	if !ok {
		return false
	}
	if offer == nil {
		return inner.OfferFresh(owner, lease, nil)
	}
	return inner.OfferFresh(owner, lease, func(jobs []*labhooks.Job) bool {
		if err := s.openJobs(jobs); err != nil {
			return false
		}
		return offer(jobs)
	})
}

// Release passes labhooks.FreshQueue on to the store beneath.
func (s *Store) Release(jobs []*labhooks.Job) {
	if inner, ok := s.Store.(labhooks.FreshQueue); ok {
		inner.Release(jobs)
	}
}

// Feed returns a page of a partner's pull feed with its links' secrets
// opened, as ClaimDeliveries does for pushes: a feed item is signed with
// them.
func (s *Store) Feed(ctx context.Context, q labhooks.FeedQuery) ([]*labhooks.FeedItem, error) {
	items, err := s.Store.Feed(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Link.Secret, err = s.openCached(it.DataLinkID, it.Link.Secret); err != nil {
			return nil, err
		}
		if it.Link.PreviousSecret != "" {
			if it.Link.PreviousSecret, err = s.openCached(it.DataLinkID, it.Link.PreviousSecret); err != nil {
				return nil, err
			}
		}
	}
	return items, nil
}

func (s *Store) openCached(link, stored string) (string, error) {
	k := [2]string{link, stored}
	s.mu.RLock()
	plain, ok := s.opened[k]
	s.mu.RUnlock()
	if ok {
		return plain, nil
	}
	plain, err := s.keys.Open(link, stored)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if len(s.opened) >= maxOpened {
		clear(s.opened)
	}
	s.opened[k] = plain
	s.mu.Unlock()
	return plain, nil
}

func (s *Store) openLink(d *labhooks.DataLink, err error) (*labhooks.DataLink, error) {
	if err != nil {
		return nil, err
	}
	if d.Secret, err = s.keys.Open(d.ID, d.Secret); err != nil {
		return nil, err
	}
	if d.PreviousSecret, err = s.keys.Open(d.ID, d.PreviousSecret); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Store) openLinks(ds []*labhooks.DataLink, err error) ([]*labhooks.DataLink, error) {
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if _, err := s.openLink(d, nil); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

var _ labhooks.Store = (*Store)(nil)
