// Package dashboard serves labhooks' dashboard at "/": server-rendered
// pages from templates and assets embedded in the binary, over the
// application layer (package app), as the JSON API is. A signed-in browser
// holds a sealed session cookie; every form carries the session's CSRF
// token.
package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/httpapi"
	"github.com/labhooks/labhooks/internal/ratelimit"
	"github.com/labhooks/labhooks/internal/remote"
)

// Config holds what the dashboard needs. Every field documents its default.
type Config struct {
	// App performs every operation. Required.
	App *app.Service
	// SessionKey seals the session cookies. Default: a random key per
	// process, so sessions end when the process restarts and are not shared
	// between processes.
	SessionKey []byte
	// Dir, when set, is a folder read on every request for the templates
	// and assets instead of the copy built into the binary: set it to
	// dashboard/web to edit them without rebuilding. Default: the built-in
	// copy.
	Dir string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the errors a page does not show. Default
	// slog.Default().
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// in the audit log. Default: none.
	TrustedProxies remote.Proxies
}

// Server is the dashboard.
type Server struct {
	app     *app.Service
	now     func() time.Time
	log     *slog.Logger
	mux     *http.ServeMux
	dash    *pages
	proxies remote.Proxies
	// signIns bounds sign-in attempts per key prefix.
	signIns *ratelimit.Limiter
}

// New returns the dashboard for cfg.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{app: cfg.App, now: cfg.Now, log: cfg.Logger, mux: http.NewServeMux(), dash: newPages(cfg.Dir, cfg.SessionKey),
		proxies: cfg.TrustedProxies,
		signIns: ratelimit.New(ratelimit.Limit{Rate: labhooks.SignInRate, Burst: labhooks.SignInBurst}, labhooks.MaxRateLimitKeys)}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handlerFunc is a page handler: it writes a page, or returns an error for
// an error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type callerKey struct{}

// callerOf returns the signed-in caller.
func callerOf(r *http.Request) *app.Caller { return r.Context().Value(callerKey{}).(*app.Caller) }

// webFS holds the dashboard's templates and static assets; the binary needs
// nothing else to serve it.
//
//go:embed web
var webFS embed.FS

// pages renders the pages served at "/". Templates are parsed once from
// the embedded copy, or on every render from disk in development.
type pages struct {
	fsys fs.FS
	dev  bool
	mu   sync.Mutex
	tmpl map[string]*template.Template
	// sessions seals and opens the session cookies.
	sessions *sessionCodec
}

func newPages(dir string, sessionKey []byte) *pages {
	d := &pages{tmpl: map[string]*template.Template{}, sessions: newSessionCodec(sessionKey)}
	if dir != "" {
		d.fsys, d.dev = os.DirFS(dir), true
	} else {
		sub, err := fs.Sub(webFS, "web")
		if err != nil {
			panic(err) // the embedded tree is fixed at build time
		}
		d.fsys = sub
	}
	return d
}

// template returns the page's template set: the layout plus the page.
func (d *pages) template(page string) (*template.Template, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.tmpl[page]; ok && !d.dev {
		return t, nil
	}
	t, err := template.New(page).Funcs(templateFuncs).ParseFS(d.fsys, "templates/layout.html", "templates/"+page+".html")
	if err != nil {
		return nil, fmt.Errorf("dashboard template %s: %w", page, err)
	}
	d.tmpl[page] = t
	return t, nil
}

