package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// env reads `env`, a mapping of names to scalars, into sorted "K=V".
// Numbers and booleans are kept as written: `DEBUG: true` is "DEBUG=true".
func (p *parser) env(v *yaml.Node) {
	vals := map[string]string{}
	p.section("env", v, nil, func(k, val *yaml.Node) {
		name := k.Value
		if what, ok := reserved[name]; ok {
			p.add(k.Line, "env."+name, "hellomgr sets it per instance (%s); remove it", what)
			return
		}
		if !envName.MatchString(name) {
			p.add(k.Line, "env", "%s is not a variable name (letters, digits and _, not starting with a digit)", quote(name))
			return
		}
		s, ok := p.envValue("env."+name, name, val)
		if ok && len(name)+len("=")+len(s) >= maxArgLen {
			p.add(val.Line, "env."+name, "%d bytes, too long for one variable: Linux allows less than %d KiB with its name (MAX_ARG_STRLEN), so no instance could start; pass it in a file instead", len(s), maxArgLen>>10)
		} else if ok {
			vals[name] = s
		}
	})
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		p.c.Env = append(p.c.Env, name+"="+vals[name])
	}
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

// checkExecSize refuses a command or env too large for Linux to start an
// instance with: every start would fail.
func (p *parser) checkExecSize() {
	size := func(s string) int { return len(s) + 1 + 8 } // the string, its NUL, a pointer to it
	cmdBytes := 0
	for i, arg := range p.c.Command {
		arg = strings.ReplaceAll(arg, PortPlaceholder, "65535")
		if len(arg) >= maxArgLen {
			p.add(p.programLine, "command", "item %d is %d bytes, too long for one argument: Linux allows less than %d KiB (MAX_ARG_STRLEN), so no instance could start", i, len(arg), maxArgLen>>10)
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
	key, line := "env", p.envLine
	if cmdBytes > envBytes {
		key, line = "command", p.programLine
	}
	p.add(line, key, "the command and environment of an instance come to %d KiB, more than the %d KiB allowed (Linux starts no program whose arguments and environment, the manager's own included, exceed ARG_MAX, usually 2 MiB); pass large values in a file instead", (total+1023)>>10, execBudget>>10)
}

// envValue reads the value of variable name.
func (p *parser) envValue(key, name string, v *yaml.Node) (string, bool) {
	if isNull(deref(v)) {
		p.add(v.Line, key, `want a value, got nothing (write %s: "" for an empty one)`, name)
		return "", false
	}
	s, ok := p.scalar(key, v, "a string")
	if ok && strings.ContainsRune(s, 0) {
		p.add(v.Line, key, "contains a NUL byte, which no environment variable can hold")
		return "", false
	}
	return s, ok
}

// ready reads `ready`, the readiness probe.
func (p *parser) ready(v *yaml.Node) {
	var httpLine, tcpLine int
	r := &p.c.Ready
	p.section("ready", v, keys["ready"], func(k, val *yaml.Node) {
		key := "ready." + k.Value
		switch k.Value {
		case "http":
			if path, ok := p.probePath(key, val); ok {
				r.Path, httpLine = path, k.Line
			}
		case "tcp":
			if on, ok := p.boolean(key, val); ok && on {
				tcpLine = k.Line
			}
		case "timeout":
			set(&r.Timeout)(p.duration(key, val, false))
		case "interval":
			set(&r.Interval)(p.duration(key, val, false))
		case "notify":
			if on, ok := p.boolean(key, val); ok {
				r.Notify, p.notifySet = on, true
			}
		}
	})
	switch {
	case httpLine > 0 && tcpLine > 0:
		p.add(max(httpLine, tcpLine), "ready", "both http and tcp: true are set; keep one")
	case tcpLine > 0:
		r.Kind, r.Path = ProbeTCP, "" // no path is probed
	}
}

// probePath reads `ready.http`, an absolute URL path.
func (p *parser) probePath(key string, v *yaml.Node) (string, bool) {
	s, ok := p.scalar(key, v, `a path like "/healthz"`)
	if !ok {
		return "", false
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && strings.HasPrefix(u.Path, "/") {
		p.add(v.Line, key, "want a path, not a URL; write %q", u.RequestURI())
		return "", false
	}
	if !strings.HasPrefix(s, "/") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		p.add(v.Line, key, "want a path starting with \"/\" and without spaces, like \"/healthz\", got %s", describe(deref(v)))
		return "", false
	}
	return s, true
}

// set returns a setter that stores a value in dst only if ok, so a bad
// value leaves the default for the cross-key checks to work with.
func set[T any](dst *T) func(T, bool) {
	return func(d T, ok bool) {
		if ok {
			*dst = d
		}
	}
}

// signals are the stop signals accepted, in the order error messages list them.
var signals = []struct {
	name string
	sig  syscall.Signal
}{
	{"TERM", syscall.SIGTERM}, {"INT", syscall.SIGINT}, {"QUIT", syscall.SIGQUIT},
	{"HUP", syscall.SIGHUP}, {"USR1", syscall.SIGUSR1}, {"USR2", syscall.SIGUSR2},
	{"KILL", syscall.SIGKILL},
}

// stop reads `stop`.
func (p *parser) stop(v *yaml.Node) {
	p.section("stop", v, keys["stop"], func(k, val *yaml.Node) {
		key := "stop." + k.Value
		switch k.Value {
		case "signal":
			if s, ok := p.scalar(key, val, `a signal name like "TERM"`); ok {
				set(&p.c.Stop.Signal)(p.signal(key, val.Line, s))
			}
		case "timeout":
			set(&p.c.Stop.Timeout)(p.duration(key, val, false))
		}
	})
}

// signal reads a signal name, with or without "SIG", in any case.
func (p *parser) signal(key string, line int, s string) (syscall.Signal, bool) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	names := make([]string, len(signals))
	for i, sig := range signals {
		if sig.name == name {
			return sig.sig, true
		}
		names[i] = sig.name
	}
	p.add(line, key, "unknown signal %s; want one of %s", quote(s), strings.Join(names, ", "))
	return 0, false
}

// minBackoff is the shortest restart.backoff: a crash loop at 1ms took a
// third of a core.
const minBackoff = 10 * time.Millisecond

// restart reads `restart`, the backoff after unexpected exits.
func (p *parser) restart(v *yaml.Node) {
	r := &p.c.Restart
	p.section("restart", v, keys["restart"], func(k, val *yaml.Node) {
		key := "restart." + k.Value
		switch k.Value {
		case "backoff":
			d, ok := p.duration(key, val, false)
			if ok && d < minBackoff {
				p.add(val.Line, key, "%s is too short; at least %s (an instance that keeps crashing, restarted faster, keeps a core busy)", short(deref(val).Value), minBackoff)
			} else if ok {
				r.Backoff, p.backoffLine = d, k.Line
			}
		case "max_backoff":
			if d, ok := p.duration(key, val, false); ok {
				r.MaxBackoff, p.maxBackLine = d, k.Line
			}
		case "reset_after":
			set(&r.ResetAfter)(p.duration(key, val, false))
		case "max_tries":
			n, ok := p.integer(key, val)
			if ok && n < 0 {
				p.add(val.Line, key, "must be 0 (never give up) or more, got %d", n)
			} else if ok {
				r.MaxTries = n
			}
		}
	})
}

// reload reads `reload`. max_unavailable is checked against the number of
// ports in finish, when that number is known.
func (p *parser) reload(v *yaml.Node) {
	p.section("reload", v, keys["reload"], func(k, val *yaml.Node) {
		key := "reload." + k.Value
		switch k.Value {
		case "max_unavailable":
			if n, ok := p.integer(key, val); ok {
				p.c.Reload.MaxUnavailable, p.maxUnavail = n, val
			}
		case "handoff":
			s, ok := p.scalar(key, val, `"socket" or "none"`)
			switch h := Handoff(s); {
			case ok && (h == HandoffSocket || h == HandoffNone):
				p.c.Reload.Handoff, p.handoffSet = h, true
			case ok:
				p.add(val.Line, key, `want "socket" or "none", got %s`, quote(s))
			}
		}
	})
}

// metrics reads `metrics`.
func (p *parser) metrics(v *yaml.Node) {
	p.section("metrics", v, keys["metrics"], func(k, val *yaml.Node) {
		s, ok := p.scalar("metrics.address", val, `"host:port" or "off"`)
		if !ok {
			return
		}
		if strings.EqualFold(s, "off") {
			p.c.Metrics.Address = "off"
			return
		}
		port, msg := checkAddress(s)
		if msg != "" {
			p.add(val.Line, "metrics.address", "%s", msg)
			return
		}
		p.c.Metrics.Address, p.metricsPort, p.metricsLine = s, port, val.Line
	})
}

// checkAddress checks a "host:port" to listen on, and returns the port.
// The host must be an IP address or localhost: a name would be resolved
// at every start and might not be this machine at all.
func checkAddress(s string) (int, string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return 0, fmt.Sprintf(`want "host:port" like "127.0.0.1:9100", or "off", got %s`, quote(s))
	}
	n, err := strconv.Atoi(port)
	switch {
	case host == "":
		return 0, fmt.Sprintf(`%s has no host; write "127.0.0.1:%s" (this machine only) or "0.0.0.0:%s" (every interface)`, quote(s), short(port), short(port))
	case host != "localhost" && !isIP(host):
		return 0, fmt.Sprintf("host %s is not an IP address or localhost", quote(host))
	case err != nil || n < 0 || n > 65535:
		return 0, fmt.Sprintf("port %s is not a number in 0-65535 (0: any free port)", quote(port))
	}
	return n, ""
}

