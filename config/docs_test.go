package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const docsFile = "../docs/config.md"

// docRow is one row of the key table in docs/config.md.
type docRow struct {
	key, def string
	literal  bool // def is YAML to write in the file, not prose
}

var (
	rowRE     = regexp.MustCompile("^\\| `([a-z_.]+)` \\| ([^|]+) \\|")
	literalRE = regexp.MustCompile("^`([^`]+)`$")
)

func docRows(t *testing.T) []docRow {
	t.Helper()
	text, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rows []docRow
	for _, line := range strings.Split(string(text), "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		def := strings.TrimSpace(m[2])
		r := docRow{key: m[1], def: def}
		if lit := literalRE.FindStringSubmatch(def); lit != nil {
			r.def, r.literal = lit[1], true
		}
		rows = append(rows, r)
	}
	return rows
}

// leafKeys lists every key a file can set, dotted, in the table's order:
// "ports", "ready.timeout".
func leafKeys() []string {
	var out []string
	for _, s := range settings(&Config{Nginx: &Nginx{}}) {
		out = append(out, s.key)
	}
	return out
}

// TestConfigDocListsEveryKey checks docs/config.md's table against the
// keys the loader knows, both ways, in the loader's order.
func TestConfigDocListsEveryKey(t *testing.T) {
	var documented []string
	for _, r := range docRows(t) {
		documented = append(documented, r.key)
	}
	if want := leafKeys(); !reflect.DeepEqual(documented, want) {
		t.Errorf("%s lists keys\n  %s\nthe loader knows\n  %s", docsFile, strings.Join(documented, " "), strings.Join(want, " "))
	}
}

// TestConfigDocDefaults writes each documented default into a config and
// checks that it loads to the same config as leaving the key out.
func TestConfigDocDefaults(t *testing.T) {
	dir := t.TempDir()
	base := "ports: [8001]\nnginx:\n  upstream_file: up.conf\n"
	want := parseIn(t, dir, base)
	literals := 0
	for _, r := range docRows(t) {
		if !r.literal {
			continue
		}
		literals++
		section, key, nested := strings.Cut(r.key, ".")
		text := base + r.key + ": " + r.def + "\n"
		switch {
		case section == "nginx":
			text = base + "  " + key + ": " + r.def + "\n"
		case nested:
			text = base + section + ":\n  " + key + ": " + r.def + "\n"
		}
		if got := parseIn(t, dir, text); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: documented default %q is not the default: %s", r.key, r.def, fieldDiff(got, want))
		}
	}
	if literals < 20 {
		t.Errorf("only %d defaults in %s are literal values; the check above covers nothing else", literals, docsFile)
	}
}

func parseIn(t *testing.T, dir, text string) *Config {
	t.Helper()
	c, err := Parse(filepath.Join(dir, "config.yaml"), []byte(text))
	if err != nil {
		t.Fatalf("%s\n%v", text, err)
	}
	return c
}

// fieldDiff names the fields of Config where got and want differ.
func fieldDiff(got, want *Config) string {
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	var diffs []string
	for i := range g.NumField() {
		gf, wf := reflect.Indirect(g.Field(i)).Interface(), reflect.Indirect(w.Field(i)).Interface()
		if !reflect.DeepEqual(gf, wf) {
			diffs = append(diffs, fmt.Sprintf("%s: got %+v, want %+v", g.Type().Field(i).Name, gf, wf))
		}
	}
	return strings.Join(diffs, "; ")
}
