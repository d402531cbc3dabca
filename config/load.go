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
	p.checkHealth(root)
	p.checkExecSize()
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
		Liveness: defaultLiveness,
		Hooks:    defaultHooks,
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
		case "address":
			p.address(v)
		case "command":
			p.command(v)
		case "dir":
			p.workDir(v)
		case "env":
			p.envLine = k.Line
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
		case "liveness":
			p.liveness(k, v)
		case "limits":
			p.limits(v)
		case "hooks":
			p.hooks(v)
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
	in := &lineReader{data: data}
	dec := yaml.NewDecoder(in)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(1, "", noPorts)
		} else {
			p.syntax(data, in.read, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.syntax(data, in.read, err)
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

// lineReader hands data to the YAML decoder one line at a time, so that
// read says how far the decoder had to look when it failed: yaml.v3 reads
// only as far as it needs (a few characters of lookahead), and a line
// more is never read for nothing.
type lineReader struct {
	data []byte
	read int
}

func (r *lineReader) Read(b []byte) (int, error) {
	if r.read == len(r.data) {
		return 0, io.EOF
	}
	line := r.data[r.read:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i+1]
	}
	n := copy(b, line)
	r.read += n
	return n, nil
}

var yamlError = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntax records a YAML syntax error, found once the decoder had read the
// first read bytes of data. yaml.v3 often blames the line where the
// enclosing block began, or no line at all, so the line blamed is the
// first one whose prefix of the file fails the same way (failingLine).
func (p *parser) syntax(data []byte, read int, err error) {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	line := 1
	if m := yamlError.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	// The prefix that ends with the last line the decoder read fails as
	// the whole file did: the decoder saw nothing else.
	last := bytes.Count(data[:max(read-1, 0)], []byte("\n")) + 1
	line = failingLine(data, lines, line, last, msg)
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

// cheapPrefix is the size of a prefix of the file that costs next to
// nothing to parse again.
const cheapPrefix = 64 << 10

// failingLine returns the smallest n such that the first n lines of data
// fail to parse with message msg, given that the first last lines do and
// that yaml.v3 put the error on line yamlLine.
//
// Each try parses data up to line n again, so the search is led by cost.
// First the lines of the first cheapPrefix bytes, in steps that double:
// a construct left open on line 1 or 2 (a quote, a list) fails there, and
// a file of usual size is searched whole. Beyond that, yamlLine (where the
// construct at fault began, or where the error is) is taken as the lowest
// line, and the search steps back from last in steps that double: the
// answer is most often last or a line before it, so a large file costs
// none or one or two parses more, never one per halving of the file.
func failingLine(data []byte, lines [][]byte, yamlLine, last int, msg string) int {
	ends := make([]int, last+1) // ends[n]: bytes in the first n lines
	for i, l := range lines[:last] {
		ends[i+1] = ends[i] + len(l)
	}
	fails := func(n int) bool { return parseError(data[:ends[n]]) == msg }
	lo, hi := 1, last
	for n := 1; n < last && ends[n] <= cheapPrefix; n *= 2 {
		if fails(n) {
			hi = n
			break
		}
		lo = n + 1
	}
	if hi == last {
		lo = max(lo, min(yamlLine, last))
		for step := 1; lo < hi; step *= 2 {
			n := max(hi-step, lo)
			if !fails(n) {
				lo = n + 1
				break
			}
			hi = n
		}
	}
	for lo < hi { // fails(hi); the answer is in [lo, hi]
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
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
