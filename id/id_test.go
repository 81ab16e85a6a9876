package id

import (
	"testing"
	"time"
)

func TestFloorSortsBeforeEveryLaterID(t *testing.T) {
	at := time.Now()
	floor := Floor(Delivery, at)
	for range 1000 {
		if made := New(Delivery); made < floor {
			t.Fatalf("New made %s after %v, before its floor %s", made, at, floor)
		}
	}
	if later := Floor(Delivery, at.Add(time.Millisecond)); later <= floor {
		t.Fatalf("Floor a millisecond later %s is not after %s", later, floor)
	}
	if Floor(Delivery, at.Add(-time.Hour)) >= New(Delivery) {
		t.Fatal("an hour's floor sorts after a fresh id")
	}
	if f := Floor(Delivery, time.Time{}); f != "dlv_00000000000000000000000000" {
		t.Fatalf("Floor of the zero time = %s", f)
	}
}

func TestValid(t *testing.T) {
	fresh := New(Delivery)
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{fresh, true},
		{Floor(Delivery, time.Now()), true},
		{"dlv_01JDZ3M5X8Q2V9K7T4R6W1N0PA", true},
		{New(Event), false},
		{"dlv_", false},
		{"dlv_01JDZ3M5X8Q2V9K7T4R6W1N0P", false},   // one short
		{"dlv_01JDZ3M5X8Q2V9K7T4R6W1N0PAA", false}, // one long
		{"dlv_01JDZ3M5X8Q2V9K7T4R6W1N0P!", false},
		{"dlv_81JDZ3M5X8Q2V9K7T4R6W1N0PA", false}, // overflows 128 bits
		{"' OR 1=1 --", false},
		{"", false},
	} {
		if got := Valid(Delivery, tt.s); got != tt.want {
			t.Errorf("Valid(dlv, %q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
