package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// result is one request of a load run.
type result struct {
	method string
	status int
	body   string
	err    error
	start  time.Time
}

// loadRun sends GET and POST requests through one URL from several
// workers, each on its own keep-alive connection, until stopped or until
// max requests have been sent.
type loadRun struct {
	mu      sync.Mutex
	results []result
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Each worker keeps its connection to nginx alive unless keepAlive is false
// (then every request is a new client, as a crowd of browsers would be).
// The workers alternate between methods (GET and POST when none is given).
func startLoad(url string, workers, max int, keepAlive bool, methods ...string) *loadRun {
	if len(methods) == 0 {
		methods = []string{http.MethodGet, http.MethodPost}
	}
	l := &loadRun{stop: make(chan struct{})}
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true, DisableKeepAlives: !keepAlive}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	per := max / workers
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := range per {
				select {
				case <-l.stop:
					return
				default:
				}
				l.record(send(client, methods[(w+i)%len(methods)], url))
			}
		}()
	}
	return l
}

func send(client *http.Client, method, url string) result {
	r := result{method: method, start: time.Now()}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("name=hellomgr")
	}
	req, _ := http.NewRequest(method, url, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r.status, r.body, r.err = resp.StatusCode, string(b), err
	return r
}

func (l *loadRun) record(r result) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

func (l *loadRun) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}

// finish stops the workers and returns every result.
func (l *loadRun) finish() []result {
	close(l.stop)
	l.wg.Wait()
	return l.results
}

// answer is what the app must answer to one method after the reload.
type answer struct {
	status int
	body   string // checked when not empty
}

// checkLoad asserts what a client of nginx must see across a reload: every
// request answered by the app (no 5xx, no connection error), and every
// request sent after the reload answered by the new code. Each method in
// want must have been served.
func checkLoad(t *testing.T, results []result, reloaded time.Time, want map[string]answer) {
	t.Helper()
	var served, failed, after int
	byMethod := map[string]int{}
	var problems []string
	for _, r := range results {
		switch {
		case r.err != nil:
			failed++
			problems = append(problems, fmt.Sprintf("%s: %v", r.method, r.err))
		case r.status != want[r.method].status:
			failed++
			problems = append(problems, fmt.Sprintf("%s: status %d %q", r.method, r.status, r.body))
		default:
			served++
			byMethod[r.method]++
			if r.start.After(reloaded) {
				after++
				if w := want[r.method].body; w != "" && r.body != w {
					problems = append(problems, fmt.Sprintf("%s after the reload: got %q, want %q", r.method, r.body, w))
				}
			}
		}
	}
	t.Logf("%d requests: %d served (%d GET, %d POST), %d failed, %d sent after the reload", len(results), served, byMethod["GET"], byMethod["POST"], failed, after)
	if failed > 0 || served != len(results) {
		t.Errorf("%d of %d requests failed, want 0", failed, len(results))
	}
	for method := range want {
		if byMethod[method] == 0 || after == 0 {
			t.Errorf("load too thin to judge: %v served, %d after the reload", byMethod, after)
			break
		}
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
		}
		t.Errorf("problems:\n%s", strings.Join(problems, "\n"))
	}
}
