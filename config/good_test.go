package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// write writes a config into a new temporary folder and returns its path.
func write(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	path := write(t, "ports: [8001]\n")
	dir := filepath.Dir(path)
	want := &Config{
		File:     path,
		Dir:      dir,
		Ports:    []int{8001},
		WorkDir:  dir,
		Ready:    Ready{Kind: ProbeHTTP, Path: "/", Timeout: 10 * time.Second, Interval: 50 * time.Millisecond, Notify: true},
		Stop:     Stop{Signal: syscall.SIGTERM, Timeout: 10 * time.Second, Spread: 2 * time.Second, CloseCode: 1012},
		Restart:  Restart{Backoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, ResetAfter: 10 * time.Second, MaxTries: 10},
		Reload:   Reload{MaxUnavailable: 1, Handoff: HandoffSocket},
		Logs:     Logs{Dir: filepath.Join(dir, "logs"), MaxSizeMB: 10, MaxFiles: 5},
		Metrics:  Metrics{Address: "127.0.0.1:0"},
		Proxy:    Proxy{ReadTimeout: time.Hour},
		Socket:   filepath.Join(dir, ".hellomgr", "hellomgr.sock"),
		StateDir: filepath.Join(dir, ".hellomgr"),
		Liveness: Liveness{Interval: 10 * time.Second, Timeout: 2 * time.Second, Failures: 3},
		Hooks:    Hooks{Timeout: 10 * time.Second},
	}
	if got := mustLoad(t, path); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestPortsExpandedAndSorted(t *testing.T) {
	tests := []struct {
		yaml string
		want []int
	}{
		{"ports: 8001", []int{8001}},
		{`ports: "8001-8004"`, []int{8001, 8002, 8003, 8004}},
		{`ports: ["9000", 8005, " 8001 - 8003 ", "7000-7000", 0x1F44]`, []int{7000, 8001, 8002, 8003, 8004, 8005, 9000}},
		{"ports:\n  - 65535\n  - 1\n", []int{1, 65535}},
		{`ports: ["1-1024"]`, nil}, // the most allowed; checked by length below
	}
	for _, tc := range tests {
		c := mustLoad(t, write(t, tc.yaml))
		if tc.want == nil {
			if len(c.Ports) != maxPorts || c.Ports[0] != 1 || c.Ports[maxPorts-1] != maxPorts {
				t.Errorf("%q: got %d ports from %d to %d, want 1 to %d", tc.yaml, len(c.Ports), c.Ports[0], c.Ports[len(c.Ports)-1], maxPorts)
			}
			continue
		}
		if !slices.Equal(c.Ports, tc.want) {
			t.Errorf("%q: got ports %v, want %v", tc.yaml, c.Ports, tc.want)
		}
	}
}

// TestRelativePaths checks that relative paths resolve against the config's
// folder, wherever the manager is started from.
func TestRelativePaths(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(root, "site")
	for _, d := range []string{"app/bin", "nginx"} {
		if err := os.MkdirAll(filepath.Join(site, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(site, "app/bin/server"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := "ports: [8001]\ndir: app\ncommand: [./bin/server, \"{port}\"]\nlogs: {dir: var/logs}\n" +
		"socket: run/ctl.sock\nnginx: {upstream_file: nginx/up.conf}\n"
	if err := os.WriteFile(filepath.Join(site, "config.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root) // somewhere else than the config's folder
	c := mustLoad(t, filepath.Join("site", "config.yaml"))
	for _, f := range []struct{ name, got, want string }{
		{"File", c.File, filepath.Join(site, "config.yaml")},
		{"Dir", c.Dir, site},
		{"WorkDir", c.WorkDir, filepath.Join(site, "app")},
		{"Logs.Dir", c.Logs.Dir, filepath.Join(site, "var/logs")},
		{"Socket", c.Socket, filepath.Join(site, "run/ctl.sock")},
		{"StateDir", c.StateDir, filepath.Join(site, ".hellomgr")},
		{"Nginx.UpstreamFile", c.Nginx.UpstreamFile, filepath.Join(site, "nginx/up.conf")},
		{"Command[0]", c.Command[0], "./bin/server"}, // as given: relative to WorkDir
	} {
		if f.got != f.want {
			t.Errorf("%s: got %q, want %q", f.name, f.got, f.want)
		}
	}
}

func TestFullConfig(t *testing.T) {
	c := mustLoad(t, filepath.Join("testdata", "good", "full.yaml"))
	dir, _ := filepath.Abs(filepath.Join("testdata", "good"))
	want := &Config{
		File:     filepath.Join(dir, "full.yaml"),
		Dir:      dir,
		Ports:    []int{8001, 8010, 8011, 8012},
		Command:  []string{"sh", "-c", "exec sleep 1000 # --port {port}"},
		WorkDir:  dir,
		Env:      []string{"DEBUG=true", "GREETING=hello", "WORKERS=4"},
		Ready:    Ready{Kind: ProbeHTTP, Path: "/healthz", Timeout: 5 * time.Second, Interval: 100 * time.Millisecond},
		Stop:     Stop{Signal: syscall.SIGINT, Timeout: 3 * time.Second, Spread: 1500 * time.Millisecond, CloseCode: 1012},
		Restart:  Restart{Backoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second, ResetAfter: 30 * time.Second, MaxTries: 0},
		Reload:   Reload{MaxUnavailable: 2, Handoff: HandoffSocket},
		Logs:     Logs{To: LogsToJournal, Dir: filepath.Join(filepath.Dir(dir), "logs-not-yet"), MaxSizeMB: 1024, MaxFiles: 3},
		Metrics:  Metrics{Address: "off"},
		Proxy:    Proxy{ReadTimeout: time.Hour},
		Socket:   "/tmp/hellomgr-test.sock",
		StateDir: filepath.Join(dir, ".hellomgr"),
		Nginx: &Nginx{
			Upstream:      "app_backend",
			UpstreamFile:  filepath.Join(dir, "upstream.conf"),
			ReloadCommand: []string{"sh", "-c", "sudo nginx -s reload"},
			DrainTimeout:  0,
		},
		Liveness: Liveness{Interval: 10 * time.Second, Timeout: 2 * time.Second, Failures: 3},
		Hooks:    Hooks{Timeout: 10 * time.Second},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if !reflect.DeepEqual(c.Nginx, want.Nginx) {
		t.Errorf("nginx: got %+v, want %+v", c.Nginx, want.Nginx)
	}
}

func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "good", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no good configs: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The built-in server gets socket handoff and READY=1 however it is
// spelled: a command that runs hellomgr's serve, to pass it a flag, is the
// same server. Any other command binds its port itself unless told.
func TestDefaultsFollowWhatRuns(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "hm")
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(dir, "hellomgr") // another build, by its name
	if err := os.WriteFile(installed, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		yaml    string
		handoff Handoff
		notify  bool
	}{
		{"ports: [8001]", HandoffSocket, true},
		{`ports: [8001]
command: [` + self + `, serve, --port, "{port}", --message, v2]`, HandoffSocket, true},
		{`ports: [8001]
command: [` + link + `, serve, --message, v2]`, HandoffSocket, true},
		{"ports: [8001]\ncommand: [" + installed + ", serve]", HandoffSocket, true},
		{"ports: [8001]\ncommand: [" + self + ", version]", HandoffNone, false},
		{"ports: [8001]\ncommand: [sh]", HandoffNone, false},
		{"ports: [8001]\ncommand: [sh, serve]", HandoffNone, false},
		{"ports: [8001]\ncommand: [sh]\nreload: {handoff: socket}", HandoffSocket, false},
		{"ports: [8001]\nreload: {handoff: none}", HandoffNone, true},
		{"ports: [8001]\nready: {notify: false}", HandoffSocket, false},
		{"ports: [8001]\ncommand: [" + self + ", serve]\nreload: {handoff: none}", HandoffNone, true},
	}
	for _, tc := range tests {
		c, err := Parse("config.yaml", []byte(tc.yaml))
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		if c.Reload.Handoff != tc.handoff || c.Ready.Notify != tc.notify {
			t.Errorf("%q: got handoff %q, notify %v; want %q, %v", tc.yaml, c.Reload.Handoff, c.Ready.Notify, tc.handoff, tc.notify)
		}
	}
}

func TestSignals(t *testing.T) {
	for name, want := range map[string]syscall.Signal{
		"TERM": syscall.SIGTERM, "sigterm": syscall.SIGTERM, "INT": syscall.SIGINT, "SIGINT": syscall.SIGINT,
		"quit": syscall.SIGQUIT, "Hup": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "sigusr2": syscall.SIGUSR2,
		"KILL": syscall.SIGKILL,
	} {
		c := mustLoad(t, write(t, "ports: [8001]\nstop: {signal: "+name+"}"))
		if c.Stop.Signal != want {
			t.Errorf("signal %q: got %v, want %v", name, c.Stop.Signal, want)
		}
	}
}

func TestMetricsAddresses(t *testing.T) {
	for _, addr := range []string{"off", "OFF", "127.0.0.1:9100", "localhost:0", "0.0.0.0:9100", "[::1]:9100"} {
		c := mustLoad(t, write(t, "ports: [8001]\nmetrics: {address: \""+addr+"\"}"))
		want := addr
		if strings.EqualFold(addr, "off") {
			want = "off"
		}
		if c.Metrics.Address != want {
			t.Errorf("address %q: got %q, want %q", addr, c.Metrics.Address, want)
		}
	}
}

func TestNginxDefaults(t *testing.T) {
	c := mustLoad(t, write(t, "ports: [8001]\nnginx:\n  upstream_file: up.conf\n"))
	want := &Nginx{
		Upstream:      "hellomgr",
		UpstreamFile:  filepath.Join(filepath.Dir(c.File), "up.conf"),
		ReloadCommand: []string{"nginx", "-s", "reload"},
		DrainTimeout:  10 * time.Second,
	}
	if !reflect.DeepEqual(c.Nginx, want) {
		t.Errorf("got %+v, want %+v", c.Nginx, want)
	}
}

func TestLoadUnreadable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(%s): got %v, want a not-exist error naming the file", missing, err)
	}
}

// TestErrorsJoined checks that each problem is its own error, for callers
// that show them one by one.
func TestErrorsJoined(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "bad", "many_problems.yaml"))
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 4 {
		t.Fatalf("got %v, want 4 joined errors", err)
	}
}

func TestLogSizes(t *testing.T) {
	for text, want := range map[string]int{
		"1MB": 1, "10MB": 10, "10 MB": 10, "10mb": 10, "10M": 10, "10MiB": 10,
		"1GB": 1024, "2g": 2048, "1GiB": 1024, "1024GB": 1 << 20,
	} {
		c := mustLoad(t, write(t, "ports: [8001]\nlogs: {max_size: "+text+"}"))
		if c.Logs.MaxSizeMB != want {
			t.Errorf("max_size %q: got %d MB, want %d", text, c.Logs.MaxSizeMB, want)
		}
	}
}
