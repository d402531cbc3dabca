package config

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// A setting is one key a file can hold: its dotted path, spelled nowhere
// else in the code, and how its value is read into a Config. The table
// also gives the keys of each section, in the order of docs/config.md,
// which a test checks against it.
type setting struct {
	key  string
	read reader
}

// reader reads the value v of key into the Config the parser fills.
type reader func(p *parser, key string, v *yaml.Node)

// settings is the table of every key, reading into c.
func settings(c *Config) []setting {
	return []setting{
		{"ports", to(&c.Ports, (*parser).ports)},
		{"address", to(&c.Address, (*parser).address)},
		{"command", to(&c.Command, (*parser).command)},
		{"dir", to(&c.WorkDir, (*parser).workDir)},
		{"env", to(&c.Env, (*parser).env)},
		{"ready.http", to(&c.Ready.Path, (*parser).probePath)},
		{"ready.tcp", to(&c.Ready.Kind, (*parser).tcp)},
		{"ready.timeout", to(&c.Ready.Timeout, (*parser).positive)},
		{"ready.interval", to(&c.Ready.Interval, (*parser).positive)},
		{"ready.notify", to(&c.Ready.Notify, (*parser).boolean)},
		{"stop.signal", to(&c.Stop.Signal, (*parser).signal)},
		{"stop.timeout", to(&c.Stop.Timeout, (*parser).positive)},
		{"stop.spread", to(&c.Stop.Spread, (*parser).nonNegative)},
		{"stop.close_code", to(&c.Stop.CloseCode, choice(1001, 1012))},
		{"restart.backoff", to(&c.Restart.Backoff, (*parser).backoff)},
		{"restart.max_backoff", to(&c.Restart.MaxBackoff, (*parser).positive)},
		{"restart.reset_after", to(&c.Restart.ResetAfter, (*parser).positive)},
		{"restart.max_tries", to(&c.Restart.MaxTries, atLeast(0, "must be 0 (never give up) or more, got %d"))},
		{"reload.max_unavailable", to(&c.Reload.MaxUnavailable, (*parser).integer)},
		{"reload.handoff", to(&c.Reload.Handoff, choice(HandoffSocket, HandoffNone))},
		{"logs.to", to(&c.Logs.To, choice(LogsToFile, LogsToJournal))},
		{"logs.dir", to(&c.Logs.Dir, (*parser).logsDir)},
		{"logs.max_size", to(&c.Logs.MaxSizeMB, (*parser).megabytes)},
		{"logs.max_files", to(&c.Logs.MaxFiles, atLeast(1, "must be 1 or more (old files kept per port), got %d"))},
		{"metrics.address", to(&c.Metrics.Address, (*parser).metricsAddress)},
		{"socket", to(&c.Socket, (*parser).socket)},
		{"proxy.read_timeout", to(&c.Proxy.ReadTimeout, (*parser).positive)},
		{"proxy.hash", to(&c.Proxy.Hash, (*parser).proxyHash)},
		{"nginx.upstream", to(&c.Nginx.Upstream, (*parser).upstream)},
		{"nginx.upstream_file", to(&c.Nginx.UpstreamFile, (*parser).upstreamFile)},
		{"nginx.reload_command", to(&c.Nginx.ReloadCommand, (*parser).reloadCommand)},
		{"nginx.drain_timeout", to(&c.Nginx.DrainTimeout, (*parser).nonNegative)},
		{"liveness.http", to(&c.Liveness.Path, (*parser).probePath)},
		{"liveness.tcp", to(&c.Liveness.Kind, (*parser).tcp)},
		{"liveness.interval", to(&c.Liveness.Interval, (*parser).positive)},
		{"liveness.timeout", to(&c.Liveness.Timeout, (*parser).positive)},
		{"liveness.failures", to(&c.Liveness.Failures, atLeast(1, "must be 1 or more (failed probes in a row that replace an instance), got %d"))},
		{"limits.memory", to(&c.Limits.MemoryBytes, (*parser).memory)},
		{"hooks.on_failed", to(&c.Hooks.OnFailed, (*parser).hook)},
		{"hooks.on_restart", to(&c.Hooks.OnRestart, (*parser).hook)},
		{"hooks.timeout", to(&c.Hooks.Timeout, (*parser).positive)},
	}
}

// checks are what a section checks once its keys are read, for the
// sections whose keys depend on each other (checks.go).
var checks = map[string]func(p *parser, k *yaml.Node){
	"ready":    (*parser).checkReady,
	"liveness": (*parser).checkLiveness,
	"nginx":    (*parser).checkNginx,
}

// to binds a value reader to the field it fills. The field keeps its
// default unless the value is good, so that the cross-key checks work
// with a value that is.
func to[T any](field *T, read func(*parser, string, *yaml.Node) (T, bool)) reader {
	return func(p *parser, key string, v *yaml.Node) {
		if x, ok := read(p, key, v); ok {
			*field = x
		}
	}
}

// keys lists the known keys of the top level ("") and of each section, in
// table order. Set in init: the table refers to code that refers to keys.
var keys map[string][]string

func init() {
	keys = map[string][]string{}
	for _, s := range settings(&Config{Nginx: &Nginx{}}) {
		section, name, nested := strings.Cut(s.key, ".")
		if nested {
			keys[section] = append(keys[section], name)
		}
		if !slices.Contains(keys[""], section) {
			keys[""] = append(keys[""], section)
		}
	}
}

// entry is a key the file holds, and whether its value was good.
type entry struct {
	key, val *yaml.Node
	good     bool
}

// read reads the mapping v of the section at path ("" for the whole
// file), whose key is k, through the table, then runs the section's check.
// Every key read is recorded, for the checks that involve several keys.
// It returns false if v is not a mapping at all.
func (p *parser) read(path string, k, v *yaml.Node) bool {
	ok := p.section(path, v, keys[path], func(k, v *yaml.Node) {
		key, before := join(path, k.Value), p.found()
		if read := p.readers[key]; read != nil {
			read(p, key, v)
		} else {
			p.read(key, k, v)
		}
		p.seen[key] = entry{key: k, val: v, good: p.found() == before}
	})
	if check := checks[path]; ok && check != nil {
		check(p, k)
	}
	return ok
}

// given reports whether the file holds key.
func (p *parser) given(key string) bool {
	_, ok := p.seen[key]
	return ok
}

// good reports whether the file holds key with a value read without a
// problem.
func (p *parser) good(key string) bool { return p.seen[key].good }

// line is the line of key in the file, 0 if it is not there.
func (p *parser) line(key string) int {
	if e, ok := p.seen[key]; ok {
		return e.key.Line
	}
	return 0
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

// misspeltPorts reports whether the mapping root has a key taken for a
// misspelt "ports", which was reported already: "no ports" would say it
// twice.
func misspeltPorts(root *yaml.Node) bool {
	n := deref(root)
	for i := 0; i < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind == yaml.ScalarNode && suggest(k.Value, keys[""]) == "ports" {
			return true
		}
	}
	return false
}
