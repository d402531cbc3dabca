package config

import (
	"os"
	"path/filepath"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// upstreamName is what nginx accepts, unquoted, as an upstream's name and
// as the host in proxy_pass http://<name>.
var upstreamName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// nginx reads `nginx`; k is its key, which a missing upstream_file blames.
func (p *parser) nginx(k, v *yaml.Node) {
	ng := &Nginx{
		Upstream:      "hellomgr",
		ReloadCommand: []string{"nginx", "-s", "reload"},
		DrainTimeout:  10 * time.Second,
	}
	hasFile := false
	ok := p.section("nginx", v, keys["nginx"], func(k, val *yaml.Node) {
		key := "nginx." + k.Value
		switch k.Value {
		case "upstream":
			s, ok := p.scalar(key, val, `a name like "hellomgr"`)
			if ok && !upstreamName.MatchString(s) {
				p.add(val.Line, key, "%s is not a valid nginx upstream name (letters, digits, _, . and -)", quote(s))
			} else if ok {
				ng.Upstream = s
			}
		case "upstream_file":
			hasFile = true
			p.upstreamFile(ng, val)
		case "reload_command":
			// Run by the manager from wherever it was started: a relative
			// program is made absolute against the config's folder. The
			// default's "nginx" is not looked up, written or left out:
			// `check` often runs where PATH lacks /usr/sbin, and writing
			// the default must mean what leaving it out does.
			args, ok := p.argv(key, val, `remove it for the default ["nginx", "-s", "reload"]`)
			if ok && args[0] != "nginx" {
				args[0], ok = p.program(key+"[0]", deref(val).Content[0].Line, args[0], p.c.Dir)
			}
			set(&ng.ReloadCommand)(args, ok)
		case "drain_timeout":
			set(&ng.DrainTimeout)(p.duration(key, val, true))
		}
	})
	if ok && !hasFile {
		p.add(k.Line, "nginx", "upstream_file is required: the file hellomgr writes the upstream block to, e.g. upstream_file: /etc/nginx/conf.d/hellomgr.conf")
	}
	p.c.Nginx = ng
}

// upstreamFile reads `nginx.upstream_file`. The file is (re)written by
// hellomgr, so only its folder must exist.
func (p *parser) upstreamFile(ng *Nginx, v *yaml.Node) {
	given, abs, ok := p.path("nginx.upstream_file", v, `a path like "/etc/nginx/conf.d/hellomgr.conf"`)
	if !ok {
		return
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		p.add(v.Line, "nginx.upstream_file", "%s is a directory; name a file in it", shown(given, abs))
		return
	}
	parent := filepath.Dir(abs)
	fi, err := os.Stat(parent)
	switch {
	case err != nil:
		p.add(v.Line, "nginx.upstream_file", "%s: folder %s %s", shown(given, abs), parent, missing(given, err))
	case !fi.IsDir():
		p.add(v.Line, "nginx.upstream_file", "%s: %s is not a directory", shown(given, abs), parent)
	default:
		ng.UpstreamFile = abs
	}
}
