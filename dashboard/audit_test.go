package dashboard

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
)

// TestDashboardAudit: the admin sees every entry, can filter them and
// verify the chain; a partner sees the entries about itself only, and none
// about another partner, whatever it asks.
func TestDashboardAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := b.link(t, b.lab, "http://127.0.0.1:9/mine")
	theirs := b.link(t, b.other, "http://127.0.0.1:9/theirs")

	op := b.browser(t)
	op.signIn(testAdminKey)
	status, body := op.get("/audit")
	if status != http.StatusOK || !strings.Contains(body, mine.ID) || !strings.Contains(body, theirs.ID) ||
		!strings.Contains(body, "session.signin") {
		t.Fatalf("the admin's audit page: %d\n%s", status, body)
	}
	if _, body := op.get("/audit?action=datalink.create&target=" + theirs.ID); strings.Contains(body, mine.ID) || !strings.Contains(body, theirs.ID) {
		t.Errorf("filtered by target, the page shows the wrong entries:\n%s", body)
	}
	if _, body := op.get("/audit?verify=1"); !strings.Contains(body, "Chain verified") {
		t.Errorf("verify: no verdict:\n%s", body)
	}
	if status, _ := op.get("/audit?action=nope"); status != http.StatusBadRequest {
		t.Errorf("an unknown action: %d, want 400", status)
	}

	lab := b.browser(t)
	lab.signIn(b.labKey)
	for _, path := range []string{"/audit", "/audit?verify=1"} {
		status, body := lab.get(path)
		if status != http.StatusOK || strings.Contains(body, theirs.ID) || strings.Contains(body, b.other.ID) || strings.Contains(body, "Other Lab") {
			t.Errorf("GET %s as a partner: %d, or it shows the other partner's entries", path, status)
		}
		if strings.Contains(body, "Chain verified") || strings.Contains(body, "Verify the chain") {
			t.Errorf("GET %s: a partner is offered the chain's verification", path)
		}
	}
	// Filters naming the other partner's objects find nothing (the form
	// shows back what was typed, nothing more).
	for _, path := range []string{"/audit?target=" + theirs.ID, "/audit?actor=" + b.other.ID} {
		status, body := lab.get(path)
		if status != http.StatusOK || strings.Contains(body, "audit-row") || strings.Contains(body, "Other Lab") {
			t.Errorf("GET %s as a partner: %d, or it lists entries", path, status)
		}
		if strings.Contains(body, "Chain verified") || strings.Contains(body, "Verify the chain") {
			t.Errorf("GET %s: a partner is offered the chain's verification", path)
		}
	}
	if _, body := lab.get("/audit"); !strings.Contains(body, mine.ID) {
		t.Error("the partner does not see the entry of its own data link")
	}
	if status, _ := lab.get("/audit?partnerId=" + b.other.ID); status != http.StatusNotFound {
		t.Errorf("a partner naming another's entries: %d, want 404", status)
	}
}

