package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// ErrNotRunning means no manager answers on the config's control socket.
var ErrNotRunning = errors.New("no hellomgr is running for this config")

// Client talks to a running manager over its control socket.
type Client struct {
	socket string
	http   *http.Client
}

// Dial returns a client for the manager listening on socket. It does not
// connect until a request is made.
//
// A client talks only to a manager of its own user or root, as the
// manager answers only those: a socket file of another user is refused
// before connecting (CheckSocket), and a connection whose listener runs
// as another user (SO_PEERCRED) is closed before a request is sent, so a
// socket planted in a folder another user controls hears nothing and
// answers nothing.
func Dial(socket string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", socket)
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(conn)
		if err != nil || !Trusted(uid) {
			conn.Close()
			if err != nil {
				return nil, fmt.Errorf("control socket %s: cannot tell who listens on it: %w", socket, err)
			}
			return nil, &foreignPeer{socket: socket, uid: uid}
		}
		return conn, nil
	}}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

func (c *Client) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://hellomgr"+path, nil)
	if err != nil {
		return nil, err
	}
	if err := CheckSocket(c.socket); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var foreign *foreignPeer
		if errors.As(err, &foreign) {
			return nil, foreign
		}
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (no manager on %s). Start one with: hellomgr up", ErrNotRunning, c.socket)
		}
		return nil, fmt.Errorf("control socket %s: %w", c.socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		// The manager says why in the first line of the body.
		line, _, _ := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadLine()
		if why := strings.TrimSpace(string(line)); why != "" {
			return nil, fmt.Errorf("control socket %s: %s %s answered %s: %s", c.socket, method, path, resp.Status, why)
		}
		return nil, fmt.Errorf("control socket %s: %s %s answered %s", c.socket, method, path, resp.Status)
	}
	return resp, nil
}

// Status asks the manager for its report.
func (c *Client) Status(ctx context.Context) (Report, error) {
	var r Report
	resp, err := c.do(ctx, http.MethodGet, "/v1/status")
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("read status: %w", err)
	}
	return r, nil
}

// ReloadWith starts a rollout with opts (a canary and its watch, or
// none) and calls line for each progress line as it arrives. It returns
// the rollout's error, if any.
func (c *Client) ReloadWith(ctx context.Context, opts ReloadOptions, line func(string)) error {
	q := url.Values{}
	if opts.Canary > 0 {
		q.Set("canary", strconv.Itoa(opts.Canary))
		q.Set("watch", opts.Watch.String())
		if opts.AllowIdle {
			q.Set("allow_idle", "1")
		}
	}
	path := "/v1/reload"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.streamed(ctx, path, line)
}

// Restart replaces the instances on ports, as a reload does for all.
func (c *Client) Restart(ctx context.Context, ports []int, line func(string)) error {
	return c.streamed(ctx, "/v1/restart?"+portQuery(ports), line)
}

// Stop stops the instances on ports until Start.
func (c *Client) Stop(ctx context.Context, ports []int, line func(string)) error {
	return c.streamed(ctx, "/v1/stop?"+portQuery(ports), line)
}

// Start starts the instances on ports that are not running.
func (c *Client) Start(ctx context.Context, ports []int, line func(string)) error {
	return c.streamed(ctx, "/v1/start?"+portQuery(ports), line)
}

func portQuery(ports []int) string {
	q := url.Values{}
	for _, p := range ports {
		q.Add("port", strconv.Itoa(p))
	}
	return q.Encode()
}

// Down asks the manager to stop every instance and exit.
func (c *Client) Down(ctx context.Context, line func(string)) error {
	return c.streamed(ctx, "/v1/down", line)
}

// Upgrade asks the manager to replace its program with binary (an
// absolute path) and calls line for each progress line. It returns nil
// once the manager has begun the exec, which ends the reply: ask Status
// then for the outcome (the request waits in the control socket's queue
// while the new program takes over).
func (c *Client) Upgrade(ctx context.Context, binary string, line func(string)) error {
	err := c.streamed(ctx, "/v1/upgrade?"+url.Values{"binary": {binary}}.Encode(), line)
	if errors.Is(err, errExec) {
		return nil
	}
	if err == nil {
		return errors.New("control socket: the manager did not upgrade and gave no reason")
	}
	return err
}

// errExec: the reply ended because the manager replaced its program.
var errExec = errors.New("the manager replaced its program")

func (c *Client) streamed(ctx context.Context, path string, line func(string)) error {
	resp, err := c.do(ctx, http.MethodPost, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	execing := false
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("control socket: bad reply line %q", sc.Text())
		}
		switch {
		case e.Error != "":
			return errors.New(e.Error)
		case e.Done:
			return nil
		case line != nil:
			line(e.Line)
		}
		execing = execing || e.Exec
	}
	if execing {
		return errExec // the exec closed the connection: no end to the reply
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	return errors.New("control socket: the manager hung up before the end of its reply")
}
