package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/nginx"
)

// side is one way of running the job: examples/tornado/hello.py on 4
// free ports behind an nginx of its own (deploy/nginx.conf), each app
// logging a line per request into logs/<port>.log of the side's folder.
type side struct {
	name  string // "by hand" or "hellomgr"
	dir   string
	ports []int
	ngx   *benchkit.NginxServer
	bin   string            // hellomgr, for the hellomgr side
	apps  []*benchkit.Child // by hand: the 4 processes
}

// newSide lays out the folder and starts nginx; the apps start later.
func newSide(root, name, bin string) (*side, error) {
	dir, err := os.MkdirTemp("", "hmlc") // short: the control socket lives here
	if err != nil {
		return nil, err
	}
	s := &side{name: name, dir: dir, bin: bin}
	b, err := os.ReadFile(filepath.Join(root, "examples", "tornado", "hello.py"))
	if err == nil {
		err = os.WriteFile(s.path("hello.py"), b, 0o644)
	}
	if err == nil {
		err = benchkit.CopyTornadoPackage(root, s.dir) // beside hello.py, which imports it
	}
	if err != nil {
		s.close()
		return nil, err
	}
	ports, err := benchkit.FreePorts(5)
	if err == nil {
		err = os.Mkdir(s.path("nginx"), 0o755)
	}
	if err == nil {
		err = os.Mkdir(s.path("logs"), 0o755)
	}
	if err == nil {
		s.ports = ports[:4]
		up := nginx.Header + "\n" + string(nginx.Upstream{Name: "hellomgr", Ports: s.ports}.Render())
		err = os.WriteFile(s.path("upstream.conf"), []byte(up), 0o644)
	}
	if err == nil {
		s.ngx = benchkit.NewNginx(s.path("nginx"), ports[4])
		err = s.ngx.Start(root, s.path("upstream.conf"))
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *side) path(name string) string { return filepath.Join(s.dir, name) }

func (s *side) argv(port string) []string {
	return []string{benchkit.Tornado.Path, "hello.py", "--port=" + port}
}

// start starts the 4 apps and waits until each answers. By hand, each is
// started as from a terminal of its own: in a session of its own
// (`setsid`), its output appended to its log file by itself.
func (s *side) start(ctx context.Context) error {
	if s.bin != "" {
		if err := os.WriteFile(s.path("config.yaml"), []byte(s.config()), 0o644); err != nil {
			return err
		}
		if _, err := s.hellomgr(ctx, "up", "-d"); err != nil {
			return err
		}
	} else {
		for _, port := range s.ports {
			if err := s.startByHand(port); err != nil {
				return err
			}
		}
	}
	return benchkit.WaitFor("the 4 apps to answer", 30*time.Second, func() bool {
		for _, port := range s.ports {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil {
				return false
			}
			resp.Body.Close()
		}
		return true
	})
}

func (s *side) startByHand(port int) error {
	log, err := os.OpenFile(s.path(fmt.Sprintf("logs/%d.log", port)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	argv := s.argv(strconv.Itoa(port))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = s.dir, log, log
	c, err := benchkit.StartChild(cmd)
	if err != nil {
		return err
	}
	s.apps = append(s.apps, c)
	return nil
}

// config is examples/tornado/config.yaml's way, on the side's ports, with
// files large enough that no rotation happens during a run.
func (s *side) config() string {
	var ports, argv []string
	for _, p := range s.ports {
		ports = append(ports, strconv.Itoa(p))
	}
	for _, a := range s.argv("{port}") {
		argv = append(argv, strconv.Quote(a))
	}
	return fmt.Sprintf("ports: [%s]\ncommand: [%s]\nready: {notify: true, timeout: 20s}\nreload: {handoff: socket}\n"+
		"logs: {dir: logs, max_size: 4096MB}\nmetrics: {address: \"off\"}\n", strings.Join(ports, ", "), strings.Join(argv, ", "))
}

func (s *side) hellomgr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, append(args, "-c", s.path("config.yaml"))...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("hellomgr %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// manager is the hellomgr side's manager process; false by hand.
func (s *side) manager() (benchkit.Process, bool) {
	if s.bin == "" {
		return benchkit.Process{}, false
	}
	p, err := benchkit.FindFile(s.path(".hellomgr/hellomgr.pid"))
	return p, err == nil
}

// lines counts the lines in the side's log files.
func (s *side) lines() int {
	n := 0
	for _, port := range s.ports {
		b, _ := os.ReadFile(s.path(fmt.Sprintf("logs/%d.log", port)))
		n += strings.Count(string(b), "\n")
	}
	return n
}

// close stops the apps (and the manager) by pid, then nginx, and removes
// the folder.
func (s *side) close() {
	if p, ok := s.manager(); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s.hellomgr(ctx, "down")
		cancel()
		p.Stop(syscall.SIGKILL, 0) // its instances die with it (parent-death signal)
	}
	for _, c := range s.apps {
		c.Stop(syscall.SIGTERM, 5*time.Second)
	}
	if s.ngx != nil {
		s.ngx.Stop()
	}
	os.RemoveAll(s.dir)
}
