package dashboard

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labhooks/labhooks"
)

// Dashboard cookies. The session cookie carries the hash of the API key that
// signed in (never the key), sealed so that it can be neither read nor forged;
// every request looks the caller up again, so deleting a partner ends its
// sessions at once, and checks that the session was not signed out, so a
// copy of the cookie dies with it.
const (
	sessionCookie = "labhooks_session"
	signInCookie  = "labhooks_signin"
	sessionTTL    = 12 * time.Hour
)

// session is a signed-in browser.
type session struct {
	// ID names the session for signing out.
	ID      string `json:"i"`
	KeyHash []byte `json:"k"`
	// KeyPrefix is the start of the key, for the audit log.
	KeyPrefix string `json:"p"`
	// CSRF is the token every form of this session must carry.
	CSRF    string `json:"c"`
	Expires int64  `json:"e"`
}

type sessionCtxKey struct{}

// sessionCodec seals sessions into cookie values with AES-256-GCM.
type sessionCodec struct{ aead cipher.AEAD }

func newSessionCodec(key []byte) *sessionCodec {
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	k := sha256.Sum256(append([]byte("labhooks dashboard session\x00"), key...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &sessionCodec{aead: aead}
}

func (c *sessionCodec) seal(s *session) string {
	plain, _ := json.Marshal(s)
	nonce := make([]byte, c.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, plain, []byte(sessionCookie)))
}

// sealValue seals v, bound to purpose, for a URL or a cookie.
func (c *sessionCodec) sealValue(v any, purpose string) string {
	plain, _ := json.Marshal(v)
	nonce := make([]byte, c.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, plain, []byte(purpose)))
}

// openValue opens what sealValue sealed for the same purpose into v.
func (c *sessionCodec) openValue(value, purpose string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < c.aead.NonceSize() {
		return false
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(purpose))
	return err == nil && json.Unmarshal(plain, v) == nil
}

func (c *sessionCodec) open(value string) (*session, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < c.aead.NonceSize() {
		return nil, false
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(sessionCookie))
	if err != nil {
		return nil, false
	}
	var s session
	if json.Unmarshal(plain, &s) != nil || s.ID == "" || len(s.KeyHash) == 0 || s.CSRF == "" {
		return nil, false
	}
	return &s, true
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secureRequest reports whether the browser reached us over TLS, directly or
// through a proxy that says so; cookies then get the Secure flag.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r),
	})
}

// signedIn serves h to a browser with a valid session: it finds the caller
// as the API does, and refuses a posted form without the session's CSRF token.
func (s *Server) signedIn(h handlerFunc) http.Handler {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			return labhooks.Errorf(labhooks.EUnauthorized, "Sign in to see this page.")
		}
		sess, ok := s.dash.sessions.open(ck.Value)
		if !ok || s.now().Unix() >= sess.Expires {
			setCookie(w, r, sessionCookie, "", -1)
			return labhooks.Errorf(labhooks.EUnauthorized, "Your session has ended. Sign in again.")
		}
		if revoked, err := s.app.SessionRevoked(r.Context(), sess.ID); err != nil {
			return err
		} else if revoked {
			setCookie(w, r, sessionCookie, "", -1)
			return labhooks.Errorf(labhooks.EUnauthorized, "This session was signed out. Sign in again.")
		}
		c, err := s.app.CallerByKeyHash(r.Context(), sess.KeyHash, sess.KeyPrefix)
		switch labhooks.ErrorCode(err) {
		case "":
		case labhooks.EUnauthorized:
			setCookie(w, r, sessionCookie, "", -1)
			return labhooks.Errorf(labhooks.EUnauthorized, "The API key you signed in with is no longer valid. Sign in again.")
		case labhooks.EForbidden:
			setCookie(w, r, sessionCookie, "", -1)
			return labhooks.Errorf(labhooks.EUnauthorized, "Your partner account is suspended. Ask the operator to resume it.")
		default:
			return err
		}
		c.Source = s.proxies.Addr(r)
		if r.Method == http.MethodPost {
			if err := parseForm(w, r); err != nil {
				return err
			}
			if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(sess.CSRF)) != 1 {
				return labhooks.Errorf(labhooks.EForbidden, "This form has expired or did not come from this dashboard. Go back, reload the page and try again.")
			}
		}
		ctx := context.WithValue(r.Context(), callerKey{}, c)
		r = r.WithContext(context.WithValue(ctx, sessionCtxKey{}, sess))
		if err := h(w, r); err != nil {
			// Answered here, so the error page knows who is signed in.
			s.pageError(w, r, err)
		}
		return nil
	})
}

