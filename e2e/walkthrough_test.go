package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// walkthroughSection is the README section whose sh blocks the test runs.
const walkthroughSection = "## Five minutes with labhooks"

// walkthroughScript extracts the walkthrough from README.md: every block
// fenced ```sh in the section, in order, joined into one script. Other
// blocks (```text, ```js, …) are for reading only.
func walkthroughScript(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "\n"+walkthroughSection+"\n")
	if start < 0 {
		t.Fatalf("README.md has no %q section", walkthroughSection)
	}
	section := text[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	blocks := regexp.MustCompile("(?ms)^```sh\n(.*?)^```$").FindAllStringSubmatch(section, -1)
	if len(blocks) < 5 {
		t.Fatalf("the walkthrough has %d sh blocks; the test reads it wrongly", len(blocks))
	}
	var script strings.Builder
	for _, b := range blocks {
		script.WriteString(b[1])
		script.WriteString("\n")
	}
	return script.String()
}

// freeAddr reserves a free port on 127.0.0.1 and releases it for the
// walkthrough to take.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestReadmeWalkthrough runs the README's Five-minute walkthrough as it is
// written, in one bash shell with -e (any failing command fails the test),
// against the binary built for these tests (first on PATH, as `labhooks`),
// in a fresh temporary folder and HOME, with no LABHOOKS_ variable from
// outside. The only change to the text: 127.0.0.1:8080 and 127.0.0.1:3000
// become free ports, so the test runs beside anything else.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("slow (the walkthrough waits out a receiver restart): run without -short")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but curl is missing; the walkthrough uses it (apt-get install curl)")
		}
		t.Skip("needs curl, which the walkthrough uses (apt-get install curl; CI=true fails instead of skipping)")
	}
	script := walkthroughScript(t)
	for _, port := range []string{"127.0.0.1:8080", "127.0.0.1:3000"} {
		if !strings.Contains(script, port) {
			t.Fatalf("the walkthrough no longer uses %s: update this test", port)
		}
		script = strings.ReplaceAll(script, port, freeAddr(t))
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	work := filepath.Join(dir, "work")
	for _, d := range []string{home, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-u", "-c", script)
	cmd.Dir = work
	cmd.Env = []string{"HOME=" + home, "PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), "TMPDIR=" + dir, "NO_COLOR=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the script left running
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\nscript:\n%s\noutput:\n%s", err, script, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"OK  sampleUpdated  status 200", // datalinks test
		"webhook-id: test_",             // a test says it is one
		`"status":"received"`,           // listen stores nothing, and says so
		"accepted sampleReceived evt_",  // emit
		"retry of dlv_",                 // deliveries retry
		"connection refused",            // the receiver was down…
		"succeeded",                     // …and every delivery arrived
		"0 failed deliveries of dl_",    // replay
		"sampleReceived  dlv_",          // listen printed what arrived
		"verified · sample:",            // with the event's entity and number
		"\"sampleId\": 125",             // including the event emitted while it was down
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the walkthrough's output lacks %q", want)
		}
	}
	// Times are shown with their zone.
	if !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d`).MatchString(got) {
		t.Error("the walkthrough's output shows no time with its zone")
	}
	// Stopped cleanly, labhooks leaves its database and nothing else.
	if files, _ := filepath.Glob(filepath.Join(work, "*")); len(files) != 1 || filepath.Base(files[0]) != "labhooks.db" {
		t.Errorf("after the walkthrough the folder holds %v, want labhooks.db alone", files)
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
	if os.Getenv("LABHOOKS_WALKTHROUGH_LOG") != "" {
		t.Logf("output:\n%s", got)
	}
}
