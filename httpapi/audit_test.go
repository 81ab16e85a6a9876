package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/internal/remote"
)

// TestAuditSource: the audit log records the peer's address, and the
// client's from X-Forwarded-For only behind a trusted proxy.
func TestAuditSource(t *testing.T) {
	t.Parallel()
	env := newTestAPI(t, testAdminKey)
	proxies, err := remote.ParseProxies("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	behindProxy := NewServer(Config{App: env.app, TrustedProxies: proxies})
	for _, c := range []struct {
		api  *Server
		want string
	}{{env.api, "127.0.0.1"}, {behindProxy, "198.51.100.23"}} {
		req := httptest.NewRequest("POST", "/v1/partners", strings.NewReader(`{"name":"Lab","role":"lab"}`))
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		req.Header.Set("X-Forwarded-For", "198.51.100.23")
		rec := httptest.NewRecorder()
		c.api.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		es, _, err := env.app.Audit(t.Context(), &app.Caller{Admin: true}, labhooks.AuditFilter{Limit: 1})
		if err != nil || len(es) != 1 {
			t.Fatal(es, err)
		}
		if es[0].Source != c.want || es[0].Actor.KeyPrefix != labhooks.KeyPrefixOf(testAdminKey) {
			t.Errorf("source %q, key prefix %q; want %q, %q", es[0].Source, es[0].Actor.KeyPrefix, c.want, labhooks.KeyPrefixOf(testAdminKey))
		}
	}
}
