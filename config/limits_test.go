package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// The per-variable limit the loader applies is the kernel's: one byte
// less starts a program, the limit itself does not.
func TestArgLimitIsTheKernels(t *testing.T) {
	for _, n := range []int{maxArgLen - 1, maxArgLen} {
		cmd := exec.Command("true")
		cmd.Env = []string{"V=" + strings.Repeat("x", n-len("V="))} // n bytes, then the NUL
		err := cmd.Run()
		if tooLong := errors.Is(err, syscall.E2BIG); tooLong != (n >= maxArgLen) {
			t.Errorf("a variable of %d bytes: exec got %v; the loader refuses it: %v", n, err, n >= maxArgLen)
		}
	}
}

// An env (or command) that Linux would refuse to start an instance with
// is refused by the loader, on one line that names the key.
func TestEnvTooLargeToStartIsRefused(t *testing.T) {
	kib := func(n int) string { return strings.Repeat("x", n<<10) }
	var many strings.Builder
	for i := range 10 {
		fmt.Fprintf(&many, "  V%d: %s\n", i, kib(110))
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"one variable", "ports: [8001]\nenv:\n  SMALL: x\n  BIG: " + kib(128) + "\n",
			`config.yaml:4: env.BIG: 131072 bytes, too long for one variable: Linux allows less than 128 KiB with its name (MAX_ARG_STRLEN), so no instance could start; pass it in a file instead`},
		{"all variables", "ports: [8001]\nenv:\n" + many.String(),
			`config.yaml:2: env: the command and environment of an instance come to 1101 KiB, more than the 1024 KiB allowed (Linux starts no program whose arguments and environment, the manager's own included, exceed ARG_MAX, usually 2 MiB); pass large values in a file instead`},
		{"one argument", "ports: [8001]\ncommand: [sh, -c, " + kib(128) + "]\n",
			`config.yaml:2: command: item 2 is 131072 bytes, too long for one argument: Linux allows less than 128 KiB (MAX_ARG_STRLEN), so no instance could start`},
	} {
		_, err := Parse(filepath.Join(t.TempDir(), "config.yaml"), []byte(tc.yaml))
		if got := strings.ReplaceAll(fmt.Sprint(err), t.TempDir(), ""); err == nil || !strings.HasSuffix(err.Error(), tc.want) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: got %v\nwant %s", tc.name, got, tc.want)
		}
	}
	// Just under both limits is fine.
	yaml := "ports: [8001]\nenv:\n  BIG: " + strings.Repeat("x", maxArgLen-len("BIG=")-1) + "\n"
	if _, err := Parse(filepath.Join(t.TempDir(), "config.yaml"), []byte(yaml)); err != nil {
		t.Errorf("a variable of %d bytes: %v", maxArgLen-1, err)
	}
}

// An error lists the first 20 problems by line, then counts the rest on a
// line of the same "<file>:<line>: " form, whatever order they were found in.
func TestProblemsAreCappedAtTwenty(t *testing.T) {
	var text strings.Builder
	text.WriteString("ports: [8001]\nmetrics: {address: 127.0.0.1:8001}\n") // found last, on line 2
	for i := range 1000 {
		fmt.Fprintf(&text, "k%d: 1\n", i)
	}
	_, err := Parse("config.yaml", []byte(text.String()))
	if err == nil {
		t.Fatal("got no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"config.yaml:2: metrics.address: port 8001 is also in ports",
		`config.yaml:3: unknown key "k0" (want one of ports, address, command, dir, env, ready, stop, restart, reload, logs, metrics, socket, proxy, nginx, liveness, limits, hooks)`,
	}
	if len(lines) != 21 || lines[0] != want[0] || lines[1] != want[1] {
		t.Fatalf("got %d lines, starting\n%s\nwant 21, starting\n%s", len(lines), strings.Join(lines[:min(3, len(lines))], "\n"), strings.Join(want, "\n"))
	}
	if got, want := lines[20], "config.yaml:22: ... and 981 more problems"; got != want {
		t.Errorf("last line: got %q, want %q", got, want)
	}
	form := regexp.MustCompile(`^config\.yaml:[1-9][0-9]*: \S`)
	for _, l := range lines {
		if !form.MatchString(l) {
			t.Errorf("line %q is not of the form config.yaml:<line>: ...", l)
		}
	}

	_, err = Parse("config.yaml", []byte("ports: [8001]\n"+strings.Repeat("x: 1\n", 21)))
	if lines := strings.Split(fmt.Sprint(err), "\n"); lines[len(lines)-1] != "config.yaml:22: ... and 1 more problem" {
		t.Errorf("21 problems: last line %q, want %q", lines[len(lines)-1], "config.yaml:22: ... and 1 more problem")
	}
}

// bigConfig is a valid config of at least size bytes, one env variable a
// line from line 3 on, and its number of lines.
func bigConfig(size int) (string, int) {
	var b strings.Builder
	b.WriteString("ports: [8001]\nenv:\n")
	n := 2
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  V%07d: \"%s\"\n", i, strings.Repeat("x", 40))
		n++
	}
	return b.String(), n
}

