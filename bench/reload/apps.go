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
	"time"
)

// app is one of the two apps the bench reloads.
type app struct {
	name string
	// configure writes the deployment's config.yaml and code for version
	// v of the app.
	configure func(b *bench, d *deployment, v int) error
	// served is the status that counts as served, by method: the built-in
	// server answers POST with 405 by design (as Tornado answers a method
	// its handler does not define), which is the app's answer, not a
	// failure.
	served map[string]int
}

var apps = map[string]app{
	"built-in": {name: "built-in", configure: configureBuiltIn, served: map[string]int{"GET": 200, "POST": 405}},
	"tornado":  {name: "tornado", configure: configureTornado, served: map[string]int{"GET": 200, "POST": 200}},
}

// message is what GET / answers in version v of either app.
func message(v int) string { return fmt.Sprintf("Hello v%d", v) }

// The built-in server with socket handoff and no `nginx:` section: nginx
// is never reloaded, and its upstream keeps max_fails=1 fail_timeout=10s.
// The code change is a new --message.
func configureBuiltIn(_ *bench, d *deployment, v int) error {
	argv := []string{d.bin, "serve", "--port", "{port}", "--message", message(v)}
	return d.write("config.yaml", fmt.Sprintf(`ports: %s
command: %s
reload:
  max_unavailable: 1
  handoff: socket
ready:
  notify: true
metrics:
  address: 127.0.0.1:0
`, portsYAML(d.ports), yamlList(argv)))
}

// The seed's Tornado app as examples/tornado runs it: socket handoff and
// the nginx drain. The code change is hello.py edited on disk.
func configureTornado(b *bench, d *deployment, v int) error {
	src, err := os.ReadFile(filepath.Join(b.root, "examples", "tornado", "hello.py"))
	if err != nil {
		return err
	}
	const line = `self.write("Hello Itcast!")`
	if strings.Count(string(src), line) != 2 {
		return fmt.Errorf("examples/tornado/hello.py: want %s twice (GET and POST), to change it", line)
	}
	code := strings.ReplaceAll(string(src), line, fmt.Sprintf("self.write(%q)", message(v)))
	if err := d.write("hello.py", code); err != nil {
		return err
	}
	return d.write("config.yaml", fmt.Sprintf(`ports: %s
command: [/usr/bin/python3, hello.py, "--port={port}"]
reload:
  max_unavailable: 1
  handoff: socket
nginx:
  upstream: hellomgr
  upstream_file: upstream.conf
  reload_command: %s
  drain_timeout: 10s
metrics:
  address: 127.0.0.1:0
`, portsYAML(d.ports), yamlList(d.ngx.ReloadCommand())))
}

type bench struct {
	opts       options
	root       string // the module's folder
	bin        string // hellomgr, built from it
	loadBefore string // /proc/loadavg when the bench started: the machine is shared
}

// runApp starts nginx and 4 instances of a, then measures a reload for
// GET and POST, with and without client keep-alive.
func (b *bench) runApp(ctx context.Context, a app) ([]result, error) {
	d, err := newDeployment(b.bin)
	if err != nil {
		return nil, err
	}
	defer d.close()
	if err := a.configure(b, d, 1); err != nil {
		return nil, err
	}
	// nginx starts with the upstream block `hellomgr nginx` prints; with
	// an `nginx:` section, `up` then rewrites that file itself.
	out, err := d.hellomgr(ctx, "nginx")
	if err != nil {
		return nil, err
	}
	upstream, _, ok := strings.Cut(out, "# In a server { } block:")
	if !ok {
		return nil, fmt.Errorf("hellomgr nginx printed no server block part:\n%s", out)
	}
	if err := d.write("upstream.conf", upstream); err != nil {
		return nil, err
	}
	if err := d.ngx.Start(b.root, d.path("upstream.conf")); err != nil {
		return nil, err
	}
	if _, err := d.hellomgr(ctx, "up", "-d"); err != nil {
		return nil, err
	}
	var results []result
	version := 1
	next := func() int { version++; return version }
	for _, keepAlive := range []bool{true, false} {
		for _, method := range []string{"GET", "POST"} {
			r, err := b.measure(ctx, a, d, method, keepAlive, next)
			if err != nil {
				return results, err
			}
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "%s %s client keep-alive %s: %d requests, %d failed, slowest reload %.2fs, %.0f -> %.0f req/s\n",
				r.App, r.Method, yesNo(r.ClientKeepAlive), r.Requests, r.Failed, r.ReloadSeconds, r.BeforeRPS, r.DuringRPS)
		}
	}
	if b.opts.chart {
		return results, b.handover(ctx, a, d, next)
	}
	return results, nil
}

// measure runs wrk through nginx and, from 30% of the run on, changes the
// code to the next version and reloads, as many times as asked, 1 s apart.
func (b *bench) measure(ctx context.Context, a app, d *deployment, method string, keepAlive bool, next func() int) (result, error) {
	r := result{App: a.name, Method: method, ClientKeepAlive: keepAlive, ServedStatus: a.served[method]}
	began := time.Now()
	w, err := startWrk(ctx, b.opts, d.dir, method, keepAlive, a.served[method], d.ngx.URL())
	if err != nil {
		return r, err
	}
	pause := b.opts.duration * 3 / 10
	var v int
	for range b.opts.reloads {
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			w.Wait()
			return r, ctx.Err()
		}
		v = next()
		if err := a.configure(b, d, v); err != nil {
			w.Wait()
			return r, err
		}
		r.Reloads = append(r.Reloads, reload(ctx, d, v))
		pause = time.Second
	}
	if last := r.Reloads[len(r.Reloads)-1]; last.end.Sub(began) > b.opts.duration*9/10 {
		fmt.Fprintf(os.Stderr, "warning: %s %s: the last reload ended %.1fs into a %s run: too little load after it; use a longer -duration\n",
			a.name, method, last.end.Sub(began).Seconds(), b.opts.duration)
	}
	stats, err := w.Wait()
	if err != nil {
		return r, err
	}
	r.fill(stats)
	r.NewCode = message(v)
	r.NewCodeServed, r.AnswersAfter = newCodeServed(d.ngx.URL(), message(v))
	return r, nil
}

// reload runs `hellomgr reload` and times it.
func reload(ctx context.Context, d *deployment, v int) reloadRun {
	rr := reloadRun{Version: message(v), start: time.Now()}
	out, err := d.hellomgr(ctx, "reload")
	rr.end = time.Now()
	rr.Seconds = rr.end.Sub(rr.start).Seconds()
	rr.Output = strings.Split(strings.TrimSpace(out), "\n")
	if err != nil {
		rr.Error = err.Error()
	}
	return rr
}

// newCodeServed sends 8 GETs through nginx, each on a new connection (2
// rounds of nginx's round robin over 4 instances in a worker), and
// reports whether every one answered 200 want.
func newCodeServed(url, want string) (bool, map[string]int) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	seen := map[string]int{}
	for range 8 {
		resp, err := client.Get(url)
		if err != nil {
			seen[err.Error()]++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[fmt.Sprintf("%d %s", resp.StatusCode, b)]++
	}
	return seen["200 "+want] == 8, seen
}

// yamlList is a flow list of quoted strings: an argv.
func yamlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func portsYAML(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
