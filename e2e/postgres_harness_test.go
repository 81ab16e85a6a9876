package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needPostgres skips the test when what it needs is missing, except in CI,
// where nothing may skip.
func needPostgres(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// worker is one running `labhooks worker`.
type worker struct {
	t      *testing.T
	cmd    *exec.Cmd
	db     string
	args   []string
	logs   *lockedBuffer
	exited chan struct{}
}

var workerStarted = regexp.MustCompile(`worker delivering from`)

// startWorker runs `labhooks worker` on db and waits until it has started.
func startWorker(t *testing.T, db string, args ...string) *worker {
	t.Helper()
	w := &worker{t: t, db: db, args: args, logs: &lockedBuffer{}}
	w.start()
	t.Cleanup(w.stop)
	return w
}

func (w *worker) start() {
	t := w.t
	t.Helper()
	w.cmd = exec.Command(binary, append([]string{"worker", "--db", w.db, "--allow-private-targets"}, w.args...)...)
	w.cmd.Stderr = w.logs
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.exited = make(chan struct{})
	go func() { w.cmd.Wait(); close(w.exited) }()
	started := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.logs.Write([]byte(sc.Text() + "\n"))
			if workerStarted.MatchString(sc.Text()) {
				started <- struct{}{}
			}
		}
	}()
	select {
	case <-started:
	case <-w.exited:
		t.Fatalf("labhooks worker exited at start:\n%s", w.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("labhooks worker did not start:\n%s", w.logs)
	}
}

func (w *worker) kill() {
	w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.exited
}

func (w *worker) stop() {
	select {
	case <-w.exited:
		return
	default:
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(30 * time.Second):
		w.kill()
	}
	if w.t.Failed() {
		w.t.Logf("labhooks worker output:\n%s", w.logs)
	}
}

// duplicates sums, over every webhook-id acknowledged more than once, the
// acknowledgements beyond the first.
func duplicates(acked map[string]int) int {
	n := 0
	for _, c := range acked {
		n += c - 1
	}
	return n
}

// pendingLeft reports whether any delivery is still pending, through s's API.
func pendingLeft(t *testing.T, s *server) bool {
	t.Helper()
	var page struct{ Data []any }
	s.must(s.admin().Do(context.Background(), "GET", "/v1/deliveries?status=pending&limit=1", nil, &page, nil))
	return len(page.Data) > 0
}

// missing counts the delivery IDs in want that the receiver never
// acknowledged.
func missing(want map[string]bool, acked map[string]int) int {
	n := 0
	for id := range want {
		if acked[id] == 0 {
			n++
		}
	}
	return n
}

// rawPost posts body to url with the admin key and returns the status and
// answer, with no client in between to interpret them.
func rawPost(t *testing.T, url string, body any) (int, []byte, error) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), nil
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// privatePostgres is a PostgreSQL server of one test's own, which the test
// may stop and start without disturbing anyone else.
type privatePostgres struct {
	t    *testing.T
	bin  string
	dir  string // data directory, and the Unix socket's
	port int
	// asUser runs a PostgreSQL program as the owner of dir: as root, through
	// runuser, since PostgreSQL refuses to run as root.
	asUser []string
}

// startPrivatePostgres initdbs a new cluster in a temporary directory and
// starts it on a free port of 127.0.0.1.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if p, err := exec.LookPath("initdb"); err == nil {
		bins = append([]string{p}, bins...)
	}
	if len(bins) == 0 {
		needPostgres(t, "needs PostgreSQL's initdb to run a private PostgreSQL: apt-get install postgresql")
	}
	pg := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "labhooks-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg.dir = filepath.Join(dir, "data")
	if err := os.Mkdir(pg.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			needPostgres(t, "needs a postgres user to run a private PostgreSQL as, since this runs as root: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{dir, pg.dir} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		pg.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	pg.run("initdb", "-D", pg.dir, "-U", "labhooks", "-A", "trust", "--no-sync", "-E", "UTF8")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pg.start()
	t.Cleanup(func() { pg.run("pg_ctl", "-D", pg.dir, "-m", "immediate", "-w", "stop") })
	return pg
}

func (pg *privatePostgres) run(program string, args ...string) {
	pg.t.Helper()
	all := append(append(append([]string{}, pg.asUser...), filepath.Join(pg.bin, program)), args...)
	out, err := exec.Command(all[0], all[1:]...).CombinedOutput()
	if err != nil && !(program == "pg_ctl" && args[len(args)-1] == "stop" && strings.Contains(string(out), "Is server running?")) {
		pg.t.Fatalf("%s: %v\n%s", strings.Join(all, " "), err, out)
	}
}

// start starts the server (again) and waits until it accepts connections.
func (pg *privatePostgres) start() {
	pg.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", pg.port, pg.dir)
	pg.run("pg_ctl", "-D", pg.dir, "-l", filepath.Join(pg.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
}

// stop shuts the server down the fast way: sessions are ended, and what
// was committed is on disk.
func (pg *privatePostgres) stop() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", pg.dir, "-m", "fast", "-w", "stop")
}

func (pg *privatePostgres) url() string {
	return fmt.Sprintf("postgres://labhooks@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}
