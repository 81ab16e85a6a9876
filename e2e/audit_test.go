package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/labhooks/labhooks/postgres/pgtest"
	_ "modernc.org/sqlite"
)

// auditVerify runs `labhooks audit verify --db db` and returns its output
// and whether it passed.
func auditVerify(t *testing.T, db string) (string, bool) {
	t.Helper()
	out, err := exec.Command(binary, "audit", "verify", "--db", db).CombinedOutput()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	return string(out), err == nil
}

// TestAuditChainAcrossProcesses: three labhooks processes on one
// PostgreSQL database change data links at once; the audit log they leave
// is one unbroken chain with an entry for each change, and editing or
// deleting a row in the database makes `labhooks audit verify` fail and
// name it.
func TestAuditChainAcrossProcesses(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t)
	first := startServer(t, db)
	servers := []*server{first, startServer(t, db), startServer(t, db)}
	pid, _ := first.partner("lab", "Central Lab")
	const perServer = 10
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			for j := range perServer {
				link := s.dataLink(pid, fmt.Sprintf("http://127.0.0.1:9/p%d/%d", i, j), "")
				var out map[string]any
				s.must(s.admin().Do(context.Background(), "PATCH", "/v1/datalinks/"+link,
					map[string]any{"url": fmt.Sprintf("http://127.0.0.1:9/p%d/%d/moved", i, j)}, &out, nil))
			}
		})
	}
	wg.Wait()
	out, ok := auditVerify(t, db)
	want := 1 + 2*len(servers)*perServer // the partner, then a create and an update per link
	if !ok || !strings.Contains(out, fmt.Sprintf("OK: %d entries verified", want)) {
		t.Fatalf("audit verify after concurrent changes:\n%s", out)
	}
	var page struct {
		Data []struct {
			Seq     int64           `json:"seq"`
			Action  string          `json:"action"`
			Details json.RawMessage `json:"details"`
		} `json:"data"`
	}
	first.must(first.admin().Do(context.Background(), "GET", "/v1/audit?action=datalink.update&limit=500", nil, &page, nil))
	if len(page.Data) != len(servers)*perServer || !strings.Contains(string(page.Data[0].Details), `"old":"http://127.0.0.1:9/p`) {
		t.Fatalf("datalink.update entries: %d, first %s", len(page.Data), page.Data[0].Details)
	}

	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// An attacker points an entry at another URL.
	if _, err := conn.Exec(t.Context(), `UPDATE audit_log SET details = replace(details, '127.0.0.1:9/', '127.0.0.1:8/') WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	if out, ok := auditVerify(t, db); ok || !strings.Contains(out, "audit entry 7:") {
		t.Fatalf("audit verify after an entry was edited:\n%s", out)
	}
	var verdict struct {
		OK  bool  `json:"ok"`
		Seq int64 `json:"seq"`
	}
	first.must(first.admin().Do(context.Background(), "GET", "/v1/audit/verify", nil, &verdict, nil))
	if verdict.OK || verdict.Seq != 7 {
		t.Errorf("GET /v1/audit/verify after an edit: %+v", verdict)
	}
	// … and removes another.
	if _, err := conn.Exec(t.Context(), `DELETE FROM audit_log WHERE seq <= 7 AND seq >= 3`); err != nil {
		t.Fatal(err)
	}
	if out, ok := auditVerify(t, db); ok || !strings.Contains(out, "audit entry 3: missing") {
		t.Fatalf("audit verify after entries were deleted:\n%s", out)
	}
}

// TestAuditVerifySQLite: on SQLite, `audit verify` and `audit export` read
// the file of a stopped labhooks; a row edited or deleted in it is named.
func TestAuditVerifySQLite(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "labhooks.db")
	s := startServer(t, db)
	pid, _ := s.partner("lab", "Central Lab")
	for i := range 3 {
		s.dataLink(pid, fmt.Sprintf("http://127.0.0.1:9/%d", i), "")
	}
	// A failed sign-in is recorded too, with the key's prefix only.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(s.url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(form)
	if csrf == nil {
		t.Fatalf("no CSRF token in the sign-in form:\n%s", form)
	}
	resp, err = browser.PostForm(s.url+"/signin", url.Values{"key": {"lhp_wrong-key-0123456789abcdef"}, "csrf": {string(csrf[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong key's sign-in: %s", resp.Status)
	}
	s.stop()

	if out, ok := auditVerify(t, db); !ok || !strings.Contains(out, "OK: 5 entries verified") {
		t.Fatalf("audit verify:\n%s", out)
	}
	exported, err := exec.Command(binary, "audit", "export", "--db", db).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(exported)), "\n")
	if len(lines) != 5 || !strings.Contains(lines[4], `"action":"session.signin_failed"`) || !strings.Contains(lines[4], `"keyPrefix":"lhp_wro"`) {
		t.Fatalf("audit export wrote %d lines:\n%s", len(lines), exported)
	}
	for i, l := range lines {
		var e struct {
			Seq    int64  `json:"seq"`
			Action string `json:"action"`
			Hash   string `json:"hash"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq != int64(i+1) || len(e.Hash) != 64 {
			t.Errorf("export line %d: %s (%v)", i+1, l, err)
		}
	}

	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_log SET source = '10.9.9.9' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if out, ok := auditVerify(t, db); ok || !strings.Contains(out, "audit entry 2: its content does not match its hash") {
		t.Fatalf("audit verify after an edit:\n%s", out)
	}
	if _, err := raw.Exec(`DELETE FROM audit_log WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit_log SET source = '127.0.0.1' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if out, ok := auditVerify(t, db); ok || !strings.Contains(out, "audit entry 5: missing") {
		t.Fatalf("audit verify after the newest entry was deleted:\n%s", out)
	}
}
