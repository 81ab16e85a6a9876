package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labhooks/labhooks/httpapi"
)

// needNode returns node and the example folder with its packages installed,
// skipping outside CI when they are missing.
func needNode(t *testing.T, example string) (node, dir string) {
	t.Helper()
	dir, _ = filepath.Abs(filepath.Join("..", "examples", example))
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules"))
	if err != nil || modErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or %s/node_modules missing in CI (npm ci in .ci/run): %v %v", example, err, modErr)
		}
		t.Skipf("needs node and examples/%s/node_modules: run npm ci in examples/%s (CI=true fails instead of skipping)", example, example)
	}
	return node, dir
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runNode starts a node script and returns a channel of its stdout lines
// from the one that says ready on.
func runNode(t *testing.T, node, script string, env []string, ready string) <-chan string {
	t.Helper()
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), env...)
	_, lines := runUntil(t, cmd, ready)
	return lines
}

// TestSeedExpressSampleUnchanged delivers to the partner page's express
// sample as published; only its KEY constant holds the data link's secret.
func TestSeedExpressSampleUnchanged(t *testing.T) {
	node, dir := needNode(t, "seed-express")
	src, err := os.ReadFile(filepath.Join(dir, "index.js"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	code := strings.Replace(string(src), "const KEY = 'mysecretkey'", "const KEY = '"+secret+"'", 1)
	code = strings.Replace(code, "const PORT = 3000", fmt.Sprintf("const PORT = %d", port), 1)
	if code == string(src) || !strings.Contains(code, secret) {
		t.Fatal("the seed sample no longer has the KEY and PORT lines this test sets")
	}
	script := filepath.Join(t.TempDir(), "index.js")
	os.WriteFile(script, []byte(code), 0o644)
	lines := runNode(t, node, script, []string{"NODE_PATH=" + filepath.Join(dir, "node_modules")}, "Server running")

	s := startServer(t, "")
	p, _ := s.partner("sampler", "Seed Sampler")
	dl := s.dataLink(p, fmt.Sprintf("http://127.0.0.1:%d/hook", port), secret)
	var res struct {
		OK        bool   `json:"ok"`
		Diagnosis string `json:"diagnosis"`
	}
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/datalinks/%s/test", dl), nil, &res, nil))
	if !res.OK {
		t.Fatalf("test button against the seed sample: %+v", res)
	}
	a, err := s.emit(map[string]any{"eventName": "appointmentCreated", "data": eventExamples(t, s)["appointmentCreated"]}, "")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the delivery to succeed", func() bool { return s.delivery(a.Deliveries[0].ID).Status == "succeeded" })
	// The sample console.logs req.body: the event it parsed.
	var logged strings.Builder
	deadline := time.After(5 * time.Second)
	for !strings.Contains(logged.String(), "appointmentCreated") {
		select {
		case l := <-lines:
			logged.WriteString(l + "\n")
		case <-deadline:
			t.Fatalf("the sample did not log the event; it printed:\n%s", logged.String())
		}
	}
	// And a wrong key gets the sample's 401, which the test button explains.
	bad := s.dataLink(p, fmt.Sprintf("http://127.0.0.1:%d/hook", port), "another-Long-Secret-the-sample-lacks-9")
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/datalinks/%s/test", bad), nil, &res, nil))
	if res.OK || !strings.Contains(res.Diagnosis, "x-api-key") {
		t.Fatalf("wrong key against the seed sample: %+v", res)
	}
}

// TestExpressExampleVerifiesRealDeliveries runs examples/express against
// real deliveries: signatures verify, a repeated delivery is stored once.
func TestExpressExampleVerifiesRealDeliveries(t *testing.T) {
	node, dir := needNode(t, "express")
	port := freePort(t)
	events := filepath.Join(t.TempDir(), "events.jsonl")
	s := startServer(t, "")
	p, _ := s.partner("provider", "Express Provider")
	// A generated whsec_ secret, as most partners will have.
	var dl struct{ ID, Secret string }
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/partners/%s/datalinks", p),
		map[string]any{"url": fmt.Sprintf("http://127.0.0.1:%d/hook", port)}, &dl, nil))
	runNode(t, node, filepath.Join(dir, "index.js"), []string{
		"WEBHOOK_SECRET=" + dl.Secret, fmt.Sprintf("PORT=%d", port), "HOST=127.0.0.1", "EVENTS_FILE=" + events,
	}, "Server running")
	ex := eventExamples(t, s)
	var ids []string
	for _, name := range []string{"appAuthorized", "patientUpdated", "dataShareAccepted"} {
		a, err := s.emit(map[string]any{"eventName": name, "data": ex[name]}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.Deliveries[0].ID)
	}
	for _, id := range ids {
		eventually(t, 10*time.Second, "delivery "+id, func() bool { return s.delivery(id).Status == "succeeded" })
	}
	// Deliver the first one again: the example acknowledges it and keeps one copy.
	s.must(s.admin().Do(context.Background(), "POST", httpapi.Path("/v1/deliveries/%s/retry", ids[0]), nil, nil, nil))
	eventually(t, 10*time.Second, "the repeat delivery", func() bool { return s.delivery(ids[0]).AttemptCount == 2 && s.delivery(ids[0]).Status == "succeeded" })
	raw, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e struct {
			WebhookID string `json:"webhookId"`
			EventID   string `json:"eventId"`
			Entity    string `json:"entity"`
			Sequence  int    `json:"sequence"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events file line %q: %v", line, err)
		}
		// The example verified labhooks-signature and kept the headers.
		if !strings.HasPrefix(e.EventID, "evt_") || !strings.HasPrefix(e.Entity, "patient:") || e.Sequence < 1 {
			t.Errorf("events file line without the labhooks- headers: %s", line)
		}
		stored[e.WebhookID]++
	}
	for _, id := range ids {
		if stored[id] != 1 {
			t.Errorf("delivery %s stored %d times, want once (file:\n%s)", id, stored[id], raw)
		}
	}
}
