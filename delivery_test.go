package labhooks_test

import (
	"slices"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
)

func TestFailingRuns(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	result := func(link string, s int, status labhooks.DeliveryStatus) labhooks.AttemptResult {
		return labhooks.AttemptResult{DataLinkID: link, Status: status, Attempt: labhooks.Attempt{StartedAt: at(s)}}
	}
	const (
		ok      = labhooks.DeliverySucceeded
		retry   = labhooks.DeliveryPending
		gaveUp  = labhooks.DeliveryFailed
		noStart = -1
	)
	tests := []struct {
		name string
		rs   []labhooks.AttemptResult
		want map[string]int // link → the run's start in seconds, or noStart
		// fresh are the links whose run the batch restarts.
		fresh []string
	}{
		{"none", nil, map[string]int{}, nil},
		{"one success", []labhooks.AttemptResult{result("a", 1, ok)}, map[string]int{"a": noStart}, []string{"a"}},
		{"one failure", []labhooks.AttemptResult{result("a", 1, retry)}, map[string]int{"a": 1}, nil},
		{"failures: the first starts the run", []labhooks.AttemptResult{result("a", 1, retry), result("a", 2, gaveUp)}, map[string]int{"a": 1}, nil},
		{"a success ends the run", []labhooks.AttemptResult{result("a", 1, retry), result("a", 2, ok)}, map[string]int{"a": noStart}, []string{"a"}},
		{"failures after a success", []labhooks.AttemptResult{result("a", 1, retry), result("a", 2, ok), result("a", 3, retry), result("a", 4, retry)},
			map[string]int{"a": 3}, []string{"a"}},
		{"by start, not by arrival", []labhooks.AttemptResult{result("a", 5, retry), result("a", 2, ok)}, map[string]int{"a": 5}, []string{"a"}},
		{"arrived late, started early", []labhooks.AttemptResult{result("a", 2, ok), result("a", 1, retry)}, map[string]int{"a": noStart}, []string{"a"}},
		{"per link", []labhooks.AttemptResult{result("b", 1, retry), result("a", 1, ok), result("b", 2, ok), result("c", 3, gaveUp)},
			map[string]int{"a": noStart, "b": noStart, "c": 3}, []string{"a", "b"}},
		{"without a link", []labhooks.AttemptResult{result("", 1, retry)}, map[string]int{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := labhooks.FailingRuns(tt.rs)
			if len(runs) != len(tt.want) {
				t.Fatalf("FailingRuns = %+v, want %d links", runs, len(tt.want))
			}
			for i, r := range runs {
				if i > 0 && runs[i-1].DataLinkID >= r.DataLinkID {
					t.Fatalf("not in order of link ID: %+v", runs)
				}
				want, ok := tt.want[r.DataLinkID]
				if fresh := slices.Contains(tt.fresh, r.DataLinkID); r.Fresh != fresh {
					t.Errorf("link %s: Fresh = %v, want %v", r.DataLinkID, r.Fresh, fresh)
				}
				switch {
				case !ok:
					t.Fatalf("unexpected link %q", r.DataLinkID)
				case want == noStart && r.Since != nil:
					t.Errorf("link %s: Since = %v, want nil", r.DataLinkID, r.Since)
				case want != noStart && (r.Since == nil || !r.Since.Equal(at(want))):
					t.Errorf("link %s: Since = %v, want %v", r.DataLinkID, r.Since, at(want))
				}
			}
		})
	}
}

// TestClaimedRowJob is the one rule from a claimed row to the job a worker
// sends: the link's URL and the secrets signing at that moment, the seed's
// body, the try within the current schedule; or why it is failed instead.
func TestClaimedRowJob(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later := now.Add(time.Hour)
	row := labhooks.ClaimedRow{
		DeliveryID: "dlv_1", EventID: "evt_1", EventName: "codeUsed", DataLinkID: "dl_1",
		AttemptCount: 5, ScheduleBase: 3, CreatedAt: now.Add(-time.Minute), Data: []byte(`{"codeId":1}`),
		Link: &labhooks.DataLink{URL: "https://lab.example/hook", Secret: "new", PreviousSecret: "old", PreviousSecretExpiresAt: &later, Enabled: true},
	}
	j, why := row.Job(now, "owner:token")
	if j == nil || why != "" {
		t.Fatalf("Job: %v, %q", j, why)
	}
	if j.Try != 3 || j.URL != row.Link.URL || !slices.Equal(j.Secrets, []string{"new", "old"}) || j.LeaseToken != "owner:token" ||
		string(j.Body) != `{"eventName":"codeUsed","data":{"codeId":1}}` || !j.CreatedAt.Equal(row.CreatedAt) || j.DeliveryID != "dlv_1" {
		t.Errorf("Job = %+v", j)
	}
	row.Link.Enabled = false
	if j, why := row.Job(now, "t"); j != nil || why != "the data link is disabled" {
		t.Errorf("a disabled link's row: %v, %q", j, why)
	}
	row.Link = nil
	if j, why := row.Job(now, "t"); j != nil || why != "the data link was deleted" {
		t.Errorf("a deleted link's row: %v, %q", j, why)
	}
}
