package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks/httpapi"
)

// TestDemo runs `labhooks demo` as a newcomer would and checks that it
// does what it says: sample partners, events received and verified by the
// built-in receiver, and retries of the lab's flaky receiver.
func TestDemo(t *testing.T) {
	// The demo's temporary folder goes in one of the test's, which must be
	// empty again once the demo stops.
	tmp := t.TempDir()
	cmd := exec.Command(binary, "demo", "--addr", "127.0.0.1:0", "--rate", "20")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	// The demo prints its address, then the keys, then the events.
	first, lines := runUntil(t, cmd, "listening on")
	url := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(first)[1]
	adminKey := regexp.MustCompile(`admin key\s+(lha_\S+)`)
	var key string
	received := 0
	// The terminal shows the lab's failures and their retries, with the
	// partner's name.
	failedShown, retryShown := false, false
	deadline := time.After(60 * time.Second)
	for key == "" || received < 10 || !failedShown || !retryShown {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("demo exited early")
			}
			if m := adminKey.FindStringSubmatch(l); m != nil {
				key = m[1]
			}
			if strings.Contains(l, " received ") {
				received++
			}
			if strings.Contains(l, "Central Lab") && strings.Contains(l, "FAILED") && strings.Contains(l, "answered 503") {
				failedShown = true
			}
			if strings.Contains(l, "Central Lab") && strings.Contains(l, "(a retry)") {
				retryShown = true
			}
		case <-deadline:
			t.Fatalf("demo at %s: admin key found %v, %d events received, a failure shown %v, a retry shown %v", url, key != "", received, failedShown, retryShown)
		}
	}
	go func() {
		for range lines {
		}
	}()
	admin := &httpapi.Client{BaseURL: url, Key: key}
	var partners struct {
		Data []struct{ Role string } `json:"data"`
	}
	if err := admin.Do(context.Background(), "GET", "/v1/partners", nil, &partners, nil); err != nil || len(partners.Data) != 5 {
		t.Fatalf("demo partners: %+v, %v", partners, err)
	}
	eventually(t, 20*time.Second, "a delivery retried after the lab's receiver failed", func() bool {
		var page struct {
			Data []struct {
				AttemptCount int    `json:"attemptCount"`
				Status       string `json:"status"`
			} `json:"data"`
		}
		if err := admin.Do(context.Background(), "GET", "/v1/deliveries?limit=500", nil, &page, nil); err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Data {
			if d.AttemptCount >= 2 && d.Status == "succeeded" {
				return true
			}
		}
		return false
	})

	// Stopped as Ctrl-C stops it, the demo deletes its folder.
	cmd.Process.Signal(os.Interrupt)
	exited := make(chan struct{})
	go func() { cmd.Process.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop on Ctrl-C")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "labhooks-demo*")); len(left) > 0 {
		t.Fatalf("the demo left %v behind", left)
	}
}
