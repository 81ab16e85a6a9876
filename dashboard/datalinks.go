package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/httpapi"
)

// dataLinkFields are the form fields whose API errors the data link forms
// show next to the field.
var dataLinkFields = []string{"url", "secret", "eventNames", "description"}

// dataLinkForm is the add and edit form: its values and its errors.
type dataLinkForm struct {
	PartnerID string
	// Pull is set for a pull link, which has no URL to edit, or when the
	// add form chose pull.
	Pull        bool
	URL         string
	Description string
	Secret      string
	EventNames  []string
	Ordered     bool
	Errors      map[string]string
}

// Label names a data link for people: its URL, or, for a pull link, that
// it is pulled.
func (l linkRow) Label() string {
	if l.Pull() {
		return "Pull feed (no URL: the partner reads GET /v1/feed)"
	}
	return l.URL
}

// linkRow is a data link in a list, with what the list shows beside it.
type linkRow struct {
	*labhooks.DataLink
	SecretHint string
	Partner    *labhooks.Partner
}

// dataLinkPageData is the data link page: settings, test, secret, replay.
type dataLinkPageData struct {
	Link    linkRow
	Partner *labhooks.Partner
	Types   []*labhooks.EventType
	Form    dataLinkForm
	// Test is the answer of the test button, when it was pressed.
	Test      *app.TestResult
	TestEvent string
	TestError string
	// RotateError and ReplayError belong to the secret and replay forms.
	RotateError string
	ReplaySince string
	ReplayError string
	// FailingSince is when the run of failures the replay form is filled
	// in for began: the link's own, or, just after it was enabled again,
	// the one it had.
	FailingSince *time.Time
	// Recent is the link's attempts over the last day, per hour, and
	// Attempts and Succeeded their sums, for its success rate.
	Recent              chart
	Attempts, Succeeded int
	Now                 time.Time
}

// linkRecent is the span and the buckets of a data link's recent chart.
const (
	linkRecent        = 24 * time.Hour
	linkRecentBuckets = 24
)

// partnersByID maps partner IDs to the partners the caller may see, for
// lists that name each link's partner.
func (s *Server) partnersByID(ctx context.Context, c *app.Caller) (map[string]*labhooks.Partner, []*labhooks.Partner, error) {
	ps, err := s.app.Partners(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	m := make(map[string]*labhooks.Partner, len(ps))
	for _, p := range ps {
		m[p.ID] = p
	}
	return m, ps, nil
}

func (s *Server) dataLinksPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	links, err := s.app.DataLinks(r.Context(), c, "")
	if err != nil {
		return err
	}
	var partners map[string]*labhooks.Partner
	if c.Admin {
		if partners, _, err = s.partnersByID(r.Context(), c); err != nil {
			return err
		}
	}
	rows := make([]linkRow, len(links))
	for i, d := range links {
		rows[i] = linkRow{DataLink: d, SecretHint: d.SecretHint(), Partner: partners[d.PartnerID]}
	}
	return s.render(w, r, http.StatusOK, "datalinks", &view{Title: "Data Links", Nav: "datalinks", Data: rows})
}

// formPartner returns the partner a data link form is for: the one named
// (the admin must name one), else the signed-in partner. Naming another
// partner than oneself is answered as if it did not exist.
func (s *Server) formPartner(ctx context.Context, c *app.Caller, pid string) (*labhooks.Partner, error) {
	if pid == "" {
		if c.Admin {
			return nil, labhooks.Errorf(labhooks.EInvalid, "Choose the partner the data link is for, on its page under Partners.")
		}
		pid = c.Partner.ID
	}
	return s.app.Partner(ctx, c, pid)
}

// newLinkData is the add form's page.
type newLinkData struct {
	Partner *labhooks.Partner
	Types   []*labhooks.EventType
	Form    dataLinkForm
}

func (s *Server) newDataLinkPage(w http.ResponseWriter, r *http.Request) error {
	p, err := s.formPartner(r.Context(), callerOf(r), r.URL.Query().Get("partner"))
	if err != nil {
		return err
	}
	data := newLinkData{Partner: p, Types: s.app.EventTypesFor(r.Context(), p.Role), Form: dataLinkForm{PartnerID: p.ID}}
	return s.render(w, r, http.StatusOK, "datalink_new", &view{Title: "Add a data link", Nav: "datalinks", Data: data})
}

