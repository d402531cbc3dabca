package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/hello"
)

// app is one of the apps the bench reloads: how its config.yaml spells
// it, which files of the module it runs, and what "new code" means for it.
type app struct {
	name  string // for -app
	label string // in the table
	// fronts are the nginx setups it runs behind: every app behind what
	// `hellomgr nginx` prints; the apps that cannot drain themselves also
	// behind the nginx drain.
	fronts []front
	needs  []benchkit.Tool
	// sources are files of the module (examples/...) copied into the
	// deployment's folder, under their base names, for each version.
	sources []string
	// edit is the code change, in one of the copied sources; nil when the
	// version is in the config (a --message) or cannot change at all.
	edit *edit
	// config is config.yaml's keys besides ports and the front's, for
	// version v.
	config func(d *deployment, v int) string
	// answer is what GET / answers in version v.
	answer func(v int) string
	// served is the status that counts as served, by method: the built-in
	// server answers POST with 405 by design (as Tornado answers a method
	// its handler does not define), which is the app's answer, not a
	// failure.
	served map[string]int
}

// edit replaces, in a copied source, every occurrence of a literal (there
// must be exactly count of them, or the example changed under the bench)
// with the new version's message, spelled as the language wants.
type edit struct {
	file    string // base name, among the sources
	literal string
	count   int
	spell   func(message string) string
}

// python is Debian's interpreter, which the plain app needs and nothing
// else; Tornado apps need benchkit.Tornado (the same binary, importing
// tornado).
var python = benchkit.Tool{Path: "/usr/bin/python3", Package: "python3"}

var (
	builtInServed = map[string]int{"GET": 200, "POST": 405}
	pythonServed  = map[string]int{"GET": 200, "POST": 200}
	tornadoEdit   = func(file string) *edit {
		return &edit{file: file, literal: `self.write("Hello Itcast!")`, count: 2, // GET and POST
			spell: func(m string) string { return fmt.Sprintf("self.write(%q)", m) }}
	}
)

// apps in the order of the table.
var apps = []app{
	{
		// No command: the shipped defaults (socket handoff, READY=1).
		// Its answer cannot change without a command, so its "new code"
		// is the reload itself, checked as every pid replaced.
		name: "built-in", label: "built-in, no `command:`", fronts: []front{printed},
		config: func(*deployment, int) string { return "" },
		answer: func(int) string { return hello.DefaultMessage },
		served: builtInServed,
	},
	{
		// The same server spelled out, with no reload or ready keys:
		// hellomgr gives a command that runs its own serve the built-in's
		// defaults. The code change is a new --message.
		name: "built-in-command", label: "built-in, spelled out in `command:`", fronts: []front{printed},
		config: func(d *deployment, v int) string {
			return "command: " + yamlList([]string{d.bin, "serve", "--port", "{port}", "--message", message(v)}) + "\n"
		},
		answer: message,
		served: builtInServed,
	},
	{
		// The seed as written: it binds its port itself and dies at once
		// on SIGTERM, so no handoff or notify keys.
		name: "tornado-seed", label: "Tornado seed", fronts: []front{printed, nginxDrain},
		needs: []benchkit.Tool{benchkit.Tornado}, sources: []string{"examples/tornado/seed.py"},
		edit:   tornadoEdit("seed.py"),
		config: func(*deployment, int) string { return `command: [/usr/bin/python3, seed.py, "--port={port}"]` + "\n" },
		answer: message,
		served: pythonServed,
	},
	{
		// The seed with hellomgr_tornado: it takes the socket, says
		// READY=1 and drains itself.
		name: "tornado-integrated", label: "Tornado seed + hellomgr_tornado", fronts: []front{printed},
		needs:   []benchkit.Tool{benchkit.Tornado},
		sources: []string{"examples/tornado/hello.py"},
		edit:    tornadoEdit("hello.py"),
		config: func(*deployment, int) string {
			root, _ := benchkit.ModuleRoot() // hello.py imports python/hellomgr_tornado
			return `command: [/usr/bin/python3, hello.py, "--port={port}"]
env:
  PYTHONPATH: ` + strconv.Quote(benchkit.TornadoPackage(root)) + `
reload:
  handoff: socket
ready:
  notify: true
`
		},
		answer: message,
		served: pythonServed,
	},
	{
		// The standard library's http.server: binds its port, no drain.
		name: "plain", label: "plain http.server", fronts: []front{printed, nginxDrain},
		needs: []benchkit.Tool{python}, sources: []string{"examples/plain/app.py"},
		edit: &edit{file: "app.py", literal: `b"Hello Itcast!"`, count: 1,
			spell: func(m string) string { return fmt.Sprintf("b%q", m) }},
		config: func(*deployment, int) string { return `command: [/usr/bin/python3, app.py, --port, "{port}"]` + "\n" },
		answer: message,
		served: pythonServed,
	},
}

func findApp(name string) (app, bool) {
	for _, a := range apps {
		if a.name == name {
			return a, true
		}
	}
	return app{}, false
}

func appNames() []string {
	var names []string
	for _, a := range apps {
		names = append(names, a.name)
	}
	return names
}

// message is what GET / answers in version v of an app whose code changes.
func message(v int) string { return fmt.Sprintf("Hello v%d", v) }

// missing names the first of a's sources that the module does not hold
// (yet: the examples are written alongside the bench), or "".
func (a app) missing(root string) string {
	for _, s := range a.sources {
		if _, err := os.Stat(filepath.Join(root, s)); err != nil {
			return s
		}
	}
	return ""
}

// install writes version v of a into d: its sources, the edited one with
// v's message, and config.yaml with the front's keys.
func (a app) install(root string, d *deployment, v int) error {
	for _, s := range a.sources {
		src, err := os.ReadFile(filepath.Join(root, s))
		if err != nil {
			return err
		}
		code := string(src)
		if e := a.edit; e != nil && e.file == filepath.Base(s) {
			if n := strings.Count(code, e.literal); n != e.count {
				return fmt.Errorf("%s: want %s %d times, to change it; found it %d times", s, e.literal, e.count, n)
			}
			code = strings.ReplaceAll(code, e.literal, e.spell(message(v)))
		}
		if err := d.write(filepath.Base(s), code); err != nil {
			return err
		}
	}
	return d.write("config.yaml", "ports: "+portsYAML(d.ports)+"\n"+a.config(d, v)+d.front.config(d))
}

// yamlList is a flow list of quoted strings: an argv.
func yamlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func portsYAML(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
