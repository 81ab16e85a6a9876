package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labhooks/labhooks/signature"
)

// TestReceiveSurvivesSIGKILL runs `labhooks receive` under a stream of signed
// deliveries, kills it with SIGKILL twice mid-stream, and checks after each
// kill that every event it answered 200 for is stored, then that after
// redelivering everything each event is stored exactly once.
func TestReceiveSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the labhooks binary")
	}
	bin := buildLabhooks(t)
	for _, b := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "events.db") }},
		{"postgres", newPostgresSchema},
	} {
		t.Run(b.name, func(t *testing.T) {
			db := b.db(t)
			const secret = "kill-test-secret-0123456789"
			const n = 300
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("dlv_kill_%04d", i)
			}
			acked := map[string]bool{}
			for round := range 3 {
				// A new order each round, so the kills land on different events.
				rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
				p := startReceive(t, bin, secret, db)
				// Rounds 0 and 1 are killed after a random number of
				// answers; round 2 redelivers everything and ends cleanly.
				killAfter := -1
				if round < 2 {
					killAfter = 40 + rand.IntN(80)
				}
				got := p.deliver(t, secret, ids, killAfter)
				for id := range got {
					acked[id] = true
				}
				p.stop(t, round == 2)
				missing := missingIDs(t, db, acked)
				if len(missing) > 0 {
					t.Fatalf("round %d: %d events answered 200 are not stored, e.g. %s", round, len(missing), missing[0])
				}
				t.Logf("round %d: %d answered 200 (%d in all so far), all stored", round, len(got), len(acked))
			}
			if len(acked) != n {
				t.Fatalf("%d of %d events acknowledged after the clean round", len(acked), n)
			}
			s := mustOpen(t, db)
			var rows, distinct int
			if err := s.DB().QueryRow(`SELECT count(*), count(DISTINCT webhook_id) FROM received_events`).Scan(&rows, &distinct); err != nil {
				t.Fatal(err)
			}
			if rows != n || distinct != n {
				t.Fatalf("%d rows, %d distinct webhook-ids; want %d of each", rows, distinct, n)
			}
		})
	}
}

// receiveProcess is a running `labhooks receive`.
type receiveProcess struct {
	cmd    *exec.Cmd
	url    string
	exited chan error
	stderr *bytes.Buffer
}

func startReceive(t *testing.T, bin, secret, db string) *receiveProcess {
	t.Helper()
	cmd := exec.Command(bin, "receive", "--addr", "127.0.0.1:0", "--db", db)
	cmd.Env = append(os.Environ(), "LABHOOKS_RECEIVER_SECRET="+secret)
	p := &receiveProcess{cmd: cmd, exited: make(chan error, 1), stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("labhooks receive printed %q", line)
		}
		p.url = m[1] + "/hook"
	case err := <-p.exited:
		t.Fatalf("labhooks receive exited: %v\n%s", err, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("labhooks receive did not start in 30s")
	}
	return p
}

// deliver sends every id from 4 goroutines at once, and returns those
// answered 200. With killAfter >= 0, it SIGKILLs the process once that many
// were answered, while requests are in flight.
func (p *receiveProcess) deliver(t *testing.T, secret string, ids []string, killAfter int) map[string]bool {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	acked := map[string]bool{}
	killed := false
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if send(client, p.url, secret, id) {
					mu.Lock()
					acked[id] = true
					if killAfter >= 0 && len(acked) >= killAfter && !killed {
						killed = true
						p.cmd.Process.Kill() // SIGKILL
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if killAfter >= 0 && !killed {
		t.Fatalf("the stream ended before %d answers; %d answered", killAfter, len(acked))
	}
	return acked
}

// send delivers one event as labhooks does and reports whether it was
// answered 200.
func send(client *http.Client, url, secret, id string) bool {
	i, _ := strconv.Atoi(id[strings.LastIndexByte(id, '_')+1:])
	data, _ := json.Marshal(map[string]any{"dashboardUrl": "https://dashboard.daslab.app/labs/1/samples/" + strconv.Itoa(i), "sampleId": i + 1, "appointmentId": 7, "locationId": 3})
	body := []byte(`{"eventName":"sampleReceived","data":` + string(data) + `}`)
	now := time.Now().Unix()
	sig, err := signature.Sign([]string{secret}, id, now, body)
	if err != nil {
		return false
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", secret)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop waits for a killed process to be gone, or stops a live one with
// SIGTERM and checks that it shuts down cleanly.
func (p *receiveProcess) stop(t *testing.T, graceful bool) {
	t.Helper()
	if graceful {
		p.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case err := <-p.exited:
		if graceful && err != nil {
			t.Fatalf("labhooks receive did not exit cleanly: %v\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("labhooks receive did not exit in 30s")
	}
}

// missingIDs returns the ids in want that the database lacks.
func missingIDs(t *testing.T, db string, want map[string]bool) []string {
	t.Helper()
	s, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var missing []string
	for id := range want {
		seen, err := s.Seen(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !seen {
			missing = append(missing, id)
		}
	}
	return missing
}

// buildLabhooks builds ./cmd/labhooks into a temporary directory. While other
// commands of the binary are being written and do not compile, it builds
// receive.go and listen.go alone, with a small main of its own (through a
// build overlay that hides the other files), so this test still exercises the
// real `labhooks receive`.
func buildLabhooks(t *testing.T) string {
	t.Helper()
	root := moduleRoot(t)
	bin := filepath.Join(t.TempDir(), "labhooks")
	out, err := goBuild(root, bin, "")
	if err == nil && os.Getenv("LABHOOKS_TEST_RECEIVE_ALONE") == "" {
		return bin
	}
	t.Logf("building receive.go and listen.go alone; ./cmd/labhooks as a whole says:\n%s", out)

	dir := filepath.Join(root, "cmd", "labhooks")
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	replace := map[string]string{}
	for _, f := range files {
		if base := filepath.Base(f); base != "receive.go" && base != "listen.go" {
			replace[f] = "" // hidden from the build
		}
	}
	testMain := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(testMain, []byte(receiveAloneMain), 0o644); err != nil {
		t.Fatal(err)
	}
	replace[filepath.Join(dir, "zz_receive_alone_main.go")] = testMain
	overlay := filepath.Join(t.TempDir(), "overlay.json")
	b, _ := json.Marshal(map[string]any{"Replace": replace})
	if err := os.WriteFile(overlay, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := goBuild(root, bin, overlay); err != nil {
		t.Fatalf("building labhooks receive alone: %v\n%s", err, out)
	}
	return bin
}

// receiveAloneMain stands in for cmd/labhooks/main.go when the rest of the
// command does not build: the helpers receive.go and listen.go use, and a
// main that runs them.
const receiveAloneMain = `package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3"
)

type usageError struct{ error }

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("labhooks "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	err := ff.Parse(fs, args, ff.WithEnvVarPrefix("LABHOOKS"))
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err}
	}
	return err
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := map[string]func(context.Context, []string, io.Writer, io.Writer) error{"receive": runReceive, "listen": runListen}[os.Args[1]]
	if err := run(ctx, os.Args[2:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "labhooks:", err)
		os.Exit(1)
	}
}
`

func goBuild(root, bin, overlay string) (string, error) {
	args := []string{"build", "-o", bin}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.Command("go", append(args, "./cmd/labhooks")...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// lockedWriter lets the process's stderr be read while it is written.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
