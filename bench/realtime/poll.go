package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// pollers are chat clients in a quiet room: each holds one poll (the
// demo's POST /a/message/updates, or half of them GET /a/message/poll)
// until a message arrives, then polls again.
type pollers struct {
	mu       sync.Mutex
	held     int
	answered int
	failed   []string
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startPollers(base string, n int) *pollers {
	p := &pollers{stop: make(chan struct{})}
	for i := range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.client(base, i%2 == 0)
		}()
	}
	return p
}

func (p *pollers) client(base string, post bool) {
	c := &http.Client{Timeout: 2 * time.Hour, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	for {
		p.add(&p.held, 1)
		var resp *http.Response
		var err error
		if post {
			resp, err = c.PostForm(base+"/a/message/updates", url.Values{"cursor": {"none"}})
		} else {
			resp, err = c.Get(base + "/a/message/poll?cursor=none")
		}
		p.add(&p.held, -1)
		if err != nil {
			p.fail(fmt.Sprintf("post %v: %v", post, err))
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "messages") {
			p.fail(fmt.Sprintf("post %v: %d %.80q", post, resp.StatusCode, body))
			return
		}
		p.add(&p.answered, 1)
		select {
		case <-p.stop:
			return
		default:
		}
	}
}

func (p *pollers) add(n *int, d int) { p.mu.Lock(); *n += d; p.mu.Unlock() }
func (p *pollers) fail(s string)     { p.mu.Lock(); p.failed = append(p.failed, s); p.mu.Unlock() }
func (p *pollers) counts() (held, answered, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held, p.answered, len(p.failed)
}

// say posts a message to each port directly (the room is per process),
// which answers every poll it holds.
func say(ports []int) error {
	for _, port := range ports {
		resp, err := http.PostForm(fmt.Sprintf("http://127.0.0.1:%d/a/message/new", port), url.Values{"body": {"hello"}})
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("port %d: post a message: %s", port, resp.Status)
		}
	}
	return nil
}
