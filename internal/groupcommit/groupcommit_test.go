package groupcommit_test

import (
	"sync"
	"testing"

	"github.com/labhooks/labhooks/internal/groupcommit"
)

func TestRunGroupsWhatIsWaitingAndStopsWhenClosed(t *testing.T) {
	requests, closed := make(chan int, 10), make(chan struct{})
	for i := range 7 {
		requests <- i
	}
	var mu sync.Mutex
	var groups [][]int
	done := make(chan struct{})
	go func() {
		groupcommit.Run(requests, closed, 3, func(g []int) {
			mu.Lock()
			groups = append(groups, append([]int(nil), g...))
			n := 0
			for _, x := range groups {
				n += len(x)
			}
			mu.Unlock()
			if n == 7 {
				close(closed)
			}
		})
		close(done)
	}()
	<-done
	want := [][]int{{0, 1, 2}, {3, 4, 5}, {6}}
	if len(groups) != len(want) {
		t.Fatalf("groups %v, want %v", groups, want)
	}
	for i := range want {
		for j := range want[i] {
			if groups[i][j] != want[i][j] {
				t.Fatalf("groups %v, want %v", groups, want)
			}
		}
	}
}
