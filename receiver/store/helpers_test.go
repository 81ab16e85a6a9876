package store

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks/signature"
)

// post sends h one delivery signed as SPEC §3 describes and returns the status.
func post(t *testing.T, h http.Handler, secret, id, body string) int {
	t.Helper()
	now := time.Now()
	sig, err := signature.Sign([]string{secret}, id, now.Unix(), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("x-api-key", secret)
	r.Header.Set("webhook-id", id)
	r.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	r.Header.Set("webhook-signature", sig)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}
