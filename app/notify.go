package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/id"
)

// Notifications (README "Notifications and operational events") run in
// two steps, each in every process: ScanNotifications compares the data
// links' states (and the erasures') with the last ones notified and
// stores a notification for each change (the outbox); SendNotifications
// sends what is stored and due, an operational event through Emit (the
// durable delivery queue) and an email, and marks it sent. A process that
// dies between the two leaves the notification pending: the next sender
// sends it once its lease runs out.

// Mailer sends one email. The notify package's SMTP mailer is the one
// serve uses.
type Mailer interface {
	Send(ctx context.Context, to []string, subject, text string) error
}

// notificationContent is a Notification's Data: the operational event's
// data, and the email, as decided.
type notificationContent struct {
	Event   json.RawMessage `json:"event"`
	Subject string          `json:"subject"`
	Text    string          `json:"text"`
}

// notifyBatch is how many notifications a sender takes at once.
const notifyBatch = 20

// erasureNoticeWindow: an erasure overdue for longer than this with no
// notice about it (labhooks was upgraded, or down) is not announced.
const erasureNoticeWindow = 7 * 24 * time.Hour

// ScanNotifications decides the notifications the data links' and the
// erasures' states call for, and returns how many it stored. Several
// processes may scan at once: each change is stored once.
func (s *Service) ScanNotifications(ctx context.Context) (int, error) {
	links, err := s.store.DataLinks(ctx, labhooks.DataLinkFilter{})
	if err != nil {
		return 0, err
	}
	latest, err := s.store.LatestNotifications(ctx, labhooks.NoticeDataLink)
	if err != nil {
		return 0, err
	}
	now := s.now()
	stored := 0
	for _, d := range links {
		notice, ok := labhooks.NextLinkNotice(d, latest[d.ID], now, s.cfg.NotifyFailingAfter)
		if !ok {
			continue
		}
		n, err := s.linkNotification(ctx, d, notice, latest[d.ID], now)
		if err != nil {
			return stored, err
		}
		ok, err = s.store.DecideNotification(ctx, labhooks.NoticeDataLink, d.ID, func(last *labhooks.Notification) *labhooks.Notification {
			// Under the subject's lock, the last notification may be
			// newer than the one read above: decide again.
			if again, ok := labhooks.NextLinkNotice(d, last, now, s.cfg.NotifyFailingAfter); !ok || again != notice {
				return nil
			}
			return n
		})
		if err != nil {
			return stored, err
		}
		if ok {
			stored++
			s.log.Info("notification decided", "datalink", d.ID, "partner", d.PartnerID, "state", n.State, "notification", n.ID)
		}
	}
	n, err := s.scanErasures(ctx, now)
	return stored + n, err
}

