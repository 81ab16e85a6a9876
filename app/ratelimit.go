package app

import (
	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/internal/ratelimit"
)

// manualLimits are the buckets of manual sends (test, retry, replay): one
// per data link, one per partner (labhooks.ManualSendRatePerLink and kin).
// They live in this process: behind several processes a caller gets each
// one's share.
type manualLimits struct {
	link, partner *ratelimit.Limiter
}

func newManualLimits() manualLimits {
	return manualLimits{
		link:    ratelimit.New(ratelimit.Limit{Rate: labhooks.ManualSendRatePerLink, Burst: labhooks.ManualSendBurstPerLink}, labhooks.MaxRateLimitKeys),
		partner: ratelimit.New(ratelimit.Limit{Rate: labhooks.ManualSendRatePerPartner, Burst: labhooks.ManualSendBurstPerPartner}, labhooks.MaxRateLimitKeys),
	}
}

// allowManualSend takes a token for one manual send to data link linkID of
// partner partnerID, or refuses with ERateLimited and how long to wait.
func (s *Service) allowManualSend(what, linkID, partnerID string) error {
	_, wait := ratelimit.Take(s.cfg.Now(), []*ratelimit.Limiter{s.limits.link, s.limits.partner}, []string{linkID, partnerID})
	if wait > 0 {
		return labhooks.RateLimited(wait, "Too many tests, retries and replays for this data link or its partner lately (%d at once, then %g a second per link and %g per partner); %s was not done.",
			labhooks.ManualSendBurstPerLink, labhooks.ManualSendRatePerLink, labhooks.ManualSendRatePerPartner, what)
	}
	return nil
}
