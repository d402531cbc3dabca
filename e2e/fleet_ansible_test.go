package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// ansibleDir is the shipped Ansible content the fleet test runs as it is;
// HELLOMGR_ANSIBLE_DIR runs another copy instead (an older one, to time a
// roll before and after a change of the playbook on the same machine).
var ansibleDir = cmp.Or(os.Getenv("HELLOMGR_ANSIBLE_DIR"), "../deploy/ansible")

// fleetVars are the inventory variables of one run: the role's and the
// load balancer's, for the test's machines and nginx.
type fleetVars struct {
	hosts     []*fleetHost
	key       string
	nginx     *fleetNginx
	perHost   map[string]map[string]any // extra variables by machine name
	ansibleTo string                    // Ansible's own folder (ANSIBLE_HOME, temp files, control sockets)
}

// inventory writes a YAML inventory for the run and returns its path.
func (v fleetVars) inventory(t *testing.T, name string) string {
	t.Helper()
	hosts := map[string]any{}
	for _, h := range v.hosts {
		vars := map[string]any{
			"ansible_host":             h.addr,
			"ansible_remote_tmp":       filepath.Join(h.dir, ".ansible-tmp"),
			"hellomgr_bin":             h.bin(),
			"hellomgr_config_dir":      filepath.Dir(h.config()),
			"hellomgr_logs_dir":        filepath.Join(h.dir, "logs"),
			"hellomgr_metrics_address": h.addr + ":9100",
		}
		for k, val := range v.perHost[h.name] {
			vars[k] = val
		}
		hosts[h.name] = vars
	}
	inv := map[string]any{"all": map[string]any{
		"vars": map[string]any{
			"ansible_user":                 "root",
			"ansible_ssh_private_key_file": v.key,
			"ansible_python_interpreter":   "/usr/bin/python3",
			"hellomgr_binary":              hellomgrBin,
			"hellomgr_ports":               []string{"8001-8004"},
			// Systemd does not run inside the namespaces: `hellomgr up -d`.
			"hellomgr_systemd":      false,
			"hellomgr_config_extra": "ready:\n  timeout: 5s\n",
		},
		"children": map[string]any{
			"hellomgr": map[string]any{"hosts": hosts},
			"lb": map[string]any{"hosts": map[string]any{"lb": map[string]any{
				"ansible_connection":   "local",
				"nginx_upstream_file":  v.nginx.upstreamFile,
				"nginx_check_command":  strings.Join(v.nginx.command("-t", "-q"), " "),
				"nginx_reload_command": strings.Join(v.nginx.command("-s", "reload"), " "),
			}}},
		},
	}}
	b, err := json.MarshalIndent(inv, "", "  ") // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(v.ansibleTo, name+".yml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// playResult is ansible-playbook's run as its JSON callback reports it.
type playResult struct {
	err     error
	elapsed time.Duration
	out     string
	Plays   []struct {
		Play  struct{ Name string }
		Tasks []struct {
			Task struct {
				Name     string
				Duration struct{ Start, End time.Time }
			}
			Hosts map[string]map[string]any
		}
	}
	Stats map[string]map[string]int
}

// runs counts the playbook runs of the test binary.
var runs int

// playbook runs deploy/ansible/rolling_update.yml on the inventory, with
// the extra variables, and returns how it went.
func playbook(t *testing.T, v fleetVars, inventory string, extra ...string) *playResult {
	t.Helper()
	args := []string{"-i", inventory, "rolling_update.yml"}
	for _, e := range extra {
		args = append(args, "-e", e)
	}
	// Each run has ssh connections of its own: a connection a previous run
	// left open (ControlPersist) would still reach a machine whose sshd
	// has stopped.
	runs++
	cp := filepath.Join(v.ansibleTo, fmt.Sprintf("cp%d", runs))
	if err := os.MkdirAll(cp, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ansible-playbook", args...)
	cmd.Dir = ansibleDir
	cmd.Env = append(os.Environ(),
		"ANSIBLE_HOME="+v.ansibleTo,
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(v.ansibleTo, "tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+cp,
		"ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_STDOUT_CALLBACK=ansible.posix.json",
		"ANSIBLE_NOCOLOR=1",
	)
	start := time.Now()
	out, err := cmd.Output()
	r := &playResult{err: err, elapsed: time.Since(start), out: string(out)}
	if jerr := json.Unmarshal(out, r); jerr != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ansible-playbook %s: %v; its output is not the JSON callback's (%v):\n%s\n%s", strings.Join(args, " "), err, jerr, out, stderr)
	}
	return r
}

// taskTimes sums the durations of the tasks of the play named play, by
// the group their name falls in (classify), for the figures.
func (r *playResult) taskTimes(play string, classify func(task string) string) map[string]time.Duration {
	sums := map[string]time.Duration{}
	for _, p := range r.Plays {
		if !strings.HasPrefix(p.Play.Name, play) {
			continue
		}
		for _, task := range p.Tasks {
			sums[classify(task.Task.Name)] += task.Task.Duration.End.Sub(task.Task.Duration.Start)
		}
	}
	return sums
}

// hostsRan lists the machines that ran at least one task of the play.
func (r *playResult) hostsRan(play string) []string {
	seen := map[string]bool{}
	for _, p := range r.Plays {
		if !strings.HasPrefix(p.Play.Name, play) {
			continue
		}
		for _, task := range p.Tasks {
			for h, res := range task.Hosts {
				if skipped, _ := res["skipped"].(bool); !skipped {
					seen[h] = true
				}
			}
		}
	}
	var hosts []string
	for h := range seen {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// failures describes every failed or unreachable task result, one a line.
func (r *playResult) failures() string {
	var lines []string
	for _, p := range r.Plays {
		for _, task := range p.Tasks {
			for h, res := range task.Hosts {
				failed, _ := res["failed"].(bool)
				unreachable, _ := res["unreachable"].(bool)
				if failed || unreachable {
					lines = append(lines, fmt.Sprintf("%s: %s: %v %v %v", h, task.Task.Name, res["msg"], res["stdout"], res["stderr"]))
				}
			}
		}
	}
	return strings.Join(lines, "\n")
}

// startPacedLoad sends GET and POST requests through url from workers,
// each a new client (Connection: close) after a pause, until finish: a
// steady load that leaves the machine's CPU to Ansible, nginx and the
// instances.
func startPacedLoad(url string, workers int, pause time.Duration) *loadRun {
	l := &loadRun{stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}, Timeout: 30 * time.Second}
	methods := []string{http.MethodGet, http.MethodPost}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
				l.record(send(client, methods[(w+i)%len(methods)], url))
			}
		}()
	}
	return l
}

// TestAnsibleSyntax checks the shipped playbook, role and example
// inventory as Ansible reads them, without a machine to run them on.
func TestAnsibleSyntax(t *testing.T) {
	need(t, "/usr/bin/ansible-playbook", "ansible")
	home := t.TempDir()
	for _, args := range [][]string{
		{"ansible-playbook", "--syntax-check", "-i", "inventory.example.yml", "rolling_update.yml"},
		{"ansible-inventory", "-i", "inventory.example.yml", "--graph"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = ansibleDir
		cmd.Env = append(os.Environ(), "ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+home, "ANSIBLE_NOCOLOR=1")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "[WARNING]") {
			t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "ansible-inventory" {
			for _, want := range []string{"@hellomgr:", "app1", "@lb:", "lb1"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("the example inventory lacks %s:\n%s", want, out)
				}
			}
		}
	}
}