func (s *Server) routes() {
	static, err := fs.Sub(s.dash.fsys, "static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(static)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})))

	s.mux.Handle("GET /{$}", s.signedIn(s.home))
	s.mux.Handle("GET /signin", s.page(s.signInForm))
	s.mux.Handle("POST /signin", s.page(s.signIn))
	s.mux.Handle("POST /signout", s.signedIn(s.signOut))

	s.mux.Handle("GET /datalinks", s.signedIn(s.dataLinksPage))
	s.mux.Handle("GET /datalinks/new", s.signedIn(s.newDataLinkPage))
	s.mux.Handle("POST /datalinks/new", s.signedIn(s.createDataLinkPage))
	s.mux.Handle("GET /datalinks/{id}", s.signedIn(s.dataLinkPage))
	s.mux.Handle("POST /datalinks/{id}", s.signedIn(s.updateDataLinkPage))
	s.mux.Handle("POST /datalinks/{id}/test", s.signedIn(s.testDataLinkPage))
	s.mux.Handle("POST /datalinks/{id}/enable", s.signedIn(s.enableDataLinkPage(true)))
	s.mux.Handle("POST /datalinks/{id}/disable", s.signedIn(s.enableDataLinkPage(false)))
	s.mux.Handle("POST /datalinks/{id}/rotate", s.signedIn(s.rotateSecretPage))
	s.mux.Handle("POST /datalinks/{id}/replay", s.signedIn(s.replayPage))
	s.mux.Handle("POST /datalinks/{id}/delete", s.signedIn(s.deleteDataLinkPage))

	s.mux.Handle("GET /deliveries", s.signedIn(s.deliveriesPage))
	s.mux.Handle("GET /deliveries/{id}", s.signedIn(s.deliveryPage))
	s.mux.Handle("POST /deliveries/{id}/retry", s.signedIn(s.retryDeliveryPage))

	s.mux.Handle("GET /events", s.signedIn(s.eventsPage))

	s.mux.Handle("GET /partners", s.signedIn(s.adminOnly(s.partnersPage)))
	s.mux.Handle("POST /partners", s.signedIn(s.adminOnly(s.createPartnerPage)))
	// A partner's own page is its account: its key and its contacts.
	s.mux.Handle("GET /partners/{id}", s.signedIn(s.partnerPage))
	s.mux.Handle("GET /health", s.signedIn(s.adminOnly(s.healthPage)))
	s.mux.Handle("POST /partners/{id}/suspend", s.signedIn(s.adminOnly(s.suspendPartnerPage(true))))
	s.mux.Handle("POST /partners/{id}/resume", s.signedIn(s.adminOnly(s.suspendPartnerPage(false))))
	s.mux.Handle("POST /partners/{id}/rotate-key", s.signedIn(s.rotatePartnerKeyPage))
	s.mux.Handle("POST /partners/{id}/contacts", s.signedIn(s.contactsPage))
	s.mux.Handle("GET /audit", s.signedIn(s.auditPage))
	s.mux.Handle("GET /erasures", s.signedIn(s.erasuresPage))
	s.mux.Handle("POST /erasures/{id}/confirm", s.signedIn(s.confirmErasurePage))

	s.mux.Handle("/", s.page(func(w http.ResponseWriter, r *http.Request) error {
		return labhooks.Errorf(labhooks.ENotFound, "There is no page at %s.", r.URL.Path)
	}))
}

// page serves a dashboard handler to anyone, answering its errors with an
// HTML page.
func (s *Server) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Referrer-Policy", "same-origin")
		// Pages show secrets and API keys once; no cache may keep them.
		hdr.Set("Cache-Control", "no-store")
		if err := h(w, r); err != nil {
			s.pageError(w, r, err)
		}
	})
}

// adminOnly refuses h to partners.
func (s *Server) adminOnly(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !callerOf(r).Admin {
			return labhooks.Errorf(labhooks.ENotFound, "There is no page at %s.", r.URL.Path)
		}
		return h(w, r)
	}
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	if callerOf(r).Admin {
		http.Redirect(w, r, "/health", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, "/datalinks", http.StatusSeeOther)
	}
	return nil
}

// view is what every page's template gets.
type view struct {
	Title string
	// Nav is the menu entry to mark as the current one.
	Nav string
	// Admin and Partner say who is signed in; both zero on the sign-in page.
	Admin   bool
	Partner *labhooks.Partner
	CSRF    string
	// Flash confirms the action that led here.
	Flash string
	Data  any
}

// SignedIn reports whether the page is shown to a signed-in caller.
func (v *view) SignedIn() bool { return v.Admin || v.Partner != nil }

