package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/internal/loadgen"
)

// benchPurge runs steady twice on fresh databases holding cfg.purgeOld
// delivered events 100 days old (past both the default retention and
// history): once as it is, then while the purge erases their payloads and
// deletes them. It returns the second run's report with the first's p99.
func benchPurge(ctx context.Context, cfg benchConfig, progress *loadgen.Progress) (*loadgen.Report, error) {
	cfg.seed = func(ctx context.Context, inst *benchInstance, targets []string) error {
		return seedOld(ctx, inst, targets, cfg.purgeOld, progress)
	}
	control, err := benchRun(ctx, cfg, "steady", 0, 0, progress)
	if err != nil {
		return nil, err
	}
	cfg.during = func(ctx context.Context, inst *benchInstance, rep *loadgen.Report) func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			start := time.Now()
			r, err := inst.app.Purge(ctx)
			rep.PurgeSeconds = time.Since(start).Seconds()
			rep.PurgeErased, rep.PurgeDeleted = r.Erased, r.Deleted
			if err != nil {
				rep.PurgeSeconds = -1
			}
		}()
		return func() { <-done }
	}
	rep, err := benchRun(ctx, cfg, "steady", 0, 0, progress)
	if err != nil {
		return nil, err
	}
	if rep.PurgeSeconds < 0 {
		return nil, fmt.Errorf("the purge failed")
	}
	rep.PurgeControlP99Ms = control.P99Ms
	return rep, nil
}

// seedOld stores n events 100 days old, each with one succeeded delivery,
// through the store as emits store them.
func seedOld(ctx context.Context, inst *benchInstance, targets []string, n int, progress *loadgen.Progress) error {
	links, err := inst.store.DataLinks(ctx, labhooks.DataLinkFilter{})
	if err != nil || len(links) == 0 {
		return fmt.Errorf("seeding: no data link: %v", err)
	}
	old := time.Now().UTC().Add(-100 * 24 * time.Hour)
	data := json.RawMessage(`{"sampleId":1,"dashboardUrl":"https://example.com/samples/1"}`)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) || ctx.Err() != nil {
					return
				}
				l := links[int(i)%len(links)]
				e := &labhooks.Event{ID: id.New(id.Event), EventName: "sampleReceived", Data: data, CreatedAt: old}
				d := &labhooks.Delivery{ID: id.New(id.Delivery), EventID: e.ID, EventName: e.EventName, PartnerID: l.PartnerID,
					DataLinkID: l.ID, Status: labhooks.DeliverySucceeded, AttemptCount: 1, LastStatusCode: 200, CreatedAt: old, UpdatedAt: old}
				if _, err := inst.store.CreateEvent(ctx, labhooks.CreateEventParams{Event: e, Deliveries: []*labhooks.Delivery{d}}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				if k := done.Add(1); k%1000 == 0 {
					progress.Show("storing old deliveries", int(k), n)
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("seeding: %w", err)
	default:
	}
	_ = targets
	return nil
}
