package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
	"github.com/hellomgr/hellomgr/nginx"
)

// helloLine is the line of examples/tornado/hello.py that a code change
// edits: once in the GET handler, once in the POST handler.
const helloLine = `self.write("Hello Itcast!")`

// readTornadoExample returns examples/tornado/<name>.
func readTornadoExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "tornado", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The seed's Tornado app with its one-line change (hellomgr_tornado.listen)
// behind an upstream with nginx's default failure settings (max_fails=1
// fail_timeout=10s) and keep-alive, and no nginx: section, so nginx is never
// reloaded. hellomgr hands each port's socket to the new process, waits for
// its READY=1, and only then sends SIGTERM to the old one, which drains
// itself. Both kinds of client see no failure: keep-alive ones, and ones
// that open a connection per request.
func TestTornadoIntegrationReloadBehindNginx(t *testing.T) {
	needTornado(t)
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 4)
	app := readTornadoExample(t, "hello.py")
	if n := strings.Count(app, helloLine); n != 2 {
		t.Fatalf("examples/tornado/hello.py has %s %d times, want 2 (GET and POST)", helloLine, n)
	}
	d.write("hello.py", app)
	d.write("config.yaml", fmt.Sprintf(`ports: %s
command: [/usr/bin/python3, hello.py, "--port={port}"]
env:
  PYTHONPATH: `+tornadoPackage(t)+`
reload:
  handoff: socket
ready:
  notify: true
metrics:
  address: 127.0.0.1:0
`, portsYAML(ports)))
	d.mustRun("up", "-d")
	var servers strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&servers, "        server 127.0.0.1:%d;\n", p) // nginx's default max_fails=1 fail_timeout=10s
	}
	ngx := startNginx(t, "    map $http_upgrade $connection_upgrade { default upgrade; \"\" \"\"; }\n    upstream app {\n"+servers.String()+"        keepalive 32;\n    }", nginx.Location("app"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", ngx.Port)

	for i, keepAlive := range []bool{true, false} {
		message := fmt.Sprintf("Hello v%d", i+2)
		before := d.pids()
		results, reloaded, out := d.reloadUnderLoad(url, keepAlive, func() {
			d.write("hello.py", strings.ReplaceAll(app, helloLine, fmt.Sprintf("self.write(%q)", message)))
		})
		t.Logf("reload %d, keep-alive clients %v:\n%s", i+1, keepAlive, out)
		checkReplaced(t, before, d.pids())
		want := answer{200, message}
		checkLoad(t, results, reloaded, map[string]answer{"GET": want, "POST": want})
	}
	t.Logf("nginx error log:\n%s", readFile(ngx.Prefix+"/error.log"))
	log := readFile(filepath.Join(d.dir, "logs", strconv.Itoa(ports[0])+".log"))
	t.Logf("port %d's log, drain lines:\n%s", ports[0], grepLines(log, "hellomgr_tornado"))
	if strings.Contains(log, "still open after") {
		t.Errorf("an instance on port %d hit its drain deadline:\n%s", ports[0], grepLines(log, "hellomgr_tornado"))
	}
}

// hello.py run by hand, no hellomgr: it binds its port itself and still
// drains on SIGTERM. One keep-alive connection is idle and sends its next
// request after the signal, one carries a request in flight (its headers
// are in, its body comes after the signal: Expect: 100-continue tells when
// the server has the headers, without changing hello.py), and one stays
// idle. Both requests must be answered with "Connection: close" and their
// connections closed after the response, the idle one closed after the
// grace, and the process must exit 0 with its port closed.
func TestTornadoIntegrationDrainsOnSIGTERM(t *testing.T) {
	needTornado(t)
	notify := testnet.NotifySocket(t, filepath.Join(t.TempDir(), "notify"))
	port := testnet.FreePorts(t, 1)[0]
	var output bytes.Buffer
	// Registered first, so it runs last: after startApp's clean-up has
	// waited for the process, so the output is complete.
	t.Cleanup(func() { t.Logf("hello.py's output:\n%s", output.String()) })
	cmd := exec.Command("/usr/bin/python3", "../examples/tornado/hello.py", "--port="+strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+tornadoPackage(t)) // hello.py imports python/hellomgr_tornado
	cmd.Stdout, cmd.Stderr = &output, &output
	exited := startApp(t, cmd)

	if msg := nextNotify(t, notify, 10*time.Second); msg != "READY=1" {
		t.Fatalf("first notify message %q, want READY=1", msg)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	keepAlive, idle := dialRaw(t, addr), dialRaw(t, addr)
	for _, c := range []*rawConn{keepAlive, idle} {
		if resp := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); resp.Close {
			t.Fatalf("a response before SIGTERM closes its connection: %v", resp.Header)
		}
	}
	inFlight := dialRaw(t, addr)
	body := "name=hellomgr"
	inFlight.send(t, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body)))
	if resp := inFlight.read(t); resp.StatusCode != http.StatusContinue {
		t.Fatalf("POST with Expect: 100-continue: status %d, want 100", resp.StatusCode)
	}

	signaled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if msg := nextNotify(t, notify, 5*time.Second); msg != "STOPPING=1" {
		t.Errorf("notify message after SIGTERM %q, want STOPPING=1", msg)
	}
	checkLast := func(name string, c *rawConn, resp *http.Response) {
		t.Helper()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || err != nil || string(b) != "Hello Itcast!" {
			t.Errorf("%s: status %d, body %q, %v; want 200 Hello Itcast!", name, resp.StatusCode, b, err)
		}
		if !resp.Close { // net/http moves "Connection: close" to resp.Close
			t.Errorf("%s: no Connection: close in the response (headers %v)", name, resp.Header)
		}
		c.checkClosed(t, name, 5*time.Second)
	}
	checkLast("next request on an idle keep-alive connection", keepAlive, keepAlive.roundTrip(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	inFlight.send(t, body)
	checkLast("request in flight at SIGTERM", inFlight, inFlight.read(t))
	idle.checkClosed(t, "idle keep-alive connection", 5*time.Second)

	select {
	case err := <-exited:
		took := time.Since(signaled)
		exited <- err // for startApp's clean-up
		if err != nil {
			t.Errorf("hello.py exited with %v after SIGTERM, want status 0", err)
		}
		t.Logf("hello.py exited %v after SIGTERM", took.Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("hello.py still running 5 s after SIGTERM")
	}
	if testnet.PortOpen(port) {
		t.Errorf("port %d still open after hello.py exited", port)
	}
}

// startApp starts cmd so that it dies with the test binary, and returns
// a channel that gets what cmd.Wait returns. When the test ends, the
// process is killed by pid if it is still running, and waited for.
func startApp(t *testing.T, cmd *exec.Cmd) chan error {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-exited:
			exited <- err
		default:
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			exited <- <-exited
		}
	})
	return exited
}

// nextNotify returns the next datagram on the notify socket.
func nextNotify(t *testing.T, notify *net.UnixConn, limit time.Duration) string {
	t.Helper()
	notify.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 1024)
	n, err := notify.Read(buf)
	if err != nil {
		t.Fatalf("reading the notify socket: %v", err)
	}
	return strings.TrimSpace(string(buf[:n]))
}

// rawConn is a raw HTTP/1.1 client connection, so that the test decides what
// is sent when.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, text string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, text); err != nil {
		t.Fatal(err)
	}
}

// read returns the next response, its body read in full.
func (c *rawConn) read(t *testing.T) *http.Response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading a response body: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func (c *rawConn) roundTrip(t *testing.T, request string) *http.Response {
	t.Helper()
	c.send(t, request)
	return c.read(t)
}

// checkClosed fails the test unless the server closes c within limit,
// with nothing more sent on it.
func (c *rawConn) checkClosed(t *testing.T, name string, limit time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(c.r)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Errorf("%s: still open %v later", name, limit)
	case len(b) > 0:
		t.Errorf("%s: got %q, want the connection closed", name, b)
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
