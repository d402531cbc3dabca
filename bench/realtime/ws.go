package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/internal/wsclient"
)

// echoers are websocket clients sending numbered messages through nginx
// and waiting for each echo; closed, a client reconnects and resends the
// number not echoed, as a chat client does.
type echoers struct {
	mu        sync.Mutex
	upgrades  int // failed upgrades
	drops     int // ended without a close frame (1006)
	lost      int // pending when its client gave up
	sent, got int
	resent    int
	closes    map[int]int
	closedAt  map[string][]time.Time // by the pid that closed
	errs      []string
	stop      chan struct{}
	wg        sync.WaitGroup
}

func startEchoers(url string, n int, interval time.Duration) *echoers {
	e := &echoers{closes: map[int]int{}, closedAt: map[string][]time.Time{}, stop: make(chan struct{})}
	for i := range n {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			time.Sleep(time.Duration(i) * 2 * time.Millisecond) // not all at once
			e.client(url, i, interval)
		}()
	}
	return e
}

func (e *echoers) client(url string, id int, interval time.Duration) {
	next, pending := 1, false
	for {
		ws, err := wsclient.Dial(url, 20*time.Second)
		if err != nil {
			e.do(func() {
				e.upgrades++
				e.errs = append(e.errs, fmt.Sprintf("client %d: %v", id, err))
				if pending {
					e.lost++
				}
			})
			return
		}
		if pending {
			e.do(func() { e.resent++ })
		}
		pid := ""
		for {
			select {
			case <-e.stop:
				ws.Close(1000)
				return
			case <-time.After(interval):
			}
			msg := strconv.Itoa(next)
			if err := ws.Send(msg); err != nil {
				e.ended(id, pid, err)
				break
			}
			e.do(func() { e.sent++ })
			pending = true
			text, err := ws.Read(time.Now().Add(30 * time.Second))
			if err != nil {
				e.ended(id, pid, err)
				break
			}
			p, m, _ := strings.Cut(text, " ")
			if m != msg {
				e.do(func() { e.errs = append(e.errs, fmt.Sprintf("client %d: sent %s, echoed %q", id, msg, text)) })
			}
			pid, next, pending = p, next+1, false
			e.do(func() { e.got++ })
		}
	}
}

func (e *echoers) ended(id int, pid string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ce, ok := err.(*wsclient.CloseError)
	if !ok || ce.Code == wsclient.Abnormal {
		e.drops++
		e.errs = append(e.errs, fmt.Sprintf("client %d (pid %s): %v", id, pid, err))
		return
	}
	e.closes[ce.Code]++
	e.closedAt[pid] = append(e.closedAt[pid], time.Now())
}

func (e *echoers) do(f func()) { e.mu.Lock(); f(); e.mu.Unlock() }

func (e *echoers) echoed() int { e.mu.Lock(); defer e.mu.Unlock(); return e.got }

func (e *echoers) finish() { close(e.stop); e.wg.Wait() }

// spreads is, per pid that closed at least min websockets, the time from
// its first close to its last.
func (e *echoers) spreads(least int) []time.Duration {
	var out []time.Duration
	for pid, ts := range e.closedAt {
		if pid == "" || len(ts) < least {
			continue
		}
		out = append(out, slices.MaxFunc(ts, time.Time.Compare).Sub(slices.MinFunc(ts, time.Time.Compare)))
	}
	slices.Sort(out)
	return out
}
