package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// Long-polls through exactly what `hellomgr nginx` prints, to a chat
// shaped like Tornado's demos/chat (its POST /a/message/updates, and a GET
// form), quiet room, both event-loop styles, across a reload: every held
// poll of a replaced process is given back before any byte of its answer
// (421) and nginx sends it to another instance, so no client sees a
// failure; a message posted afterwards reaches every poller.
// With proxy.hash (the chat keeps its room per process), a poll given
// back goes to the same port, now served by its new process.
func TestRealtimeLongPollsSurviveAReload(t *testing.T) {
	for _, tc := range []struct{ name, loop, extra string }{
		{"asyncio", "asyncio", ""},
		{"ioloop", "ioloop", ""},
		{"hash", "asyncio", "proxy:\n  hash: client_address\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startRealtime(t, "chat.py", tc.loop, tc.extra)
			p := startPollers(a.url("http", ""), 40)
			testnet.WaitFor(t, "every poll held", 30*time.Second, func() bool { return p.held() >= 40 })
			time.Sleep(300 * time.Millisecond)
			took := a.reload()
			time.Sleep(1500 * time.Millisecond) // the old processes hand back and exit
			for _, port := range a.ports {      // the room is per process: say something in each
				if status, body, err := httpPost(fmt.Sprintf("http://127.0.0.1:%d/a/message/new", port), "body=hello", 10*time.Second); err != nil || status != 200 {
					t.Fatalf("port %d: post a message: %d %q %v", port, status, body, err)
				}
			}
			testnet.WaitFor(t, "every poller answered", 30*time.Second, func() bool { return p.answered() >= 40 })
			p.finish()
			handedBack := grepLogs(t, a.deployment, a.ports, "handing back")
			t.Logf("reload %s; polls answered %d, failed %d; hand-backs:\n%s", took.Round(time.Millisecond), p.answered(), len(p.failures), handedBack)
			if len(p.failures) != 0 {
				t.Errorf("%d polls failed, want 0:\n%s", len(p.failures), strings.Join(p.failures, "\n"))
			}
			if handedBack == "" {
				t.Error("no instance logged handing back a held request: the polls were not held across the reload")
			}
		})
	}
}

// pollers are chat clients in a quiet room: each holds one poll at a time,
// half POST /a/message/updates (the demo's), half GET /a/message/poll.
type pollers struct {
	mu               sync.Mutex
	inFlight, gotMsg int
	failures         []string
	stop             chan struct{}
	wg               sync.WaitGroup
}

func startPollers(base string, n int) *pollers {
	p := &pollers{stop: make(chan struct{})}
	for i := range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.poll(base, i%2 == 0)
		}()
	}
	return p
}

func (p *pollers) poll(base string, post bool) {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for {
		p.add(&p.inFlight, 1)
		var resp *http.Response
		var err error
		if post {
			resp, err = client.PostForm(base+"/a/message/updates", url.Values{"cursor": {"none"}})
		} else {
			resp, err = client.Get(base + "/a/message/poll?cursor=none")
		}
		p.add(&p.inFlight, -1)
		select {
		case <-p.stop:
			return
		default:
		}
		if err != nil {
			p.fail(fmt.Sprintf("post %v: %v", post, err))
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "hello") {
			p.fail(fmt.Sprintf("post %v: %d %q", post, resp.StatusCode, body))
			return
		}
		p.add(&p.gotMsg, 1)
		<-p.stop // one answer each is what the test waits for
		return
	}
}

func (p *pollers) add(n *int, d int) { p.mu.Lock(); *n += d; p.mu.Unlock() }
func (p *pollers) fail(s string)     { p.mu.Lock(); p.failures = append(p.failures, s); p.mu.Unlock() }
func (p *pollers) held() int         { p.mu.Lock(); defer p.mu.Unlock(); return p.inFlight }
func (p *pollers) answered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gotMsg + len(p.failures)
}

func (p *pollers) finish() {
	close(p.stop)
	p.wg.Wait()
}

// grepLogs returns the lines of the ports' log files that hold s.
func grepLogs(t *testing.T, d *deployment, ports []int, s string) string {
	var out []string
	for _, port := range ports {
		b, _ := os.ReadFile(filepath.Join(d.dir, "logs", strconv.Itoa(port)+".log"))
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, s) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

func httpGet(u string, timeout time.Duration) (int, string, error) {
	return httpDo(func(c *http.Client) (*http.Response, error) { return c.Get(u) }, timeout)
}

func httpPost(u, form string, timeout time.Duration) (int, string, error) {
	return httpDo(func(c *http.Client) (*http.Response, error) {
		return c.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form))
	}, timeout)
}

func httpDo(do func(*http.Client) (*http.Response, error), timeout time.Duration) (int, string, error) {
	c := &http.Client{Timeout: timeout}
	defer c.CloseIdleConnections()
	resp, err := do(c)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
