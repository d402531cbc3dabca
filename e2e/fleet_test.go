package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// refresh is Prometheus' http_sd refresh interval in the fleet test.
const refresh = 2 * time.Second

// TestFleetRollingUpdate is the "many machines behind one nginx" path, on
// three machines made of network namespaces, each with its own sshd, run
// by deploy/ansible/rolling_update.yml as shipped, behind one nginx and
// watched by one Prometheus (deploy/prometheus.yml with an http_sd_configs
// URL per machine), both in the root namespace:
//
//  1. the playbook installs and starts 4 instances on each machine, and
//     Prometheus finds them within a refresh interval;
//  2. under GET and POST load through nginx, it rolls new code to the 3
//     machines × 4 ports, one machine at a time: no request fails, every
//     instance answers the new code, Prometheus sees all 12 (and the 3
//     managers) up;
//  3. a machine whose reload halts stops the roll: it is back in nginx's
//     upstream on its old code, the machines after it are not touched;
//  4. a machine that cannot be reached fails the play before anything
//     changes anywhere.
func TestFleetRollingUpdate(t *testing.T) {
	need(t, "/usr/bin/ansible-playbook", "ansible")
	need(t, "/usr/sbin/sshd", "openssh-server")
	need(t, "/usr/bin/ssh-keygen", "openssh-client")
	need(t, "/usr/bin/ss", "iproute2")
	need(t, "/usr/sbin/nginx", "nginx")
	need(t, "/usr/bin/prometheus", "prometheus")
	if os.Geteuid() != 0 {
		t.Fatal("the fleet test makes network namespaces and runs sshd: run it as root (CI does)")
	}
	dir, err := os.MkdirTemp("", "hmfleet")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	key := sshKey(t, dir)
	hosts := newFleet(t, 3, dir, key)
	f := &fleet{t: t, hosts: hosts, nginx: startFleetNginx(t, dir, hosts), prom: startFleetPrometheus(t, dir, hosts)}
	f.vars = fleetVars{hosts: hosts, key: key, nginx: f.nginx, ansibleTo: filepath.Join(dir, "ansible")}
	if err := os.MkdirAll(filepath.Join(f.vars.ansibleTo, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.inventory = f.vars.inventory(t, "inventory")

	fleetFigures.loadBefore = loadAverage()
	f.firstDeploy()
	singles := singleReloads(t, hosts)
	pids := f.roll(singles)
	f.halt(pids)
	f.unreachable(pids)
	writeFleetFigures(t)
}

// fleet is the fleet test's machines, nginx, Prometheus and inventory.
type fleet struct {
	t         *testing.T
	hosts     []*fleetHost
	nginx     *fleetNginx
	prom      fleetProm
	vars      fleetVars
	inventory string
}

// firstDeploy installs and starts v1 everywhere; Prometheus must find each
// machine soon after its up.
func (f *fleet) firstDeploy() {
	t := f.t
	watch := watchDiscovery(f.prom, f.hosts, 9)
	r := playbook(t, f.vars, f.inventory, "hellomgr_message=v1")
	if r.err != nil {
		t.Fatalf("first deploy: %v\n%s", r.err, r.failures())
	}
	found := watch.wait(t, f.hosts, 60*time.Second)
	figure("first deploy (install and start everywhere)", r.elapsed, 0, 0, fmt.Sprintf("Prometheus found each machine %v after its up", roundMap(found)))
	t.Logf("first deploy of 3 machines x 4 ports: %s; Prometheus found each machine's 4 instances and manager %v after its up (http_sd refresh_interval %s)",
		r.elapsed.Round(time.Millisecond), roundMap(found), refresh)
	for addr, d := range found {
		// Prometheus passes discovered targets on to its scrapers at
		// most every 5s, twice (discovery manager, then scrape manager).
		if d > refresh+10*time.Second {
			t.Errorf("Prometheus found %s %s after its up, want within the refresh interval (%s) and Prometheus' own 2 x 5s", addr, d, refresh)
		}
	}
	f.prom.waitTargets(t, fleetTargets(f.hosts))
	checkFleetAnswers(t, f.hosts, "v1")
}

// roll rolls v2 to every machine under load through nginx, and returns the
// instances' pids after it.
func (f *fleet) roll(singles []time.Duration) map[string]map[int]int {
	t := f.t
	before := fleetPIDs(t, f.hosts)
	load := startPacedLoad(f.nginx.url, 4, 4*time.Millisecond)
	waitLoad(t, load, 500)
	r := playbook(t, f.vars, f.inventory, "hellomgr_message=v2")
	rolled := time.Now()
	waitLoad(t, load, load.count()+500)
	results := load.finish()
	if r.err != nil {
		t.Fatalf("roll: %v\n%s", r.err, r.failures())
	}
	checkLoad(t, results, rolled, map[string]answer{"GET": {200, "v2"}, "POST": {405, ""}})
	checkFleetAnswers(t, f.hosts, "v2")
	after := fleetPIDs(t, f.hosts)
	for name, pids := range before {
		checkReplaced(t, pids, after[name])
	}
	checkUpstreamAllIn(t, f.nginx, f.hosts)
	f.prom.waitTargets(t, fleetTargets(f.hosts))
	reportRoll(t, r, singles, results)
	return after
}

// halt gives host1 new code that cannot start: its reload halts, the roll
// stops there, host1 is back in the upstream on its old code and the
// other machines are not touched; no request fails meanwhile.
func (f *fleet) halt(pids map[string]map[int]int) {
	t := f.t
	f.vars.perHost = map[string]map[string]any{f.hosts[0].name: {
		"hellomgr_command": []string{f.hosts[0].bin(), "serve", "--port", "{port}", "--message", "v3", "--no-such-flag"},
	}}
	halting := f.vars.inventory(t, "halting")
	load := startPacedLoad(f.nginx.url, 4, 4*time.Millisecond)
	waitLoad(t, load, 500)
	r := playbook(t, f.vars, halting, "hellomgr_message=v3")
	halted := time.Now()
	waitLoad(t, load, load.count()+500)
	results := load.finish()
	if r.err == nil {
		t.Fatalf("a roll whose first machine cannot start its new code succeeded")
	}
	if got := r.failures(); !strings.Contains(got, "host1: Replace the instances") {
		t.Errorf("the roll failed elsewhere than host1's reload:\n%s", got)
	}
	if ran := r.hostsRan("Roll hellomgr"); !slices.Equal(ran, []string{"host1"}) {
		t.Errorf("machines the halted roll ran tasks on: %v, want host1 alone", ran)
	}
	checkLoad(t, results, halted, map[string]answer{"GET": {200, "v2"}, "POST": {405, ""}})
	checkFleetAnswers(t, f.hosts, "v2")
	if now := fleetPIDs(t, f.hosts); !equalPIDs(now, pids) {
		t.Errorf("pids after the halted roll:\n%v\nwant them untouched:\n%v", now, pids)
	}
	checkUpstreamAllIn(t, f.nginx, f.hosts)
	figure("a roll halted at its first machine", r.elapsed, len(results), failedCount(results), "1 machine touched, back in the upstream on its old code")
	t.Logf("halted roll: failed in %s at host1, which is back in the upstream on its old code:\n%s", r.elapsed.Round(time.Millisecond), r.failures())
}

// unreachable stops host3's sshd: the play must fail before anything
// changes anywhere.
func (f *fleet) unreachable(pids map[string]map[int]int) {
	t := f.t
	f.hosts[2].stopSSHD(t)
	files := fleetFiles(t, f.hosts, f.nginx)
	r := playbook(t, f.vars, f.inventory, "hellomgr_message=v4")
	if r.err == nil {
		t.Fatalf("a roll with an unreachable machine succeeded")
	}
	if ran := r.hostsRan("Roll hellomgr"); len(ran) > 0 {
		t.Errorf("the roll ran tasks on %v with host3 unreachable, want none", ran)
	}
	if !equalPIDs(fleetPIDs(t, f.hosts), pids) {
		t.Errorf("an instance was replaced although host3 was unreachable")
	}
	if now := fleetFiles(t, f.hosts, f.nginx); !maps.Equal(now, files) {
		t.Errorf("files changed although host3 was unreachable")
	}
	checkFleetAnswers(t, f.hosts, "v2")
	figure("a machine unreachable", r.elapsed, 0, 0, "the play failed before any change")
	t.Logf("unreachable host3: the play failed in %s, nothing changed:\n%s", r.elapsed.Round(time.Millisecond), r.failures())
}

func waitLoad(t *testing.T, l *loadRun, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("load: %d requests after 30s, want %d", l.count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fleetTargets are the targets Prometheus must find: each machine's
// manager, and each instance twice (its own /metrics and the manager's
// /probe).
func fleetTargets(hosts []*fleetHost) []string {
	var want []string
	for _, h := range hosts {
		manager := h.addr + ":9100"
		want = append(want, "hellomgr "+manager+" http://"+manager+"/metrics")
		for port := 8001; port <= 8004; port++ {
			inst := fmt.Sprintf("%s:%d", h.addr, port)
			want = append(want,
				fmt.Sprintf("hellomgr_app %s http://%s/metrics", inst, inst),
				fmt.Sprintf("hellomgr_probe %s http://%s/probe?port=%d", inst, manager, port))
		}
	}
	return want
}

// checkFleetAnswers asks every instance of every machine, directly.
func checkFleetAnswers(t *testing.T, hosts []*fleetHost, want string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, h := range hosts {
		for port := 8001; port <= 8004; port++ {
			url := fmt.Sprintf("http://%s:%d/", h.addr, port)
			r := send(client, http.MethodGet, url)
			if r.err != nil || r.status != 200 || r.body != want {
				t.Errorf("%s: got %d %q %v, want %q", url, r.status, r.body, r.err, want)
			}
		}
	}
}

// fleetPIDs is every instance's pid, by machine and port.
func fleetPIDs(t *testing.T, hosts []*fleetHost) map[string]map[int]int {
	t.Helper()
	all := map[string]map[int]int{}
	for _, h := range hosts {
		out, err := h.run(h.bin(), "status", "--json", "-c", h.config())
		if err != nil {
			t.Fatalf("%s: hellomgr status: %v\n%s", h.name, err, out)
		}
		var st []struct{ Port, PID int }
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%s: hellomgr status --json: %v\n%s", h.name, err, out)
		}
		all[h.name] = map[int]int{}
		for _, s := range st {
			all[h.name][s.Port] = s.PID
		}
	}
	return all
}

func equalPIDs(a, b map[string]map[int]int) bool {
	return maps.EqualFunc(a, b, maps.Equal)
}

// fleetFiles is what a roll may change: each machine's binary and config,
// and nginx's upstream file, by path.
func fleetFiles(t *testing.T, hosts []*fleetHost, ngx *fleetNginx) map[string]string {
	t.Helper()
	files := map[string]string{ngx.upstreamFile: readFile(ngx.upstreamFile)}
	for _, h := range hosts {
		for _, path := range []string{h.bin(), h.config()} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			files[path] = fmt.Sprintf("%s %d %s", readFile(path)[:min(fi.Size(), 4096)], fi.Size(), fi.ModTime())
		}
	}
	return files
}

// checkUpstreamAllIn checks that every machine is in nginx's upstream,
// none marked down.
func checkUpstreamAllIn(t *testing.T, ngx *fleetNginx, hosts []*fleetHost) {
	t.Helper()
	text := readFile(ngx.upstreamFile)
	for _, h := range hosts {
		for port := 8001; port <= 8004; port++ {
			if line := fmt.Sprintf("server %s:%d max_fails=0;", h.addr, port); !strings.Contains(text, line) {
				t.Errorf("upstream file lacks %q:\n%s", line, text)
			}
		}
	}
	if strings.Contains(text, " down;") {
		t.Errorf("a machine is still marked down:\n%s", text)
	}
}

// singleReloads times `hellomgr reload` on each machine alone, as a user
// of one machine runs it (same config: every instance replaced).
func singleReloads(t *testing.T, hosts []*fleetHost) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for _, h := range hosts {
		start := time.Now()
		if out, err := h.run(h.bin(), "reload", "-c", h.config()); err != nil {
			t.Fatalf("%s: hellomgr reload: %v\n%s", h.name, err, out)
		}
		ds = append(ds, time.Since(start))
	}
	return ds
}

func roundMap(m map[string]time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	for k, d := range m {
		out[k] = d.Round(time.Millisecond)
	}
	return out
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// fleetNginx is the central nginx, in the root namespace, listening on
// host1's root-side address and including the upstream file the playbook
// rewrites.
type fleetNginx struct {
	prefix, conf, upstreamFile, url string
}

func (n *fleetNginx) command(args ...string) []string {
	return append([]string{"/usr/sbin/nginx", "-p", n.prefix, "-c", n.conf}, args...)
}

func startFleetNginx(t *testing.T, dir string, hosts []*fleetHost) *fleetNginx {
	t.Helper()
	prefix := filepath.Join(dir, "nginx")
	os.MkdirAll(prefix, 0o755)
	port := freePortOn(t, hosts[0].rootAddr)
	n := &fleetNginx{prefix: prefix, conf: filepath.Join(prefix, "nginx.conf"),
		upstreamFile: filepath.Join(prefix, "hellomgr-upstream.conf"),
		url:          fmt.Sprintf("http://%s:%d/", hosts[0].rootAddr, port)}

	// What `hellomgr nginx` prints for the fleet: the upstream, and the
	// location for the server block.
	cfg := filepath.Join(dir, "nginx-config.yaml")
	os.WriteFile(cfg, []byte("ports: [\"8001-8004\"]\n"), 0o644)
	args := []string{"nginx", "-c", cfg}
	for _, h := range hosts {
		args = append(args, "--host", h.addr)
	}
	out, err := exec.Command(hellomgrBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("hellomgr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	httpPart, location, ok := strings.Cut(string(out), "# In a server { } block:\n")
	if !ok {
		t.Fatalf("hellomgr nginx printed no server block part:\n%s", out)
	}
	os.WriteFile(n.upstreamFile, []byte(httpPart), 0o644)
	conf := nginxConf(prefix, "    include "+n.upstreamFile+";", fmt.Sprintf("%s:%d", hosts[0].rootAddr, port), location)
	os.WriteFile(n.conf, []byte(conf), 0o644)
	if out, err := exec.Command(n.command("-t", "-q")[0], n.command("-t", "-q")[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, conf)
	}
	cmd := exec.Command(n.command("-g", "daemon off;")[0], n.command("-g", "daemon off;")[1:]...)
	cmd.Stderr = os.Stderr
	startServer(t, cmd, "nginx", fmt.Sprintf("%s:%d", hosts[0].rootAddr, port))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx error log:\n%s", readFile(filepath.Join(prefix, "error.log")))
		}
	})
	return n
}
