package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Liveness probes an instance once it is ready (key `liveness`). It is off
// unless `http` or `tcp: true` is set; an instance that fails Failures
// probes in a row is replaced as `hellomgr restart PORT` replaces it.
type Liveness struct {
	Kind     ProbeKind     // "" (off), ProbeHTTP (`liveness.http`) or ProbeTCP (`liveness.tcp: true`)
	Path     string        // `liveness.http`: a GET of it must answer below 500
	Interval time.Duration // `liveness.interval`, default 10s: from one probe to the next
	Timeout  time.Duration // `liveness.timeout`, default 2s: a probe not answered by then failed; less than Interval
	Failures int           // `liveness.failures`, default 3: failed probes in a row that replace the instance
}

// On reports whether the instances are probed once ready.
func (l Liveness) On() bool { return l.Kind != "" }

// Limits bounds what an instance may use (key `limits`).
type Limits struct {
	// MemoryBytes is `limits.memory` in bytes, 0 for none: an instance
	// (its process and everything it started) over it is replaced as
	// `hellomgr restart PORT` replaces it.
	MemoryBytes int64
}

// Hooks are commands run when an instance changes state (key `hooks`).
type Hooks struct {
	OnFailed  []string      // `hooks.on_failed`: argv run when an instance gives up (state failed)
	OnRestart []string      // `hooks.on_restart`: argv run when an instance is restarted unasked (an exit, liveness, memory)
	Timeout   time.Duration // `hooks.timeout`, default 10s: a hook still running then is killed
}

// Defaults of the health keys, used by defaults().
var (
	defaultLiveness = Liveness{Interval: 10 * time.Second, Timeout: 2 * time.Second, Failures: 3}
	defaultHooks    = Hooks{Timeout: 10 * time.Second}
)

// minMemory is the smallest limits.memory: no program runs in less.
const minMemory = 1 << 20

// maxMemory bounds limits.memory well below where bytes overflow.
const maxMemory = 1 << 50 // 1 PiB

// liveness reads `liveness`. The checks that involve reload.handoff wait
// for checkHealth, once the handoff is known.
func (p *parser) liveness(k, v *yaml.Node) {
	l := defaultLiveness
	var httpLine, tcpLine, intervalLine, timeoutLine int
	ok := p.section("liveness", v, keys["liveness"], func(k, val *yaml.Node) {
		key := "liveness." + k.Value
		switch k.Value {
		case "http":
			if path, ok := p.probePath(key, val); ok {
				l.Path, httpLine = path, k.Line
			}
		case "tcp":
			if on, ok := p.boolean(key, val); ok && on {
				tcpLine = k.Line
			}
		case "interval":
			if d, ok := p.duration(key, val, false); ok {
				l.Interval, intervalLine = d, k.Line
			}
		case "timeout":
			if d, ok := p.duration(key, val, false); ok {
				l.Timeout, timeoutLine = d, k.Line
			}
		case "failures":
			n, ok := p.integer(key, val)
			if ok && n < 1 {
				p.add(val.Line, key, "must be 1 or more (failed probes in a row that replace an instance), got %d", n)
			} else if ok {
				l.Failures = n
			}
		}
	})
	if !ok {
		return
	}
	switch {
	case httpLine > 0 && tcpLine > 0:
		p.add(max(httpLine, tcpLine), "liveness", "both http and tcp: true are set; keep one")
		return
	case httpLine > 0:
		l.Kind = ProbeHTTP
	case tcpLine > 0:
		l.Kind = ProbeTCP
	default:
		p.add(k.Line, "liveness", `probes nothing; add http: "/healthz" (a GET that must answer below 500), or remove the section`)
		return
	}
	if l.Timeout >= l.Interval {
		// One probe in flight at most: each must end before the next.
		line, key := timeoutLine, "liveness.timeout"
		if line == 0 {
			line, key = intervalLine, "liveness.interval"
		}
		p.add(line, key, "timeout %s must be less than interval %s, so that a probe ends before the next one starts", l.Timeout, l.Interval)
		return
	}
	p.c.Liveness = l
}

// limits reads `limits`.
func (p *parser) limits(v *yaml.Node) {
	p.section("limits", v, keys["limits"], func(k, val *yaml.Node) {
		set(&p.c.Limits.MemoryBytes)(p.memory("limits."+k.Value, val))
	})
}

