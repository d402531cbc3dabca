package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"github.com/hellomgr/hellomgr/nginx"
)

// deploy/nginx.conf, checked by the nginx that serves with it: pointed at
// a temporary folder, it passes `nginx -t`, and requests sent through it
// reach every instance, with the upstream file that hellomgr writes.
func TestDeployNginxConf(t *testing.T) {
	need(t, "/usr/sbin/nginx", "nginx")
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	prefix := t.TempDir()
	conf := filepath.Join(prefix, "nginx.conf")
	listen := testnet.FreePorts(t, 1)[0]
	reload := []string{"/usr/sbin/nginx", "-p", prefix, "-c", conf, "-s", "reload"}
	d.write("config.yaml", builtInConfig(ports, "v1", nil, reload))
	// up writes the upstream file; nginx does not run yet, so up only
	// warns that it could not reload it.
	d.mustRun("up", "-d")

	text := deployConf(t, prefix, filepath.Join(d.dir, "upstream.conf"), listen)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/nginx", "-t", "-p", prefix, "-c", conf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t on deploy/nginx.conf: %v\n%s\n%s", err, out, text)
	}
	runNginxConf(t, prefix, conf, listen)
	url := fmt.Sprintf("http://127.0.0.1:%d/", listen)
	checkEveryPortAnswers(t, url, ports, "v1")

	// The nginx drain runs the reload command against this config.
	d.write("config.yaml", builtInConfig(ports, "v2", nil, reload))
	if out := d.mustRun("reload"); !strings.Contains(out, "out of the nginx upstream") {
		t.Errorf("reload did not take instances out of the nginx upstream:\n%s", out)
	}
	checkEveryPortAnswers(t, url, ports, "v2")
}

// The location block in deploy/nginx.conf is the one `hellomgr nginx`
// prints, so the two cannot drift apart.
func TestDeployNginxConfHasTheLocationHellomgrPrints(t *testing.T) {
	conf, err := os.ReadFile("../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !containsLines(string(conf), nginx.Location("hellomgr")) {
		t.Errorf("deploy/nginx.conf does not hold the location `hellomgr nginx` prints:\n%s", nginx.Location("hellomgr"))
	}
}

// What `hellomgr nginx` prints passes `nginx -t` once its two parts are
// where its comments say (startNginx checks), and proxies to every port:
// an upstream block with the default name; the same with max_fails=0 for a
// config whose ports refuse connects while they restart; and, for a config
// with an `nginx:` section, an include of the upstream file that `up`
// writes under the name the section sets.
func TestHellomgrNginxOutput(t *testing.T) {
	need(t, "/usr/sbin/nginx", "nginx")
	tests := []struct {
		name, handoff, nginx string
		want                 []string
		upFirst              bool // the http part includes a file that up writes
	}{
		{"handoff", "socket", "", []string{"upstream hellomgr {", "keepalive 32;"}, false},
		{"stop-then-start", "none", "", []string{"max_fails=0;", "# max_fails=0: a port refuses connects"}, false},
		{"nginx section", "socket", "nginx:\n  upstream: hellomgr_tornado\n  upstream_file: upstream.conf\n  reload_command: [/bin/true]\n", []string{"include "}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(t)
			ports := sortedFreePorts(t, 4)
			config := strings.Replace(builtInConfig(ports, "v1", nil, nil), "handoff: socket", "handoff: "+tc.handoff, 1) + tc.nginx
			d.write("config.yaml", config)
			httpPart, serverPart, ok := strings.Cut(d.mustRun("nginx"), "# In a server { } block:\n")
			if !ok {
				t.Fatalf("hellomgr nginx: no server block part in:\n%s", httpPart)
			}
			for _, want := range tc.want {
				if !strings.Contains(httpPart, want) {
					t.Errorf("hellomgr nginx: no %q in:\n%s", want, httpPart)
				}
			}
			if tc.upFirst {
				d.mustRun("up", "-d")
			}
			ngx := startNginx(t, httpPart, serverPart)
			if !tc.upFirst {
				d.mustRun("up", "-d")
			}
			checkEveryPortAnswers(t, fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), ports, "v1")
		})
	}
}

