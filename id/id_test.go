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