func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// logs reads `logs`: where the lines go, the folder, and how each port's
// file is rotated.
func (p *parser) logs(v *yaml.Node) {
	p.section("logs", v, keys["logs"], func(k, val *yaml.Node) {
		switch k.Value {
		case "to":
			switch s, ok := p.scalar("logs.to", val, `"file" or "journal"`); {
			case ok && s == "file":
				p.c.Logs.To = LogsToFile
			case ok && s == "journal":
				p.c.Logs.To = LogsToJournal
			case ok:
				p.add(val.Line, "logs.to", `want "file" or "journal", got %s`, quote(s))
			}
		case "dir":
			p.logsDir(val)
		case "max_size":
			set(&p.c.Logs.MaxSizeMB)(p.megabytes("logs.max_size", val))
		case "max_files":
			n, ok := p.integer("logs.max_files", val)
			if ok && n < 1 {
				p.add(val.Line, "logs.max_files", "must be 1 or more (old files kept per port), got %d", n)
			} else if ok {
				p.c.Logs.MaxFiles = n
			}
		}
	})
}

// maxLogMB bounds logs.max_size well below where megabytes overflow bytes.
const maxLogMB = 1 << 20 // 1024GB

var sizeText = regexp.MustCompile(`^([0-9]+)\s*([A-Za-z]*)$`)

