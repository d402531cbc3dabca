package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/cdp"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// screenshotTo is where TestStatusPageInChromium saves its screenshot:
// go test ./e2e -run TestStatusPageInChromium -args -statuspage.screenshot ../docs/status-page.png
var screenshotTo = flag.String("statuspage.screenshot", "", "save the status page's screenshot to this file")

// pageRow is one port's row as the page in Chromium shows it.
type pageRow struct {
	Port  int    `json:"port"`
	State string `json:"state"`
	PID   string `json:"pid"`
}

const pageRowsJS = `Array.from(document.querySelectorAll('#rows tr')).map(tr => ({
	port: Number(tr.dataset.port), state: tr.querySelector('td.state').textContent, pid: tr.cells[2].textContent}))`

// The status page in a real browser: headless Chromium opens the
// manager's metrics address, shows every port with its state and pid,
// a reload as a finished rollout, and a `hellomgr stop PORT` within two
// seconds, without reloading the page; the routes take no action.
func TestStatusPageInChromium(t *testing.T) {
	need(t, "/usr/bin/chromium", "chromium")
	ports := testnet.FreePorts(t, 8)
	slices.Sort(ports) // as the page lists them
	metricsPort := testnet.FreePorts(t, 1)[0]
	d := newDeployment(t)
	d.write("config.yaml", fmt.Sprintf("ports: %s\nmetrics:\n  address: 127.0.0.1:%d\n", portsYAML(ports), metricsPort))
	d.mustRun("up", "-d")
	url := fmt.Sprintf("http://127.0.0.1:%d/", metricsPort)
	checkReadOnly(t, url)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := cdp.Start(ctx, "/usr/bin/chromium", url, 1200, 640)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	pids := d.pids()
	rows := waitRows(t, ctx, b, "every port ready", func(rows []pageRow) bool {
		return len(rows) == len(ports) && all(rows, func(r pageRow) bool { return r.State == "ready" })
	})
	for i, r := range rows {
		if r.Port != ports[i] || r.PID != strconv.Itoa(pids[r.Port]) {
			t.Errorf("row %d: port %d pid %s, want port %d pid %d", i, r.Port, r.PID, ports[i], pids[ports[i]])
		}
	}

	d.mustRun("reload")
	waitText(t, ctx, b, "#rollout-title", "Last rollout #1 succeeded", fmt.Sprintf("%d of %d ports replaced", len(ports), len(ports)))

	stopped := ports[2]
	var renders int
	b.Eval(ctx, "window.statusPage.renders", &renders)
	d.mustRun("stop", strconv.Itoa(stopped))
	since := time.Now()
	waitRows(t, ctx, b, fmt.Sprintf("port %d stopped", stopped), func(rows []pageRow) bool {
		return len(rows) == len(ports) && rows[2].State == "stopped" && rows[2].PID == "-"
	})
	took := time.Since(since)
	t.Logf("hellomgr stop %d showed on the page %s after the command returned", stopped, took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("hellomgr stop %d showed on the page after %s, want within 2s", stopped, took.Round(time.Millisecond))
	}
	var after int
	b.Eval(ctx, "window.statusPage.renders", &after)
	if after <= renders {
		t.Errorf("page renders %d -> %d: the change did not come by polling", renders, after)
	}
	var errorShown bool
	if b.Eval(ctx, "!document.getElementById('error').hidden", &errorShown); errorShown {
		t.Error("the page shows its error banner")
	}
	// Some seconds of requests, for the charts to have a line in the picture.
	load := hammerDirectly(ports[3:5])
	time.Sleep(6 * time.Second)
	load.halt()
	saveScreenshot(t, ctx, b)
}

// checkReadOnly: no route of the page takes anything but GET, and the
// JSON holds no environment or command line.
func checkReadOnly(t *testing.T, url string) {
	t.Helper()
	for _, path := range []string{"", "status.json", "statuspage/page.js"} {
		resp, err := http.Post(url+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /%s: %s, want 405 Method Not Allowed", path, resp.Status)
		}
	}
	resp, err := http.Get(url + "status.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, secret := range []string{`"env"`, `"command"`, `"argv"`, `"last_error"`} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("/status.json holds %s: %s", secret, body)
		}
	}
}

// waitRows reads the page's rows until cond holds (30 s at most).
func waitRows(t *testing.T, ctx context.Context, b *cdp.Browser, what string, cond func([]pageRow) bool) []pageRow {
	t.Helper()
	var rows []pageRow
	var last error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if last = b.Eval(ctx, pageRowsJS, &rows); last == nil && cond(rows) {
			return rows
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the page never showed %s: rows %+v, %v", what, rows, last)
	return nil
}

// waitText waits until the element's text holds every part (30 s at most).
func waitText(t *testing.T, ctx context.Context, b *cdp.Browser, selector string, parts ...string) {
	t.Helper()
	var text string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b.Eval(ctx, fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", selector), &text)
		if all(parts, func(p string) bool { return strings.Contains(text, p) }) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: %q, want %q", selector, text, parts)
}

// saveScreenshot checks the page's screenshot is a picture of it, and
// saves it where -statuspage.screenshot says.
func saveScreenshot(t *testing.T, ctx context.Context, b *cdp.Browser) {
	t.Helper()
	shot, err := b.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 800 {
		t.Fatalf("screenshot: %v, %v", err, img)
	}
	if *screenshotTo != "" {
		if err := os.WriteFile(*screenshotTo, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func all[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if !f(x) {
			return false
		}
	}
	return true
}
