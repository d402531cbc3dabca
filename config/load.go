package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	p := newParser(file, defaults(abs))
	root := p.document(data)
	if root == nil {
		return nil, p.err()
	}
	if p.read("", root, root) && !p.given("ports") && !misspeltPorts(root) {
		p.add(root.Line, "", noPorts)
	}
	p.finish()
	if err := p.err(); err != nil {
		return nil, err
	}
	return p.c, nil
}

// Socket is the control socket of the config file at path: its
// `socket:` resolved as Load resolves it, or the default. It reads that
// key alone, so that status, down and logs reach a running manager
// without checking every key of the file, and while someone fixes a typo
// elsewhere in it. A
// file that cannot be read or parsed, or whose `socket:` is not a path,
// gives the default: Load says what is wrong with it.
func Socket(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := newParser(path, defaults(abs))
	data, err := os.ReadFile(path)
	if err != nil {
		return p.c.Socket, nil
	}
	root := p.document(data)
	if root == nil || root.Kind != yaml.MappingNode {
		return p.c.Socket, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "socket" {
			if socket, ok := p.socket("socket", root.Content[i+1]); ok {
				return socket, nil
			}
		}
	}
	return p.c.Socket, nil
}

// defaults is the config of a file that sets nothing but its ports. It
// holds the nginx section's defaults too, dropped by finish unless the
// file has that section. Ready.Notify and Reload.Handoff are left to
// finish: they depend on the command.
func defaults(file string) *Config {
	dir := filepath.Dir(file)
	state := filepath.Join(dir, ".hellomgr")
	return &Config{
		File:     file,
		Dir:      dir,
		WorkDir:  dir,
		Ready:    Ready{Kind: ProbeHTTP, Path: "/", Timeout: 10 * time.Second, Interval: 50 * time.Millisecond},
		Stop:     Stop{Signal: syscall.SIGTERM, Timeout: 10 * time.Second, Spread: 2 * time.Second, CloseCode: 1012},
		Restart:  Restart{Backoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, ResetAfter: 10 * time.Second, MaxTries: 10},
		Reload:   Reload{MaxUnavailable: 1},
		Logs:     Logs{Dir: filepath.Join(dir, "logs"), MaxSizeMB: 10, MaxFiles: 5},
		Metrics:  Metrics{Address: "127.0.0.1:0"},
		Proxy:    Proxy{ReadTimeout: time.Hour},
		Socket:   filepath.Join(state, "hellomgr.sock"),
		StateDir: state,
		Nginx:    &Nginx{Upstream: "hellomgr", ReloadCommand: []string{"nginx", "-s", "reload"}, DrainTimeout: 10 * time.Second},
		Liveness: Liveness{Interval: 10 * time.Second, Timeout: 2 * time.Second, Failures: 3},
		Hooks:    Hooks{Timeout: 10 * time.Second},
	}
}

// document decodes data and returns its top-level node, or nil after
// recording why there is nothing to read. A second document is an error,
// not silently ignored: it usually holds settings the user expects to apply.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(1, "", noPorts)
		} else {
			p.syntax(data, err)
		}
		return nil
	}
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

// syntax records a YAML syntax error on the line yaml.v3 gives, or line 1
// when it gives none. yaml.v3 has no typed syntax error, so the line is
// read from the front of its message: "yaml: line 4: ...".
func (p *parser) syntax(data []byte, err error) {
	line, msg := 1, strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n", " "), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, _ := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); err == nil {
			line, msg = n, text
		}
	}
	if tabIndented(data, line) {
		p.add(line, "", "tab in indentation; YAML indents with spaces only")
		return
	}
	p.add(line, "", "invalid YAML: %s%s", msg, syntaxHint(msg))
}

// tabIndented reports whether line n of data is indented with a tab, which
// yaml.v3 only calls a character that cannot start any token.
func tabIndented(data []byte, n int) bool {
	for ; n > 1 && len(data) > 0; n-- {
		_, data, _ = bytes.Cut(data, []byte("\n"))
	}
	text, _, _ := bytes.Cut(data, []byte("\n"))
	indent := text[:len(text)-len(bytes.TrimLeft(text, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
}

// syntaxHint says what usually causes yaml.v3's terser messages. The line
// yaml.v3 gives for an unclosed list, quote or a bad indentation is often
// where the enclosing block began, or the end of the file, so the hints
// do not say "on this line".
func syntaxHint(msg string) string {
	switch {
	case strings.Contains(msg, "mapping values are not allowed"):
		return ` (check the indentation, or quote a value that contains ": ")`
	case strings.Contains(msg, "did not find expected key"):
		return " (check the indentation of the lines below)"
	case strings.Contains(msg, "did not find expected ',' or"):
		return " (a list or mapping is not closed)"
	case strings.Contains(msg, "cannot start any token"):
		return " (quote a value that starts with @, ` or %)"
	case strings.Contains(msg, "unexpected end of stream"):
		return " (a quote is not closed)"
	}
	return ""
}
