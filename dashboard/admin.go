package dashboard

import (
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/httpapi"
)

// partnerRow is a partner in the admin's list.
type partnerRow struct {
	*labhooks.Partner
	DataLinks int
}

// partnersData is the admin's partners page, with the create form.
type partnersData struct {
	Partners []partnerRow
	Roles    []labhooks.Role
	Name     string
	Role     string
	Errors   map[string]string
	// Created is the partner just created, with its API key shown this once.
	Created *app.CreatedPartner
}

func (s *Server) renderPartners(w http.ResponseWriter, r *http.Request, status int, data partnersData) error {
	c := callerOf(r)
	ps, err := s.app.Partners(r.Context(), c)
	if err != nil {
		return err
	}
	links, err := s.app.DataLinks(r.Context(), c, "")
	if err != nil {
		return err
	}
	count := map[string]int{}
	for _, d := range links {
		count[d.PartnerID]++
	}
	for _, p := range ps {
		data.Partners = append(data.Partners, partnerRow{Partner: p, DataLinks: count[p.ID]})
	}
	data.Roles = labhooks.Roles
	return s.render(w, r, status, "partners", &view{Title: "Partners", Nav: "partners", Data: data})
}

func (s *Server) partnersPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderPartners(w, r, http.StatusOK, partnersData{})
}

func (s *Server) createPartnerPage(w http.ResponseWriter, r *http.Request) error {
	data := partnersData{Name: strings.TrimSpace(r.PostForm.Get("name")), Role: r.PostForm.Get("role")}
	created, err := s.app.CreatePartner(r.Context(), callerOf(r), app.PartnerInput{Name: data.Name, Role: labhooks.Role(data.Role)})
	if errs, ok := fieldErrors(err, "name", "role"); ok {
		data.Errors = errs
		return s.renderPartners(w, r, httpapi.ErrorStatus(err), data)
	} else if err != nil {
		return err
	}
	return s.renderPartners(w, r, http.StatusCreated, partnersData{Created: created})
}

// partnerData is one partner's page for the admin.
type partnerData struct {
	Partner *labhooks.Partner
	Links   []linkRow
	// NewKey is the partner's key just rotated, shown this once.
	NewKey *app.CreatedPartner
	// Contacts is the contacts form's text, one address a line, and
	// ContactsError what was wrong with what was sent.
	Contacts      string
	ContactsError string
	// Feed is the partner's pull feed position; nil without a pull link.
	Feed *labhooks.FeedPosition
}

func (s *Server) partnerPage(w http.ResponseWriter, r *http.Request) error {
	p, err := s.app.Partner(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.renderPartnerPage(w, r, p, nil)
}

// contactsPage sets a partner's contact addresses from the partner page's
// form: one a line (commas and spaces separate them too).
func (s *Server) contactsPage(w http.ResponseWriter, r *http.Request) error {
	c, id := callerOf(r), r.PathValue("id")
	text := r.PostForm.Get("contacts")
	contacts := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	if contacts == nil {
		contacts = []string{}
	}
	_, err := s.app.UpdatePartner(r.Context(), c, id, labhooks.PartnerUpdate{Contacts: &contacts})
	if errs, ok := fieldErrors(err, "contacts"); ok {
		p, perr := s.app.Partner(r.Context(), c, id)
		if perr != nil {
			return perr
		}
		msg := errs["contacts"]
		if msg == "" {
			msg = errs[""]
		}
		return s.renderPartner(w, r, httpapi.ErrorStatus(err), partnerData{Partner: p, Contacts: text, ContactsError: msg})
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, "/partners/"+id+"?done=contacts", http.StatusSeeOther)
	return nil
}

// renderPartnerPage shows partner p, with newKey, its key just rotated, if
// set.
func (s *Server) renderPartnerPage(w http.ResponseWriter, r *http.Request, p *labhooks.Partner, newKey *app.CreatedPartner) error {
	return s.renderPartner(w, r, http.StatusOK, partnerData{Partner: p, NewKey: newKey})
}

// renderPartner shows data's partner with its data links, answering status.
func (s *Server) renderPartner(w http.ResponseWriter, r *http.Request, status int, data partnerData) error {
	p := data.Partner
	links, err := s.app.DataLinks(r.Context(), callerOf(r), p.ID)
	if err != nil {
		return err
	}
	if data.ContactsError == "" {
		data.Contacts = strings.Join(p.Contacts, "\n")
	}
	for _, d := range links {
		data.Links = append(data.Links, linkRow{DataLink: d, SecretHint: d.SecretHint(), Partner: p})
		if d.Pull() && data.Feed == nil {
			if data.Feed, err = s.app.FeedPosition(r.Context(), callerOf(r), p.ID); err != nil {
				return err
			}
		}
	}
	if !callerOf(r).Admin {
		return s.render(w, r, status, "partner", &view{Title: "Your account", Nav: "account", Data: data})
	}
	return s.render(w, r, status, "partner", &view{Title: p.Name, Nav: "partners", Data: data})
}

// healthWindow is the span the health page's figures cover.
const healthWindow = time.Hour

// failingRow is a failing data link on the health page.
type failingRow struct {
	labhooks.DataLinkFailures
	Link    *labhooks.DataLink
	Partner *labhooks.Partner
}

// healthData is the operator's health page.
type healthData struct {
	*labhooks.Health
	Window time.Duration
	// LastMinute holds the figures of the last minute alone, which the
	// per-minute figures show.
	LastMinute *labhooks.Health
	// WindowLabel names Window in words.
	WindowLabel string
	Failing     []failingRow
	Disabled    []linkRow
	// Charts are the last hour's and the last day's, drawn as SVG.
	Charts []chartWindow
	Now    time.Time
}

// healthSpans are the health page's charts: each span and its buckets.
var healthSpans = []struct {
	id, title string
	window    time.Duration
	buckets   int
}{
	{"hour", "The last hour, per minute", time.Hour, 60},
	{"day", "The last day, per half hour", 24 * time.Hour, 48},
}

func (s *Server) healthPage(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	now := s.now()
	h, err := s.app.Health(r.Context(), c, healthWindow)
	if err != nil {
		return err
	}
	minute, err := s.app.Health(r.Context(), c, time.Minute)
	if err != nil {
		return err
	}
	partners, _, err := s.partnersByID(r.Context(), c)
	if err != nil {
		return err
	}
	links, err := s.app.DataLinks(r.Context(), c, "")
	if err != nil {
		return err
	}
	data := healthData{Health: h, LastMinute: minute, Window: healthWindow, WindowLabel: "hour", Now: now}
	for _, sp := range healthSpans {
		series, err := s.app.HealthSeries(r.Context(), c, sp.window, sp.buckets)
		if err != nil {
			return err
		}
		data.Charts = append(data.Charts, healthCharts(sp.id, sp.title, series, sp.window/time.Duration(sp.buckets)))
	}
	byID := map[string]*labhooks.DataLink{}
	for _, d := range links {
		byID[d.ID] = d
		if !d.Enabled {
			data.Disabled = append(data.Disabled, linkRow{DataLink: d, SecretHint: d.SecretHint(), Partner: partners[d.PartnerID]})
		}
	}
	for _, f := range h.FailingDataLinks {
		data.Failing = append(data.Failing, failingRow{DataLinkFailures: f, Link: byID[f.DataLinkID], Partner: partners[f.PartnerID]})
	}
	return s.render(w, r, http.StatusOK, "health", &view{Title: "Health", Nav: "health", Data: data})
}
