package config

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reserved are the variables hellomgr sets in each instance's environment
// itself, with what each one is. One from env as well would reach the
// child twice, or in place of hellomgr's, and break it.
var reserved = map[string]string{
	"PORT":           "the instance's port",
	"LISTEN_FDS":     "the number of sockets passed with reload.handoff: socket",
	"LISTEN_FDNAMES": "the names of the sockets passed with reload.handoff: socket",
	"LISTEN_PID":     "left unset: a pid other than the instance's own makes it ignore the socket passed",
	"NOTIFY_SOCKET":  "the socket the instance says READY=1 on, with ready.notify",
}

// Linux refuses to start a program (execve fails with E2BIG) when one
// argument or variable is maxArgLen bytes or more with its final NUL
// (MAX_ARG_STRLEN), or when all of them, with a pointer to each, take
// more than a quarter of the stack limit: ARG_MAX, 2 MiB with the usual
// 8 MiB stack. An instance's environment also holds what the manager
// inherited, so the command and env may take execBudget at most.
const (
	maxArgLen  = 128 << 10
	execBudget = 1 << 20
)

// env reads `env`, a mapping of names to scalars, into sorted "K=V".
// Numbers and booleans are kept as written: `DEBUG: true` is "DEBUG=true".
func (p *parser) env(key string, v *yaml.Node) ([]string, bool) {
	vals := map[string]string{}
	p.section(key, v, nil, func(k, val *yaml.Node) {
		if s, ok := p.envVar(k, val); ok {
			vals[k.Value] = s
		}
	})
	var env []string
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		env = append(env, name+"="+vals[name])
	}
	return env, true
}

// envVar reads the value of the variable named k.
func (p *parser) envVar(k, v *yaml.Node) (string, bool) {
	name, key := k.Value, "env."+k.Value
	if what, ok := reserved[name]; ok {
		p.add(k.Line, key, "hellomgr sets it per instance (%s); remove it", what)
		return "", false
	}
	if !envName.MatchString(name) {
		p.add(k.Line, "env", "%s is not a variable name (letters, digits and _, not starting with a digit)", quote(name))
		return "", false
	}
	if isNull(deref(v)) {
		p.add(v.Line, key, `want a value, got nothing (write %s: "" for an empty one)`, name)
		return "", false
	}
	s, ok := p.scalar(key, v, "a string")
	switch {
	case !ok:
	case strings.ContainsRune(s, 0):
		p.add(v.Line, key, "contains a NUL byte, which no environment variable can hold")
	case len(name)+len("=")+len(s) >= maxArgLen:
		p.add(v.Line, key, "%d bytes, too long for one variable: Linux allows less than %d KiB with its name (MAX_ARG_STRLEN), so no instance could start; pass it in a file instead", len(s), maxArgLen>>10)
	default:
		return s, true
	}
	return "", false
}

// checkExecSize refuses a command or env too large for Linux to start an
// instance with: every start would fail.
func (p *parser) checkExecSize() {
	size := func(s string) int { return len(s) + 1 + 8 } // the string, its NUL, a pointer to it
	cmdBytes := 0
	for i, arg := range p.c.Command {
		arg = strings.ReplaceAll(arg, PortPlaceholder, "65535")
		if len(arg) >= maxArgLen {
			p.add(p.programLine(), "command", "item %d is %d bytes, too long for one argument: Linux allows less than %d KiB (MAX_ARG_STRLEN), so no instance could start", i, len(arg), maxArgLen>>10)
			return
		}
		cmdBytes += size(arg)
	}
	// What hellomgr adds, NOTIFY_SOCKET's path 108 bytes at most.
	envBytes := 0
	for _, kv := range append([]string{"PORT=65535", "LISTEN_FDS=1", "LISTEN_FDNAMES=http", "NOTIFY_SOCKET=" + strings.Repeat("x", 108)}, p.c.Env...) {
		envBytes += size(kv)
	}
	total := cmdBytes + envBytes
	if total <= execBudget {
		return
	}
	key, line := "env", p.line("env")
	if cmdBytes > envBytes {
		key, line = "command", p.programLine()
	}
	p.add(line, key, "the command and environment of an instance come to %d KiB, more than the %d KiB allowed (Linux starts no program whose arguments and environment, the manager's own included, exceed ARG_MAX, usually 2 MiB); pass large values in a file instead", (total+1023)>>10, execBudget>>10)
}