// secretShown is the page that shows a new secret, this once.
type secretShown struct {
	Link    linkRow
	Secret  string
	Rotated bool
}

func (s *Server) createDataLinkPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	p, err := s.formPartner(r.Context(), c, r.PostForm.Get("partner"))
	if err != nil {
		return err
	}
	form := dataLinkForm{
		PartnerID: p.ID, URL: strings.TrimSpace(r.PostForm.Get("url")), Description: strings.TrimSpace(r.PostForm.Get("description")),
		Secret: strings.TrimSpace(r.PostForm.Get("secret")), EventNames: r.PostForm["eventNames"],
		Pull: r.PostForm.Get("kind") == string(labhooks.DataLinkPull), Ordered: r.PostForm.Get("ordered") == "on",
	}
	in := app.DataLinkInput{URL: form.URL, Secret: form.Secret, EventNames: form.EventNames, Description: form.Description, Ordered: form.Ordered}
	if form.Pull {
		in.Kind = labhooks.DataLinkPull
	}
	d, err := s.app.CreateDataLink(r.Context(), c, p.ID, in)
	if errs, ok := fieldErrors(err, dataLinkFields...); ok {
		form.Errors = errs
		data := newLinkData{Partner: p, Types: s.app.EventTypesFor(r.Context(), p.Role), Form: form}
		return s.render(w, r, httpapi.ErrorStatus(err), "datalink_new", &view{Title: "Add a data link", Nav: "datalinks", Data: data})
	} else if err != nil {
		return err
	}
	shown := secretShown{Link: linkRow{DataLink: d, SecretHint: d.SecretHint(), Partner: p}, Secret: d.Secret}
	return s.render(w, r, http.StatusCreated, "secret", &view{Title: "Data link saved", Nav: "datalinks", Flash: flashes["created"], Data: shown})
}

