package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labhooks/labhooks/httpapi"
)

// TestDemo runs `labhooks demo` as a newcomer would and checks that it
// does what it says: sample partners, events received and verified by the
// built-in receiver, and retries of the lab's flaky receiver.
func TestDemo(t *testing.T) {
	cmd := exec.Command(binary, "demo", "--addr", "127.0.0.1:0", "--rate", "20")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	lines := make(chan string, 10000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	adminKey := regexp.MustCompile(`admin key\s+(lha_\S+)`)
	var url, key string
	received := 0
	deadline := time.After(30 * time.Second)
	for url == "" || key == "" || received < 10 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early:\n%s", stderr.String())
			}
			if m := listening.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
			if m := adminKey.FindStringSubmatch(l); m != nil {
				key = m[1]
			}
			if strings.Contains(l, " received ") {
				received++
			}
		case <-deadline:
			t.Fatalf("demo: url %q, admin key found %v, %d events received; stderr:\n%s", url, key != "", received, stderr.String())
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
}
