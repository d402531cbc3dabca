package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// proxy.hash prints a consistent hash upstream that nginx loads (nginx -t
// in startNginx): by client address, every request from this machine goes
// to one port; by cookie, one cookie keeps one port and several spread;
// and a reload under the hash fails no request.
func TestRealtimeHashUpstream(t *testing.T) {
	for _, tc := range []struct{ hash, directive string }{
		{"client_address", "hash $remote_addr consistent;"},
		{"cookie:session", "hash $cookie_session consistent;"},
	} {
		t.Run(tc.hash, func(t *testing.T) {
			d := newDeployment(t)
			ports := sortedFreePorts(t, 4)
			d.write("config.yaml", builtInConfig(ports, "v1", nil, nil)+"proxy:\n  hash: "+tc.hash+"\n")
			d.mustRun("up", "-d")
			httpPart, location := d.printedNginx()
			if !strings.Contains(httpPart, tc.directive) {
				t.Fatalf("hellomgr nginx: no %q in:\n%s", tc.directive, httpPart)
			}
			ngx := startNginx(t, httpPart, location)
			url := fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port)
			byCookie := map[string]map[string]bool{}
			for i := range 40 {
				cookie := fmt.Sprintf("c%d", i%8)
				body := getWithCookie(t, url, cookie)
				if byCookie[cookie] == nil {
					byCookie[cookie] = map[string]bool{}
				}
				byCookie[cookie][body] = true
			}
			answers := map[string]bool{}
			for cookie, bodies := range byCookie {
				if len(bodies) != 1 {
					t.Errorf("cookie %s answered by %d instances, want 1: %v", cookie, len(bodies), bodies)
				}
				for b := range bodies {
					answers[b] = true
				}
			}
			if want := map[string]int{"client_address": 1, "cookie:session": 2}[tc.hash]; len(answers) < want || (tc.hash == "client_address" && len(answers) != 1) {
				t.Errorf("%d instances answered 8 cookies from one address: %v", len(answers), answers)
			}
			results, reloaded, _ := d.reloadUnderLoad(url, true, func() {
				d.write("config.yaml", builtInConfig(ports, "v2", nil, nil)+"proxy:\n  hash: "+tc.hash+"\n")
			})
			checkLoad(t, results, reloaded, map[string]answer{"GET": {200, ""}, "POST": {405, ""}})
		})
	}
}

func getWithCookie(t *testing.T, url, session string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: session})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Two configs share one nginx under names given with --upstream: both
// printed configs load in one nginx (nginx -t; the map each brings may be
// there twice), and each location reaches its own ports.
func TestRealtimeTwoConfigsShareOneNginx(t *testing.T) {
	a, b := newDeployment(t), newDeployment(t)
	pa, pb := sortedFreePorts(t, 2), sortedFreePorts(t, 2)
	a.write("config.yaml", builtInConfig(pa, "app-a", nil, nil))
	b.write("config.yaml", builtInConfig(pb, "app-b", nil, nil))
	a.mustRun("up", "-d")
	b.mustRun("up", "-d")
	httpA, locA, _ := strings.Cut(a.mustRun("nginx", "--upstream", "app_a"), "# In a server { } block:\n")
	httpB, locB, _ := strings.Cut(b.mustRun("nginx", "--upstream", "app_b"), "# In a server { } block:\n")
	if !strings.Contains(httpA, "upstream app_a {") || !strings.Contains(httpB, "upstream app_b {") {
		t.Fatalf("--upstream: names not in the upstream blocks:\n%s\n%s", httpA, httpB)
	}
	portB := testnet.FreePorts(t, 1)[0]
	second := fmt.Sprintf("server {\n    listen 127.0.0.1:%d;\n%s}\n", portB, locB)
	ngx := startNginx(t, httpA+httpB+second, locA)
	checkEveryPortAnswers(t, fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), pa, "app-a")
	checkEveryPortAnswers(t, fmt.Sprintf("http://127.0.0.1:%d/", portB), pb, "app-b")
	// With an nginx: section, the name is the section's.
	b.write("config.yaml", builtInConfig(pb, "app-b", nil, []string{"/bin/true"}))
	if out, err := b.run("nginx", "--upstream", "other"); err == nil || !strings.Contains(out, "set nginx.upstream: other there instead") {
		t.Errorf("--upstream against an nginx: section: %v\n%s", err, out)
	}
}

// The upstream file an nginx: section makes hellomgr write carries the
// hash and the websocket map, so the include alone serves the location.
func TestRealtimeNginxSectionFileCarriesHashAndMap(t *testing.T) {
	d := newDeployment(t)
	ports := sortedFreePorts(t, 2)
	d.write("config.yaml", builtInConfig(ports, "v1", nil, []string{"/bin/true"})+"proxy:\n  hash: client_address\n")
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	text := readFile(d.dir + "/upstream.conf")
	for _, want := range []string{"map $http_upgrade $connection_upgrade {", "hash $remote_addr consistent;", "max_fails=0;"} {
		if !strings.Contains(text, want) {
			t.Errorf("upstream.conf lacks %q:\n%s", want, text)
		}
	}
	ngx := startNginx(t, httpPart, location)
	seen := countAnswers(t, fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), 10)
	if len(seen) != 1 {
		t.Errorf("hash by client address: answers %v, want one instance's", seen)
	}
}