// TestDashboardPartnerKeyActions: the admin rotates a partner's key (shown
// once, the old one open for a day) and suspends and resumes it; a
// suspended partner cannot sign in, and its session ends.
func TestDashboardPartnerKeyActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lab := b.browser(t)
	lab.signIn(b.labKey)

	op := b.browser(t)
	op.signIn(testAdminKey)
	op.get("/partners/" + b.lab.ID)
	status, _, body := op.post("/partners/"+b.lab.ID+"/rotate-key", nil)
	key := regexp.MustCompile(`id="new-key" type="text" readonly value="(lhp_[^"]+)"`).FindStringSubmatch(body)
	if status != http.StatusOK || key == nil || !strings.Contains(body, "previous key keeps working until") {
		t.Fatalf("rotate-key: %d\n%s", status, body)
	}
	if status, _ := lab.get("/datalinks"); status != http.StatusOK {
		t.Errorf("the old key's session during the overlap: %d", status)
	}
	status, loc, _ := op.post("/partners/"+b.lab.ID+"/suspend", nil)
	if status != http.StatusSeeOther || loc != "/partners/"+b.lab.ID+"?done=suspended" {
		t.Fatalf("suspend: %d %q", status, loc)
	}
	if _, body := op.get(loc); !strings.Contains(body, "Suspended") || !strings.Contains(body, "Resume") {
		t.Errorf("the partner page does not show the suspension:\n%s", body)
	}
	if status, loc, _ := lab.do("GET", "/datalinks", nil); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/signin") {
		t.Errorf("a suspended partner's session: %d %q, want a redirect to sign in", status, loc)
	}
	again := b.browser(t)
	again.get("/signin")
	if status, _, body := again.post("/signin", url.Values{"key": {key[1]}}); status != http.StatusForbidden || !strings.Contains(body, "suspended") {
		t.Errorf("a suspended partner's sign-in: %d\n%s", status, body)
	}
	op.get("/partners/" + b.lab.ID)
	if status, _, _ := op.post("/partners/"+b.lab.ID+"/resume", nil); status != http.StatusSeeOther {
		t.Fatalf("resume: %d", status)
	}
	again.signIn(key[1])
	es, _, err := b.app.Audit(t.Context(), admin, labhooks.AuditFilter{TargetID: b.lab.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "partner.resume partner.suspend partner.key_rotate partner.create" {
		t.Errorf("the partner's audit entries: %s", got)
	}
	// Partners cannot reach these forms.
	if status, _, _ := again.post("/partners/"+b.lab.ID+"/suspend", nil); status != http.StatusNotFound {
		t.Errorf("a partner suspending itself: %d, want 404", status)
	}
}

// TestDashboardPartnerContacts: the admin sets a partner's contacts on its
// page, one a line; a bad address is shown next to the field and changes
// nothing; only the admin may.
func TestDashboardPartnerContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	op := b.browser(t)
	op.signIn(testAdminKey)
	op.get("/partners/" + b.lab.ID)
	status, loc, _ := op.post("/partners/"+b.lab.ID+"/contacts", url.Values{"contacts": {"it@lab.example\r\noncall@lab.example"}})
	if status != http.StatusSeeOther || loc != "/partners/"+b.lab.ID+"?done=contacts" {
		t.Fatalf("contacts: %d %q", status, loc)
	}
	if _, body := op.get(loc); !strings.Contains(body, "it@lab.example\noncall@lab.example</textarea>") {
		t.Fatalf("the partner page does not show the contacts:\n%s", body)
	}
	status, _, body := op.post("/partners/"+b.lab.ID+"/contacts", url.Values{"contacts": {"it@lab.example\r\nnot-an-address"}})
	if status != http.StatusBadRequest || !strings.Contains(body, `id="contacts-error"`) || !strings.Contains(body, "not-an-address") {
		t.Fatalf("a bad contact: %d\n%s", status, body)
	}
	if p, _ := b.app.Partner(t.Context(), &app.Caller{Admin: true}, b.lab.ID); strings.Join(p.Contacts, ",") != "it@lab.example,oncall@lab.example" {
		t.Fatalf("a refused form changed the contacts to %v", p.Contacts)
	}
	lab := b.browser(t)
	lab.signIn(b.labKey)
	lab.get("/datalinks")
	// A partner keeps its own contacts on its account page, as the API
	// lets it, and no other partner's.
	if status, _ := lab.get("/partners/" + b.lab.ID); status != http.StatusOK {
		t.Fatalf("the partner's account page: %d", status)
	}
	if status, loc, _ := lab.post("/partners/"+b.lab.ID+"/contacts", url.Values{"contacts": {"desk@lab.example"}}); status != http.StatusSeeOther {
		t.Fatalf("a partner setting its own contacts: %d %q", status, loc)
	}
	if status, _, _ := lab.post("/partners/"+b.other.ID+"/contacts", url.Values{"contacts": {"mallory@evil.example"}}); status != http.StatusNotFound {
		t.Fatalf("a partner setting another's contacts: %d, want 404", status)
	}
	if p, _ := b.app.Partner(t.Context(), &app.Caller{Admin: true}, b.other.ID); len(p.Contacts) != 0 {
		t.Fatalf("another partner's contacts changed: %v", p.Contacts)
	}
}

// TestDashboardAccountPage: a partner sees its own account page (its key's
// start, its contacts) but no other partner's, rotates its own key and
// stays signed in on the new one, and is offered no suspension.
func TestDashboardAccountPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lab := b.browser(t)
	lab.signIn(b.labKey)
	status, body := lab.get("/partners/" + b.lab.ID)
	if status != http.StatusOK || !strings.Contains(body, "Your account") || !strings.Contains(body, b.lab.KeyPrefix+"…") ||
		strings.Contains(body, "Suspend") || strings.Contains(body, `href="/partners"`) {
		t.Fatalf("the account page: %d\n%s", status, body)
	}
	if status, _ := lab.get("/partners/" + b.other.ID); status != http.StatusNotFound {
		t.Errorf("another partner's page: %d, want 404", status)
	}
	if status, _ := lab.get("/partners"); status != http.StatusNotFound {
		t.Errorf("the partners list: %d, want 404", status)
	}
	status, _, body = lab.post("/partners/"+b.lab.ID+"/rotate-key", nil)
	key := regexp.MustCompile(`id="new-key" type="text" readonly value="(lhp_[^"]+)"`).FindStringSubmatch(body)
	if status != http.StatusOK || key == nil || !strings.Contains(body, "this dashboard already uses the new one") {
		t.Fatalf("rotating its own key: %d\n%s", status, body)
	}
	// The session moved to the new key: what it does next is recorded
	// with the new key's prefix.
	lab.get("/partners/" + b.lab.ID)
	if status, _, _ := lab.post("/partners/"+b.lab.ID+"/contacts", url.Values{"contacts": {"desk@lab.example"}}); status != http.StatusSeeOther {
		t.Fatalf("contacts after the rotation: %d", status)
	}
	es, _, err := b.app.Audit(t.Context(), admin, labhooks.AuditFilter{Action: labhooks.AuditPartnerUpdate, Limit: 1})
	if err != nil || len(es) != 1 || es[0].Actor.KeyPrefix != labhooks.KeyPrefixOf(key[1]) {
		t.Fatalf("the session's next change: %+v, %v; want it made with the new key %s…", es, err, labhooks.KeyPrefixOf(key[1]))
	}
}
