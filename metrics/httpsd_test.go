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

// addressSource is a manager whose instances are bound on addr.
type addressSource struct {
	fakeSource
	addr string
}

func (s addressSource) InstanceAddress() string { return s.addr }

// sdGroups decodes an HTTP SD answer into "target label=value..." lines.
func sdGroups(t *testing.T, body string) []string {
	t.Helper()
	var groups []targetGroup
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

func TestHTTPSDNamesTheHostOfEveryGroup(t *testing.T) {
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
		b, err := HTTPSD(tc.manager, tc.host, []int{8002, 8001})
		if err != nil {
			t.Fatalf("HTTPSD(%q, %q): %v", tc.manager, tc.host, err)
		}
		if got := sdGroups(t, string(b)); !slices.Equal(got, tc.want) {
			t.Errorf("HTTPSD(%q, %q):\ngot  %q\nwant %q", tc.manager, tc.host, got, tc.want)
		}
	}
	if _, err := HTTPSD("10.213.1.2:9100", "", []int{8001, 8001}); err == nil {
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
