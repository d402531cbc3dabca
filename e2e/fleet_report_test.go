package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fleetFigures are the fleet test's figures for docs/figures.md. With
// HELLOMGR_FIGURES=1 the test writes them to bench/out/fleet.json, in the
// shape bench/figures reads (bench/internal/benchkit's Report):
//
//	HELLOMGR_FIGURES=1 go test -run 'TestFleetRollingUpdate$' ./e2e && go -C bench run ./figures
var fleetFigures struct {
	loadBefore string
	rows       [][]string
	targets    []map[string]any
}

// figure adds a row: what, its time, requests and failed, and the rest.
func figure(what string, took time.Duration, requests, failed int, rest string) {
	fleetFigures.rows = append(fleetFigures.rows, []string{what, fmt.Sprintf("%.1f s", took.Seconds()),
		fmt.Sprint(requests), fmt.Sprint(failed), rest})
}

// fleetTarget adds a target, met or not.
func fleetTarget(met bool, format string, args ...any) {
	fleetFigures.targets = append(fleetFigures.targets, map[string]any{"text": fmt.Sprintf(format, args...), "met": met})
}

// writeFleetFigures writes bench/out/fleet.json when HELLOMGR_FIGURES=1.
func writeFleetFigures(t *testing.T) {
	if os.Getenv("HELLOMGR_FIGURES") != "1" {
		return
	}
	commit, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	doc := map[string]any{
		"bench": "fleet", "title": "A fleet roll: 3 machines × 4 ports behind one nginx (deploy/ansible)",
		"command": "HELLOMGR_FIGURES=1 go test -run 'TestFleetRollingUpdate$' ./e2e", "date": time.Now().UTC().Format(time.RFC3339),
		"commit": strings.TrimSpace(string(commit)), "cpus": runtime.NumCPU(),
		"loadavg_before": fleetFigures.loadBefore, "loadavg_after": loadAverage(),
		"notes": []string{"Three machines made of network namespaces, each with its own sshd and 4 built-in instances, behind one nginx " +
			"and one Prometheus in the root namespace, under a steady GET and POST load through nginx (4 clients, `Connection: close`). " +
			"Reload and nginx steps are the playbook's own tasks, timed by Ansible's JSON callback."},
		"tables": []map[string]any{{"columns": []string{"run", "time", "requests through nginx", "failed", "of which"},
			"rows": fleetFigures.rows}},
		"targets": fleetFigures.targets,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err == nil {
		err = os.MkdirAll(filepath.Join("..", "bench", "out"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join("..", "bench", "out", "fleet.json"), append(b, '\n'), 0o644)
	}
	if err != nil {
		t.Errorf("write bench/out/fleet.json: %v", err)
	}
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// failedCount counts the requests that failed: an error, or an answer
// other than the built-in server's 200 to GET and 405 to POST.
func failedCount(results []result) int {
	n := 0
	for _, r := range results {
		if r.err != nil || (r.status != 200 && r.status != 405) {
			n++
		}
	}
	return n
}

// reportRoll logs the roll's figures: its time against the single-machine
// reloads and the nginx steps, with what Ansible adds. The wait for nginx's
// connections to end (timed by the take-out step itself) must end at once
// on every machine (nginx lets go of a machine marked down as soon as its
// old workers finish their requests), never by its 10s timeout.
func reportRoll(t *testing.T, r *playResult, singles []time.Duration, results []result) {
	t.Helper()
	sums := r.taskTimes("", func(task string) string {
		switch {
		case strings.HasPrefix(task, "Replace the instances"):
			return "reload"
		case strings.Contains(task, "upstream") || strings.Contains(task, "nginx"):
			return "nginx"
		default:
			return "ansible"
		}
	})
	var single time.Duration
	for _, d := range singles {
		single += d
	}
	wait := r.waited()
	tasks := sums["reload"] + sums["nginx"] + sums["ansible"]
	work := sums["reload"] + sums["nginx"]
	t.Logf("roll of 3 machines x 4 ports: %s, %d requests through nginx during it; "+
		"single-machine `hellomgr reload`s %v (sum %s); in the roll: reload tasks %s, nginx steps %s (of which waiting for nginx to let go %s), "+
		"install and reach tasks %s, ansible-playbook's own start and between tasks %s; the roll is %.2f x its reloads and nginx steps (target at most 1.5)",
		r.elapsed.Round(time.Millisecond), len(results), roundAll(singles), single.Round(time.Millisecond),
		sums["reload"].Round(time.Millisecond), sums["nginx"].Round(time.Millisecond), wait.Round(time.Millisecond),
		sums["ansible"].Round(time.Millisecond), (r.elapsed - tasks).Round(time.Millisecond), r.elapsed.Seconds()/work.Seconds())
	t.Logf("the roll's tasks, summed over the machines: %s", r.byTask())
	figure("roll of new code, 3 machines × 4 ports", r.elapsed, len(results), failedCount(results),
		fmt.Sprintf("reload tasks %.1f s, nginx steps %.1f s (waiting for nginx %.1f s), install and reach %.1f s; single-machine reloads summed %.1f s",
			sums["reload"].Seconds(), sums["nginx"].Seconds(), wait.Seconds(), sums["ansible"].Seconds(), single.Seconds()))
	ratio := r.elapsed.Seconds() / work.Seconds()
	fleetTarget(ratio <= 1.5, "the roll %.1f s is %.2f × its reload tasks and nginx steps (%.1f s), target at most 1.5", r.elapsed.Seconds(), ratio, work.Seconds())
	fleetTarget(failedCount(results) == 0, "%d of %d requests through nginx failed during the roll, target 0", failedCount(results), len(results))
	if wait > 3*3*time.Second {
		t.Errorf("waiting for nginx to let go of the machines took %s in all, want it at once (nginx closes its connections to a machine marked down)", wait)
	}
}

// byTask lists the tasks' durations summed over the machines, in the
// order they first ran.
func (r *playResult) byTask() string {
	var names []string
	sums := map[string]time.Duration{}
	for _, p := range r.Plays {
		for _, task := range p.Tasks {
			n := task.Task.Name
			if _, ok := sums[n]; !ok {
				names = append(names, n)
			}
			sums[n] += task.Task.Duration.End.Sub(task.Task.Duration.Start)
		}
	}
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %s", n, sums[n].Round(time.Millisecond)))
	}
	return strings.Join(parts, "; ")
}

// waited sums what the take-out steps say they waited for nginx to let
// go of their machine.
func (r *playResult) waited() time.Duration {
	var sum time.Duration
	for _, p := range r.Plays {
		for _, task := range p.Tasks {
			for _, res := range task.Hosts {
				out, _ := res["stdout"].(string)
				var ms int
				if _, err := fmt.Sscanf(out[max(0, strings.Index(out, "waited for nginx")):], "waited for nginx to let go: %d ms", &ms); err == nil {
					sum += time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
	return sum
}
