package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// front is how nginx is set up in front of an app's instances.
type front struct {
	name  string // for -front
	label string // in the table
	// config is what the front adds to config.yaml.
	config func(d *deployment) string
}

var (
	// printed: nginx runs exactly what `hellomgr nginx` prints for the
	// app's config, and nothing else tells hellomgr about nginx. Without
	// an `nginx:` section nginx is never reloaded.
	printed = front{name: "printed", label: "printed", config: func(*deployment) string { return "" }}
	// nginxDrain: an `nginx:` section, for the apps that cannot drain
	// themselves: hellomgr marks each instance down in the upstream file
	// and reloads nginx (twice per instance) around its replacement.
	nginxDrain = front{name: "nginx-drain", label: "nginx drain", config: func(d *deployment) string {
		return "nginx:\n  upstream_file: upstream.conf\n  reload_command: " + yamlList(d.ngx.ReloadCommand()) + "\n"
	}}
	fronts = []front{printed, nginxDrain}
)

const (
	httpHeading   = "# In nginx's http { } block:\n"
	serverHeading = "# In a server { } block:\n"
)

// statusPath is where the bench reads nginx's request count, to keep a
// load going until it has reached -min-requests: the one thing the bench
// adds to the server block, after the printed location.
const (
	statusPath     = "/hellomgr-bench/nginx-status"
	statusLocation = "\n# Added by bench/reload: nginx's request count, read while wrk runs.\nlocation = " + statusPath + " {\n    stub_status;\n}\n"
)

// startNginx starts d's nginx with deploy/nginx.conf (temporary paths, a
// loopback port) holding what `hellomgr nginx` prints for d's config: its
// http part in a file included in the http block where deploy/nginx.conf
// includes the upstream file, and its location block instead of
// deploy/nginx.conf's own, both as printed, and a location for nginx's
// request count (statusPath). It returns the printed text.
//
// With an `nginx:` section, `hellomgr nginx` prints an include of the
// upstream file that `up` writes; a hellomgr that still prints the
// upstream block itself is run with an include of that file instead, or
// the drain would rewrite a file nginx never reads.
func (d *deployment) startNginx(ctx context.Context, root string) (string, error) {
	out, err := d.hellomgr(ctx, "nginx")
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(out, httpHeading)
	if !ok {
		return out, fmt.Errorf("hellomgr nginx: want its output to start with %q:\n%s", httpHeading, out)
	}
	httpPart, location, ok := strings.Cut(rest, serverHeading)
	if !ok {
		return out, fmt.Errorf("hellomgr nginx printed no %q part:\n%s", serverHeading, out)
	}
	if d.front.name == nginxDrain.name && !includes(httpPart) {
		httpPart = "include " + d.path("upstream.conf") + ";\n"
	}
	if err := d.write("nginx-http.conf", httpPart); err != nil {
		return out, err
	}
	text, err := benchkit.DeployConf(root, d.ngx.Prefix, d.path("nginx-http.conf"), d.ngx.Port)
	if err != nil {
		return out, err
	}
	if text, err = replaceLocation(text, location+statusLocation); err != nil {
		return out, err
	}
	return out, d.ngx.StartConf(text)
}

// replaceLocation swaps the `location / { ... }` block of an nginx.conf
// for location, indented as the one it replaces.
func replaceLocation(conf, location string) (string, error) {
	at := strings.Index(conf, "location / {")
	if at < 0 {
		return "", fmt.Errorf("deploy/nginx.conf: no `location / {`")
	}
	lineStart := strings.LastIndex(conf[:at], "\n") + 1
	indent := conf[lineStart:at]
	closing := "\n" + indent + "}\n"
	end := strings.Index(conf[at:], closing)
	if end < 0 {
		return "", fmt.Errorf("deploy/nginx.conf: no %q closing its location block", closing)
	}
	end += at + len(closing)
	var b strings.Builder
	for _, line := range strings.SplitAfter(strings.TrimRight(location, "\n")+"\n", "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(indent)
		}
		b.WriteString(line)
	}
	return conf[:lineStart] + b.String() + conf[end:], nil
}

// includes reports whether an http part includes a file (a line that
// starts with "include "), rather than holding the upstream block itself.
func includes(httpPart string) bool {
	for _, line := range strings.Split(httpPart, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "include ") {
			return true
		}
	}
	return false
}

// nginxRequests is the number of requests nginx has read since it started
// (stub_status's count, which survives reloads).
func (d *deployment) nginxRequests() (int, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(strings.TrimSuffix(d.ngx.URL(), "/") + statusPath)
	if err != nil {
		return 0, fmt.Errorf("nginx's request count: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("nginx's request count: %w", err)
	}
	// "Active connections: 1 \nserver accepts handled requests\n 5 5 9 \n..."
	_, after, _ := strings.Cut(string(body), "requests\n")
	f := strings.Fields(after)
	if resp.StatusCode != 200 || len(f) < 3 {
		return 0, fmt.Errorf("nginx's request count: %s: %q", resp.Status, body)
	}
	return strconv.Atoi(f[2])
}
