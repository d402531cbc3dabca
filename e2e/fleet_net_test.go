package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// fleetNet is the private network of e2e/fleet_test.go: machine N is the
// network namespace hmfleetN, joined to the root namespace by the veth pair
// hmfNr (10.213.N.1, root side) and hmfNh (10.213.N.2, inside). Nothing
// else uses these names and addresses: the test checks so before making
// them, and removes them, by name, when it ends.
const fleetNet = "10.213"

// fleetHost is one machine of the fleet: a network namespace running its
// own sshd, which Ansible logs in to as root with the test's key.
type fleetHost struct {
	name     string // Ansible's name: host1, host2, ...
	ns       string // hmfleet1, ...
	rootAddr string // the root side of the pair: 10.213.N.1
	addr     string // the machine's address: 10.213.N.2
	dir      string // its files: sshd's, and hellomgr's as the role installs them
	sshd     *exec.Cmd
}

func (h *fleetHost) bin() string    { return filepath.Join(h.dir, "bin", "hellomgr") }
func (h *fleetHost) config() string { return filepath.Join(h.dir, "etc", "config.yaml") }

// run runs a command inside the machine's namespace.
func (h *fleetHost) run(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.ns}, args...)...).CombinedOutput()
	return string(out), err
}

// newFleet makes n machines, each with sshd listening on its address and
// trusting the public half of key (a file sshKey made). Everything is
// removed when the test ends, also when it fails.
func newFleet(t *testing.T, n int, dir, key string) []*fleetHost {
	t.Helper()
	checkFleetNetFree(t, n)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // Debian's sshd refuses to start without it
		t.Fatal(err)
	}
	var hosts []*fleetHost
	for i := 1; i <= n; i++ {
		h := &fleetHost{
			name:     "host" + strconv.Itoa(i),
			ns:       "hmfleet" + strconv.Itoa(i),
			rootAddr: fmt.Sprintf("%s.%d.1", fleetNet, i),
			addr:     fmt.Sprintf("%s.%d.2", fleetNet, i),
			dir:      filepath.Join(dir, "host"+strconv.Itoa(i)),
		}
		t.Cleanup(func() { removeHost(t, h, i) })
		mustRunAll(t,
			[]string{"ip", "netns", "add", h.ns},
			[]string{"ip", "link", "add", vethRoot(i), "type", "veth", "peer", "name", vethHost(i)},
			[]string{"ip", "link", "set", vethHost(i), "netns", h.ns},
			[]string{"ip", "addr", "add", h.rootAddr + "/24", "dev", vethRoot(i)},
			[]string{"ip", "link", "set", vethRoot(i), "up"},
			[]string{"ip", "-n", h.ns, "addr", "add", h.addr + "/24", "dev", vethHost(i)},
			[]string{"ip", "-n", h.ns, "link", "set", vethHost(i), "up"},
			[]string{"ip", "-n", h.ns, "link", "set", "lo", "up"},
		)
		startSSHD(t, h, key)
		hosts = append(hosts, h)
	}
	return hosts
}

func vethRoot(i int) string { return "hmf" + strconv.Itoa(i) + "r" }
func vethHost(i int) string { return "hmf" + strconv.Itoa(i) + "h" }

// checkFleetNetFree fails the test when an address, route, link or
// namespace of the fleet's is already there: someone else's, not to be
// touched.
func checkFleetNetFree(t *testing.T, n int) {
	t.Helper()
	addrs, _ := exec.Command("ip", "-o", "addr").CombinedOutput()
	routes, _ := exec.Command("ip", "route", "show", "table", "all").CombinedOutput()
	links, _ := exec.Command("ip", "-o", "link").CombinedOutput()
	nss, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	for i := 1; i <= n; i++ {
		for what, text := range map[string][]byte{
			fmt.Sprintf("address in %s.%d.0/24", fleetNet, i): grepWord(addrs, fmt.Sprintf("%s.%d.", fleetNet, i)),
			fmt.Sprintf("route to %s.%d.0/24", fleetNet, i):   grepWord(routes, fmt.Sprintf("%s.%d.", fleetNet, i)),
			"link " + vethRoot(i):                             grepWord(links, " "+vethRoot(i)+"@"),
			"namespace hmfleet" + strconv.Itoa(i):             grepWord(nss, "hmfleet"+strconv.Itoa(i)+" "),
		} {
			if len(text) > 0 {
				t.Fatalf("the fleet test's %s is already in use (a test still running, or someone else's): %s", what, text)
			}
		}
	}
}

func grepWord(text []byte, s string) []byte {
	for _, line := range bytes.Split(text, []byte("\n")) {
		if bytes.Contains(append(line, ' '), []byte(s)) {
			return line
		}
	}
	return nil
}

func mustRunAll(t *testing.T, cmds ...[]string) {
	t.Helper()
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

// removeHost stops what runs in the machine (hellomgr down, then SIGKILL by
// pid to whatever the namespace still holds), then removes the namespace
// and the pair, by name.
func removeHost(t *testing.T, h *fleetHost, i int) {
	if _, err := os.Stat(h.config()); err == nil {
		cmd := exec.Command("ip", "netns", "exec", h.ns, h.bin(), "down", "-c", h.config())
		done := make(chan struct{})
		go func() { cmd.Run(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			if cmd.Process != nil {
				cmd.Process.Kill()
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "pids", h.ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "del", h.ns).CombinedOutput(); err != nil && !strings.Contains(string(out), "No such file") {
		t.Errorf("ip netns del %s: %v: %s", h.ns, err, out)
	}
	exec.Command("ip", "link", "del", vethRoot(i)).Run() // gone with the namespace, as a rule
}

// sshKey makes the key Ansible logs in with, and returns its path.
func sshKey(t *testing.T, dir string) string {
	t.Helper()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hellomgr-fleet-test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return key
}

// startSSHD runs Debian's sshd inside the machine, with a config and host
// key of its own, listening on the machine's address only, and letting
// root in with key alone.
func startSSHD(t *testing.T, h *fleetHost, key string) {
	t.Helper()
	dir := filepath.Join(h.dir, "sshd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	conf := filepath.Join(dir, "sshd_config")
	text := fmt.Sprintf(`ListenAddress %s
Port 22
HostKey %s
PidFile none
PermitRootLogin prohibit-password
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
Subsystem sftp internal-sftp
`, h.addr, hostKey, authorized)
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/sshd", "-t", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}
	h.sshd = exec.Command("ip", "netns", "exec", h.ns, "/usr/sbin/sshd", "-D", "-e", "-f", conf)
	// A file, not a pipe: the sessions sshd forks hold its stderr, and
	// Wait would wait for them too.
	logPath := filepath.Join(dir, "sshd.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	h.sshd.Stderr = log
	t.Cleanup(func() { // runs after sshd has stopped
		if b := readFile(logPath); t.Failed() && b != "" {
			t.Logf("%s: sshd log:\n%s", h.name, b)
		}
	})
	testnet.StartServer(t, h.sshd, syscall.SIGTERM)
	testnet.WaitFor(t, "sshd on "+h.addr, 10*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", h.addr+":22", time.Second)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

// stopSSHD makes the machine unreachable: its sshd is stopped, by pid.
func (h *fleetHost) stopSSHD(t *testing.T) {
	t.Helper()
	h.sshd.Process.Signal(syscall.SIGTERM)
	testnet.WaitFor(t, "sshd on "+h.addr+" to stop", 10*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", h.addr+":22", time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
}
