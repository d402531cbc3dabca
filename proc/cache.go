package proc

import (
	"sync"
	"time"
)

// CacheInterval is how long the shared cache of ReadCached keeps what it
// read of a process. What /proc/PID/stat says changes in steps of a clock
// tick (10 ms) for CPU time, and a scrape, a `hellomgr status` or a look
// at a dashboard a second apart cannot tell the difference: within a
// second, every caller is served the same reading.
const CacheInterval = time.Second

var shared = NewCache(CacheInterval, Read)

// ReadCached is Read through one cache shared by every caller in this
// process (`hellomgr status`, /probe, /metrics): a process read less than
// CacheInterval ago is not read again. Errors are not cached.
func ReadCached(pid int) (Stats, error) { return shared.Read(pid) }

// Cache keeps the last reading of each process for a fixed interval. It
// is safe for concurrent use; callers that miss together may each read,
// and the last to finish is kept.
//
// A pid that the kernel gives to a new process within the interval reads
// as the old one until the interval is over.
type Cache struct {
	ttl  time.Duration
	read func(pid int) (Stats, error)
	now  func() time.Time // time.Now, or a fake clock in tests

	mu      sync.Mutex
	entries map[int]entry
	swept   time.Time // when entries last lost its stale readings
}

type entry struct {
	st Stats
	at time.Time
}

// NewCache returns a cache that keeps what read returns for ttl.
func NewCache(ttl time.Duration, read func(pid int) (Stats, error)) *Cache {
	return &Cache{ttl: ttl, read: read, now: time.Now, entries: map[int]entry{}}
}

// Read returns the reading of pid taken less than the interval ago, or
// reads it now. An error is returned as it comes and not kept.
func (c *Cache) Read(pid int) (Stats, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[pid]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.st, nil
	}
	st, err := c.read(pid)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.entries, pid)
		return st, err
	}
	c.entries[pid] = entry{st: st, at: now}
	c.sweepLocked(now)
	return st, nil
}

// sweepLocked drops stale readings, at most once an interval, so that
// the pids of processes gone long ago do not pile up.
func (c *Cache) sweepLocked(now time.Time) {
	if now.Sub(c.swept) < c.ttl {
		return
	}
	c.swept = now
	for pid, e := range c.entries {
		if now.Sub(e.at) >= c.ttl {
			delete(c.entries, pid)
		}
	}
}
