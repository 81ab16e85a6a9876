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

func TestSubmitAnswersUntilClosed(t *testing.T) {
	type req struct {
		n    int
		done chan int
	}
	c := groupcommit.Start(4, func(g []req) {
		for _, r := range g {
			r.done <- r.n * 2
		}
	})
	r := req{21, make(chan int, 1)}
	if got, err := groupcommit.Submit(t.Context(), c, r, r.done); err != nil || got != 42 {
		t.Fatalf("Submit = %d, %v; want 42", got, err)
	}
	c.Close()
	c.Close() // twice is no error
	r = req{1, make(chan int, 1)}
	if _, err := groupcommit.Submit(t.Context(), c, r, r.done); err != groupcommit.ErrClosed {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
}
