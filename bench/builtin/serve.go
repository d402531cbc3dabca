package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
)

// roleEnv, when set, makes this program a server rather than the bench:
// "plain" (the yardstick) or "builtin" (hello.Run in-process, for
// profiles). portEnv gives the port, profileEnv a file for a CPU profile.
const (
	roleEnv    = "BENCH_BUILTIN_ROLE"
	portEnv    = "BENCH_BUILTIN_PORT"
	profileEnv = "BENCH_BUILTIN_PROFILE"
)

// server is one server process started by the bench.
type server struct {
	name  string // "built-in" or "plain"
	argv  []string
	port  int
	child *benchkit.Child
}

// builtinArgv is `hellomgr serve` on port, as an instance runs it.
func builtinArgv(bin string, port int) []string {
	return []string{bin, "serve", "--port", strconv.Itoa(port)}
}

// selfArgv re-executes this program in a server role.
func selfArgv() ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{self}, nil
}

// startServer starts argv on port, pinned to CPU 0 when pin is set, in a
// session of its own, with env added, and waits until the port answers.
// taskset execs the server, so the child's pid is the server's.
func startServer(name string, argv []string, port int, pin bool, env ...string) (*server, error) {
	if pin {
		argv = append([]string{"/usr/bin/taskset", "-c", "0"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	child, err := benchkit.StartChild(cmd)
	if err != nil {
		return nil, err
	}
	s := &server{name: name, argv: argv, port: port, child: child}
	if err := benchkit.WaitFor(fmt.Sprintf("%s on port %d", name, port), 10*time.Second, func() bool {
		return benchkit.PortOpen(port)
	}); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop sends SIGTERM to the server and waits for it, with SIGKILL after
// 10 s.
func (s *server) stop() { s.child.Stop(syscall.SIGTERM, 10*time.Second) }

func (s *server) String() string { return strings.Join(s.argv, " ") }

// startServers starts the servers a round measures, on free ports: the
// built-in server as every instance runs it, the same without its
// metrics, and the plain one.
func startServers(bin string, pin bool) ([]*server, error) {
	ports, err := benchkit.FreePorts(3)
	if err != nil {
		return nil, err
	}
	self, err := selfArgv()
	if err != nil {
		return nil, err
	}
	var started []*server
	for i, name := range []string{"built-in", "no metrics", "plain"} {
		argv, env := builtinArgv(bin, ports[i]), []string(nil)
		switch name {
		case "no metrics":
			argv = append(argv, "--no-metrics")
		case "plain":
			argv, env = self, []string{roleEnv + "=plain", portEnv + "=" + strconv.Itoa(ports[i])}
		}
		s, err := startServer(name, argv, ports[i], pin, env...)
		if err != nil {
			stopAll(started)
			return nil, err
		}
		started = append(started, s)
	}
	return started, nil
}

func stopAll(servers []*server) {
	for _, s := range servers {
		s.stop()
	}
}

// profile runs each server in this program under one wrk run with a CPU
// profile, and writes the profiles into o.profile.
func profile(ctx context.Context, dir string, o options) error {
	if err := os.MkdirAll(o.profile, 0o755); err != nil {
		return err
	}
	self, err := selfArgv()
	if err != nil {
		return err
	}
	for _, role := range []string{"builtin", "plain"} {
		ports, err := benchkit.FreePorts(1)
		if err != nil {
			return err
		}
		file, err := filepath.Abs(filepath.Join(o.profile, role+".pprof"))
		if err != nil {
			return err
		}
		s, err := startServer(role, self, ports[0], o.pin,
			roleEnv+"="+role, portEnv+"="+strconv.Itoa(ports[0]), profileEnv+"="+file)
		if err != nil {
			return err
		}
		r, err := measure(ctx, dir, s, o)
		s.stop() // writes the profile
		if err != nil {
			return err
		}
		fmt.Printf("%s: %.0f requests/s, %.2f µs of server CPU per request; profile: %s\n",
			role, r.perSecond(), r.cpuPerRequest()*1e6, file)
	}
	fmt.Printf("\nRead them with: go tool pprof -top %s/builtin.pprof (and plain.pprof)\n", o.profile)
	return nil
}
