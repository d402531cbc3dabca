// Package cdp drives a headless Chromium over the DevTools protocol, for
// the tests and benches that look at the status page in a real browser:
// start it on a page, evaluate JavaScript there, take a screenshot. The
// protocol runs over a WebSocket; this package speaks the small part of
// RFC 6455 that a client on loopback needs (text frames, no extensions).
// For tests and tools only.
package cdp

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Flags are what every run of Chromium here gets: headless, and nothing
// that reaches the network or writes outside its own profile.
var Flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-extensions", "--mute-audio", "--hide-scrollbars",
}

// Browser is a running Chromium with one page.
type Browser struct {
	cmd     *exec.Cmd
	profile string
	page    *conn
	nextID  int
}

// Start starts Chromium (binary, e.g. /usr/bin/chromium) on url with a
// new profile folder and a window of width x height, and connects to its
// page. Close stops it.
func Start(ctx context.Context, binary, url string, width, height int) (*Browser, error) {
	profile, err := os.MkdirTemp("", "hmchromium")
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, Flags...), "--user-data-dir="+profile, "--remote-debugging-port=0",
		fmt.Sprintf("--window-size=%d,%d", width, height), url)
	cmd := exec.Command(binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	b := &Browser{cmd: cmd, profile: profile}
	addr, err := devtoolsAddr(ctx, stderr)
	if err == nil {
		b.page, err = pageConn(ctx, addr)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

var listening = regexp.MustCompile(`DevTools listening on ws://([^/]+)/`)

// devtoolsAddr reads Chromium's stderr until it says where DevTools
// listens, then drains the rest in the background.
func devtoolsAddr(ctx context.Context, stderr interface{ Read([]byte) (int, error) }) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var tail []string
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
			tail = append(tail, sc.Text())
		}
		for sc.Scan() {
		}
		if len(tail) > 0 {
			found <- "error: " + strings.Join(tail[max(0, len(tail)-5):], "\n")
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok || strings.HasPrefix(addr, "error: ") {
			return "", fmt.Errorf("chromium exited before DevTools listened: %s", strings.TrimPrefix(addr, "error: "))
		}
		return addr, nil
	case <-ctx.Done():
		return "", fmt.Errorf("chromium did not say where DevTools listens: %w", ctx.Err())
	}
}

// pageConn connects to the first page target.
func pageConn(ctx context.Context, addr string) (*conn, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/json/list", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list DevTools targets: %w", err)
	}
	defer resp.Body.Close()
	var targets []struct{ Type, WebSocketDebuggerURL string }
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		return nil, fmt.Errorf("list DevTools targets: %w", err)
	}
	for _, t := range targets {
		if t.Type == "page" {
			return dial(ctx, t.WebSocketDebuggerURL)
		}
	}
	return nil, errors.New("chromium has no page target")
}

// Call sends one DevTools command and returns its result, skipping the
// events that arrive meanwhile.
func (b *Browser) Call(ctx context.Context, method string, params any, result any) error {
	b.nextID++
	id := b.nextID
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		b.page.c.SetDeadline(deadline)
		defer b.page.c.SetDeadline(time.Time{})
	}
	if err := b.page.write(msg); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		data, err := b.page.read()
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		var reply struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct{ Message string }
		}
		if json.Unmarshal(data, &reply) != nil || reply.ID != id {
			continue
		}
		if reply.Error != nil {
			return fmt.Errorf("%s: %s", method, reply.Error.Message)
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(reply.Result, result)
	}
}

// Eval evaluates a JavaScript expression on the page and decodes its
// value (returned by value: JSON-able) into out.
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		} `json:"exceptionDetails"`
	}
	if err := b.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("evaluate %q: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// Screenshot returns a PNG of the whole page.
func (b *Browser) Screenshot(ctx context.Context) ([]byte, error) {
	var r struct{ Data string }
	if err := b.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// PID is Chromium's main process.
func (b *Browser) PID() int { return b.cmd.Process.Pid }

// Close kills Chromium's process group (its renderers and helpers with
// it), waits for it and removes its profile. Safe to call twice.
func (b *Browser) Close() {
	if b.page != nil {
		b.page.c.Close()
		b.page = nil
	}
	if b.cmd != nil {
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		b.cmd.Wait()
		b.cmd = nil
	}
	os.RemoveAll(b.profile)
}
