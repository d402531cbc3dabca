package reqlog

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Generation says which code a port runs, as far as the manager's
// rollouts go: its requests are counted apart for each, so that a canary
// is judged on its own answers and a dashboard shows them apart.
type Generation uint8

const (
	Current Generation = iota // no canary watch on this port
	Old                       // during a canary watch: a port still on the old code
	Canary                    // during a canary watch: a canary
	numGenerations
)

func (g Generation) String() string {
	return [...]string{"current", "old", "canary"}[g]
}

// Bounds are the upper bounds, in seconds, of the buckets of
// hellomgr_http_request_duration_seconds. nginx times an attempt to the
// millisecond, so the first bucket is 1 ms.
var Bounds = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Methods are the values of the method label: promhttp's known methods in
// lower case, and "unknown" for any other, as the built-in server does, so
// that a client inventing methods cannot grow the series.
var Methods = [...]string{"get", "head", "post", "put", "delete", "connect", "options", "notify", "trace", "patch", "unknown"}

func methodIndex(m string) int {
	if i := slices.Index(Methods[:len(Methods)-1], strings.ToLower(m)); i >= 0 {
		return i
	}
	return len(Methods) - 1
}

// Tally is what a port (or several, added up) answered: requests by
// status class and a histogram of response times.
type Tally struct {
	Requests uint64
	Errors   uint64                  // 5xx, 502/504 for attempts without an answer included
	Buckets  [len(Bounds) + 1]uint64 // per bucket, not cumulative; the last is +Inf
	Timed    uint64                  // attempts with a response time
	Seconds  float64                 // their sum
	Last     time.Time               // when the last attempt was counted; zero before any
}

// Add adds o to t.
func (t *Tally) Add(o Tally) {
	t.Requests += o.Requests
	t.Errors += o.Errors
	for i := range t.Buckets {
		t.Buckets[i] += o.Buckets[i]
	}
	t.Timed += o.Timed
	t.Seconds += o.Seconds
	if o.Last.After(t.Last) {
		t.Last = o.Last
	}
}

// Since is what t counted after earlier, a reading of the same ports.
func (t Tally) Since(earlier Tally) Tally {
	d := Tally{Requests: t.Requests - earlier.Requests, Errors: t.Errors - earlier.Errors,
		Timed: t.Timed - earlier.Timed, Seconds: t.Seconds - earlier.Seconds, Last: t.Last}
	for i := range d.Buckets {
		d.Buckets[i] = t.Buckets[i] - earlier.Buckets[i]
	}
	return d
}

// ErrorShare is the share of 5xx answers, 0 without requests.
func (t Tally) ErrorShare() float64 {
	if t.Requests == 0 {
		return 0
	}
	return float64(t.Errors) / float64(t.Requests)
}

// Quantile estimates the q-quantile of the response times the way
// Prometheus' histogram_quantile does: linear within the bucket. It is 0
// without any timed attempt.
func (t Tally) Quantile(q float64) float64 {
	if t.Timed == 0 {
		return 0
	}
	rank := q * float64(t.Timed)
	var seen uint64
	for i, n := range t.Buckets {
		if float64(seen+n) < rank || n == 0 {
			seen += n
			continue
		}
		if i == len(Bounds) {
			return Bounds[len(Bounds)-1] // above the last bound, as Prometheus says
		}
		lo := 0.0
		if i > 0 {
			lo = Bounds[i-1]
		}
		return lo + (Bounds[i]-lo)*(rank-float64(seen))/float64(n)
	}
	return Bounds[len(Bounds)-1]
}

// series is one port's counts in one generation.
type series struct {
	codes map[codeKey]uint64 // requests by method and status
	t     Tally
}

type codeKey struct {
	method uint8 // index in Methods
	code   uint16
}

// port is one port's counts.
type port struct {
	gen    Generation
	series [numGenerations]*series // nil until the generation counts one
}

