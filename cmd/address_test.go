package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An up with address: 127.0.0.2 binds every port there alone, finds the
// instances ready there, and says so in targets, /targets and nginx; a
// reload keeps them there.
func TestAddressBindsProbesAndPrintsOneAddress(t *testing.T) {
	e := newEnv(t, 2, "address: 127.0.0.2\n")
	e.mustRun("up", "-d")
	checkOnlyOn := func(when string) {
		t.Helper()
		for _, port := range e.ports {
			if body, err := getFrom("127.0.0.2", port, "/"); err != nil || body != "Hello Itcast!" {
				t.Errorf("%s: port %d on 127.0.0.2: got %q, %v; want Hello Itcast!", when, port, body, err)
			}
			if conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				conn.Close()
				t.Errorf("%s: port %d answers on 127.0.0.1, want 127.0.0.2 only", when, port)
			}
		}
	}
	checkOnlyOn("after up")

	manager := ""
	for _, g := range groups(t, e.mustRun("targets")) {
		target, labels, _ := strings.Cut(g, " ")
		if !strings.Contains(labels, "port=") {
			manager = target
			continue
		}
		if !strings.HasPrefix(target, "127.0.0.2:") {
			t.Errorf("targets: group %q, want its target on 127.0.0.2", g)
		}
	}
	mhost, mport, _ := net.SplitHostPort(manager)
	body, err := getFrom(mhost, atoi(mport), "/targets")
	if err != nil {
		t.Fatalf("GET /targets from the manager at %q: %v", manager, err)
	}
	var sd []struct {
		Targets []string
		Labels  map[string]string
	}
	if err := json.Unmarshal([]byte(body), &sd); err != nil || len(sd) != 1+len(e.ports) {
		t.Fatalf("GET /targets: %v, want %d groups:\n%s", err, 1+len(e.ports), body)
	}
	for _, g := range sd[1:] {
		if g.Labels["host"] != "127.0.0.2" || !strings.HasPrefix(g.Targets[0], "127.0.0.2:") {
			t.Errorf("GET /targets: group %v, want it on host 127.0.0.2", g)
		}
	}

	out := e.mustRun("nginx")
	for _, port := range e.ports {
		if want := fmt.Sprintf("server 127.0.0.2:%d max_fails=0;", port); !strings.Contains(out, want) {
			t.Errorf("nginx: no %q in\n%s", want, out)
		}
	}

	e.writeConfig("address: 127.0.0.2\nreload:\n  max_unavailable: 2\n")
	e.mustRun("reload")
	checkOnlyOn("after a reload")
}

func TestNginxAcrossHosts(t *testing.T) {
	e := newEnv(t, 2, "")
	out := e.mustRun("nginx", "--upstream-only", "--host", "10.213.1.2", "--host", "10.213.2.2", "--down", "10.213.2.2")
	var want []string
	for _, host := range []string{"10.213.1.2", "10.213.2.2"} {
		for _, port := range slices.Sorted(slices.Values(e.ports)) {
			line := fmt.Sprintf("    server %s:%d max_fails=0", host, port)
			if host == "10.213.2.2" {
				line += " down"
			}
			want = append(want, line+";")
		}
	}
	if !strings.Contains(out, "\nupstream hellomgr {\n") || !containsInOrder(out, want) || !strings.Contains(out, "keepalive 32;") || strings.Contains(out, "location") {
		t.Errorf("got\n%s\nwant an upstream block alone with, in order,\n%s", out, strings.Join(want, "\n"))
	}

	// The whole output, for a stop-then-start app: max_fails=0 on every
	// machine's servers, and the location.
	e.writeConfig("command: [/bin/sleep, \"1000\"]\nready:\n  tcp: true\n")
	out = e.mustRun("nginx", "--host", "10.213.1.2", "--host", "app3.example")
	if !strings.Contains(out, fmt.Sprintf("server app3.example:%d max_fails=0;", e.ports[1])) || !strings.Contains(out, "proxy_pass http://hellomgr;") {
		t.Errorf("stop-then-start across hosts:\n%s", out)
	}

	for _, args := range [][]string{
		{"--host", "10.213.1.2", "--down", "10.213.9.9"},
		{"--host", "10.213.1.2", "--host", "10.213.1.2"},
		{"--host", "10.213.1.2:80"},
		{"--host", "0.0.0.0"},
	} {
		_, errOut, code := e.run(append([]string{"nginx"}, args...)...)
		if code != ExitUsage || !strings.Contains(errOut, "--") {
			t.Errorf("nginx %v: exit %d, stderr %q; want %d and the flag named", args, code, errOut, ExitUsage)
		}
	}
}

func containsInOrder(text string, lines []string) bool {
	for _, l := range lines {
		i := strings.Index(text, l+"\n")
		if i < 0 {
			return false
		}
		text = text[i+len(l):]
	}
	return true
}

func getFrom(host string, port int, path string) (string, error) {
	resp, err := client.Get("http://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s", resp.Status)
	}
	return string(b), err
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Defect: liveness probes dialled 127.0.0.1 whatever address: said, so
// with address: 127.0.0.2 or ::1 healthy instances were replaced every
// two seconds for ever.
func TestLivenessProbesTheConfiguredAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.2", "::1"} {
		t.Run(addr, func(t *testing.T) {
			e := newEnv(t, 2, fmt.Sprintf("address: %q\n", addr)+liveness)
			e.mustRun("up", "-d")
			before := e.statuses()
			time.Sleep(2 * time.Second) // ten liveness probes, three failures in a row replace
			for port, st := range e.statuses() {
				if st.PID != before[port].PID || st.Restarts != 0 {
					t.Errorf("port %d on %s: pid %d -> %d, %d restarts (%s); a healthy instance was replaced", port, addr, before[port].PID, st.PID, st.Restarts, st.LastError)
				}
			}
		})
	}
}