// hooks reads `hooks`. A program is checked as nginx.reload_command's is:
// a path is relative to the config's folder, a bare name must be in PATH.
func (p *parser) hooks(v *yaml.Node) {
	p.section("hooks", v, keys["hooks"], func(k, val *yaml.Node) {
		key := "hooks." + k.Value
		switch k.Value {
		case "on_failed", "on_restart":
			args, ok := p.argv(key, val, "remove it to run nothing, or list a program and its arguments")
			if ok {
				args[0], ok = p.program(key+"[0]", deref(val).Content[0].Line, args[0], p.c.Dir)
			}
			if ok && k.Value == "on_failed" {
				p.c.Hooks.OnFailed = args
			} else if ok {
				p.c.Hooks.OnRestart = args
			}
		case "timeout":
			set(&p.c.Hooks.Timeout)(p.duration(key, val, false))
		}
	})
}

// memory reads a size in bytes with a binary unit: "256MiB", "1GB" (1 MB
// = 1024*1024 bytes, as logs.max_size counts), "512KiB" (refused: below
// minMemory). A bare number is refused: its unit would be a guess.
func (p *parser) memory(key string, v *yaml.Node) (int64, bool) {
	n := deref(v)
	want := `want a size like "256MiB" or "1GiB"`
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.add(v.Line, key, "%s, got %s", want, describe(n))
		return 0, false
	}
	m := sizeText.FindStringSubmatch(strings.TrimSpace(n.Value))
	if m == nil {
		p.add(v.Line, key, "%s, got %s", want, describe(n))
		return 0, false
	}
	var unit int64
	switch strings.ToUpper(m[2]) {
	case "":
		p.add(v.Line, key, `%s has no unit; write e.g. "%sMiB"`, short(m[1]), short(m[1]))
		return 0, false
	case "B":
		unit = 1
	case "K", "KB", "KIB":
		unit = 1 << 10
	case "M", "MB", "MIB":
		unit = 1 << 20
	case "G", "GB", "GIB":
		unit = 1 << 30
	case "T", "TB", "TIB":
		unit = 1 << 40
	default:
		p.add(v.Line, key, `unknown unit %s; want KiB, MiB, GiB or TiB, like "256MiB"`, quote(m[2]))
		return 0, false
	}
	num, err := strconv.ParseInt(m[1], 10, 64)
	switch {
	case err != nil || num > maxMemory/unit:
		p.add(v.Line, key, "%s is too large; at most 1024TiB", quote(n.Value))
	case num*unit < minMemory:
		p.add(v.Line, key, "%s is less than 1MiB; no instance runs in that", quote(n.Value))
	default:
		return num * unit, true
	}
	return 0, false
}

// checkHealth runs, after finish, the checks that need reload.handoff.
// With the socket handed off, the manager holds the port's listening
// socket, so a TCP connect to it always succeeds, whatever the instance
// does: a tcp liveness probe would prove nothing.
func (p *parser) checkHealth(root *yaml.Node) {
	if p.c.Liveness.Kind != ProbeTCP || p.c.Reload.Handoff != HandoffSocket {
		return
	}
	how := "reload.handoff is socket"
	if !p.handoffSet {
		how = "the built-in server gets reload.handoff: socket"
	}
	p.add(lineOf(root, "liveness", "tcp"), "liveness.tcp", "%s, so hellomgr holds the port and a connect always succeeds, even to a hung instance; use http: PATH (a GET that must answer), or set reload.handoff: none", how)
}

// lineOf returns the line of the key at path in the mapping root, or
// root's line when it is not there.
func lineOf(root *yaml.Node, path ...string) int {
	n, line := deref(root), root.Line
	for _, name := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if deref(n.Content[i]).Value == name {
				line, n, found = n.Content[i].Line, deref(n.Content[i+1]), true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// Describe says what the probe does, for check: "GET /healthz every
// 10s (timeout 2s); 3 failed in a row replace the instance".
func (l Liveness) Describe() string {
	what := "a TCP connect"
	if l.Kind == ProbeHTTP {
		what = "GET " + l.Path
	}
	return fmt.Sprintf("%s every %s (timeout %s); %d failed in a row replace the instance", what, l.Interval, l.Timeout, l.Failures)
}
