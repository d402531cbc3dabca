package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/nginx"
	"github.com/hellomgr/hellomgr/proc"
)

// deployment is one manager's copy of the job: a folder holding the
// Tornado app (examples/tornado/hello.py, its answer changed per version)
// and the manager's files, 4 free ports for the app, and an nginx of its
// own in front of them, with deploy/nginx.conf and the upstream block
// `hellomgr nginx` prints. Every manager gets the same.
type deployment struct {
	dir      string
	ports    []int
	ngx      *benchkit.NginxServer
	upstream string // the file nginx includes
	source   string // examples/tornado/hello.py
	version  int    // of the code on disk
}

// newDeployment lays out the folder, writes version 1 of the code and
// starts nginx. The folder's path is short: hellomgr's control socket and
// PM2's sockets live under it.
//
// maxFails, when not negative, is set on each server line of the upstream
// the bench writes (nginx's default is 1, with fail_timeout=10s); hellomgr
// with an `nginx:` section rewrites that file itself, without it.
func newDeployment(root string, maxFails int) (*deployment, error) {
	dir, err := os.MkdirTemp("", "hmp")
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir, upstream: filepath.Join(dir, "upstream.conf")}
	if err := d.setUp(root, maxFails); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *deployment) setUp(root string, maxFails int) error {
	b, err := os.ReadFile(filepath.Join(root, "examples", "tornado", "hello.py"))
	if err != nil {
		return err
	}
	d.source = string(b)
	if err := d.writeCode(1); err != nil {
		return err
	}
	// hello.py imports the drain integration beside it.
	if err := benchkit.CopyTornadoPackage(root, d.path(".")); err != nil {
		return err
	}
	ports, err := benchkit.FreePorts(5)
	if err != nil {
		return err
	}
	d.ports = ports[:4]
	for _, sub := range []string{"nginx", "logs"} {
		if err := os.Mkdir(d.path(sub), 0o755); err != nil {
			return err
		}
	}
	up := string(nginx.Upstream{Name: "hellomgr", Ports: d.ports}.Render())
	for _, port := range d.ports {
		if maxFails >= 0 {
			server := fmt.Sprintf("server 127.0.0.1:%d", port)
			up = strings.Replace(up, server+";", fmt.Sprintf("%s max_fails=%d;", server, maxFails), 1)
		}
	}
	// hellomgr rewrites only an upstream file it wrote: its header first.
	if err := os.WriteFile(d.upstream, []byte(nginx.Header+"\n"+up), 0o644); err != nil {
		return err
	}
	d.ngx = benchkit.NewNginx(d.path("nginx"), ports[4])
	return d.ngx.Start(root, d.upstream)
}

func (d *deployment) path(name string) string { return filepath.Join(d.dir, name) }

// argv is the app's command line for port, with {port} in it when port
// is 0.
func (d *deployment) argv(port int) []string {
	p := "{port}"
	if port != 0 {
		p = strconv.Itoa(port)
	}
	return []string{benchkit.Tornado.Path, "hello.py", "--port=" + p}
}

// message is what version v of the app answers.
func message(v int) string { return fmt.Sprintf("Hello v%d", v) }

// writeCode changes hello.py on disk to answer message(v), GET and POST:
// the code update every manager then rolls out.
func (d *deployment) writeCode(v int) error {
	const line = `self.write("Hello Itcast!")`
	if strings.Count(d.source, line) != 2 {
		return fmt.Errorf("examples/tornado/hello.py: want %s twice (GET and POST), to change it", line)
	}
	code := strings.ReplaceAll(d.source, line, fmt.Sprintf("self.write(%q)", message(v)))
	if err := os.WriteFile(d.path("hello.py"), []byte(code), 0o644); err != nil {
		return err
	}
	d.version = v
	return nil
}

// waitAnswers polls every port directly (not through nginx), each every
// 10 ms, until each has answered GET / with 200 and, unless want is
// empty, the body want. It returns when the last one did.
func (d *deployment) waitAnswers(ctx context.Context, want string, limit time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	var wg sync.WaitGroup
	errs := make([]error, len(d.ports))
	for i, port := range d.ports {
		wg.Go(func() { errs[i] = pollPort(ctx, client, port, want) })
	}
	wg.Wait()
	last := time.Now()
	for _, err := range errs {
		if err != nil {
			return last, err
		}
	}
	return last, nil
}

func pollPort(ctx context.Context, client *http.Client, port int, want string) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for {
		seen := get(ctx, client, url)
		if seen == "200 "+want || (want == "" && strings.HasPrefix(seen, "200 ")) {
			return nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("port %d: no answer %q (last: %s): %w", port, want, seen, err)
		}
	}
}

// waitNginx sends GET / through nginx, each on a new connection, every
// 20 ms, until 8 in a row answer 200 and want (twice round the 4 ports in
// a worker's round robin), and returns when the last one did.
func (d *deployment) waitNginx(ctx context.Context, want string, limit time.Duration) (time.Time, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	deadline := time.Now().Add(limit)
	streak, seen := 0, "nothing"
	for streak < 8 {
		if time.Now().After(deadline) {
			return time.Now(), fmt.Errorf("nginx did not answer %q 8 times in a row within %s (last: %s)", want, limit, seen)
		}
		seen = get(ctx, client, d.ngx.URL())
		if seen == "200 "+want {
			streak++
		} else {
			streak = 0
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return time.Now(), err
		}
	}
	return time.Now(), nil
}

// get is the status and body of GET url, or the error.
func get(ctx context.Context, client *http.Client, url string) string {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// listeners are the processes that hold the app's ports: what must be
// gone once the manager is stopped.
func (d *deployment) listeners() []benchkit.Process {
	var ps []benchkit.Process
	for _, port := range d.ports {
		hs, _ := proc.Holders(port)
		for _, h := range hs {
			if p, ok := benchkit.Find(h.PID); ok {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// close stops nginx and removes the folder. The manager must be stopped
// first.
func (d *deployment) close() {
	if d.ngx != nil {
		d.ngx.Stop()
	}
	os.RemoveAll(d.dir)
}
