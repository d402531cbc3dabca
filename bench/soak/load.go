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

// load keeps workers sending through nginx, each on its own keep-alive
// connection, alternating GET and POST (the built-in server answers POST
// with 405, an answer like any other: a 5xx or a connection error is a
// failure).
type load struct {
	sent     atomic.Int64
	mu       sync.Mutex
	failures []string
	done     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(url string, workers int) *load {
	l := &load{done: make(chan struct{})}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true},
		Timeout:   30 * time.Second,
	}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.done:
					return
				default:
				}
				l.one(client, url, (w+i)%2 == 1)
			}
		}()
	}
	return l
}

func (l *load) one(client *http.Client, url string, post bool) {
	method, want := http.MethodGet, http.StatusOK
	var body io.Reader
	if post {
		method, want, body = http.MethodPost, http.StatusMethodNotAllowed, strings.NewReader("name=soak")
	}
	req, _ := http.NewRequest(method, url, body)
	l.sent.Add(1)
	resp, err := client.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	if err != nil {
		l.mu.Lock()
		l.failures = append(l.failures, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), method, err))
		l.mu.Unlock()
	}
}

// stop ends the load and returns how many requests were sent and which failed.
func (l *load) stop() (int64, []string) {
	close(l.done)
	l.wg.Wait()
	return l.sent.Load(), l.failures
}
