package nginx

import (
	"strings"
	"testing"
)

func TestUpstreamOnOneAddress(t *testing.T) {
	for host, want := range map[string]string{
		"":           "server 127.0.0.1:8001 max_fails=0;",
		"0.0.0.0":    "server 127.0.0.1:8001 max_fails=0;",
		"10.213.1.2": "server 10.213.1.2:8001 max_fails=0;",
		"2001:db8::": "server [2001:db8::]:8001 max_fails=0;",
	} {
		if text := string(Upstream{Name: "app", Host: host, Ports: []int{8001}}.Render()); !strings.Contains(text, want) {
			t.Errorf("host %q: upstream block lacks %q:\n%s", host, want, text)
		}
	}
}

func TestUpstreamAcrossHosts(t *testing.T) {
	u := Upstream{Name: "app", Refusing: true, Hosts: []Host{
		{Addr: "10.213.1.2", Ports: []int{8001, 8002}},
		{Addr: "10.213.2.2", Ports: []int{8001, 8002}, Down: true},
	}}
	want := upgradeMap + `upstream app {
    # max_fails=0: a port refuses connects while its process restarts
    # (reload.handoff: none). nginx passes a refused connect, and a GET or
    # HEAD that fails, to the next server; with the default max_fails=1 it
    # would also take the port out for 10s (fail_timeout), and a rollout of
    # every port within 10s would leave it no server at all.
    # host 10.213.1.2
    server 10.213.1.2:8001 max_fails=0;
    server 10.213.1.2:8002 max_fails=0;
    # host 10.213.2.2: down, taken out for a rollout
    server 10.213.2.2:8001 max_fails=0 down;
    server 10.213.2.2:8002 max_fails=0 down;
    # Idle connections each nginx worker keeps open to the instances.
    # nginx closes them after 60s idle (keepalive_timeout), before the
    # built-in server would (75s): the side that closes an idle connection
    # must be nginx, or a POST written at that moment becomes a 502.
    keepalive 32;
}
`
	if got := string(u.Render()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