// Counts keeps the attempts nginx logged, per port and generation, and
// what became of each datagram. It is safe for concurrent use: one
// Listener adds, scrapes and canary watches read. The zero value is
// not usable: call NewCounts.
type Counts struct {
	mu    sync.Mutex
	ports map[int]*port
	stats Stats
	conns [connSlots]connSeen // the last rank seen per connection, for Lost
	now   func() time.Time
}

// Stats says what became of the datagrams read.
type Stats struct {
	Counted    uint64 // requests counted, on one port or more
	NotProxied uint64 // requests nginx answered itself ($upstream_addr "-")
	Unparsable uint64 // datagrams that are no hellomgr request line
	// Lost counts requests nginx numbered on a connection whose line
	// never came: a datagram nginx could not send (the socket's queue
	// was full) or a request in a location without the access_log line.
	// The last requests of a connection, if lost, are not seen.
	Lost uint64
	// NoServer counts attempts nginx made on no server (no live upstream),
	// and on an upstream that has no port.
	NoServer uint64
}

// connSlots is how many connections Lost follows at once: connection
// numbers are consecutive, so a slot is reused only after that many
// newer connections.
const connSlots = 1 << 14

type connSeen struct{ conn, rank uint64 }

// NewCounts returns empty counts.
func NewCounts() *Counts {
	return &Counts{ports: map[int]*port{}, now: time.Now}
}

// Add counts one request line.
func (c *Counts) Add(req *Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(req, c.now())
}

// add counts one request line at now, under c.mu: a Listener holds it
// while it reads a batch, so that a datagram costs no lock and no clock
// read of its own.
func (c *Counts) add(req *Request, now time.Time) {
	c.noteRank(req.Conn, req.Rank)
	if !req.Proxied {
		c.stats.NotProxied++
		return
	}
	c.stats.Counted++
	for _, a := range req.Attempts {
		if a.Port == 0 {
			c.stats.NoServer++
			continue
		}
		c.series(a.Port).add(a, now)
	}
}

// noteRank counts the requests skipped on conn since the last one seen.
func (c *Counts) noteRank(conn, rank uint64) {
	s := &c.conns[conn%connSlots]
	if s.conn == conn && rank > s.rank+1 {
		c.stats.Lost += rank - s.rank - 1
	}
	if s.conn != conn || rank > s.rank {
		*s = connSeen{conn, rank}
	}
}

// Unparsable counts a datagram that could not be read.
func (c *Counts) Unparsable() {
	c.mu.Lock()
	c.stats.Unparsable++
	c.mu.Unlock()
}

// lock takes c.mu and returns the time to count at.
func (c *Counts) lock() time.Time {
	c.mu.Lock()
	return c.now()
}

func (c *Counts) series(p int) *series {
	pc := c.ports[p]
	if pc == nil {
		pc = &port{}
		c.ports[p] = pc
	}
	s := pc.series[pc.gen]
	if s == nil {
		s = &series{codes: map[codeKey]uint64{}}
		pc.series[pc.gen] = s
	}
	return s
}

func (s *series) add(a Attempt, now time.Time) {
	s.codes[codeKey{uint8(methodIndex(a.Method)), uint16(a.Status)}]++
	s.t.Requests++
	if a.Status >= 500 && a.Status <= 599 {
		s.t.Errors++
	}
	s.t.Last = now
	if a.Seconds >= 0 {
		i, _ := slices.BinarySearch(Bounds[:], a.Seconds)
		s.t.Buckets[i]++
		s.t.Timed++
		s.t.Seconds += a.Seconds
	}
}

// SetGeneration says which generation port's next requests count in.
func (c *Counts) SetGeneration(p int, g Generation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ports[p] == nil {
		c.ports[p] = &port{}
	}
	c.ports[p].gen = g
}

// Tally returns what port answered so far, every generation added up.
func (c *Counts) Tally(p int) Tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t Tally
	if pc := c.ports[p]; pc != nil {
		for _, s := range pc.series {
			if s != nil {
				t.Add(s.t)
			}
		}
	}
	return t
}

// Stats returns what became of the datagrams so far.
func (c *Counts) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
