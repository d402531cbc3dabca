package cmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/control"
)

// slowloris keeps n connections to addr sending a request header a byte
// a second, and never its end, dialing again each one the server closes,
// until ctx ends: the attack of one process on the metrics address.
func slowloris(ctx context.Context, addr string, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				stop := context.AfterFunc(ctx, func() { c.Close() })
				_, err = c.Write([]byte("GET /metrics HTTP/1.1\r\nHost: hellomgr\r\n"))
				for err == nil && ctx.Err() == nil {
					time.Sleep(time.Second)
					_, err = c.Write([]byte("X"))
				}
				stop()
				c.Close()
			}
		}()
	}
	return &wg
}

// 100 slowloris connections from one process do not keep Prometheus out:
// every scrape of /probe is answered (38 of 40 failed).
func TestScrapesAreAnsweredUnderSlowloris(t *testing.T) {
	e := newEnv(t, 1, "")
	e.writeConfig(builtIn("v1"))
	e.mustRun("up", "-d")
	report, err := control.Dial(e.socket()).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	addr := report.MetricsAddr
	ctx, cancel := context.WithCancel(context.Background())
	attack := slowloris(ctx, addr, 100)
	defer func() {
		cancel()
		attack.Wait()
	}()
	time.Sleep(2 * time.Second) // the attack takes every slot it can
	scraper := &http.Client{Timeout: 5 * time.Second}
	const scrapes = 40
	failed := 0
	var first error
	for range scrapes {
		err := scrape(scraper, fmt.Sprintf("http://%s/probe?port=%d", addr, e.ports[0]))
		if err != nil {
			failed++
			first = cmpOr(first, err)
		}
		time.Sleep(150 * time.Millisecond) // over a ReadHeaderTimeout, as the attack's connections turn over
	}
	t.Logf("%d of %d scrapes answered under 100 slowloris connections", scrapes-failed, scrapes)
	if failed > 0 {
		t.Errorf("%d of %d scrapes failed under 100 slowloris connections; the first: %v", failed, scrapes, first)
	}
}

// scrape gets url, which must answer 200 with a body.
func scrape(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != http.StatusOK || len(body) == 0) {
		err = fmt.Errorf("%s answered %s with %d bytes", url, resp.Status, len(body))
	}
	return err
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
