package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// A canary whose new code answers 500 to 10% of its requests, behind a
// real nginx that spreads the load over every port: `reload --canary 1`
// puts it back on the old code within the watch and exits 1 with the
// evidence, and the ports it never reached, hammered directly meanwhile,
// fail no request.
func TestCanaryBehindNginxIsRolledBack(t *testing.T) {
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	config := func(message string, extra ...string) string {
		argv := append([]string{hellomgrBin, "serve", "--port", "{port}", "--message", message}, extra...)
		return fmt.Sprintf("ports: %s\ncommand: %s\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports), yamlList(argv))
	}
	d.write("config.yaml", config("v1"))
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	before := d.pids()

	through := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), 8, 1<<30, true, http.MethodGet)
	untouched := ports[1:] // the canary is the first port to replace
	direct := hammerDirectly(untouched)
	d.write("config.yaml", config("v2", "--fail-percent", "10"))
	out, err := d.run("reload", "--canary", "1", "--watch", "3s")
	direct.halt()
	results := through.finish()
	t.Logf("reload:\n%s", out)
	if err == nil || !strings.Contains(out, "the canary failed") || !strings.Contains(out, strconv.Itoa(ports[0])+": answered 5xx to") {
		t.Fatalf("reload --canary: %v; want exit 1 with port %d's share of 5xx as evidence", err, ports[0])
	}
	after := d.pids()
	for _, p := range untouched {
		if after[p] != before[p] {
			t.Errorf("port %d: pid %d -> %d, want it untouched", p, before[p], after[p])
		}
	}
	for _, p := range ports {
		if body, err := testnet.Get(p); body != "v1" {
			t.Errorf("port %d after the rollback: %q, %v; want v1", p, body, err)
		}
	}
	if n := direct.failed.Load(); n > 0 || direct.ok.Load() == 0 {
		t.Errorf("untouched ports, hammered directly: %d ok, %d failed (%s); want 0 failed", direct.ok.Load(), n, direct.first())
	}
	t.Logf("through nginx: %d requests during the canary (its 500s pass through, as nginx does not retry an answer)", len(results))
}

// directHammer GETs ports directly in a loop and counts answers.
type directHammer struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	firstErr   string
}

func hammerDirectly(ports []int) *directHammer {
	h := &directHammer{stop: make(chan struct{})}
	for _, p := range ports {
		h.wg.Go(func() {
			for {
				select {
				case <-h.stop:
					return
				default:
				}
				if _, err := testnet.Get(p); err != nil {
					h.failed.Add(1)
					h.mu.Lock()
					if h.firstErr == "" {
						h.firstErr = fmt.Sprintf("port %d: %v", p, err)
					}
					h.mu.Unlock()
				} else {
					h.ok.Add(1)
				}
			}
		})
	}
	return h
}

func (h *directHammer) halt() { close(h.stop); h.wg.Wait() }

func (h *directHammer) first() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.firstErr
}
