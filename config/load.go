package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// noPorts is the problem with a file that says nothing, or nothing useful.
const noPorts = `no ports configured; add e.g. ports: ["8001-8004"]`

// Load reads and validates the config file at path. See Parse.
// An unreadable file is an error that names it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse validates data, the content of the config file named file, and
// returns the config with every default filled in and every path absolute.
// file appears verbatim in messages; relative paths in data resolve against
// the folder of its absolute form, not the working directory.
//
// Parse looks at the file system (dir, command[0], logs.dir, ...) but
// changes nothing. On error it returns a nil Config and every problem found,
// one per line, each as "<file>:<line>: <key>: <what is wrong>".
func Parse(file string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p := &parser{file: file, c: defaults(abs), metricsPort: -1}
	root := p.document(data)
	if root == nil {
		return nil, p.err()
	}
	p.top(root)
	p.finish()
	if err := p.err(); err != nil {
		return nil, err
	}
	return p.c, nil
}

// DefaultSocket is the control socket of the config file at path when it
// does not set `socket:`; it needs no valid file, so that status and down
// still reach a manager while someone fixes a typo in its config.
func DefaultSocket(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return defaults(abs).Socket, nil
}

// defaults is the config of a file that sets nothing but its ports.
// Reload.Handoff is left to finish: it depends on the command.
func defaults(file string) *Config {
	dir := filepath.Dir(file)
	state := filepath.Join(dir, ".hellomgr")
	return &Config{
		File:     file,
		Dir:      dir,
		WorkDir:  dir,
		Ready:    Ready{Kind: ProbeHTTP, Path: "/", Timeout: 10 * time.Second, Interval: 50 * time.Millisecond},
		Stop:     Stop{Signal: syscall.SIGTERM, Timeout: 10 * time.Second},
		Restart:  Restart{Backoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, ResetAfter: 10 * time.Second, MaxTries: 10},
		Reload:   Reload{MaxUnavailable: 1},
		Logs:     Logs{Dir: filepath.Join(dir, "logs"), MaxSizeMB: 10, MaxFiles: 5},
		Metrics:  Metrics{Address: "127.0.0.1:0"},
		Socket:   filepath.Join(state, "hellomgr.sock"),
		StateDir: state,
	}
}

// top dispatches each top-level key to the code that reads it.
func (p *parser) top(root *yaml.Node) {
	sawPorts := false
	p.section("", root, keys[""], func(k, v *yaml.Node) {
		switch k.Value {
		case "ports":
			sawPorts = true
			p.ports(v)
		case "command":
			p.command(v)
		case "dir":
			p.workDir(v)
		case "env":
			p.env(v)
		case "ready":
			p.ready(v)
		case "stop":
			p.stop(v)
		case "restart":
			p.restart(v)
		case "reload":
			p.reload(v)
		case "logs":
			p.logs(v)
		case "metrics":
			p.metrics(v)
		case "socket":
			p.socket(v)
		case "nginx":
			p.nginx(k, v)
		}
	})
	if !sawPorts && !p.misspeltPorts(root) {
		p.add(root.Line, "", noPorts)
	}
}

// misspeltPorts reports whether root has a key taken for a misspelt
// "ports", which was reported already: "no ports" would say it twice.
func (p *parser) misspeltPorts(root *yaml.Node) bool {
	n := deref(root)
	if n.Kind != yaml.MappingNode {
		return true // reported as not a mapping
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind == yaml.ScalarNode && suggest(k.Value, keys[""]) == "ports" {
			return true
		}
	}
	return false
}

// document decodes data and returns its top-level node, or nil after
// recording why there is nothing to read. A second document is an error,
// not silently ignored: it usually holds settings the user expects to apply.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(1, "", noPorts)
		} else {
			p.syntax(data, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.syntax(data, err)
		return nil
	default:
		p.add(next.Line, "", "a second YAML document starts here; a config is one document, remove the \"---\"")
	}
	if len(doc.Content) == 0 || isNull(deref(doc.Content[0])) {
		p.add(max(doc.Line, 1), "", noPorts)
		return nil
	}
	return doc.Content[0]
}

var yamlError = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntax records a YAML syntax error. yaml.v3 often blames the line where
// the enclosing block began, or no line at all, so the line is found again
// as the first one whose prefix of the file fails the same way.
func (p *parser) syntax(data []byte, err error) {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	line := 1
	if m := yamlError.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if l := failingLine(lines, msg); l > 0 {
		line = l
	}
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		indent := text[:len(text)-len(bytes.TrimLeft(text, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			p.add(line, "", "tab in indentation; YAML indents with spaces only")
			return
		}
	}
	p.add(line, "", "invalid YAML: %s%s", msg, syntaxHint(msg))
}

// failingLine returns the smallest n such that the first n lines fail to
// parse with message msg, by bisection, or 0 if none does.
func failingLine(lines [][]byte, msg string) int {
	fails := func(n int) bool {
		return parseError(bytes.Join(lines[:n], nil)) == msg
	}
	lo, hi := 0, len(lines) // fails(lo) is false, fails(hi) should be true
	if !fails(hi) {
		return 0
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// parseError is the message, without "yaml: line N: ", of the first syntax
// error in data, or "".
func parseError(data []byte) string {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			msg := strings.ReplaceAll(err.Error(), "\n", " ")
			if m := yamlError.FindStringSubmatch(msg); m != nil {
				return m[2]
			}
			return msg
		}
	}
}

// syntaxHint says what usually causes yaml.v3's terser messages.
func syntaxHint(msg string) string {
	switch {
	case strings.Contains(msg, "mapping values are not allowed"):
		return ` (check the indentation, or quote a value that contains ": ")`
	case strings.Contains(msg, "did not find expected key"):
		return " (check the indentation of this line and the one above)"
	case strings.Contains(msg, "did not find expected ',' or"):
		return " (a list or mapping opened on this line is not closed)"
	case strings.Contains(msg, "cannot start any token"):
		return " (quote a value that starts with @, ` or %)"
	case strings.Contains(msg, "unexpected end of stream"):
		return " (a quote opened on this line is not closed)"
	}
	return ""
}
