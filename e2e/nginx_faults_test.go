package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"

	"github.com/hellomgr/hellomgr/nginx"
)

// A reload whose nginx step fails stops before it touches any instance,
// says which step failed and exits 1: every instance keeps its process and
// its code, the added port is not started, and the upstream file marks
// nothing down (nginx would load it at its next reload).
func TestReloadStopsWhenNginxStepFails(t *testing.T) {
	need(t, "/usr/sbin/nginx", "nginx")
	for _, tc := range []struct {
		name string
		// setUp returns the reload command; breakIt, when set, breaks the
		// nginx step once hellomgr is up.
		setUp   func(t *testing.T, d *deployment) []string
		breakIt func(t *testing.T, d *deployment)
		want    string
	}{{
		name: "nginx not running",
		setUp: func(t *testing.T, d *deployment) []string {
			// A valid config for an nginx that was never started: `nginx
			// -s reload` finds no pid file.
			prefix := t.TempDir()
			conf := filepath.Join(prefix, "nginx.conf")
			text := deployConf(t, prefix, filepath.Join(d.dir, "upstream.conf"), testnet.FreePorts(t, 1)[0])
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"/usr/sbin/nginx", "-p", prefix, "-c", conf, "-s", "reload"}
		},
		want: `nginx reload command "/usr/sbin/nginx -p`,
	}, {
		name:  "reload command fails",
		setUp: func(*testing.T, *deployment) []string { return []string{"/bin/false"} },
		want:  `nginx reload command "/bin/false" failed: exit status 1`,
	}, {
		name: "upstream file not writable",
		// The upstream file's folder is a symlink to a real folder at up,
		// then to /proc, where no file can be created, root or not (chmod
		// would not stop root). The config stays valid: the folder exists.
		setUp: func(t *testing.T, d *deployment) []string {
			if err := os.Mkdir(filepath.Join(d.dir, "ngx.real"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("ngx.real", filepath.Join(d.dir, "ngx")); err != nil {
				t.Fatal(err)
			}
			return []string{"/bin/true"}
		},
		breakIt: func(t *testing.T, d *deployment) {
			os.Remove(filepath.Join(d.dir, "ngx"))
			if err := os.Symlink("/proc", filepath.Join(d.dir, "ngx")); err != nil {
				t.Fatal(err)
			}
		},
		want: "write nginx upstream file " + "UPSTREAM",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(t)
			ports := sortedFreePorts(t, 5)
			reload := tc.setUp(t, d)
			upstreamFile := "upstream.conf"
			if tc.breakIt != nil {
				upstreamFile = "ngx/upstream.conf"
			}
			config := func(ports []int, message string) string {
				return strings.Replace(builtInConfig(ports, message, nil, reload), "upstream.conf", upstreamFile, 1)
			}
			d.write("config.yaml", config(ports[:4], "v1"))
			d.mustRun("up", "-d")
			before := d.pids()
			if tc.breakIt != nil {
				tc.breakIt(t, d)
			}

			// New code, and a fifth port.
			d.write("config.yaml", config(ports, "v2"))
			out, err := d.run("reload")
			t.Logf("reload:\n%s", out)
			checkExit1(t, err, out)
			want := strings.Replace(tc.want, "UPSTREAM", filepath.Join(d.dir, upstreamFile), 1)
			for _, w := range []string{"reload stopped before any change: ", want} {
				if !strings.Contains(out, w) {
					t.Errorf("reload output does not say %q:\n%s", w, out)
				}
			}
			checkUntouched(t, d, before, "v1")
			if testnet.PortOpen(ports[4]) {
				t.Errorf("port %d was added although the reload stopped", ports[4])
			}
			checkNothingDown(t, filepath.Join(d.dir, "upstream.conf"), filepath.Join(d.dir, "ngx.real", "upstream.conf"))
		})
	}
}

// A rollout halted by a new instance that exits at once puts every port
// back into the nginx upstream: nothing is left marked down, and nginx,
// reloaded, sends requests to every port again.
func TestHaltedRolloutLeavesNothingDown(t *testing.T) {
	d := newDeployment(t)
	ports := sortedFreePorts(t, 4)
	upstreamFile := filepath.Join(d.dir, "upstream.conf")
	// nginx needs the upstream file to start, and hellomgr needs nginx's
	// reload command: write a first file, as `up` would.
	if err := (nginx.Upstream{Name: "hellomgr", Ports: ports}).WriteFile(upstreamFile); err != nil {
		t.Fatal(err)
	}
	ngx := startNginx(t, "    include "+upstreamFile+";", nginx.Location("hellomgr"))
	reload := ngx.ReloadCommand()
	d.write("config.yaml", builtInConfig(ports, "v1", nil, reload))
	d.mustRun("up", "-d")
	before := d.pids()
	url := fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port)
	checkEveryPortAnswers(t, url, ports, "v1")

	// The new command exits at once: `serve` refuses an unknown flag.
	d.write("config.yaml", builtInConfig(ports, "v2", []string{"--no-such-flag"}, reload))
	out, err := d.run("reload")
	t.Logf("reload:\n%s", out)
	checkExit1(t, err, out)
	for _, w := range []string{
		fmt.Sprintf("%d: out of the nginx upstream", ports[0]),
		fmt.Sprintf("reload halted at port %d", ports[0]),
	} {
		if !strings.Contains(out, w) {
			t.Errorf("reload output does not say %q:\n%s", w, out)
		}
	}
	checkNothingDown(t, upstreamFile)
	for _, p := range ports {
		if !strings.Contains(readFile(upstreamFile), fmt.Sprintf("server 127.0.0.1:%d max_fails=0;", p)) {
			t.Errorf("upstream file lacks port %d:\n%s", p, readFile(upstreamFile))
		}
	}
	// The built-in server's new process starts beside the old one
	// (handoff + READY=1), so the halted port's old process never stopped;
	// the ports not reached kept theirs too.
	after := d.pids()
	for _, p := range ports {
		if after[p] != before[p] {
			t.Errorf("port %d: pid %d -> %d, want it untouched", p, before[p], after[p])
		}
	}
	checkEveryPortAnswers(t, url, ports, "v1")
}

func checkExit1(t *testing.T, err error, out string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("reload: got %v, want exit status 1\n%s", err, out)
	}
}

// checkUntouched wants every instance still running with the pid it had
// and answering "<message> <port>" on its own port.
func checkUntouched(t *testing.T, d *deployment, before map[int]int, message string) {
	t.Helper()
	after := d.pids()
	if len(after) != len(before) {
		t.Errorf("%d instances after the failed reload, want %d: %v", len(after), len(before), after)
	}
	for port, pid := range before {
		if after[port] != pid {
			t.Errorf("port %d: pid %d -> %d, want it untouched", port, pid, after[port])
		}
		checkEveryPortAnswers(t, fmt.Sprintf("http://127.0.0.1:%d/", port), []int{port}, message)
	}
}

// checkNothingDown wants no server marked down in the upstream files that
// exist among paths.
func checkNothingDown(t *testing.T, paths ...string) {
	t.Helper()
	for _, path := range paths {
		if text, err := os.ReadFile(path); err == nil && strings.Contains(string(text), " down") {
			t.Errorf("%s marks a server down:\n%s", path, text)
		}
	}
}
