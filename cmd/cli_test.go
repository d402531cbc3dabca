package cmd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// execute runs the command line in this process and returns its output.
func execute(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = Execute(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestBashCompletionLoads checks that the bash script parses, and that
// sourcing it registers a completion for hellomgr.
func TestBashCompletionLoads(t *testing.T) {
	out, errOut, code := execute("completion", "bash")
	if code != 0 || errOut != "" {
		t.Fatalf("completion bash: exit %d, stderr %q", code, errOut)
	}
	script := filepath.Join(t.TempDir(), "hellomgr.bash")
	if err := os.WriteFile(script, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n on the completion script: %v\n%s", err, msg)
	}
	msg, err := exec.Command("bash", "-c", "source "+script+" && complete -p hellomgr").CombinedOutput()
	if err != nil || !strings.Contains(string(msg), "hellomgr") {
		t.Errorf("after sourcing the script, complete -p hellomgr: %v\n%s", err, msg)
	}
}

// bashCompletion is Debian's bash-completion, which the script cobra
// writes relies on, as a user's interactive bash would have loaded it.
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// TestBashCompletesForReal sources the script in bash and completes as the
// shell does on Tab, with hellomgr on PATH (this test binary, as main):
// a command from its prefix, then the configured ports after `logs`.
func TestBashCompletesForReal(t *testing.T) {
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Fatalf("%s is missing: run `apt-get install -y bash-completion` (the README's test command does)", bashCompletion)
	}
	out, _, _ := execute("completion", "bash")
	bin := t.TempDir()
	script := filepath.Join(bin, "hellomgr.bash")
	os.WriteFile(script, []byte(out), 0o644)
	if err := os.Symlink(os.Args[0], filepath.Join(bin, "hellomgr")); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, 2, "")
	complete := func(line string) []string {
		t.Helper()
		sh := `source ` + bashCompletion + `; source "$1"; COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<<"$COMP_LINE"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); __start_hellomgr; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", "-c", sh, "bash", script, line)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), asMain+"=1", configEnv+"="+e.configPath())
		// Only stdout: outside a real Tab, bash's compopt complains on stderr.
		var errb bytes.Buffer
		cmd.Stderr = &errb
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", line, err, errb.String())
		}
		return strings.Fields(string(got))
	}
	if got := complete("hellomgr lo"); len(got) != 1 || got[0] != "logs" {
		t.Errorf("hellomgr lo<Tab>: got %q, want [logs]", got)
	}
	got := complete("hellomgr logs ")
	for _, port := range e.ports {
		if !slices.Contains(got, strconv.Itoa(port)) {
			t.Errorf("hellomgr logs <Tab>: got %q, want port %d among them", got, port)
		}
	}
}

func TestZshAndFishCompletion(t *testing.T) {
	for shell, want := range map[string]string{"zsh": "#compdef hellomgr", "fish": "complete -c hellomgr"} {
		out, errOut, code := execute("completion", shell)
		if code != 0 || errOut != "" || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, want a script with %q", shell, code, errOut, want)
		}
	}
}

// TestCompletionCandidates asks what the shell scripts ask: the commands
// for a prefix, and the configured ports for `logs PORT`.
func TestCompletionCandidates(t *testing.T) {
	if out, _, _ := execute("__complete", "lo"); !strings.Contains(out, "logs\t") {
		t.Errorf("__complete lo: got %q, want logs among the candidates", out)
	}
	e := newEnv(t, 2, "")
	out, _, _ := execute("__complete", "logs", "-c", e.configPath(), "")
	for _, port := range e.ports {
		if !strings.Contains(out, fmt.Sprintf("%d\n", port)) {
			t.Errorf("__complete logs: got %q, want port %d among the candidates", out, port)
		}
	}
}

// TestConfigFromEnvironment checks that HELLOMGR_CONFIG stands for -c, and
// that -c still wins over it.
func TestConfigFromEnvironment(t *testing.T) {
	fromEnv, fromFlag := newEnv(t, 1, ""), newEnv(t, 1, "")
	t.Setenv(configEnv, fromEnv.configPath())
	t.Chdir(t.TempDir()) // no ./config.yaml to fall back on
	out, errOut, code := execute("nginx")
	if want := fmt.Sprintf("server 127.0.0.1:%d max_fails=0;", fromEnv.ports[0]); code != 0 || !strings.Contains(out, want) {
		t.Errorf("nginx with %s set: exit %d, stderr %q, output without %q:\n%s", configEnv, code, errOut, want, out)
	}
	out, _, _ = execute("nginx", "-c", fromFlag.configPath())
	if want := fmt.Sprintf("server 127.0.0.1:%d max_fails=0;", fromFlag.ports[0]); !strings.Contains(out, want) {
		t.Errorf("nginx -c with %s set: output without %q:\n%s", configEnv, want, out)
	}
}

// TestErrorsGoToStderrWithTheDocumentedCode checks the README's promise:
// nothing on stdout, one "hellomgr: ..." message on stderr, exit 1 for a
// failure and 2 for a usage error.
func TestErrorsGoToStderrWithTheDocumentedCode(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	e := newEnv(t, 1, "")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"bogus"}, ExitUsage},
		{[]string{"status", "--bogus"}, ExitUsage},
		{[]string{"logs", "1", "-c", e.configPath()}, ExitUsage},
		{[]string{"completion", "tcsh"}, ExitUsage},
		{[]string{"nginx", "-c", missing}, ExitFailure},
		{[]string{"reload", "-c", missing}, ExitFailure},
		{[]string{"status", "-c", e.configPath()}, ExitFailure}, // no manager
	} {
		out, errOut, code := execute(tc.args...)
		if code != tc.code || out != "" || !strings.HasPrefix(errOut, "hellomgr: ") {
			t.Errorf("hellomgr %v: exit %d, stdout %q, stderr %q; want exit %d, no stdout, \"hellomgr: ...\" on stderr",
				tc.args, code, out, errOut, tc.code)
		}
	}
}
