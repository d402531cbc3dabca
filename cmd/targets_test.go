package cmd

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// groups returns the target groups of a file_sd file, each as
// "target label=value...".
func groups(t *testing.T, out string) []string {
	t.Helper()
	var gs []struct {
		Targets []string
		Labels  map[string]string
	}
	if err := json.Unmarshal([]byte(out), &gs); err != nil {
		t.Fatalf("not file_sd JSON: %v\n%s", err, out)
	}
	var s []string
	for _, g := range gs {
		line := strings.Join(g.Targets, ",")
		for _, name := range slices.Sorted(maps.Keys(g.Labels)) {
			line += " " + name + "=" + g.Labels[name]
		}
		s = append(s, line)
	}
	return s
}

// wantGroups is what targets prints for ports and a manager at addr ("":
// none known).
func wantGroups(addr string, ports []int) []string {
	var want []string
	if addr != "" {
		want = append(want, addr)
	}
	for _, p := range slices.Sorted(slices.Values(ports)) {
		g := fmt.Sprintf("127.0.0.1:%d", p)
		if addr != "" {
			g += " __tmp_hellomgr_manager=" + addr
		}
		want = append(want, g+" port="+strconv.Itoa(p))
	}
	return want
}

func TestTargetsWithoutAManagerComeFromTheConfig(t *testing.T) {
	fixed := fmt.Sprintf("127.0.0.1:%d", testnet.FreePorts(t, 1)[0])
	for _, tc := range []struct {
		address, manager, note string
	}{
		{fixed, fixed, ""},
		{"0.0.0.0:9400", "127.0.0.1:9400", ""},
		{"127.0.0.1:0", "", "the manager's address is not known"},
		{"off", "", "metrics.address is off"},
	} {
		t.Run(tc.address, func(t *testing.T) {
			e := newEnv(t, 2, "")
			yaml := fmt.Sprintf("ports: [%d, %d]\nmetrics:\n  address: %q\n", e.ports[1], e.ports[0], tc.address)
			if err := os.WriteFile(e.configPath(), []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := e.run("targets")
			if code != 0 {
				t.Fatalf("exit %d, want 0; stderr: %s", code, errOut)
			}
			if got, want := groups(t, out), wantGroups(tc.manager, e.ports); !slices.Equal(got, want) {
				t.Errorf("groups:\ngot  %q\nwant %q", got, want)
			}
			if tc.note == "" && errOut != "" || !strings.Contains(errOut, tc.note) {
				t.Errorf("stderr: got %q, want a note with %q", errOut, tc.note)
			}
		})
	}
}

var metricsLine = regexp.MustCompile(`metrics on http://(\S+)/metrics`)

func TestTargetsOfARunningManagerAreTheFileItKeeps(t *testing.T) {
	e := newEnv(t, 2, "")
	m := metricsLine.FindStringSubmatch(e.mustRun("up", "-d"))
	if m == nil {
		t.Fatal("up printed no metrics address")
	}
	file := filepath.Join(e.dir, "prometheus-targets.json")
	check := func(ports []int) {
		t.Helper()
		out, errOut, code := e.run("targets")
		if code != 0 || errOut != "" {
			t.Fatalf("targets: exit %d, stderr %q; want 0 and nothing", code, errOut)
		}
		if got, want := groups(t, out), wantGroups(m[1], ports); !slices.Equal(got, want) {
			t.Errorf("groups:\ngot  %q\nwant %q", got, want)
		}
		b, err := os.ReadFile(file)
		if err != nil || string(b) != out {
			t.Errorf("%s (error %v) holds:\n%s\nwant what targets printed:\n%s", file, err, b, out)
		}
		// Prometheus runs as a user of its own.
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v (error %v), want -rw-r--r--", file, fi.Mode(), err)
		}
	}
	check(e.ports)

	e.ports = e.ports[:1]
	e.writeConfig("")
	e.mustRun("reload")
	check(e.ports)
}

func TestTargetsWithArgumentsIsAUsageError(t *testing.T) {
	e := newEnv(t, 1, "")
	if _, errOut, code := e.run("targets", "extra"); code != ExitUsage {
		t.Errorf("targets extra: exit %d, want %d; stderr: %s", code, ExitUsage, errOut)
	}
}
