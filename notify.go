package labhooks

import (
	"context"
	"encoding/json"
	"time"
)

// Notifications tell people that something needs them: a data link that
// only fails, one labhooks or an admin disabled, one that works again, an
// erasure a partner did not confirm in time. The rule (NextLinkNotice)
// compares a subject's state with the last notification about it, so
// that each change of state is told once; the decision is stored (the
// notification outbox, NotificationStore) before anything is sent, and a
// sender marks each one sent. See README "Notifications and operational
// events".

// NoticeState is the state a notification announces.
type NoticeState string

// The states notified.
const (
	NoticeFailing   NoticeState = "failing"
	NoticeDisabled  NoticeState = "disabled"
	NoticeRecovered NoticeState = "recovered"
	NoticeOverdue   NoticeState = "overdue"
)

// The subjects of notifications.
const (
	NoticeDataLink = "datalink"
	NoticeErasure  = "erasure"
)

// The operational events, one per NoticeState, that labhooks emits to the
// data links of the partners whose role is RoleOperator.
const (
	EventDataLinkFailing   = "dataLinkFailing"
	EventDataLinkDisabled  = "dataLinkDisabled"
	EventDataLinkRecovered = "dataLinkRecovered"
	EventErasureOverdue    = "erasureOverdue"
)

// IsOperationalEvent reports whether name is one of labhooks' own
// operational events, which only labhooks emits.
func IsOperationalEvent(name string) bool {
	switch name {
	case EventDataLinkFailing, EventDataLinkDisabled, EventDataLinkRecovered, EventErasureOverdue:
		return true
	}
	return false
}

// NoticeEvent returns the operational event that announces state.
func NoticeEvent(state NoticeState) string {
	switch state {
	case NoticeFailing:
		return EventDataLinkFailing
	case NoticeDisabled:
		return EventDataLinkDisabled
	case NoticeRecovered:
		return EventDataLinkRecovered
	}
	return EventErasureOverdue
}

// NotificationStatus is where a notification's sending stands.
type NotificationStatus string

// The statuses of a notification.
const (
	NotificationPending NotificationStatus = "pending"
	NotificationSent    NotificationStatus = "sent"
	// NotificationFailed: it could not be sent for NotificationGiveUp.
	NotificationFailed NotificationStatus = "failed"
)

// Notification is one decided announcement of a subject's new state: an
// operational event to the operator's data links, and an email to the
// subject partner's contacts and the operator's address.
type Notification struct {
	ID string `json:"id"`
	// Key identifies the change of state (subject, state and since): a
	// store keeps one notification per key, however many processes
	// decide it.
	Key string `json:"key"`
	// Subject is NoticeDataLink or NoticeErasure, SubjectID the data
	// link's ID or the dataDeletionRequest event's.
	Subject   string `json:"subject"`
	SubjectID string `json:"subjectId"`
	// PartnerID is the partner whose contacts are told; empty for none.
	PartnerID string      `json:"partnerId,omitempty"`
	State     NoticeState `json:"state"`
	// Since is when the state began, as far as labhooks knows.
	Since time.Time `json:"since"`
	// Data is the operational event's data, as decided.
	Data      json.RawMessage    `json:"data"`
	Status    NotificationStatus `json:"status"`
	Attempts  int                `json:"attempts"`
	CreatedAt time.Time          `json:"createdAt"`
	// NextAttemptAt is when a sender may next take it, while pending.
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	// EventID is the operational event emitted for it, once emitted.
	EventID string `json:"eventId,omitempty"`
	// EmailedAt is when the email was accepted by the SMTP server (or
	// found to have nobody to go to), once it was.
	EmailedAt *time.Time `json:"emailedAt,omitempty"`
	SentAt    *time.Time `json:"sentAt,omitempty"`
	LastError string     `json:"lastError,omitempty"`
}

// NoticeKey is the Key of the notification that subject subjectID entered
// state at since.
func NoticeKey(subject, subjectID string, state NoticeState, since time.Time) string {
	return subject + ":" + subjectID + ":" + string(state) + ":" + since.UTC().Format(time.RFC3339Nano)
}

// LinkNotice is what NextLinkNotice decides: the state to announce and
// since when.
type LinkNotice struct {
	State NoticeState
	Since time.Time
}

// NextLinkNotice decides whether data link d's state at now calls for a
// notification, given the last one sent about it (nil if none), and which:
//   - failing, when the link is enabled and every attempt has failed for
//     failingAfter, unless that run was announced already;
//   - disabled, when the link is disabled and that was not announced (a
//     link disabled over DisabledNoticeWindow ago with nothing announced
//     about it is left alone: it was disabled before labhooks notified);
//   - recovered, when a link announced failing or disabled is enabled and
//     not failing: an attempt succeeded, or an admin enabled it again.
//
// A link enabled again that fails again is announced failing only once
// its new run lasts failingAfter.
func NextLinkNotice(d *DataLink, last *Notification, now time.Time, failingAfter time.Duration) (LinkNotice, bool) {
	lastState := NoticeState("")
	if last != nil {
		lastState = last.State
	}
	switch {
	case !d.Enabled:
		if lastState == NoticeDisabled {
			return LinkNotice{}, false
		}
		if last == nil && d.UpdatedAt.Before(now.Add(-DisabledNoticeWindow)) {
			return LinkNotice{}, false
		}
		return LinkNotice{State: NoticeDisabled, Since: d.UpdatedAt}, true
	case d.FailingSince != nil:
		if now.Sub(*d.FailingSince) < failingAfter {
			return LinkNotice{}, false
		}
		if lastState == NoticeFailing && last.Since.Equal(*d.FailingSince) {
			return LinkNotice{}, false
		}
		return LinkNotice{State: NoticeFailing, Since: *d.FailingSince}, true
	case lastState == NoticeFailing || lastState == NoticeDisabled:
		// The key of a recovery is the notification it ends: one per
		// failure, whichever process sees it.
		return LinkNotice{State: NoticeRecovered, Since: last.CreatedAt}, true
	}
	return LinkNotice{}, false
}

// NotificationBackoff is how long to wait after a notification's attempt
// number attempts failed: base, doubling, at most NotificationMaxBackoff.
func NotificationBackoff(base time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts && d < NotificationMaxBackoff; i++ {
		d *= 2
	}
	return min(d, NotificationMaxBackoff)
}

// NotificationStore is the notification outbox.
type NotificationStore interface {
	// LatestNotifications returns the last notification decided about
	// each subject of kind subject that has one, by subject ID.
	LatestNotifications(ctx context.Context, subject string) (map[string]*Notification, error)
	// DecideNotification, in one transaction that holds subject
	// subjectID against other decisions, reads the last notification
	// about it (nil if none) and passes it to decide; the notification
	// decide returns (nil: none) is stored unless one with its Key is
	// stored already. It reports whether it stored one.
	DecideNotification(ctx context.Context, subject, subjectID string, decide func(last *Notification) *Notification) (bool, error)
	// ClaimNotifications returns up to limit pending notifications due at
	// now, oldest first, and holds them until now+lease: another call
	// returns them only after that.
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Notification, error)
	// RecordNotification stores n's Status, Attempts, NextAttemptAt,
	// EventID, EmailedAt, SentAt and LastError. ENotFound.
	RecordNotification(ctx context.Context, n *Notification) error
	// PurgeNotifications deletes up to limit notifications created before
	// before that are no longer pending and are not the last about their
	// subject (which the next decision reads), oldest first, and returns
	// how many it deleted.
	PurgeNotifications(ctx context.Context, before time.Time, limit int) (int, error)
}