// megabytes reads a size in whole megabytes, like "10MB" or "1GB". Files
// rotate in whole megabytes, so smaller units are
// refused rather than rounded; a bare number is refused because its unit
// would be a guess, as for durations.
func (p *parser) megabytes(key string, v *yaml.Node) (int, bool) {
	n := deref(v)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.add(v.Line, key, `want a size like "10MB" or "1GB", got %s`, describe(n))
		return 0, false
	}
	m := sizeText.FindStringSubmatch(strings.TrimSpace(n.Value))
	if m == nil {
		p.add(v.Line, key, `want a size like "10MB" or "1GB", got %s`, describe(n))
		return 0, false
	}
	num, err := strconv.Atoi(m[1])
	per := 0
	switch strings.ToUpper(m[2]) {
	case "":
		p.add(v.Line, key, `%s has no unit; write e.g. "%sMB"`, short(m[1]), short(m[1]))
		return 0, false
	case "M", "MB", "MIB":
		per = 1
	case "G", "GB", "GIB":
		per = 1024
	case "B", "K", "KB", "KIB":
		p.add(v.Line, key, `files rotate in whole megabytes; want "1MB" or more, got %s`, quote(n.Value))
		return 0, false
	default:
		p.add(v.Line, key, `unknown unit %s; want MB or GB, like "10MB"`, quote(m[2]))
		return 0, false
	}
	switch {
	case err != nil || num > maxLogMB/per:
		p.add(v.Line, key, "%s is too large; at most %dGB", quote(n.Value), maxLogMB/1024)
	case num == 0:
		p.add(v.Line, key, `must be more than 0, like "10MB"`)
	default:
		return num * per, true
	}
	return 0, false
}