// linkPage gathers the data link page of d.
func (s *Server) linkPage(ctx context.Context, c *app.Caller, d *labhooks.DataLink) (*dataLinkPageData, error) {
	p, err := s.app.Partner(ctx, c, d.PartnerID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	data := &dataLinkPageData{
		Link: linkRow{DataLink: d, SecretHint: d.SecretHint(), Partner: p}, Partner: p, Types: s.app.EventTypesFor(ctx, p.Role),
		Form: dataLinkForm{PartnerID: p.ID, URL: d.URL, Description: d.Description, EventNames: d.EventNames, Pull: d.Pull(), Ordered: d.Ordered},
		Now:  now, ReplaySince: now.Add(-24 * time.Hour).Format(replayTimeLayout),
	}
	if d.FailingSince != nil {
		s.suggestReplay(data, *d.FailingSince)
	}
	series, err := s.app.DataLinkSeries(ctx, c, d.ID, linkRecent, linkRecentBuckets)
	if err != nil {
		return nil, err
	}
	attempts, failed := make([]int, len(series)), make([]int, len(series))
	for i, b := range series {
		attempts[i], failed[i] = b.Attempts, b.FailedAttempts
		data.Attempts += b.Attempts
		data.Succeeded += b.Attempts - b.FailedAttempts
	}
	data.Recent = barChart("link-recent", "Attempts", fmt.Sprintf("%d of %d succeeded", data.Succeeded, data.Attempts),
		series, linkRecent/linkRecentBuckets, attempts, failed, "attempts")
	return data, nil
}

// suggestReplay fills the replay form in to recover what failed since
// failingSince, under the retry policy the workers run.
func (s *Server) suggestReplay(data *dataLinkPageData, failingSince time.Time) {
	failingSince = failingSince.UTC()
	data.FailingSince = &failingSince
	data.ReplaySince = s.app.ReplaySince(failingSince).Format(replayTimeLayout)
}

// pathLink returns the caller and the data link named in the path, if the
// caller may see it.
func (s *Server) pathLink(r *http.Request) (*app.Caller, *labhooks.DataLink, error) {
	c := callerOf(r)
	d, err := s.app.DataLink(r.Context(), c, r.PathValue("id"))
	return c, d, err
}

// renderLink renders the data link page; flash, when set, confirms what led
// there.
func (s *Server) renderLink(w http.ResponseWriter, r *http.Request, status int, data *dataLinkPageData, flash ...string) error {
	v := &view{Title: "Data link " + data.Link.URL, Nav: "datalinks", Data: data}
	if len(flash) > 0 {
		v.Flash = flash[0]
	}
	return s.render(w, r, status, "datalink", v)
}

func (s *Server) dataLinkPage(w http.ResponseWriter, r *http.Request) error {
	c, d, err := s.pathLink(r)
	if err != nil {
		return err
	}
	data, err := s.linkPage(r.Context(), c, d)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if v := q.Get("test"); v != "" {
		// The result of Test, carried by its redirect (see testDataLinkPage).
		var res app.TestResult
		if s.dash.sessions.openValue(v, testResultPurpose(d.ID), &res) {
			data.Test, data.TestEvent = &res, res.EventName
		}
	}
	if n := q.Get("n"); q.Get("done") == "replayed" {
		if count, err := strconv.Atoi(n); err == nil {
			return s.renderLink(w, r, http.StatusOK, data, replayedFlash(count))
		}
	}
	if q.Get("done") == "enabled" && d.Enabled {
		// Enabling cleared the link's run of failures; the redirect carries it.
		if since, err := time.Parse(time.RFC3339, q.Get("failing")); err == nil {
			s.suggestReplay(data, since)
			return s.renderLink(w, r, http.StatusOK, data, "Data link enabled: it receives events again. Its deliveries had failed since "+
				since.UTC().Format("2006-01-02 15:04 UTC")+": send them again below once your receiver works.")
		}
	}
	return s.renderLink(w, r, http.StatusOK, data)
}

func replayedFlash(n int) string {
	switch n {
	case 0:
		return "No failed deliveries in that range: nothing to send again."
	case 1:
		return "1 failed delivery queued to be sent again."
	default:
		return strconv.Itoa(n) + " failed deliveries queued to be sent again."
	}
}

func (s *Server) updateDataLinkPage(w http.ResponseWriter, r *http.Request) error {
	c, d, err := s.pathLink(r)
	if err != nil {
		return err
	}
	url, desc := strings.TrimSpace(r.PostForm.Get("url")), strings.TrimSpace(r.PostForm.Get("description"))
	names := r.PostForm["eventNames"]
	if names == nil {
		names = []string{}
	}
	ordered := r.PostForm.Get("ordered") == "on"
	u := labhooks.DataLinkUpdate{URL: &url, Description: &desc, EventNames: &names, Ordered: &ordered}
	if d.Pull() {
		u.URL = nil // a pull link has none
	}
	_, err = s.app.UpdateDataLink(r.Context(), c, d.ID, u)
	if errs, ok := fieldErrors(err, dataLinkFields...); ok {
		data, lerr := s.linkPage(r.Context(), c, d)
		if lerr != nil {
			return lerr
		}
		data.Form = dataLinkForm{PartnerID: d.PartnerID, URL: url, Description: desc, EventNames: names, Ordered: ordered, Errors: errs, Pull: d.Pull()}
		return s.renderLink(w, r, httpapi.ErrorStatus(err), data)
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, "/datalinks/"+d.ID+"?done=saved", http.StatusSeeOther)
	return nil
}

func (s *Server) testDataLinkPage(w http.ResponseWriter, r *http.Request) error {
	c, d, err := s.pathLink(r)
	if err != nil {
		return err
	}
	data, err := s.linkPage(r.Context(), c, d)
	if err != nil {
		return err
	}
	data.TestEvent = r.PostForm.Get("eventName")
	res, err := s.app.TestDataLink(r.Context(), c, d.ID, data.TestEvent)
	if errs, ok := fieldErrors(err, "eventName"); ok {
		data.TestError = errs["eventName"] + errs[""]
		setRetryAfter(w, err)
		return s.renderLink(w, r, httpapi.ErrorStatus(err), data)
	} else if err != nil {
		return err
	}
	// Redirect after the POST, so that reloading the page shows the result
	// again rather than sending another test. The result rides in the URL,
	// sealed and bound to this link, so any API process can show it.
	http.Redirect(w, r, "/datalinks/"+d.ID+"?test="+s.dash.sessions.sealValue(res, testResultPurpose(d.ID))+"#test-result", http.StatusSeeOther)
	return nil
}

// testResultPurpose binds a sealed test result to its data link.
func testResultPurpose(linkID string) string { return "labhooks test result\x00" + linkID }

func (s *Server) enableDataLinkPage(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, d, err := s.pathLink(r)
		if err != nil {
			return err
		}
		if _, err := s.app.UpdateDataLink(r.Context(), c, d.ID, labhooks.DataLinkUpdate{Enabled: &on}); err != nil {
			return err
		}
		done := "disabled"
		if on {
			done = "enabled"
			if !d.Enabled && d.FailingSince != nil {
				done += "&failing=" + url.QueryEscape(d.FailingSince.UTC().Format(time.RFC3339))
			}
		}
		http.Redirect(w, r, "/datalinks/"+d.ID+"?done="+done, http.StatusSeeOther)
		return nil
	}
}

