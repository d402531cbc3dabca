package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every query of deploy/grafana-dashboard.json, run against a real
// Prometheus running deploy/prometheus.yml and deploy/hellomgr-rules.yml
// over a real deployment behind the printed nginx, returns series: load
// through nginx with some 500s, an instance killed (a restart) and a
// reload that fails (a halted rollout, which fires HellomgrRolloutHalted).
func TestDashboardQueriesReturnSeries(t *testing.T) {
	need(t, "/usr/bin/prometheus", "prometheus")
	queries := dashboardQueries(t)
	d := newDeployment(t)
	ports := sortedFreePorts(t, 3)
	d.write("config.yaml", builtinConfig(ports, "--message", "v1", "--fail-percent", "10"))
	d.mustRun("up", "-d")
	httpPart, location := d.printedNginx()
	ngx := startNginx(t, httpPart, location)
	load := startLoad(fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port), 4, 1<<30, true, http.MethodGet)
	defer load.finish()

	rules, err := filepath.Abs("../deploy/hellomgr-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	config := deployPrometheusYAML(t, d.dir)
	if !strings.Contains(config, `"hellomgr-rules*.yml"`) {
		t.Fatal(`deploy/prometheus.yml no longer loads "hellomgr-rules*.yml", which the test points at deploy/`)
	}
	prom := startPrometheus(t, strings.Replace(config, `"hellomgr-rules*.yml"`, fmt.Sprintf("%q", rules), 1))
	prom.waitTargets(t, wantTargets(d.managerAddr(), ports))
	prom.waitQuery(t, "every instance up", `hellomgr_instance_up{job="hellomgr_probe"}`, valuesByPort(ports, 1))

	syscall.Kill(d.pids()[ports[2]], syscall.SIGKILL) // a restart
	d.write("config.yaml", fmt.Sprintf("ports: %s\ncommand: [/bin/false]\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports)))
	if out, err := d.run("reload"); err == nil {
		t.Fatalf("reload to /bin/false succeeded:\n%s", out)
	}

	empty := queries
	deadline := time.Now().Add(2 * time.Minute)
	for len(empty) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		var still []string
		for _, q := range empty {
			if s, err := prom.query(q); err != nil || len(s) == 0 {
				still = append(still, q)
			}
		}
		empty = still
	}
	for _, q := range empty {
		s, err := prom.query(q)
		t.Errorf("dashboard query %s: %d series, %v; want series", q, len(s), err)
	}
	t.Logf("%d dashboard queries, %d returned series", len(queries), len(queries)-len(empty))
}

// dashboardQueries reads every target's expr from the dashboard, with
// Grafana's interval variables given values fit for a 1s scrape.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	var qs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			q := strings.NewReplacer("$__rate_interval", "20s", "$__range", "5m").Replace(tg.Expr)
			if strings.Contains(q, "$") {
				t.Errorf("dashboard panel %q: query %s has a variable the test does not know", p.Title, tg.Expr)
			}
			qs = append(qs, q)
		}
	}
	if len(qs) < 10 {
		t.Fatalf("the dashboard has %d queries, want the dozen it ships", len(qs))
	}
	return qs
}
