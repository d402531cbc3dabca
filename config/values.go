package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// The readers of single values. Each reads the value v of key, records
// what is wrong with it, and returns the value and whether it is good.

// scalar returns the text of a scalar that is not null. Numbers and
// booleans come back as written: an argument or a folder may be "8001".
func (p *parser) scalar(key string, v *yaml.Node, want string) (string, bool) {
	n := deref(v)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.add(v.Line, key, "want %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

// boolean accepts true and false, quoted or not: a quoted "true" cannot
// mean anything else.
func (p *parser) boolean(key string, v *yaml.Node) (bool, bool) {
	n := deref(v)
	if n.Kind == yaml.ScalarNode && (n.Value == "true" || n.Value == "false") {
		return n.Value == "true", true
	}
	var b bool
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && n.Decode(&b) == nil {
		return b, true
	}
	p.add(v.Line, key, "want true or false, got %s", describe(n))
	return false, false
}

// tcp reads `tcp: true`, which makes a probe a TCP connect; false changes
// nothing.
func (p *parser) tcp(key string, v *yaml.Node) (ProbeKind, bool) {
	on, ok := p.boolean(key, v)
	return ProbeTCP, ok && on
}

// integer accepts a whole number written as a YAML int.
func (p *parser) integer(key string, v *yaml.Node) (int, bool) {
	n := deref(v)
	var i int
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" && n.Decode(&i) == nil {
		return i, true
	}
	p.add(v.Line, key, "want a whole number, got %s", describe(n))
	return 0, false
}

// atLeast reads a whole number of least or more; tooFew is the message,
// with %d for the number, for one below.
func atLeast(least int, tooFew string) func(*parser, string, *yaml.Node) (int, bool) {
	return func(p *parser, key string, v *yaml.Node) (int, bool) {
		n, ok := p.integer(key, v)
		if ok && n < least {
			p.add(v.Line, key, tooFew, n)
			return 0, false
		}
		return n, ok
	}
}

// choice reads one of opts, each written as fmt.Sprint writes it.
func choice[T comparable](opts ...T) func(*parser, string, *yaml.Node) (T, bool) {
	return func(p *parser, key string, v *yaml.Node) (T, bool) {
		names := make([]string, len(opts))
		for i, o := range opts {
			names[i] = strconv.Quote(fmt.Sprint(o))
		}
		want := strings.Join(names, " or ")
		s, ok := p.scalar(key, v, want)
		for _, o := range opts {
			if ok && s == fmt.Sprint(o) {
				return o, true
			}
		}
		if ok {
			p.add(v.Line, key, "want %s, got %s", want, quote(s))
		}
		var zero T
		return zero, false
	}
}

var bareNumber = regexp.MustCompile(`^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)$`)

// duration reads a Go duration string. A bare number is refused because
// its unit is a guess: is "10" ten seconds or ten milliseconds? Zero is
// accepted only when zeroOK; a negative duration never is.
func (p *parser) duration(key string, v *yaml.Node, zeroOK bool) (time.Duration, bool) {
	n := deref(v)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.add(v.Line, key, `want a duration like "10s", got %s`, describe(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil && bareNumber.MatchString(n.Value):
		num := short(n.Value)
		p.add(v.Line, key, `%s has no unit; write e.g. "%ss" or "%sms"`, num, num, num)
	case err != nil:
		p.add(v.Line, key, `want a duration like "10s" or "500ms", got %s`, describe(n))
	case d < 0 && zeroOK:
		p.add(v.Line, key, "must not be negative, got %s", short(n.Value))
	case d <= 0 && !zeroOK:
		p.add(v.Line, key, "must be more than 0, got %s", short(n.Value))
	default:
		return d, true
	}
	return 0, false
}

func (p *parser) positive(key string, v *yaml.Node) (time.Duration, bool) {
	return p.duration(key, v, false)
}

func (p *parser) nonNegative(key string, v *yaml.Node) (time.Duration, bool) {
	return p.duration(key, v, true)
}

// minBackoff is the shortest restart.backoff: a crash loop at 1ms took a
// third of a core.
const minBackoff = 10 * time.Millisecond

// backoff reads `restart.backoff`, the first delay after an unexpected exit.
func (p *parser) backoff(key string, v *yaml.Node) (time.Duration, bool) {
	d, ok := p.positive(key, v)
	if ok && d < minBackoff {
		p.add(v.Line, key, "%s is too short; at least %s (an instance that keeps crashing, restarted faster, keeps a core busy)", short(deref(v).Value), minBackoff)
		return 0, false
	}
	return d, ok
}

// probePath reads the path of an HTTP probe (`ready.http`,
// `liveness.http`), an absolute URL path.
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

// signals are the stop signals accepted, in the order error messages list them.
var signals = []struct {
	name string
	sig  syscall.Signal
}{
	{"TERM", syscall.SIGTERM}, {"INT", syscall.SIGINT}, {"QUIT", syscall.SIGQUIT},
	{"HUP", syscall.SIGHUP}, {"USR1", syscall.SIGUSR1}, {"USR2", syscall.SIGUSR2},
	{"KILL", syscall.SIGKILL},
}

// signal reads a signal name, with or without "SIG", in any case.
func (p *parser) signal(key string, v *yaml.Node) (syscall.Signal, bool) {
	s, ok := p.scalar(key, v, `a signal name like "TERM"`)
	if !ok {
		return 0, false
	}
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	names := make([]string, len(signals))
	for i, sig := range signals {
		if sig.name == name {
			return sig.sig, true
		}
		names[i] = sig.name
	}
	p.add(v.Line, key, "unknown signal %s; want one of %s", quote(s), strings.Join(names, ", "))
	return 0, false
}

// upstreamName is what nginx accepts, unquoted, as an upstream's name and
// as the host in proxy_pass http://<name>.
var upstreamName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// upstream reads `nginx.upstream`.
func (p *parser) upstream(key string, v *yaml.Node) (string, bool) {
	s, ok := p.scalar(key, v, `a name like "hellomgr"`)
	if ok && !upstreamName.MatchString(s) {
		p.add(v.Line, key, "%s is not a valid nginx upstream name (letters, digits, _, . and -)", quote(s))
		return "", false
	}
	return s, ok
}

var sizeText = regexp.MustCompile(`^([0-9]+)\s*([A-Za-z]*)$`)

// units are the size units, in upper case, in bytes: 1 MB = 1 MiB =
// 1024*1024 bytes.
var units = map[string]int64{
	"B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
	"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40,
}

// size reads a whole number and its unit, like "10MB", and returns them as
// written. like shows the form wanted; a bare number is refused, with
// bareUnit suggested, because its unit would be a guess.
func (p *parser) size(key string, v *yaml.Node, like, bareUnit string) (num, unit string, ok bool) {
	n := deref(v)
	var m []string
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		m = sizeText.FindStringSubmatch(strings.TrimSpace(n.Value))
	}
	switch {
	case m == nil:
		p.add(v.Line, key, "want a size like %s, got %s", like, describe(n))
	case m[2] == "":
		p.add(v.Line, key, `%s has no unit; write e.g. "%s%s"`, short(m[1]), short(m[1]), bareUnit)
	default:
		return m[1], m[2], true
	}
	return "", "", false
}

// maxLogMB bounds logs.max_size well below where megabytes overflow bytes.
const maxLogMB = 1 << 20 // 1024GB

// megabytes reads `logs.max_size` in whole megabytes, like "10MB" or
// "1GB". Files rotate in whole megabytes, so smaller units are refused
// rather than rounded.
func (p *parser) megabytes(key string, v *yaml.Node) (int, bool) {
	num, unit, ok := p.size(key, v, `"10MB" or "1GB"`, "MB")
	per := int(units[strings.ToUpper(unit)] >> 20)
	n, err := strconv.Atoi(num)
	switch {
	case !ok:
	case units[strings.ToUpper(unit)] == 0 || per > 1024:
		p.add(v.Line, key, `unknown unit %s; want MB or GB, like "10MB"`, quote(unit))
	case per == 0:
		p.add(v.Line, key, `files rotate in whole megabytes; want "1MB" or more, got %s`, quote(deref(v).Value))
	case err != nil || n > maxLogMB/per:
		p.add(v.Line, key, "%s is too large; at most %dGB", quote(deref(v).Value), maxLogMB/1024)
	case n == 0:
		p.add(v.Line, key, `must be more than 0, like "10MB"`)
	default:
		return n * per, true
	}
	return 0, false
}

// minMemory is the smallest limits.memory: no program runs in less.
const minMemory = 1 << 20

// maxMemory bounds limits.memory well below where bytes overflow.
const maxMemory = 1 << 50 // 1 PiB

// memory reads `limits.memory`, a size in bytes with a binary unit:
// "256MiB", "1GB" (1 MB = 1024*1024 bytes, as logs.max_size counts),
// "512KiB" (refused: below minMemory).
func (p *parser) memory(key string, v *yaml.Node) (int64, bool) {
	num, unit, ok := p.size(key, v, `"256MiB" or "1GiB"`, "MiB")
	per := units[strings.ToUpper(unit)]
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case !ok:
	case per == 0:
		p.add(v.Line, key, `unknown unit %s; want KiB, MiB, GiB or TiB, like "256MiB"`, quote(unit))
	case err != nil || n > maxMemory/per:
		p.add(v.Line, key, "%s is too large; at most 1024TiB", quote(deref(v).Value))
	case n*per < minMemory:
		p.add(v.Line, key, "%s is less than 1MiB; no instance runs in that", quote(deref(v).Value))
	default:
		return n * per, true
	}
	return 0, false
}
