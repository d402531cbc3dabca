package instance

import (
	"os"
	"sync"
)

// sharers counts, for each listening socket handed to instances, the
// processes started with it that have not exited yet: the processes of one
// port, the old and the new one side by side during a swap.
var sharers = &socketSharers{n: map[*os.File]int{}}

type socketSharers struct {
	mu sync.Mutex
	n  map[*os.File]int
}

func (s *socketSharers) add(f *os.File, d int) {
	if f == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[f] += d; s.n[f] <= 0 {
		delete(s.n, f)
	}
}

// count returns how many processes run on f; 0 for nil (no handoff: each
// process binds the port itself, and a swap never overlaps).
func (s *socketSharers) count(f *os.File) int {
	if f == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[f]
}
