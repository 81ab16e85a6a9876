package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/labhooks/labhooks"
	"github.com/labhooks/labhooks/app"
	"github.com/labhooks/labhooks/catalog"
	"github.com/labhooks/labhooks/delivery"
	"github.com/labhooks/labhooks/sqlite"
)

const testAdminKey = "api-test-admin-key-0123456789abcdef"

// testEnv is an API over the application layer on a fresh SQLite store.
type testEnv struct {
	api     *Server
	app     *app.Service
	store   labhooks.Store
	catalog *catalog.Catalog
}

// newTestAPI returns an API on a fresh SQLite store with the built-in
// catalog, allowed to deliver to this machine, whose admin key is adminKey.
func newTestAPI(t *testing.T, adminKey string) *testEnv {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "labhooks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	env := &testEnv{store: store}
	env.app, env.catalog = newTestApp(t, store, adminKey)
	env.api = NewServer(Config{App: env.app})
	return env
}

// newTestApp returns an application layer over store with a catalog of its
// own, as one process has.
func newTestApp(t *testing.T, store labhooks.Store, adminKey string) (*app.Service, *catalog.Catalog) {
	t.Helper()
	cat, err := catalog.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return app.New(app.Config{
		Store: store, Catalog: cat, AdminKeyHash: labhooks.KeyHash(adminKey), AllowHTTPTargets: true,
		Sender: delivery.NewSender(delivery.SenderConfig{AllowPrivateTargets: true, Timeout: 5 * time.Second}),
	}), cat
}

// callJSON sends body as JSON to srv with the admin key and returns the
// decoded answer, failing t unless its status is want.
func callJSON(t *testing.T, srv *httptest.Server, method, path string, body any, want int) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, &buf)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}