// A syntax error in a large file is reported from one parse, on the line
// yaml.v3 gives: where the error is, or for an unclosed list or a bad
// indentation the line before the enclosing block (yaml.v3 counts those
// from 0), or the end of the file for a quote left open on line 1.
func TestSyntaxErrorInALargeFile(t *testing.T) {
	big, n := bigConfig(256 << 10)
	for _, tc := range []struct {
		name, yaml string
		want       string
	}{
		{"colon at the end", big + "  BAD: x\n    nested: 1\n",
			fmt.Sprintf("config.yaml:%d: invalid YAML: mapping values are not allowed in this context", n+2)},
		{"indentation at the end", big + " V: 1\n",
			fmt.Sprintf("config.yaml:%d: invalid YAML: did not find expected key", n)},
		{"quote left open on line 1", "ports: '8001\n" + big[len("ports: [8001]\n"):],
			fmt.Sprintf("config.yaml:%d: invalid YAML: found unexpected end of stream", n+1)},
		{"list left open in the middle", big + "command: [a, b\nready:\n  http: /\n" + big[len("ports: [8001]\n"):],
			fmt.Sprintf("config.yaml:%d: invalid YAML: did not find expected ',' or ']'", n)},
	} {
		_, err := Parse("config.yaml", []byte(tc.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line %s...", tc.name, err, tc.want)
		}
	}
}

// BenchmarkSyntaxErrorIn10MB is the time to report a syntax error at the
// end of a 10 MB file: one parse of the file.
func BenchmarkSyntaxErrorIn10MB(b *testing.B) {
	big, _ := bigConfig(10 << 20)
	data := []byte(big + "  BAD: x\n    nested: 1\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("config.yaml", data); err == nil {
			b.Fatal("no error")
		}
	}
}

// BenchmarkMillionUnknownKeys is the time and memory to report a file of a
// million unknown keys (20 of them, and a count).
func BenchmarkMillionUnknownKeys(b *testing.B) {
	var text strings.Builder
	text.WriteString("ports: [8001]\n")
	for i := range 1_000_000 {
		fmt.Fprintf(&text, "k%07d: 1\n", i)
	}
	data := []byte(text.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("config.yaml", data); err == nil {
			b.Fatal("no error")
		}
	}
}

// reload_command runs from wherever the manager was started: a relative
// program is made absolute against the config's folder, as the other
// paths in the file are; a bare name stays for exec to look up in PATH.
func TestReloadCommandResolvesAgainstTheConfigFolder(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(root, "site")
	if err := os.MkdirAll(filepath.Join(site, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "bin", "reload-nginx"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root) // somewhere else than the config's folder
	for _, tc := range []struct{ command, want string }{
		{"[./bin/reload-nginx, now]", filepath.Join(site, "bin", "reload-nginx")},
		{"[bin/reload-nginx]", filepath.Join(site, "bin", "reload-nginx")},
		{"[" + filepath.Join(site, "bin", "reload-nginx") + "]", filepath.Join(site, "bin", "reload-nginx")},
		{`[sh, -c, "nginx -s reload"]`, "sh"},
	} {
		yaml := "ports: [8001]\nnginx:\n  upstream_file: up.conf\n  reload_command: " + tc.command + "\n"
		if err := os.WriteFile(filepath.Join(site, "config.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		c := mustLoad(t, filepath.Join("site", "config.yaml"))
		if got := c.Nginx.ReloadCommand[0]; got != tc.want {
			t.Errorf("reload_command: %s: got program %q, want %q", tc.command, got, tc.want)
		}
	}
}

// A reload that would move the control socket or the metrics listener is
// refused with the way to apply it; anything else is the rollout's to do.
func TestCheckReloadable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	load := func(yaml string) *Config {
		t.Helper()
		c, err := Parse(file, []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := load("ports: [8001]\n")
	sock := filepath.Join(dir, ".hellomgr", "hellomgr.sock")
	for _, tc := range []struct{ yaml, want string }{
		{"ports: [8001, 8002]\ncommand: [sh]\nmetrics: {address: 127.0.0.1:0}\n", ""},
		{"ports: [8001]\nsocket: /tmp/hm.sock\n",
			file + ": socket: changed from " + sock + " to /tmp/hm.sock; a reload cannot move the control socket: run hellomgr down, then up"},
		{"ports: [8001]\nmetrics: {address: off}\nsocket: other.sock\n",
			file + ": socket: changed from " + sock + " to " + filepath.Join(dir, "other.sock") + "; a reload cannot move the control socket: run hellomgr down, then up\n" +
				file + ": metrics.address: changed from 127.0.0.1:0 to off; a reload cannot move the metrics listener: run hellomgr down, then up"},
	} {
		err := load(tc.yaml).CheckReloadable(old)
		if got := fmt.Sprint(err); (err == nil) != (tc.want == "") || err != nil && got != tc.want {
			t.Errorf("from %q to %q:\ngot  %v\nwant %s", "ports: [8001]", tc.yaml, err, tc.want)
		}
	}
}
