package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Argv returns the argv of the instance on port: Command with every
// {port} replaced by the port or, when Command is empty, the built-in
// server: [self, "serve", "--port", "<port>"], self being the path of the
// hellomgr binary (os.Executable). It returns a new slice on every call.
//
// It does not resolve the program: exec.Command looks a bare name up in
// PATH, and a relative path such as "./app" is relative to the child's
// Dir, which the caller sets to WorkDir (the program was checked there).
func (c *Config) Argv(port int, self string) []string {
	p := strconv.Itoa(port)
	if len(c.Command) == 0 {
		return []string{self, "serve", "--port", p}
	}
	argv := make([]string, len(c.Command))
	for i, arg := range c.Command {
		argv[i] = strings.ReplaceAll(arg, PortPlaceholder, p)
	}
	return argv
}

// command reads `command`, an argv list. The program itself is checked in
// finish, once `dir` is known, since a relative path is relative to it.
// A misspelt placeholder is a problem, but leaves the command read, so
// that its program is checked too.
func (p *parser) command(key string, v *yaml.Node) ([]string, bool) {
	n := deref(v)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		p.add(v.Line, key, "want a list of arguments, got a string%s", listHint(n.Value))
		return nil, false
	}
	args, ok := p.argv(key, v, `remove "command:" to run the built-in server, or list a program and its arguments`)
	if !ok {
		return nil, false
	}
	for i, arg := range args {
		for _, bad := range misspelt(arg) {
			p.add(n.Content[i].Line, fmt.Sprintf("%s[%d]", key, i), "%s is not a placeholder; did you mean %q?", quote(bad), PortPlaceholder)
		}
	}
	return args, true
}

// hook reads `hooks.on_failed` or `hooks.on_restart`.
func (p *parser) hook(key string, v *yaml.Node) ([]string, bool) {
	return p.runnable(key, v, "remove it to run nothing, or list a program and its arguments", "")
}

// reloadCommand reads `nginx.reload_command`. The default's "nginx" is not
// looked up, written or left out: `check` often runs where PATH lacks
// /usr/sbin, and writing the default must mean what leaving it out does.
func (p *parser) reloadCommand(key string, v *yaml.Node) ([]string, bool) {
	return p.runnable(key, v, `remove it for the default ["nginx", "-s", "reload"]`, "nginx")
}

// runnable reads an argv the manager runs from wherever it was started:
// its program, unless it is trusted, is checked now and made absolute
// against the config's folder if it is a path.
func (p *parser) runnable(key string, v *yaml.Node, ifEmpty, trusted string) ([]string, bool) {
	args, ok := p.argv(key, v, ifEmpty)
	if ok && args[0] != trusted {
		args[0], ok = p.program(key+"[0]", deref(v).Content[0].Line, args[0], p.c.Dir)
	}
	return args, ok
}

// argv reads a non-empty list of strings with a non-empty first item, the
// program. ifEmpty tells the user what to do about an empty list.
func (p *parser) argv(key string, v *yaml.Node, ifEmpty string) ([]string, bool) {
	n := deref(v)
	switch {
	case isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		p.add(v.Line, key, "empty; %s", ifEmpty)
		return nil, false
	case n.Kind != yaml.SequenceNode:
		p.add(v.Line, key, `want a list like ["./app", "--port", "{port}"], got %s`, describe(n))
		return nil, false
	}
	before := p.found()
	args := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		ik := fmt.Sprintf("%s[%d]", key, i)
		s, ok := p.scalar(ik, item, "a string")
		switch {
		case ok && strings.ContainsRune(s, 0):
			p.add(item.Line, ik, "contains a NUL byte, which no argument can hold")
		case ok && i == 0 && s == "":
			p.add(item.Line, ik, "empty program name")
		}
		args = append(args, s)
	}
	return args, p.found() == before
}

