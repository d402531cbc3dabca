package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check catches `--port, "{port}"` as two items for a script that reads
// tornado.options, and says what a rollout does to long-lived connections.
func TestCheckTornadoPortAndLongLivedConnections(t *testing.T) {
	script := "import tornado.web\nfrom tornado.options import define, options\ndefine('port', default=8000, type=int)\n"
	tests := []struct {
		name, config string
		want, avoid  []string
	}{
		{"port as two items", `command: [/usr/bin/python3, app.py, --port, "{port}"]` + "\n",
			[]string{`warning: `, `command: "--port", "{port}" are two items`, `write "--port={port}" as one item`, "long-lived connections: stop-then-start stops the old process"}, nil},
		{"port as one item, draining app", `command: [/usr/bin/python3, app.py, "--port={port}"]` + "\nreload:\n  handoff: socket\nready:\n  notify: true\n",
			[]string{"long-lived connections: the old process gets stop.signal", "close code 1012"}, []string{"are two items"}},
		{"nginx drain", `command: [/usr/bin/python3, app.py, "--port={port}"]` + "\nnginx:\n  upstream_file: upstream.conf\n  reload_command: [/bin/true]\n",
			[]string{"long-lived connections: the nginx drain waits up to nginx.drain_timeout (10s)", "cuts them", "python/hellomgr_tornado"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, tc.config)
			if err := os.WriteFile(filepath.Join(e.dir, "app.py"), []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := e.run("check")
			if code != 0 {
				t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("check: no %q in:\n%s", w, out)
				}
			}
			for _, a := range tc.avoid {
				if strings.Contains(out, a) {
					t.Errorf("check: %q in:\n%s", a, out)
				}
			}
		})
	}
}
