package metrics

import (
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// targetsJSON is Targets, marshalled: what the targets file holds.
func targetsJSON(managerAddr, host string, ports []int) (string, error) {
	groups, err := Targets(managerAddr, host, ports)
	if err != nil {
		return "", err
	}
	b, err := MarshalTargets(groups)
	return string(b), err
}

// The bytes of the file are pinned: Prometheus reads them, and
// `hellomgr targets` prints them.
func TestTargetsJSON(t *testing.T) {
	got, err := targetsJSON("0.0.0.0:9100", "", []int{8002, 8001})
	if err != nil {
		t.Fatal(err)
	}
	const want = `[
  {
    "targets": [
      "127.0.0.1:9100"
    ],
    "labels": {}
  },
  {
    "targets": [
      "127.0.0.1:8001"
    ],
    "labels": {
      "__tmp_hellomgr_manager": "127.0.0.1:9100",
      "port": "8001"
    }
  },
  {
    "targets": [
      "127.0.0.1:8002"
    ],
    "labels": {
      "__tmp_hellomgr_manager": "127.0.0.1:9100",
      "port": "8002"
    }
  }
]
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Without a manager's address, the ports alone, without the manager's
// label: nothing to probe.
func TestTargetsWithoutAManager(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"", "127.0.0.1:8001 port=8001"},
		{"0.0.0.0", "127.0.0.1:8001 port=8001"},
		{"10.0.0.5", "10.0.0.5:8001 port=8001"},
	} {
		got, err := targetsJSON("", tc.host, []int{8001})
		if err != nil {
			t.Fatalf("host %q: %v", tc.host, err)
		}
		if g := sdGroups(t, got); !slices.Equal(g, []string{tc.want}) {
			t.Errorf("host %q: got %q, want %q", tc.host, g, tc.want)
		}
	}
}

// TestTargetHosts checks where the targets point for each form of the
// manager's address and of the instances' bind address.
func TestTargetHosts(t *testing.T) {
	for _, tc := range []struct{ addr, host, target, manager string }{
		{":9100", "", "127.0.0.1:8001", "127.0.0.1:9100"},
		{"0.0.0.0:9100", "", "127.0.0.1:8001", "127.0.0.1:9100"},
		{"[::]:9100", "", "127.0.0.1:8001", "127.0.0.1:9100"},
		{"[::1]:9100", "", "[::1]:8001", "[::1]:9100"},
		{"10.0.0.5:9100", "", "10.0.0.5:8001", "10.0.0.5:9100"},
		{"app1.example.com:9100", "", "app1.example.com:8001", "app1.example.com:9100"},
		{"127.0.0.1:9100", "10.0.0.5", "10.0.0.5:8001", "127.0.0.1:9100"},
		{"10.0.0.5:9100", "::", "10.0.0.5:8001", "10.0.0.5:9100"},
	} {
		got, err := Targets(tc.addr, tc.host, []int{8001})
		if err != nil {
			t.Errorf("manager %s, host %q: %v", tc.addr, tc.host, err)
			continue
		}
		if len(got) != 2 || got[0].Targets[0] != tc.manager || got[1].Targets[0] != tc.target || got[1].Labels[managerLabel] != tc.manager {
			t.Errorf("manager %s, host %q: got %v, want manager %s and target %s", tc.addr, tc.host, got, tc.manager, tc.target)
		}
	}
}

func TestTargetsErrors(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		ports []int
		want  string
	}{
		{"127.0.0.1", nil, "file_sd: manager address: address 127.0.0.1: missing port in address"},
		{"127.0.0.1:0", nil, `file_sd: manager address "127.0.0.1:0": want the port it listens on, from 1 to 65535`},
		{"127.0.0.1:http", nil, `file_sd: manager address "127.0.0.1:http": want the port it listens on, from 1 to 65535`},
		{"127.0.0.1:9100", []int{0}, "file_sd: port 0 is not a number from 1 to 65535"},
		{"127.0.0.1:9100", []int{70000}, "file_sd: port 70000 is not a number from 1 to 65535"},
		{"127.0.0.1:9100", []int{8001, 8002, 8001}, "file_sd: port 8001 listed twice"},
		{"", []int{8001, 8001}, "file_sd: port 8001 listed twice"},
	} {
		_, err := Targets(tc.addr, "", tc.ports)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Targets(%q, %v): got error %v, want %q", tc.addr, tc.ports, err, tc.want)
		}
	}
}

// addressSource is a manager whose instances are bound on addr.
type addressSource struct {
	fakeSource
	addr string
}

func (s addressSource) InstanceAddress() string { return s.addr }

// sdGroups decodes target groups into "target label=value..." lines.
func sdGroups(t *testing.T, body string) []string {
	t.Helper()
	var groups []TargetGroup
	if err := json.Unmarshal([]byte(body), &groups); err != nil {
		t.Fatalf("not a JSON array of target groups: %v\n%s", err, body)
	}
	var out []string
	for _, g := range groups {
		line := strings.Join(g.Targets, ",")
		for _, k := range slices.Sorted(maps.Keys(g.Labels)) {
			line += " " + k + "=" + g.Labels[k]
		}
		out = append(out, line)
	}
	return out
}

func TestHTTPTargetsNameTheHostOfEveryGroup(t *testing.T) {
	for _, tc := range []struct {
		manager, host string
		want          []string
	}{
		{"10.213.1.2:9100", "", []string{
			"10.213.1.2:9100 host=10.213.1.2",
			"10.213.1.2:8001 __tmp_hellomgr_manager=10.213.1.2:9100 host=10.213.1.2 port=8001",
			"10.213.1.2:8002 __tmp_hellomgr_manager=10.213.1.2:9100 host=10.213.1.2 port=8002",
		}},
		{"127.0.0.1:9100", "10.213.1.2", []string{
			"127.0.0.1:9100 host=10.213.1.2",
			"10.213.1.2:8001 __tmp_hellomgr_manager=127.0.0.1:9100 host=10.213.1.2 port=8001",
			"10.213.1.2:8002 __tmp_hellomgr_manager=127.0.0.1:9100 host=10.213.1.2 port=8002",
		}},
		{"[2001:db8::5]:9100", "0.0.0.0", []string{
			"[2001:db8::5]:9100 host=2001:db8::5",
			"[2001:db8::5]:8001 __tmp_hellomgr_manager=[2001:db8::5]:9100 host=2001:db8::5 port=8001",
			"[2001:db8::5]:8002 __tmp_hellomgr_manager=[2001:db8::5]:9100 host=2001:db8::5 port=8002",
		}},
	} {
		b, err := httpTargets(tc.manager, tc.host, []int{8002, 8001})
		if err != nil {
			t.Fatalf("httpTargets(%q, %q): %v", tc.manager, tc.host, err)
		}
		if got := sdGroups(t, string(b)); !slices.Equal(got, tc.want) {
			t.Errorf("httpTargets(%q, %q):\ngot  %q\nwant %q", tc.manager, tc.host, got, tc.want)
		}
	}
	if _, err := httpTargets("10.213.1.2:9100", "", []int{8001, 8001}); err == nil {
		t.Error("a port listed twice was accepted")
	}
}

// The handler names the manager by the address the client reached it at,
// and answers GET and HEAD only.
func TestTargetsEndpoint(t *testing.T) {
	src := addressSource{fakeSource: twoInstances()}
	srv := httptest.NewServer(Handler(src))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	host, _, _ := net.SplitHostPort(addr)

	resp, err := http.Get(srv.URL + "/targets")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /targets: %s, Content-Type %q\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	want := []string{
		addr + " host=" + host,
		host + ":8001 __tmp_hellomgr_manager=" + addr + " host=" + host + " port=8001",
		host + ":8002 __tmp_hellomgr_manager=" + addr + " host=" + host + " port=8002",
	}
	if got := sdGroups(t, string(body)); !slices.Equal(got, want) {
		t.Errorf("GET /targets:\ngot  %q\nwant %q", got, want)
	}

	resp, err = http.Head(srv.URL + "/targets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /targets: %s, want 200", resp.Status)
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, srv.URL+"/targets", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") {
			t.Errorf("%s /targets: %s, Allow %q; want 405 allowing GET", method, resp.Status, resp.Header.Get("Allow"))
		}
	}

	src.addr = "10.213.1.2"
	code, body2 := get(t, targetsHandler{src: src}, "http://127.0.0.1:9100/targets")
	if code != http.StatusOK || !strings.Contains(body2, `"10.213.1.2:8001"`) || !strings.Contains(body2, `"127.0.0.1:9100"`) {
		t.Errorf("instances bound on 10.213.1.2: %d\n%s", code, body2)
	}
}
