package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// failure is one request that got no answer, or a 5xx.
type failure struct {
	target       string // the manager's name
	method       string
	began, ended time.Time
	err          string
}

// load keeps workers sending GET and POST to the nginx in front of each
// manager, each worker on one keep-alive connection of its own, at most
// one request every pause: bounded in rate, and in time by stop. A POST
// to the built-in server is answered 405 (it takes none), an answer like
// any other; a connection error or a 5xx is a failure.
type load struct {
	sent     atomic.Int64
	mu       sync.Mutex
	failures []failure
	done     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(ms []*manager, perTarget int, pause time.Duration) *load {
	l := &load{done: make(chan struct{})}
	for _, m := range ms {
		for w := range perTarget {
			client := &http.Client{
				Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
				Timeout:   20 * time.Second,
			}
			l.wg.Add(1)
			go l.worker(client, m.name, m.nginx.URL(), w%2 == 1, pause)
		}
	}
	return l
}

func (l *load) worker(client *http.Client, target, url string, post bool, pause time.Duration) {
	defer l.wg.Done()
	defer client.CloseIdleConnections()
	tick := time.NewTicker(pause)
	defer tick.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
		}
		l.one(client, target, url, post)
	}
}

func (l *load) one(client *http.Client, target, url string, post bool) {
	method := http.MethodGet
	var body io.Reader
	if post {
		method, body = http.MethodPost, strings.NewReader("name=chaos")
	}
	req, _ := http.NewRequest(method, url, body)
	began := time.Now()
	l.sent.Add(1)
	resp, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode >= 500 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	if err != nil {
		l.mu.Lock()
		l.failures = append(l.failures, failure{target, method, began, time.Now(), err.Error()})
		l.mu.Unlock()
	}
}

// stop ends the load and returns how many requests were sent and which
// failed.
func (l *load) stop() (int64, []failure) {
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent.Load(), l.failures
}
