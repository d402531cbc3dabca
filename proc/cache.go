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

var shared = NewCache(CacheInterval, func(pid int, fds bool) (Stats, error) {
	if fds {
		return Read(pid)
	}
	return ReadUsage(pid)
})

// ReadCached is Read through one cache shared by every caller in this
// process (`hellomgr status`, /probe, /metrics): a process read less than
// CacheInterval ago is not read again. Errors are not cached.
func ReadCached(pid int) (Stats, error) { return shared.Read(pid) }

// UsageCached is ReadUsage through the same cache: it takes any reading
// less than CacheInterval old, with or without the descriptor count, and
// otherwise reads without it (OpenFDs is then 0). `hellomgr status`,
// which shows no descriptor count, uses it.
func UsageCached(pid int) (Stats, error) { return shared.Usage(pid) }

// Cache keeps the last reading of each process for a fixed interval. It
// is safe for concurrent use. Callers that miss together share one read:
// the first reads, the others wait for what it read, so the kept reading
// is always the newest and a burst of callers costs one read per process.
//
// A pid that the kernel gives to a new process within the interval reads
// as the old one until the interval is over.
type Cache struct {
	ttl  time.Duration
	read func(pid int, fds bool) (Stats, error) // fds: count the open descriptors too
	now  func() time.Time                       // time.Now, or a fake clock in tests

	mu      sync.Mutex
	entries map[int]*entry
	swept   time.Time // when entries last lost its stale readings
}

// entry is one reading, or one in progress: done is closed once st and
// err are set, and they are not written after.
type entry struct {
	fds  bool // st counts the open descriptors
	done chan struct{}
	st   Stats
	err  error
	at   time.Time
}

// NewCache returns a cache that keeps what read returns for ttl.
func NewCache(ttl time.Duration, read func(pid int, fds bool) (Stats, error)) *Cache {
	return &Cache{ttl: ttl, read: read, now: time.Now, entries: map[int]*entry{}}
}

// Read returns the full reading of pid taken less than the interval ago,
// waits for one in progress, or reads it now. An error is returned to the
// callers that waited for it and not kept.
func (c *Cache) Read(pid int) (Stats, error) { return c.get(pid, true) }

// Usage is Read for a caller that does not need the descriptor count: a
// reading without it will do.
func (c *Cache) Usage(pid int) (Stats, error) { return c.get(pid, false) }

func (c *Cache) get(pid int, fds bool) (Stats, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[pid]
	if ok && !c.stale(e, now) && (e.fds || !fds) {
		c.mu.Unlock()
		<-e.done
		return e.st, e.err
	}
	e = &entry{fds: fds, done: make(chan struct{}), at: now}
	c.entries[pid] = e
	c.mu.Unlock()

	e.st, e.err = c.read(pid, fds)
	close(e.done)

	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil && c.entries[pid] == e {
		delete(c.entries, pid)
	}
	c.sweepLocked(now)
	return e.st, e.err
}

// stale says whether e is a finished reading from an interval ago or
// more; a reading in progress is never stale.
func (c *Cache) stale(e *entry, now time.Time) bool {
	select {
	case <-e.done:
		return now.Sub(e.at) >= c.ttl
	default:
		return false
	}
}

// sweepLocked drops stale readings, at most once an interval, so that
// the pids of processes gone long ago do not pile up.
func (c *Cache) sweepLocked(now time.Time) {
	if now.Sub(c.swept) < c.ttl {
		return
	}
	c.swept = now
	for pid, e := range c.entries {
		if c.stale(e, now) {
			delete(c.entries, pid)
		}
	}
}
