// Package groupcommit gathers requests that arrive while a commit runs into
// one group, so that one transaction (and one fsync) serves them all. Both
// stores use it for CreateEvent.
package groupcommit

// Run takes requests until closed is closed: it waits for one, adds those
// already waiting up to max in all, and hands the group to commit, which
// must answer every request in it before returning.
func Run[T any](requests <-chan T, closed <-chan struct{}, max int, commit func(group []T)) {
	var group []T
	for {
		select {
		case r := <-requests:
			group = append(group[:0], r)
		case <-closed:
			return
		}
	more:
		for len(group) < max {
			select {
			case r := <-requests:
				group = append(group, r)
			default:
				break more
			}
		}
		commit(group)
	}
}
