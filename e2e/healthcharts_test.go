package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
	"github.com/labhooks/labhooks/sqlite"
)

// seedHistory writes a day of traffic into the stopped server's database,
// through the store as the engine writes it: events every ten minutes over
// the day and every minute over the last hour, each delivered to ok at
// once, and to failing with a 503, retried 45 minutes later and failed for
// good then.
func seedHistory(t *testing.T, db, ok, failing string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	links, err := store.DataLinks(ctx, labhooks.DataLinkFilter{IDs: []string{ok, failing}})
	if err != nil || len(links) != 2 {
		t.Fatalf("data links %v, %v", links, err)
	}
	audience := make([]labhooks.AudienceLink, len(links))
	for i, l := range links {
		audience[i] = labhooks.AudienceLink{ID: l.ID, PartnerID: l.PartnerID, Role: labhooks.RoleLab, Enabled: true}
	}
	var times []time.Time
	for at := now.Add(-24 * time.Hour); at.Before(now.Add(-time.Hour)); at = at.Add(10 * time.Minute) {
		times = append(times, at)
	}
	for at := now.Add(-time.Hour); at.Before(now.Add(-time.Minute)); at = at.Add(time.Minute) {
		times = append(times, at)
	}
	for i, at := range times {
		for n := range 1 + (i*7)%4 {
			e := &labhooks.Event{ID: id.New(id.Event), EventName: "sampleReceived", CreatedAt: at, Data: json.RawMessage(fmt.Sprintf(
				`{"dashboardUrl":"https://dashboard.daslab.app/labs/7/samples/%d","sampleId":%d,"appointmentId":45,"locationId":6}`, i*10+n, i*10+n))}
			if _, err := store.CreateEvent(ctx, labhooks.CreateEventParams{Event: e, Deliveries: e.Deliver(audience, at, func() string { return id.New(id.Delivery) })}); err != nil {
				t.Fatal(err)
			}
		}
		jobs, err := store.ClaimDeliveries(ctx, labhooks.ClaimParams{Owner: "seed", Now: at, Lease: time.Minute, Limit: 1000, PerDataLink: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var results []labhooks.AttemptResult
		for _, j := range jobs {
			r := labhooks.AttemptResult{LeaseToken: j.LeaseToken, DataLinkID: j.DataLinkID, Status: labhooks.DeliverySucceeded,
				Attempt: labhooks.Attempt{DeliveryID: j.DeliveryID, StartedAt: at.Add(time.Second), StatusCode: 200, DurationMs: 40}}
			if j.DataLinkID == failing {
				r.Attempt.StatusCode, r.Attempt.Error, r.Status = 503, "HTTP 503", labhooks.DeliveryFailed
				if j.Try == 1 {
					next := at.Add(45 * time.Minute)
					r.Status, r.NextAttemptAt = labhooks.DeliveryPending, &next
				}
			}
			results = append(results, r)
		}
		if err := store.RecordAttempts(ctx, results); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserHealthCharts: after a day of traffic in which one lab's
// receiver always fails, the Health page charts the last hour and day, and
// each data link's page shows its success rate.
func TestBrowserHealthCharts(t *testing.T) {
	ctx := newBrowser(t)
	s := startServer(t, "", "--retry-schedule", "45m")
	okID, _ := s.partner("lab", "Central Lab")
	failingID, _ := s.partner("lab", "North Lab")
	up := newReceiver(t, func(int, *http.Request) int { return http.StatusOK })
	down := newReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	ok := s.dataLink(okID, up.URL+"/hook", "central-lab-secret-0123456789abcdef")
	failing := s.dataLink(failingID, down.URL+"/hook", "north-lab-secret-0123456789abcdefgh")
	s.stop()
	seedHistory(t, s.db, ok, failing, time.Now().UTC())
	s.start()
	defer s.stop()

	p := &page{t: t, ctx: ctx, base: s.url}
	p.open("/signin")
	p.run(chromedp.SetValue(chromedp.CSS("#key"), adminKey))
	p.submit(`form[action="/signin"] button[type=submit]`, "#queue-depth")
	p.wantText("#charts-hour", "Deliveries", "Failures", "Queue depth")
	p.wantText("#charts-day", "The last day")
	count := func(sel string) int {
		n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+fmt.Sprintf("%q", sel)+`).length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Nearly every minute of the last hour and every half hour of the day
	// had deliveries, and failures.
	for sel, least := range map[string]int{
		"#hour-deliveries rect.chart-bar": 55, "#hour-failures rect.chart-bar-bad": 55,
		"#day-deliveries rect.chart-bar": 46, "#day-failures rect.chart-bar-bad": 46,
		"#hour-queue polyline.chart-line": 1, "#day-queue polygon.chart-area": 1,
	} {
		if n := count(sel); n < least {
			t.Errorf("%d of %s, want at least %d", n, sel, least)
		}
	}
	p.screenshot("health-charts.png")

	p.open("/datalinks/" + ok)
	p.wantText("#success-rate", "100.0 %")
	p.open("/datalinks/" + failing)
	p.wantText("#success-rate", "0.0 %")
	p.wantText("#recent", "of attempts succeeded in the last 24 hours")
	if n := count("#link-recent rect.chart-bar-bad"); n < 23 {
		t.Errorf("the failing link's chart has %d hours of failures, want 23 or more", n)
	}
	p.screenshot("datalink-recent.png")
}