func (s *Server) rotateSecretPage(w http.ResponseWriter, r *http.Request) error {
	c, d, err := s.pathLink(r)
	if err != nil {
		return err
	}
	rotated, err := s.app.RotateSecret(r.Context(), c, d.ID, app.RotationInput{Secret: strings.TrimSpace(r.PostForm.Get("secret"))})
	if errs, ok := fieldErrors(err, "secret"); ok {
		data, lerr := s.linkPage(r.Context(), c, d)
		if lerr != nil {
			return lerr
		}
		data.RotateError = errs["secret"] + errs[""]
		return s.renderLink(w, r, httpapi.ErrorStatus(err), data)
	} else if err != nil {
		return err
	}
	shown := secretShown{Link: linkRow{DataLink: rotated, SecretHint: rotated.SecretHint()}, Secret: rotated.Secret, Rotated: true}
	return s.render(w, r, http.StatusOK, "secret", &view{Title: "New secret", Nav: "datalinks", Data: shown})
}

// replayTimeLayout is the value of an <input type="datetime-local">.
const replayTimeLayout = "2006-01-02T15:04"

func (s *Server) replayPage(w http.ResponseWriter, r *http.Request) error {
	c, d, err := s.pathLink(r)
	if err != nil {
		return err
	}
	raw := strings.TrimSpace(r.PostForm.Get("since"))
	var in app.ReplayInput
	if raw != "" {
		since, perr := parseFormTime(raw)
		if perr != nil {
			err = labhooks.FieldErrorf(labhooks.EInvalid, "since", "%q is not a date and time such as 2026-01-02T15:04 (UTC)", raw)
		}
		in.Since = &since
	}
	var n int
	if err == nil {
		n, err = s.app.Replay(r.Context(), c, d.ID, in)
	}
	if errs, ok := fieldErrors(err, "since"); ok {
		data, lerr := s.linkPage(r.Context(), c, d)
		if lerr != nil {
			return lerr
		}
		data.ReplaySince, data.ReplayError = raw, errs["since"]+errs[""]
		setRetryAfter(w, err)
		return s.renderLink(w, r, httpapi.ErrorStatus(err), data)
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, "/datalinks/"+d.ID+"?done=replayed&n="+strconv.Itoa(n), http.StatusSeeOther)
	return nil
}

// parseFormTime reads a datetime-local value (with or without seconds) or
// an RFC 3339 time; datetime-local values are taken as UTC.
func parseFormTime(v string) (time.Time, error) {
	for _, layout := range []string{replayTimeLayout, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, labhooks.Errorf(labhooks.EInvalid, "not a time")
}

func (s *Server) deleteDataLinkPage(w http.ResponseWriter, r *http.Request) error {
	c, d, err := s.pathLink(r)
	if err != nil {
		return err
	}
	if err := s.app.DeleteDataLink(r.Context(), c, d.ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/datalinks?done=deleted", http.StatusSeeOther)
	return nil
}
