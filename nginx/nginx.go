// Package nginx writes the nginx upstream that fronts hellomgr's instances
// and reloads nginx, so a rollout can take an instance out of rotation
// before stopping it.
package nginx

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Upstream is the upstream block for ports; the ports in down are marked
// `down`, so nginx sends them nothing new after a reload.
type Upstream struct {
	Name string
	// Host is the address of the instances on Ports: the config's
	// `address`; "" (or an unspecified address) stands for 127.0.0.1.
	Host  string
	Ports []int
	Down  map[int]bool
	// Hosts, when not empty, lists the servers of several machines, each
	// running the same ports, and replaces Host, Ports and Down: one
	// upstream for one nginx in front of them all.
	Hosts []Host
	// Refusing: a port refuses connects while its process restarts (see
	// upstreamTmpl). Every server gets max_fails=0 either way.
	Refusing bool
	// Hash is config's proxy.hash: "" (round robin), "client_address" or
	// "cookie:NAME", for apps that keep state per process.
	Hash string
}

// Host is one machine's instances in an upstream across machines.
type Host struct {
	Addr  string // an IP address or a name nginx resolves when it loads
	Ports []int
	// Down marks every server of the machine `down`: taken out while a
	// rollout replaces its instances.
	Down bool
}

// server is one server line of the block.
type server struct {
	Addr string // host:port
	Down bool
}

// group is the servers of one machine, with a comment naming it when the
// block spans several.
type group struct {
	Comment string
	Servers []server
}

// groups lists the block's servers, machine by machine.
func (u Upstream) groups() []group {
	if len(u.Hosts) == 0 {
		g := group{}
		for _, port := range u.Ports {
			g.Servers = append(g.Servers, server{Addr: hostPort(u.Host, port), Down: u.Down[port]})
		}
		return []group{g}
	}
	var gs []group
	for _, h := range u.Hosts {
		g := group{Comment: "host " + h.Addr}
		if h.Down {
			g.Comment += ": down, taken out for a rollout"
		}
		for _, port := range h.Ports {
			g.Servers = append(g.Servers, server{Addr: hostPort(h.Addr, port), Down: h.Down})
		}
		gs = append(gs, g)
	}
	return gs
}

// hostPort is host:port for a server line, with 127.0.0.1 for an empty or
// unspecified host and brackets around an IPv6 address.
func hostPort(host string, port int) string {
	if a, err := netip.ParseAddr(host); host == "" || err == nil && a.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

var upstreamTmpl = template.Must(template.New("upstream").Parse(upgradeMap + `upstream {{.Name}} {
{{- with .HashKey}}
    # proxy.hash: one client, one instance, for an app that keeps state per
    # process. consistent: a port marked down or gone moves only its own
    # clients.
    hash {{.}} consistent;
{{- end}}
{{- if .Refusing}}
    # max_fails=0: a port refuses connects while its process restarts
    # (reload.handoff: none). nginx passes a refused connect, and a GET or
    # HEAD that fails, to the next server; with the default max_fails=1 it
    # would also take the port out for 10s (fail_timeout), and a rollout of
    # every port within 10s would leave it no server at all.
{{- else}}
    # max_fails=0: connects are never refused here, so a failure nginx sees
    # is a request cut during a swap (by an app that does not give its held
    # requests back); with the default max_fails=1 each would take its port
    # out for 10s (fail_timeout), and a rollout would leave no server.
{{- end}}
{{- range .Groups}}
{{- if .Comment}}
    # {{.Comment}}
{{- end}}
{{- range .Servers}}
    server {{.Addr}} max_fails=0{{if .Down}} down{{end}};
{{- end}}
{{- end}}
    # Idle connections each nginx worker keeps open to the instances.
    # nginx closes them after 60s idle (keepalive_timeout), before the
    # built-in server would (75s): the side that closes an idle connection
    # must be nginx, or a POST written at that moment becomes a 502.
    keepalive 32;
}
`))

// Render returns the upstream block.
func (u Upstream) Render() []byte {
	var b bytes.Buffer
	upstreamTmpl.Execute(&b, struct {
		Upstream
		Groups  []group
		HashKey string
	}{u, u.groups(), hashKey(u.Hash)})
	return b.Bytes()
}

// Location returns the location block `hellomgr nginx` prints for the
// upstream name, with the default read timeout (Proxy.Location).
func Location(name string) string { return Proxy{Name: name}.Location() }

// WriteFile writes the upstream block to path atomically (a temporary file
// renamed over it), so nginx never reads half a file. It replaces only a
// file it wrote itself, and never a symbolic link: anything else at path
// is left as it is, and the error (CheckFile) says why.
func (u Upstream) WriteFile(path string) error {
	if err := CheckFile(path); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upstream-*")
	if err != nil {
		return fmt.Errorf("write nginx upstream file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	text := append([]byte(Header+"\n"), u.Render()...)
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return fmt.Errorf("write nginx upstream file %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write nginx upstream file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write nginx upstream file %s: %w", path, err)
	}
	return nil
}

// Reload runs the reload command (e.g. nginx -s reload) and waits for it,
// at most 30 seconds. Its output is part of the error when it fails.
func Reload(ctx context.Context, argv []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg != "" {
			msg = ": " + strings.ReplaceAll(msg, "\n", "; ")
		}
		return fmt.Errorf("nginx reload command %q failed: %w%s", strings.Join(argv, " "), err, msg)
	}
	return nil
}
