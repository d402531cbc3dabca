package proc

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeProcs counts reads of each pid and answers with the count, so a
// test sees whether a value came from the cache.
type fakeProcs struct {
	mu    sync.Mutex
	reads map[int]int
}

func (f *fakeProcs) read(pid int, fds bool) (Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pid == 0 {
		return Stats{}, os.ErrNotExist
	}
	f.reads[pid]++
	st := Stats{Threads: f.reads[pid]}
	if fds {
		st.OpenFDs = f.reads[pid]
	}
	return st, nil
}

func newFakeCache(ttl time.Duration) (*Cache, *fakeProcs, *time.Time) {
	f := &fakeProcs{reads: map[int]int{}}
	c := NewCache(ttl, f.read)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	return c, f, &now
}

func TestCacheSharesAReadingWithinTheInterval(t *testing.T) {
	c, f, now := newFakeCache(time.Second)
	var wg sync.WaitGroup
	for range 8 { // several callers, as status, /probe and /metrics are
		wg.Go(func() {
			for range 10 {
				if _, err := c.Read(42); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	*now = now.Add(999 * time.Millisecond)
	st, _ := c.Read(42)
	if f.reads[42] != 1 || st.OpenFDs != 1 {
		t.Errorf("pid 42 at 999ms after 80 calls by 8 callers: %d reads, got reading %d; want 1 and 1", f.reads[42], st.OpenFDs)
	}
}

func TestCallersThatMissTogetherShareOneRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var reads atomic.Int32
		c := NewCache(time.Second, func(pid int, _ bool) (Stats, error) {
			n := reads.Add(1)
			<-release // a slow /proc read, still going when the others call
			return Stats{OpenFDs: int(n)}, nil
		})
		got := make(chan int, 4)
		for range 4 {
			go func() {
				st, _ := c.Read(42)
				got <- st.OpenFDs
			}()
		}
		synctest.Wait() // one caller reads, three wait for it
		close(release)
		for range 4 {
			if fds := <-got; fds != 1 {
				t.Errorf("a caller got reading %d, want the one shared reading 1", fds)
			}
		}
		if n := reads.Load(); n != 1 {
			t.Errorf("4 callers that missed together read %d times, want 1", n)
		}
	})
}

// A status takes any fresh reading, but a scrape, which shows the
// descriptor count, does not take one made without it.
func TestUsageTakesAFullReadingButReadDoesNotTakeAUsage(t *testing.T) {
	c, f, _ := newFakeCache(time.Second)
	if st, _ := c.Usage(42); st.Threads != 1 || st.OpenFDs != 0 {
		t.Errorf("first Usage: reading %d with %d fds, want reading 1 without fds", st.Threads, st.OpenFDs)
	}
	if st, _ := c.Read(42); st.Threads != 2 || st.OpenFDs != 2 {
		t.Errorf("Read after a Usage: reading %d with %d fds, want a new reading 2 with its fds", st.Threads, st.OpenFDs)
	}
	if st, _ := c.Usage(42); st.Threads != 2 || st.OpenFDs != 2 || f.reads[42] != 2 {
		t.Errorf("Usage after a Read: reading %d with %d fds, %d reads; want the full reading 2, 2 reads", st.Threads, st.OpenFDs, f.reads[42])
	}
}

func TestCacheReadsAgainAfterTheInterval(t *testing.T) {
	c, f, now := newFakeCache(time.Second)
	c.Read(42)
	c.Read(7)
	*now = now.Add(time.Second)
	st, _ := c.Read(42)
	if f.reads[42] != 2 || st.OpenFDs != 2 {
		t.Errorf("pid 42 after the interval: %d reads, reading %d; want 2 and 2", f.reads[42], st.OpenFDs)
	}
	// The read at 1s swept pid 7's stale reading away.
	c.mu.Lock()
	_, kept := c.entries[7]
	c.mu.Unlock()
	if kept {
		t.Errorf("pid 7's reading from 1s ago is still kept")
	}
}

func TestCacheDoesNotKeepErrors(t *testing.T) {
	c, _, _ := newFakeCache(time.Second)
	for range 2 {
		if _, err := c.Read(0); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("pid 0: got %v, want not-exist", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) != 0 {
		t.Errorf("entries after two failed reads: %v, want none", c.entries)
	}
}

func TestReadCachedMatchesRead(t *testing.T) {
	direct, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cached, err := ReadCached(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cached.StartTime != direct.StartTime || cached.Threads < 1 || cached.OpenFDs < 3 {
		t.Errorf("ReadCached(self) = %+v; Read(self) = %+v", cached, direct)
	}
}