// builtInConfig is a config running the built-in server on ports, each
// answering "<message> <port>", with extra arguments appended to its
// command. With a reload command, it has an `nginx:` section whose
// upstream file is upstream.conf beside it.
func builtInConfig(ports []int, message string, extra, reloadCommand []string) string {
	argv := append([]string{hellomgrBin, "serve", "--port", "{port}", "--message", message + " {port}"}, extra...)
	text := fmt.Sprintf("ports: %s\ncommand: %s\nreload:\n  handoff: socket\nmetrics:\n  address: 127.0.0.1:0\n",
		portsYAML(ports), yamlList(argv))
	if reloadCommand != nil {
		text += fmt.Sprintf("nginx:\n  upstream_file: upstream.conf\n  reload_command: %s\n", yamlList(reloadCommand))
	}
	return text
}

// deployConf returns deploy/nginx.conf with its paths under prefix, its
// include pointed at upstreamFile and its server listening on port. Each
// line it rewrites must be there exactly once.
func deployConf(t *testing.T, prefix, upstreamFile string, port int) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	temps := ""
	for _, dir := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temps += fmt.Sprintf("    %s_temp_path %s/%s;\n", dir, prefix, dir)
	}
	text := string(b)
	for _, e := range []struct{ old, new string }{
		{"user www-data;", "# user: whoever runs the test"},
		{"pid /run/nginx.pid;", "pid " + prefix + "/nginx.pid;"},
		{"error_log /var/log/nginx/error.log;", "error_log " + prefix + "/error.log;"},
		{"access_log /var/log/nginx/access.log;", "access_log " + prefix + "/access.log;"},
		{"http {\n", "http {\n" + temps},
		{"include /etc/nginx/conf.d/hellomgr-upstream.conf;", "include " + upstreamFile + ";"},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port)},
	} {
		if n := strings.Count(text, e.old); n != 1 {
			t.Fatalf("deploy/nginx.conf: %q found %d times, want once (the test points it at its own folder)", e.old, n)
		}
		text = strings.Replace(text, e.old, e.new, 1)
	}
	return text
}

// runNginxConf starts nginx on conf in the foreground and stops it, by pid,
// when the test ends.
func runNginxConf(t *testing.T, prefix, conf string, port int) {
	t.Helper()
	cmd := exec.Command("/usr/sbin/nginx", "-p", prefix, "-c", conf, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	testnet.WaitFor(t, "nginx to listen", 10*time.Second, func() bool { return testnet.PortOpen(port) })
}

// checkEveryPortAnswers sends GETs through nginx, each on a new
// connection, and wants each port's instance to answer "<message> <port>"
// and nothing else. nginx's round robin reaches every server of the
// upstream in turn, in each worker, so 10 requests per port are plenty.
// It tries again for a while: `nginx -s reload` returns before nginx's new
// workers have taken over from the old ones.
func checkEveryPortAnswers(t *testing.T, url string, ports []int, message string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen, missing := countAnswers(t, url, 10*len(ports)), []int(nil)
		for _, p := range ports {
			if seen[fmt.Sprintf("200 %s %d", message, p)] == 0 {
				missing = append(missing, p)
			}
		}
		switch {
		case len(missing) == 0 && len(seen) == len(ports):
			return
		case len(missing) == 0:
			t.Fatalf("answers through %s: %v, want one per port", url, seen)
		case time.Now().After(deadline):
			t.Fatalf("ports %v never answered %q through %s; answers: %v", missing, message, url, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countAnswers sends n GETs to url, each on a new connection, and counts each
// "<status> <body>" seen.
func countAnswers(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	seen := map[string]int{}
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[fmt.Sprintf("%d %s", resp.StatusCode, b)]++
	}
	return seen
}

// containsLines reports whether the lines of needle appear one after the
// other in haystack, leading and trailing spaces aside.
func containsLines(haystack, needle string) bool {
	trim := func(s string) []string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		return lines
	}
	h, n := trim(haystack), trim(needle)
	for i := range h {
		if len(h)-i >= len(n) && slices.Equal(h[i:i+len(n)], n) {
			return true
		}
	}
	return false
}

func sortedFreePorts(t *testing.T, n int) []int {
	ports := testnet.FreePorts(t, n)
	slices.Sort(ports)
	return ports
}
