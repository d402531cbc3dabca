package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// keys lists the known keys of the top level ("") and of each section, in
// the order the documentation gives them.
var keys = map[string][]string{
	"":        {"ports", "address", "command", "dir", "env", "ready", "stop", "restart", "reload", "logs", "metrics", "socket", "nginx", "liveness", "limits", "hooks"},
	"ready":   {"http", "tcp", "timeout", "interval", "notify"},
	"stop":    {"signal", "timeout"},
	"restart": {"backoff", "max_backoff", "reset_after", "max_tries"},
	"reload":  {"max_unavailable", "handoff"},
	"logs":    {"to", "dir", "max_size", "max_files"},
	"metrics": {"address"},
	"nginx":   {"upstream", "upstream_file", "reload_command", "drain_timeout"},

	"liveness": {"http", "tcp", "interval", "timeout", "failures"}, // health.go
	"limits":   {"memory"},
	"hooks":    {"on_failed", "on_restart", "timeout"},
}

// deref follows aliases, so that *anchor works wherever a value does.
// Errors still blame the line of the alias, which the caller keeps.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; i < 4 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// section walks the mapping v found at key path, calling each for every key
// in file order. Unknown keys (when known is not nil) and repeated keys are
// reported here, so each sees only known keys, each once. A key with
// nothing under it ("ready:") is an empty section. It returns false if v
// is not a mapping at all.
func (p *parser) section(path string, v *yaml.Node, known []string, each func(k, v *yaml.Node)) bool {
	n := deref(v)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		want := "a mapping of names to values"
		if known != nil {
			want = "a mapping with keys " + strings.Join(known, ", ")
		}
		p.add(v.Line, path, "want %s, got %s", want, describe(n))
		return false
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if kn := deref(k); kn.Kind != yaml.ScalarNode {
			p.add(k.Line, path, "want a key name, got %s", describe(kn))
			continue
		}
		name := deref(k).Value
		if known != nil && !slices.Contains(known, name) {
			hint := ""
			if p.listed(k.Line) { // a hint costs a search; past the cap it is never shown
				hint = unknownHint(path, name)
			}
			p.add(k.Line, path, "unknown key %s%s", quote(name), hint)
			continue
		}
		if line, seen := first[name]; seen {
			p.add(k.Line, join(path, name), "listed twice (first on line %d)", line)
			continue
		}
		first[name] = k.Line
		each(deref(k), val)
	}
	return true
}

// unknownHint guesses what an unknown key was meant to be: a typo of a key
// of the same section, a key of another section at the wrong level, or a
// top-level key indented too far.
func unknownHint(path, name string) string {
	if path != "" && slices.Contains(keys[""], name) {
		return " (a top-level key: is it indented too far?)"
	}
	if s := suggest(name, keys[path]); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	if path != "" {
		return " (want one of " + strings.Join(keys[path], ", ") + ")"
	}
	var under []string
	for _, sec := range keys[""] {
		if slices.Contains(keys[sec], name) {
			under = append(under, fmt.Sprintf("%q", sec+":"))
		}
	}
	if len(under) > 0 {
		return " (it goes under " + strings.Join(under, " or ") + ")"
	}
	return " (want one of " + strings.Join(keys[""], ", ") + ")"
}

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
