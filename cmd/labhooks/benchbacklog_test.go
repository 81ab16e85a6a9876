package main

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/labhooks/labhooks/internal/loadgen"
)

// asCommand, set in a child's environment, makes this test binary run as
// labhooks (main) instead of as tests: bench's backlog scenario starts
// `labhooks serve` from its own executable.
const asCommand = "LABHOOKSTEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestBenchBacklog runs the backlog scenario small: serve, a process of its
// own, finds every delivery the seeding stored pending, delivers each once,
// and reports its own memory, not the bench process's.
func TestBenchBacklog(t *testing.T) {
	t.Setenv(asCommand, "1")
	backlogHold = 500 * time.Millisecond
	t.Cleanup(func() { backlogHold = 10 * time.Second })
	code, stdout, stderr := cli(t, "bench", "--scenario", "backlog", "--events", "300", "--links", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	s := rep.Serve
	switch {
	case s == nil:
		t.Fatalf("no serve figures: %s", stdout)
	case rep.Events != 300 || rep.Deliveries != 300 || rep.Duplicates != 0:
		t.Errorf("events %d, deliveries %d, duplicates %d; want 300, 300, 0", rep.Events, rep.Deliveries, rep.Duplicates)
	case s.PendingAtStart != 300 || s.PendingAtEnd != 0:
		t.Errorf("pending %d at the start, %d at the end; want 300, 0", s.PendingAtStart, s.PendingAtEnd)
	case s.PID == os.Getpid():
		t.Error("measured the bench process, not serve's")
	case s.HoldPeakRssBytes <= 0 || s.PeakRssBytes < s.HoldPeakRssBytes || s.DrainMaxRssBytes <= 0:
		// (Not DrainMaxRssBytes ≤ PeakRssBytes: Linux updates VmHWM lazily,
		// and a VmRSS sample can exceed it by a few pages.)
		t.Errorf("memory figures out of order: %+v", *s)
	case s.DrainSeconds <= 0 || s.HoldGoSysBytes <= 0:
		t.Errorf("drain %.3f s, Go runtime %d bytes", s.DrainSeconds, s.HoldGoSysBytes)
	}
}

func TestBenchBacklogRefusesCPUProfile(t *testing.T) {
	if code, _, stderr := cli(t, "bench", "--scenario", "backlog", "--cpuprofile", t.TempDir()+"/p"); code != 2 {
		t.Errorf("exit %d, want 2: %s", code, stderr)
	}
}
