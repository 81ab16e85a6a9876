package main

import (
	"testing"
	"time"
)

func TestLongDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "6y": 6 * 365 * 24 * time.Hour, "720h": 720 * time.Hour, "90m": 90 * time.Minute,
	} {
		var d longDuration
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1.5d", "30 days", "9999999999y", "-5h"} {
		var d longDuration
		if err := d.Set(in); err == nil {
			t.Errorf("Set(%q) accepted it as %v", in, time.Duration(d))
		}
	}
	d := longDuration(2190 * 24 * time.Hour)
	if d.String() != "2190d" {
		t.Errorf("String = %q, want 2190d", d.String())
	}
}
