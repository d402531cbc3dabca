package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that a config it accepts has
// good ports and a good max_unavailable, and that every error line has
// the promised "<file>:<line>: " form. The seeds are every file in
// testdata plus a few good configs, so they run on every `go test`.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"ports: [8001]\n",
		"ports: \"8001-8004\"\nreload: {max_unavailable: 4}\n",
		"ports: [8003, \"8001-8002\", 9000]\ncommand: [sh, -c, \"exec app {port}\"]\nenv: {A: 1, B: true}\n",
		"ports: &p [8001]\nready: {http: /health, timeout: 2s}\nstop: {signal: int}\n",
	} {
		f.Add([]byte(s))
	}
	// A file in testdata/good, so that relative paths in the seeds resolve
	// to the files they name; Parse only looks, it never writes.
	name := filepath.Join("testdata", "good", "fuzz.yaml")
	line := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `:[1-9][0-9]*: \S`)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(name, data)
		if err != nil {
			if c != nil {
				t.Errorf("got a config along with error %v", err)
			}
			for _, l := range strings.Split(err.Error(), "\n") {
				if !line.MatchString(l) {
					t.Errorf("error line %q is not of the form %q", l, name+":<line>: ...")
				}
			}
			return
		}
		checkPorts(t, c)
	})
}

func checkPorts(t *testing.T, c *Config) {
	t.Helper()
	if len(c.Ports) == 0 || len(c.Ports) > maxPorts {
		t.Fatalf("got %d ports, want 1 to %d", len(c.Ports), maxPorts)
	}
	if !slices.IsSorted(c.Ports) || len(slices.Compact(slices.Clone(c.Ports))) != len(c.Ports) {
		t.Errorf("ports %v: not sorted and unique", c.Ports)
	}
	if c.Ports[0] < 1 || c.Ports[len(c.Ports)-1] > 65535 {
		t.Errorf("ports %v: outside 1-65535", c.Ports)
	}
	if n := c.Reload.MaxUnavailable; n < 1 || n > len(c.Ports) {
		t.Errorf("max_unavailable %d with %d ports", n, len(c.Ports))
	}
}
