package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
	"github.com/hellomgr/hellomgr/internal/wsclient"
)

// tornadoPackage is the folder to put on PYTHONPATH for an app that
// imports hellomgr_tornado from the repository.
func tornadoPackage(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "python", "hellomgr_tornado"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// realtimeApp is a deployment of one of e2e/testdata/realtime's apps on 4
// ports through the integration, behind exactly what `hellomgr nginx`
// prints, running and with nginx started.
type realtimeApp struct {
	*deployment
	ports []int
	ngx   *nginxServer
}

// startRealtime deploys app (chat.py or echo.py) with --loop=loop, extra
// config appended, and starts nginx with the printed config.
func startRealtime(t *testing.T, app, loop, extra string) *realtimeApp {
	t.Helper()
	needTornado(t)
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	src, err := filepath.Abs(filepath.Join("testdata", "realtime", app))
	if err != nil {
		t.Fatal(err)
	}
	d.write("config.yaml", fmt.Sprintf(`ports: %s
command: [/usr/bin/python3, %s, "--port={port}", "--loop=%s"]
env:
  PYTHONPATH: %s
reload:
  handoff: socket
ready:
  notify: true
stop:
  timeout: 6s
  spread: 1s
metrics:
  address: 127.0.0.1:0
%s`, portsYAML(ports), strconv.Quote(src), loop, tornadoPackage(t), extra))
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	return &realtimeApp{deployment: d, ports: ports, ngx: startNginx(t, httpPart, location)}
}

func (a *realtimeApp) url(scheme, path string) string {
	return fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, a.ngx.Port, path)
}

// reload reloads the config and returns how long it took.
func (a *realtimeApp) reload() time.Duration {
	a.t.Helper()
	before := a.pids()
	began := time.Now()
	out := a.mustRun("reload")
	took := time.Since(began)
	a.t.Logf("reload in %s:\n%s", took.Round(time.Millisecond), out)
	checkReplaced(a.t, before, a.pids())
	return took
}

// echoClients are websockets sending numbered messages through nginx and
// reconnecting when closed, resending what was not echoed; what a user
// of a chat sees is in their figures.
type echoClients struct {
	mu        sync.Mutex
	upgrades  int         // failed upgrades
	drops     int         // ended without a close frame
	closes    map[int]int // close frames received, by code
	closedAt  map[string][]time.Time
	sent, got int
	resent    int // sent again on a new websocket, not echoed on the old one
	lost      int // never echoed: pending when its client gave up
	stop      chan struct{}
	wg        sync.WaitGroup
	errs      []string
}

// startEcho opens n websockets to url, each sending a numbered message
// every interval.
func startEcho(t *testing.T, url string, n int, interval time.Duration) *echoClients {
	e := &echoClients{closes: map[int]int{}, closedAt: map[string][]time.Time{}, stop: make(chan struct{})}
	for i := range n {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.client(url, i, interval)
		}()
	}
	testnet.WaitFor(t, "every websocket echoing", 30*time.Second, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.got >= 2*n
	})
	return e
}

// client is one user: it sends 1, 2, 3... and waits for each echo; on a
// close it reconnects and sends the unechoed number again.
func (e *echoClients) client(url string, id int, interval time.Duration) {
	next, pending := 1, false
	for {
		ws, err := wsclient.Dial(url, 10*time.Second)
		if err != nil {
			e.note(func() {
				e.upgrades++
				e.errs = append(e.errs, fmt.Sprintf("client %d: %v", id, err))
				if pending {
					e.lost++
				}
			})
			return
		}
		if pending {
			e.note(func() { e.resent++ })
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
				e.note(func() { e.drops++; e.errs = append(e.errs, fmt.Sprintf("client %d: send: %v", id, err)) })
				break
			}
			e.note(func() { e.sent++ })
			pending = true
			text, err := ws.Read(time.Now().Add(15 * time.Second))
			if err == nil {
				p, m, _ := strings.Cut(text, " ")
				if m != msg {
					e.note(func() { e.errs = append(e.errs, fmt.Sprintf("client %d: sent %s, echoed %q", id, msg, text)) })
				}
				pid = p
				next, pending = next+1, false
				e.note(func() { e.got++ })
				continue
			}
			e.closed(id, pid, err)
			break
		}
	}
}

// closed records how a websocket ended: with a close frame (its code, and
// when, by the pid that sent it) or without (a drop, 1006).
func (e *echoClients) closed(id int, pid string, err error) {
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

func (e *echoClients) note(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f()
}

// finish stops the clients and waits for them.
func (e *echoClients) finish() {
	close(e.stop)
	e.wg.Wait()
}

// spreads is, per old pid, the time from its first close to its last;
// a websocket closed before its first echo has no known pid, and is left
// out.
func (e *echoClients) spreads() map[string]time.Duration {
	out := map[string]time.Duration{}
	for pid, ts := range e.closedAt {
		if pid == "" {
			continue
		}
		out[pid] = slices.MaxFunc(ts, time.Time.Compare).Sub(slices.MinFunc(ts, time.Time.Compare))
	}
	return out
}
