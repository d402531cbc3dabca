package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// deployment is a folder with a config.yaml run by the hellomgr binary.
type deployment struct {
	t   *testing.T
	dir string
	bin string // the hellomgr binary to run; hellomgrBin unless a test sets it
}

// newDeployment makes a short temp folder (Unix socket paths are limited
// to 108 bytes) and kills its manager, by pid, when the test ends.
func newDeployment(t *testing.T) *deployment {
	t.Helper()
	dir, err := os.MkdirTemp("", "hm")
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{t: t, dir: dir, bin: hellomgrBin}
	t.Cleanup(func() {
		if pid := d.managerPID(); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL) // its instances die with it
		}
		os.RemoveAll(dir)
	})
	return d
}

func (d *deployment) write(name, text string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(text), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *deployment) run(args ...string) (string, error) {
	cmd := exec.Command(d.bin, append(args, "-c", filepath.Join(d.dir, "config.yaml"))...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (d *deployment) mustRun(args ...string) string {
	d.t.Helper()
	out, err := d.run(args...)
	if err != nil {
		d.t.Fatalf("hellomgr %v: %v\n%s", args, err, out)
	}
	return out
}

func (d *deployment) managerPID() int {
	b, _ := os.ReadFile(filepath.Join(d.dir, ".hellomgr", "hellomgr.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// pids returns every instance's pid by port, from `status --json`.
func (d *deployment) pids() map[int]int {
	d.t.Helper()
	var rows []struct{ Port, PID int }
	if err := json.Unmarshal([]byte(d.mustRun("status", "--json")), &rows); err != nil {
		d.t.Fatal(err)
	}
	m := map[int]int{}
	for _, r := range rows {
		m[r.Port] = r.PID
	}
	return m
}

// reloadUnderLoad runs a load through nginx (GET and POST, unless methods
// are given), reloads in the middle after change() has updated the code,
// and returns the results with the time the reload finished.
func (d *deployment) reloadUnderLoad(url string, keepAlive bool, change func(), methods ...string) ([]result, time.Time, string) {
	d.t.Helper()
	var out string
	results, reloaded := d.underLoad(url, keepAlive, func() {
		change()
		out = d.mustRun("reload")
	}, methods...)
	return results, reloaded, out
}

// underLoad runs a load through nginx, does what do does in the middle,
// and returns the results with the time do returned.
func (d *deployment) underLoad(url string, keepAlive bool, do func(), methods ...string) ([]result, time.Time) {
	d.t.Helper()
	load := startLoad(url, 16, 1<<30, keepAlive, methods...)
	testnet.WaitFor(d.t, "some load before", 30*time.Second, func() bool { return load.count() > 2000 })
	do()
	done := time.Now()
	served := load.count()
	testnet.WaitFor(d.t, "some load after", 30*time.Second, func() bool { return load.count() > served+2000 })
	return load.finish(), done
}

func checkReplaced(t *testing.T, before, after map[int]int) {
	t.Helper()
	if len(after) != len(before) {
		t.Fatalf("%d instances after the reload, want %d", len(after), len(before))
	}
	for port, pid := range before {
		if after[port] == pid || after[port] == 0 {
			t.Errorf("port %d: pid %d -> %d, want a new process", port, pid, after[port])
		}
	}
}

// printedNginx returns the two parts of what `hellomgr nginx` prints: what
// goes in nginx's http block, and the location for a server block.
func (d *deployment) printedNginx() (httpPart, location string) {
	d.t.Helper()
	out := d.mustRun("nginx")
	httpPart, location, ok := strings.Cut(out, "# In a server { } block:\n")
	if !ok {
		d.t.Fatalf("hellomgr nginx printed no server block part:\n%s", out)
	}
	return httpPart, location
}