// linkNotification builds the notification that data link d entered
// notice's state; last is the one before it, if any.
func (s *Service) linkNotification(ctx context.Context, d *labhooks.DataLink, notice labhooks.LinkNotice, last *labhooks.Notification, now time.Time) (*labhooks.Notification, error) {
	partnerName := d.PartnerID
	if p, err := s.store.Partner(ctx, d.PartnerID); err == nil {
		partnerName = p.Name
	} else if labhooks.ErrorCode(err) != labhooks.ENotFound {
		return nil, err
	}
	lastStatus, lastError, err := s.lastAnswer(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	const layout = "2006-01-02 15:04:05 UTC"
	ev := map[string]any{"dataLinkId": d.ID, "partnerId": d.PartnerID}
	link := s.dashboardURL("/datalinks/" + d.ID)
	if link != "" {
		ev["labhooksUrl"] = link
	}
	answer := "no attempt has been answered yet"
	switch {
	case lastStatus != 0:
		answer = fmt.Sprintf("the receiver last answered HTTP %d", lastStatus)
		ev["lastStatusCode"] = lastStatus
	case lastError != "":
		answer = "the last attempt got no answer: " + lastError
	}
	var subject, text string
	what := fmt.Sprintf("the data link %s (%s) of %s", d.ID, d.URL, partnerName)
	switch notice.State {
	case labhooks.NoticeFailing:
		ev["failingSince"] = notice.Since
		subject = fmt.Sprintf("labhooks: data link of %s failing since %s", partnerName, notice.Since.UTC().Format(layout))
		text = fmt.Sprintf("Every delivery to %s has failed since %s; %s.\n\n"+
			"labhooks keeps retrying, but if it keeps failing for %s the link will be disabled and receive nothing more.\n"+
			"Fix the receiver at %s; the deliveries still being retried will then arrive.",
			what, notice.Since.UTC().Format(layout), answer, s.cfg.DisableAfter, d.URL)
	case labhooks.NoticeDisabled:
		by := disabledBy(d)
		ev["disabledAt"], ev["disabledBy"] = notice.Since, by
		if d.FailingSince != nil {
			ev["failingSince"] = *d.FailingSince
		}
		if lastStatus == 0 {
			delete(ev, "lastStatusCode")
		}
		why := "It was disabled by hand (by an admin or the partner)."
		if d.DisabledReason != "" {
			why = d.DisabledReason
		}
		subject = fmt.Sprintf("labhooks: data link of %s disabled", partnerName)
		text = fmt.Sprintf("%s was disabled on %s and receives nothing until it is enabled again.\n\n%s\n\nLast answer: %s.\n"+
			"Fix the receiver, enable the link, then replay the deliveries that failed meanwhile.",
			upperFirst(what), notice.Since.UTC().Format(layout), why, answer)
	case labhooks.NoticeRecovered:
		delete(ev, "lastStatusCode")
		ev["recoveredAt"], ev["previousState"] = now, string(last.State)
		subject = fmt.Sprintf("labhooks: data link of %s works again", partnerName)
		text = fmt.Sprintf("%s works again (it was announced %s on %s).\n\n"+
			"Deliveries that failed meanwhile are not sent again by themselves: replay them from the data link's page if they are needed.",
			upperFirst(what), last.State, last.CreatedAt.UTC().Format(layout))
	}
	if link != "" {
		text += "\n\nThe data link on the labhooks dashboard: " + link
	}
	return s.newNotification(labhooks.NoticeDataLink, d.ID, d.PartnerID, notice.State, notice.Since, ev, subject, text, now)
}

// disabledBy says why d was disabled, for dataLinkDisabled: by labhooks
// after failing (a reason from labhooks.FailingReason), because its
// receiver answered 410 Gone (a reason that says so), or by hand (none).
func disabledBy(d *labhooks.DataLink) string {
	switch {
	case d.DisabledReason == "":
		return "manual"
	case strings.Contains(d.DisabledReason, "410"):
		return "gone"
	}
	return "failing"
}

// lastAnswer returns how the receiver of data link id answered its
// latest attempt: a status, or an error when it did not answer.
func (s *Service) lastAnswer(ctx context.Context, linkID string) (int, string, error) {
	ds, _, err := s.store.Deliveries(ctx, labhooks.DeliveryFilter{DataLinkID: &linkID, Limit: 5})
	if err != nil {
		return 0, "", err
	}
	for _, d := range ds {
		if d.AttemptCount > 0 {
			return d.LastStatusCode, d.LastError, nil
		}
	}
	return 0, "", nil
}

// scanErasures decides an erasureOverdue notification for each erasure
// that became overdue lately and has none.
func (s *Service) scanErasures(ctx context.Context, now time.Time) (int, error) {
	latest, err := s.store.LatestNotifications(ctx, labhooks.NoticeErasure)
	if err != nil {
		return 0, err
	}
	stored := 0
	f := labhooks.ErasureFilter{Limit: labhooks.MaxLimit}
	for {
		es, next, err := s.store.Erasures(ctx, f)
		if err != nil {
			return stored, err
		}
		for _, e := range es {
			e.SetStates(s.cfg.ErasureDeadline, now)
			if e.Deadline.Before(now.Add(-erasureNoticeWindow)) {
				return stored, nil // newest first: the rest are older still
			}
			if e.State != labhooks.ErasureOverdue || latest[e.EventID] != nil {
				continue
			}
			var overdue []string
			for _, t := range e.Targets {
				if t.State == labhooks.ErasureOverdue {
					overdue = append(overdue, t.PartnerID)
				}
			}
			ev := map[string]any{"eventId": e.EventID, "requestedAt": e.RequestedAt, "deadline": e.Deadline, "overduePartnerIds": overdue}
			link := s.dashboardURL("/erasures")
			if link != "" {
				ev["labhooksUrl"] = link
			}
			text := fmt.Sprintf("The data deletion request %s of %s was not confirmed by its deadline, %s, by %d partner(s): %s.\n\n"+
				"Ask them to erase the user's data and confirm it (on the dashboard's Erasures page, or by the API).",
				e.EventID, e.RequestedAt.UTC().Format(time.RFC3339), e.Deadline.UTC().Format(time.RFC3339), len(overdue), strings.Join(overdue, ", "))
			if link != "" {
				text += "\n\nThe erasures on the labhooks dashboard: " + link
			}
			n, err := s.newNotification(labhooks.NoticeErasure, e.EventID, "", labhooks.NoticeOverdue, e.Deadline, ev,
				"labhooks: data deletion request overdue", text, now)
			if err != nil {
				return stored, err
			}
			ok, err := s.store.DecideNotification(ctx, labhooks.NoticeErasure, e.EventID, func(last *labhooks.Notification) *labhooks.Notification {
				if last != nil {
					return nil
				}
				return n
			})
			if err != nil {
				return stored, err
			}
			if ok {
				stored++
			}
		}
		if next == "" {
			return stored, nil
		}
		f.Cursor = next
	}
}

// newNotification returns a pending notification, due now.
func (s *Service) newNotification(subject, subjectID, partnerID string, state labhooks.NoticeState, since time.Time,
	event map[string]any, mailSubject, text string, now time.Time) (*labhooks.Notification, error) {
	evJSON, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(notificationContent{Event: evJSON, Subject: mailSubject, Text: text})
	if err != nil {
		return nil, err
	}
	return &labhooks.Notification{
		ID: id.New(id.Notification), Key: labhooks.NoticeKey(subject, subjectID, state, since), Subject: subject, SubjectID: subjectID,
		PartnerID: partnerID, State: state, Since: since.UTC(), Data: data, Status: labhooks.NotificationPending, CreatedAt: now,
		NextAttemptAt: &now,
	}, nil
}

// dashboardURL is path on the dashboard as people reach it, or "" when
// Config.PublicURL is not set.
func (s *Service) dashboardURL(path string) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(s.cfg.PublicURL, "/") + path
}