// listHint turns `command: ./app --port {port}` into the list it was
// probably meant to be. Splitting on spaces is only a guess, so it is a
// hint, never applied.
func listHint(s string) string {
	fields := strings.Fields(s)
	if len(fields) == 0 || len(s) > 200 {
		return ""
	}
	for i, f := range fields {
		fields[i] = strconv.Quote(f)
	}
	return "; write it as a list, e.g. command: [" + strings.Join(fields, ", ") + "]"
}

// braces finds "{...}" and "${...}"; the latter is shell syntax, as in
// ["sh", "-c", "exec app --port ${PORT}"], and is left alone.
var braces = regexp.MustCompile(`\$?\{[^{}]{0,20}\}`)

// misspelt returns each "{...}" in arg that looks like a slip for {port}:
// "{prot}", "{Port}", "{ port }", "{PORT}". A misspelt placeholder would
// reach the child verbatim and make it fail far from the cause.
func misspelt(arg string) []string {
	var bad []string
	for _, m := range braces.FindAllString(arg, -1) {
		if m[0] == '$' || m == PortPlaceholder {
			continue
		}
		word := strings.ToLower(strings.Join(strings.Fields(m[1:len(m)-1]), ""))
		if distance(word, "port") <= 1 {
			bad = append(bad, m)
		}
	}
	return bad
}

// checkProgram checks that command[0] names a program that can run: a path
// (relative to WorkDir) to an executable file, or a name found in PATH.
func (p *parser) checkProgram() {
	if len(p.c.Command) == 0 || p.c.Command[0] == "" || strings.Contains(p.c.Command[0], PortPlaceholder) {
		return
	}
	name, dir := p.c.Command[0], p.c.WorkDir
	if p.given("dir") && !p.good("dir") {
		if strings.Contains(name, "/") && !filepath.IsAbs(name) {
			return // `dir` is wrong already; one message is enough
		}
		dir = "" // and no hint about what is in it
	}
	p.program("command[0]", p.programLine(), name, dir)
}

// programLine is the line of command[0], or 0.
func (p *parser) programLine() int {
	if e, ok := p.seen["command"]; ok && len(deref(e.val).Content) > 0 {
		return deref(e.val).Content[0].Line
	}
	return 0
}

// program checks that name, the program of the argv at key, can run: a
// path to an executable file, relative to dir unless absolute, or a name
// without a slash found in PATH. It returns what to run: a bare name as
// it is (exec looks it up again at every start), a path made absolute.
func (p *parser) program(key string, line int, name, dir string) (string, bool) {
	if !strings.Contains(name, "/") {
		_, err := exec.LookPath(name)
		switch {
		case errors.Is(err, exec.ErrDot):
			p.add(line, key, "%s is found only through a relative PATH entry; write %q or an absolute path", quote(name), "./"+name)
		case err != nil:
			p.add(line, key, "%s not found in PATH%s", quote(name), inDir(dir, name))
		default:
			return name, true
		}
		return "", false
	}
	path := name
	if !filepath.IsAbs(name) {
		path = filepath.Join(dir, name)
	}
	if msg := executable(path); msg != "" {
		p.add(line, key, "%s %s", shown(name, path), msg)
		return "", false
	}
	return path, true
}

// inDir hints at the usual cause of a bare name not found: the program
// is in dir, the folder relative paths start from, but a name without a
// slash is only looked up in PATH.
func inDir(dir, name string) string {
	if dir == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		return ""
	}
	return fmt.Sprintf("; for the one in %s, write %q", dir, "./"+name)
}

// executable says what stops path from being run, or "".
func executable(path string) string {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case err != nil:
		return fmt.Sprintf("cannot be used: %v", reason(err))
	case fi.IsDir():
		return "is a directory, not a program"
	case fi.Mode()&0o111 == 0:
		return fmt.Sprintf("is not executable (try: chmod +x %s)", path)
	}
	return ""
}

// reason strips the path from a *fs.PathError: messages name it already.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// shown names a path from the file as the user wrote it and, if relative,
// as it was resolved, since which folder it is relative to is the usual
// surprise.
func shown(given, path string) string {
	if given == path {
		return quote(given)
	}
	return fmt.Sprintf("%s (%s)", quote(given), path)
}