// signInView is the sign-in form.
type signInView struct {
	Next  string
	Error string
}

func (s *Server) signInForm(w http.ResponseWriter, r *http.Request) error {
	return s.renderSignIn(w, r, http.StatusOK, signInView{Next: r.URL.Query().Get("next")})
}

// renderSignIn shows the form with a fresh token: the sign-in form is
// protected from cross-site posts too, with a token in a cookie and the form.
func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, v signInView) error {
	token := randomToken()
	setCookie(w, r, signInCookie, token, 3600)
	return s.render(w, r, status, "signin", &view{Title: "Sign in", CSRF: token, Data: v})
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	v := signInView{Next: r.PostForm.Get("next")}
	ck, err := r.Cookie(signInCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		v.Error = "The sign-in form expired, or your browser refuses cookies (the dashboard needs them). Try again."
		return s.renderSignIn(w, r, http.StatusForbidden, v)
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		v.Error = "Enter your API key."
		return s.renderSignIn(w, r, http.StatusBadRequest, v)
	}
	if wait := s.signIns.Allow(s.now(), keyPrefix(key)); wait > 0 {
		v.Error = fmt.Sprintf("Too many sign-in attempts with a key starting %q. Wait %d seconds, then try again.", keyPrefix(key), labhooks.RetryAfterSeconds(wait))
		w.Header().Set("Retry-After", strconv.FormatInt(labhooks.RetryAfterSeconds(wait), 10))
		return s.renderSignIn(w, r, http.StatusTooManyRequests, v)
	}
	_, err = s.app.SignIn(r.Context(), key, s.proxies.Addr(r))
	switch labhooks.ErrorCode(err) {
	case "":
	case labhooks.EUnauthorized:
		v.Error = "This API key is not valid. Check that you copied all of it."
		return s.renderSignIn(w, r, http.StatusUnauthorized, v)
	case labhooks.EForbidden:
		v.Error = "This partner account is suspended. Ask the operator to resume it."
		return s.renderSignIn(w, r, http.StatusForbidden, v)
	default:
		return err
	}
	sess := &session{ID: randomToken(), KeyHash: labhooks.KeyHash(key), KeyPrefix: labhooks.KeyPrefixOf(key),
		CSRF: randomToken(), Expires: s.now().Add(sessionTTL).Unix()}
	setCookie(w, r, sessionCookie, s.dash.sessions.seal(sess), int(sessionTTL/time.Second))
	setCookie(w, r, signInCookie, "", -1)
	http.Redirect(w, r, localPath(v.Next), http.StatusSeeOther)
	return nil
}

// keyPrefix is the part of an API key sign-in attempts are counted by: its
// first labhooks.SignInPrefix characters, which say its kind and a little
// of its random part.
func keyPrefix(key string) string {
	if len(key) > labhooks.SignInPrefix {
		return key[:labhooks.SignInPrefix]
	}
	return key
}

// localPath returns next as the browser would read it if that is a path on
// this site, else "/": the sign-in redirect must not send anyone elsewhere.
//
// A browser parses a Location as the WHATWG URL standard says: it drops
// leading and trailing C0 controls and spaces and every tab and newline,
// and reads a backslash as a slash, so "/\t/evil.example" and
// "/\\evil.example" both mean "//evil.example", another site. localPath
// reads next the same way, refuses anything that then has a scheme, a
// host or is not an absolute path, and returns the path it read (which has
// no control character left), so what is checked is what is followed.
func localPath(next string) string {
	p := strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, strings.Trim(next, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "))
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return p
}

// signOut ends the session for good, not just in this browser: a copy of
// its cookie opens nothing afterwards.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	sess := r.Context().Value(sessionCtxKey{}).(*session)
	if err := s.app.SignOut(r.Context(), callerOf(r), sess.ID, time.Unix(sess.Expires, 0)); err != nil {
		return err
	}
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin?done=signedout", http.StatusSeeOther)
	return nil
}