// SendNotifications sends the notifications due, a batch at a time, and
// returns how many it sent.
func (s *Service) SendNotifications(ctx context.Context) (int, error) {
	sent := 0
	for {
		ns, err := s.store.ClaimNotifications(ctx, s.now(), labhooks.NotificationLease, notifyBatch)
		if err != nil {
			return sent, err
		}
		for _, n := range ns {
			ok, err := s.sendNotification(ctx, n)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		if len(ns) < notifyBatch {
			return sent, nil
		}
	}
}

// sendNotification emits n's operational event (once: the emit's
// idempotency key is the notification's) and sends its email, then
// records how that went; it reports whether both went.
func (s *Service) sendNotification(ctx context.Context, n *labhooks.Notification) (bool, error) {
	var c notificationContent
	if err := json.Unmarshal(n.Data, &c); err != nil {
		return false, fmt.Errorf("notification %s: %w", n.ID, err)
	}
	var problems []string
	if n.EventID == "" {
		res, err := s.Emit(ctx, System(), EmitInput{EventName: labhooks.NoticeEvent(n.State), Data: c.Event,
			Role: labhooks.RoleOperator, IdempotencyKey: "notification:" + n.ID})
		if err != nil {
			problems = append(problems, "the operational event: "+labhooks.ErrorMessage(err))
		} else {
			n.EventID = res.Event.ID
		}
	}
	if n.EmailedAt == nil {
		to, err := s.notifyRecipients(ctx, n)
		switch {
		case err != nil:
			problems = append(problems, "the email: "+err.Error())
		case s.cfg.Mailer == nil || len(to) == 0:
			// Nobody to write to: the email is done.
			now := s.now()
			n.EmailedAt = &now
		default:
			if err := s.cfg.Mailer.Send(ctx, to, c.Subject, c.Text); err != nil {
				problems = append(problems, "the email: "+err.Error())
			} else {
				now := s.now()
				n.EmailedAt = &now
			}
		}
	}
	now := s.now()
	n.Attempts++
	switch {
	case len(problems) == 0:
		n.Status, n.SentAt, n.NextAttemptAt, n.LastError = labhooks.NotificationSent, &now, nil, ""
	case now.Sub(n.CreatedAt) >= labhooks.NotificationGiveUp:
		n.Status, n.NextAttemptAt, n.LastError = labhooks.NotificationFailed, nil, strings.Join(problems, "; ")
	default:
		next := now.Add(labhooks.NotificationBackoff(s.cfg.NotifyRetry, n.Attempts))
		n.NextAttemptAt, n.LastError = &next, strings.Join(problems, "; ")
	}
	if err := s.store.RecordNotification(ctx, n); err != nil {
		if ctx.Err() != nil {
			return false, errors.Join(err, ctx.Err())
		}
		return false, err
	}
	// Logged once recorded: what the log says is what a restart finds (a
	// process killed before the record leaves the notification under its
	// claim's lease, tried again when that runs out).
	switch {
	case n.Status == labhooks.NotificationFailed:
		s.log.Error("gave up sending a notification", "notification", n.ID, "subject", n.SubjectID, "state", n.State, "err", n.LastError)
	case len(problems) > 0:
		s.log.Warn("sending a notification failed; it will be tried again", "notification", n.ID, "subject", n.SubjectID,
			"state", n.State, "attempt", n.Attempts, "next", *n.NextAttemptAt, "err", n.LastError)
	}
	return len(problems) == 0, nil
}

// notifyRecipients returns whom n's email goes to: the partner's
// contacts, and the operator's address.
func (s *Service) notifyRecipients(ctx context.Context, n *labhooks.Notification) ([]string, error) {
	var to []string
	if n.PartnerID != "" {
		p, err := s.store.Partner(ctx, n.PartnerID)
		switch {
		case err == nil:
			to = append(to, p.Contacts...)
		case labhooks.ErrorCode(err) != labhooks.ENotFound:
			return nil, err
		}
	}
	if s.cfg.NotifyOperator != "" && !containsFold(to, s.cfg.NotifyOperator) {
		to = append(to, s.cfg.NotifyOperator)
	}
	return to, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
