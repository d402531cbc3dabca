package hello

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The buckets of http_request_duration_seconds: firstBound, doubling,
// numBounds of them (100µs to about 3.3s). A hello answer takes well
// under a millisecond, so the low buckets matter most.
const (
	firstBound = 100 * time.Microsecond
	numBounds  = 16
)

// bounds are the buckets' upper bounds in seconds, as the exposition
// gives them.
var bounds = prometheus.ExponentialBuckets(firstBound.Seconds(), 2, numBounds)

// series counts the requests of one (code, method) pair and how long
// each took: both http_requests_total and http_request_duration_seconds
// of that pair. The request count is the sum of the buckets, so the
// counter and the histogram's count never disagree.
type series struct {
	labels  [2]string    // code, method
	created atomic.Int64 // Unix ns of the first request counted; 0 until then
	sum     atomic.Uint64
	// buckets counts the requests by the first bound their duration is
	// at most; the last one, those over every bound (+Inf).
	buckets [numBounds + 1]atomic.Uint64
}

// observe counts one request that took d.
func (s *series) observe(d time.Duration) {
	if s.created.Load() == 0 {
		s.created.CompareAndSwap(0, time.Now().UnixNano())
	}
	s.sum.Add(uint64(max(d, 0)))
	s.buckets[bucketOf(d)].Add(1)
}

// bucketOf returns the index in series.buckets of the first bucket whose
// bound d is at most, with integer arithmetic alone: d is at most
// firstBound<<i exactly when (d-1)/firstBound < 1<<i.
func bucketOf(d time.Duration) int {
	if d <= firstBound {
		return 0
	}
	return min(bits.Len64(uint64((d-1)/firstBound)), numBounds)
}

// collect sends the counter and the histogram of s, unless s has counted
// nothing yet. The sum is read apart from the buckets, so a request
// counted during the scrape may be in one and not yet in the other.
func (s *series) collect(ch chan<- prometheus.Metric, requests, duration *prometheus.Desc) {
	created := s.created.Load()
	if created == 0 {
		return
	}
	ct := time.Unix(0, created)
	cumulative := make(map[float64]uint64, numBounds)
	var count uint64
	for i, bound := range bounds {
		count += s.buckets[i].Load()
		cumulative[bound] = count
	}
	count += s.buckets[numBounds].Load()
	sum := time.Duration(s.sum.Load()).Seconds()
	ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(requests, prometheus.CounterValue, float64(count), ct, s.labels[:]...)
	ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(duration, count, sum, cumulative, ct, s.labels[:]...)
}
