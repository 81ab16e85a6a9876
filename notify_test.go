package labhooks

import (
	"testing"
	"time"
)

// TestNextLinkNotice: each change of a link's state is announced once,
// against the last announcement.
func TestNextLinkNotice(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	announced := func(state NoticeState, since time.Time) *Notification {
		return &Notification{State: state, Since: since, CreatedAt: now.Add(-time.Minute)}
	}
	for _, tt := range []struct {
		name  string
		link  DataLink
		last  *Notification
		want  NoticeState
		since time.Time
	}{
		{"healthy, nothing said", DataLink{Enabled: true}, nil, "", time.Time{}},
		{"failing for less", DataLink{Enabled: true, FailingSince: ago(59 * time.Minute)}, nil, "", time.Time{}},
		{"failing for the hour", DataLink{Enabled: true, FailingSince: ago(time.Hour)}, nil, NoticeFailing, *ago(time.Hour)},
		{"that run announced", DataLink{Enabled: true, FailingSince: ago(2 * time.Hour)}, announced(NoticeFailing, *ago(2 * time.Hour)), "", time.Time{}},
		{"a new run", DataLink{Enabled: true, FailingSince: ago(time.Hour)}, announced(NoticeFailing, *ago(3 * time.Hour)), NoticeFailing, *ago(time.Hour)},
		{"disabled", DataLink{UpdatedAt: *ago(time.Minute), FailingSince: ago(5 * time.Hour)}, announced(NoticeFailing, *ago(5 * time.Hour)), NoticeDisabled, *ago(time.Minute)},
		{"disabled, announced", DataLink{UpdatedAt: *ago(time.Minute)}, announced(NoticeDisabled, *ago(time.Minute)), "", time.Time{}},
		{"disabled by hand, never failing", DataLink{UpdatedAt: *ago(time.Minute)}, nil, NoticeDisabled, *ago(time.Minute)},
		{"disabled long before", DataLink{UpdatedAt: *ago(DisabledNoticeWindow + time.Minute)}, nil, "", time.Time{}},
		{"recovered from failing", DataLink{Enabled: true}, announced(NoticeFailing, *ago(time.Hour)), NoticeRecovered, now.Add(-time.Minute)},
		{"enabled again", DataLink{Enabled: true}, announced(NoticeDisabled, *ago(time.Hour)), NoticeRecovered, now.Add(-time.Minute)},
		{"recovery announced", DataLink{Enabled: true}, announced(NoticeRecovered, *ago(time.Hour)), "", time.Time{}},
		{"enabled again, failing for less", DataLink{Enabled: true, FailingSince: ago(time.Minute)}, announced(NoticeDisabled, *ago(time.Hour)), "", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NextLinkNotice(&tt.link, tt.last, now, time.Hour)
			if ok != (tt.want != "") || got.State != tt.want || !got.Since.Equal(tt.since) {
				t.Fatalf("NextLinkNotice = %+v, %v; want %q since %s", got, ok, tt.want, tt.since)
			}
		})
	}
}

func TestNotificationBackoff(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 40: NotificationMaxBackoff} {
		if got := NotificationBackoff(time.Second, attempts); got != want {
			t.Errorf("NotificationBackoff(1s, %d) = %s, want %s", attempts, got, want)
		}
	}
}

func TestValidateContacts(t *testing.T) {
	got, err := ValidateContacts([]string{" it@lab.example", "IT@LAB.example", "oncall@lab.example"})
	if err != nil || len(got) != 2 || got[0] != "it@lab.example" || got[1] != "oncall@lab.example" {
		t.Fatalf("ValidateContacts = %v, %v", got, err)
	}
	if got, err := ValidateContacts(nil); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("ValidateContacts(nil) = %#v, %v; want an empty list", got, err)
	}
	many := make([]string, MaxContacts+1)
	for i := range many {
		many[i] = string(rune('a'+i)) + "@lab.example"
	}
	for _, bad := range [][]string{{"x"}, {"<it@lab.example>"}, {"IT <it@lab.example>"}, {"a@lab.example, b@lab.example"}, {"it@localhost"}, {" "}, many} {
		if _, err := ValidateContacts(bad); ErrorCode(err) != EInvalid {
			t.Errorf("ValidateContacts(%q) = %v, want invalid", bad, err)
		}
	}
}