// render writes page with status, filled with data. The page is executed
// into a buffer first, so a template error becomes an error page rather than
// half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) error {
	t, err := s.dash.template(page)
	if err != nil {
		return err
	}
	if c, ok := r.Context().Value(callerKey{}).(*app.Caller); ok {
		v.Admin, v.Partner = c.Admin, c.Partner
	}
	if sess, ok := r.Context().Value(sessionCtxKey{}).(*session); ok && v.CSRF == "" {
		v.CSRF = sess.CSRF
	}
	if v.Flash == "" {
		v.Flash = flashes[r.URL.Query().Get("done")]
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("dashboard page %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = buf.WriteTo(w)
	return err
}

// flashes are the confirmations a redirect can ask for with ?done=; a fixed
// table, so a crafted link cannot put words on the page.
var flashes = map[string]string{
	"created":   "Data link saved.",
	"saved":     "Changes saved.",
	"enabled":   "Data link enabled: it receives events again.",
	"disabled":  "Data link disabled: it receives no events until you enable it.",
	"deleted":   "Data link deleted. Its deliveries stay listed.",
	"retried":   "Retry queued: the delivery is sent again now.",
	"replayed":  "Failed deliveries queued to be sent again.",
	"signedout": "You are signed out.",
	"suspended": "Partner suspended: its API key opens nothing until you resume it.",
	"resumed":   "Partner resumed: its API key opens again.",
}

// pageError answers err with an HTML page: a sign-in redirect for a missing
// session, otherwise the status of the API's table and the error's message.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	if labhooks.ErrorCode(err) == labhooks.EUnauthorized && r.Method == http.MethodGet {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	status := httpapi.ErrorStatus(err)
	msg := labhooks.ErrorMessage(err)
	if status >= 500 {
		s.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Something went wrong on our side. Try again in a moment; if it keeps happening, tell the operator."
	}
	v := &view{Title: http.StatusText(status), Data: map[string]any{"Status": status, "Message": msg}}
	if rerr := s.render(w, r, status, "error", v); rerr != nil {
		s.log.Error("rendering the error page", "err", rerr)
		http.Error(w, msg, status)
	}
}

// fieldErrors places an error the user can fix next to the form field it
// concerns (one of fields), by its Field; errors about no field of the form
// go under "". Other errors (not found, unavailable, internal) are not the
// form's: ok is false.
func fieldErrors(err error, fields ...string) (errs map[string]string, ok bool) {
	var e *labhooks.Error
	if !errors.As(err, &e) {
		return nil, false
	}
	switch e.Code {
	case labhooks.EInvalid, labhooks.EWeakSecret, labhooks.ERoleNotAllowed, labhooks.EConflict, labhooks.ERateLimited:
	default:
		return nil, false
	}
	if slices.Contains(fields, e.Field) && e.Field != "" {
		return map[string]string{e.Field: upperFirst(e.Detail())}, true
	}
	return map[string]string{"": e.Message}, true
}

// setRetryAfter tells the browser, as the API tells a client, how long a
// rate-limited request must wait.
func setRetryAfter(w http.ResponseWriter, err error) {
	var e *labhooks.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(labhooks.RetryAfterSeconds(e.RetryAfter), 10))
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseForm reads a posted form, bounded.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, labhooks.MaxFormBody)
	if err := r.ParseForm(); err != nil {
		return labhooks.Errorf(labhooks.EInvalid, "The form could not be read: %v", err)
	}
	return nil
}

var templateFuncs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"isotime":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":      ago,
	"pretty":   func(raw json.RawMessage) string { return prettyJSON(raw) },
	"join":     strings.Join,
	"contains": slices.Contains[[]string],
	"roles":    labhooks.RoleList,
	"percent": func(part, whole int) string {
		if whole == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f %%", float64(part)*100/float64(whole))
	},
	"statusText":  http.StatusText,
	"secretField": secretField,
}

// secretFieldView fills the "secretfield" template.
type secretFieldView struct{ Value, Error, Hint string }

// secretField describes the secret input of the add form, or, when
// rotating, of the form that replaces a secret.
func secretField(value, errMsg string, rotating ...bool) secretFieldView {
	hint := "Sent as the x-api-key header and used to sign every event. Choose a long, difficult secret and do not share it with anyone — or press Generate. Left empty, labhooks generates one."
	if len(rotating) > 0 && rotating[0] {
		hint = "The new secret. Leave it empty, or press Generate, for a strong generated one."
	}
	return secretFieldView{Value: value, Error: errMsg, Hint: hint}
}

// ago says how long before now t was, roughly, for people.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < 0:
		return "in " + roughly(-d)
	case d < 5*time.Second:
		return "just now"
	default:
		return roughly(d) + " ago"
	}
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}

// prettyJSON indents JSON for reading; anything else is returned as it is.
func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
