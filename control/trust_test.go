package control

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// nobody is the other user the tests play: another user's sockets and
// processes.
const nobody = 65534

// waitLimit bounds every wait of these tests.
const waitLimit = 10 * time.Second

// rootDir fails a test that plays another user unless it runs as root
// (CI does), and gives it a temp folder with a path short enough for a
// Unix socket.
func rootDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test plays another user and needs root (CI runs as root)")
	}
	dir, err := os.MkdirTemp("", "hm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Only a socket of ours (or root's) is replaced by `up`; anything else at
// the socket path is refused and left as it was.
func TestListenControlReplacesOnlyItsOwnSocket(t *testing.T) {
	dir := rootDir(t)
	elsewhere := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(elsewhere, []byte("precious"), 0o600)
	for _, tc := range []struct {
		name  string
		plant func(path string)
		want  string
	}{
		{"a regular file", func(p string) { os.WriteFile(p, []byte("precious"), 0o600) },
			"PATH: is a regular file, not a control socket; move it away, or set socket: to another path"},
		{"a link", func(p string) { os.Symlink(elsewhere, p) },
			"PATH: is a symbolic link, not a control socket; move it away, or set socket: to another path"},
		{"a folder", func(p string) { os.Mkdir(p, 0o700) },
			"PATH: is a folder, not a control socket; move it away, or set socket: to another path"},
		{"another user's socket", func(p string) { staleSocket(t, p); os.Chown(p, nobody, nobody) },
			"PATH: control socket is owned by nobody (uid 65534), not by root, so it is not your hellomgr's; if it is that user's manager, run hellomgr as that user; if not, remove it, or set socket: to a path in a folder only you can write"},
		{"a stale socket of ours", func(p string) { staleSocket(t, p) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			tc.plant(path)
			before := testnet.PathState(path)
			want := strings.ReplaceAll(tc.want, "PATH", path)
			ln, err := Listen(path)
			if want == "" {
				if err != nil {
					t.Fatalf("Listen over a stale socket: %v", err)
				}
				ln.Close()
				return
			}
			if got := fmt.Sprint(err); got != want {
				t.Errorf("Listen: got %q, want %q", got, want)
			}
			if got := fmt.Sprint(CheckSocket(path)); got != want {
				t.Errorf("CheckSocket: got %q, want %q", got, want)
			}
			for path, before := range map[string]string{path: before, elsewhere: `-rw------- uid 0 "precious"`} {
				if after := testnet.PathState(path); after != before {
					t.Errorf("%s changed: now %s, was %s", path, after, before)
				}
			}
		})
	}
}

// staleSocket leaves a socket file at path with nobody listening, as a
// manager killed with SIGKILL does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
}

// A client never talks to a socket another user owns, nor to one whose
// listener runs as another user: the fake manager behind it gets no
// request.
func TestClientTalksOnlyToItsOwnUsersManager(t *testing.T) {
	dir := rootDir(t)
	os.Chmod(dir, 0o777) // another user's process listens in it
	t.Run("socket file of another user", func(t *testing.T) {
		path := filepath.Join(dir, "file.sock")
		requests := fakeManager(t, path)
		os.Chown(path, nobody, nobody)
		_, err := Dial(path).Status(context.Background())
		want := path + ": control socket is owned by nobody (uid 65534), not by root, so it is not your hellomgr's; "
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Status: got %v, want %q...", err, want)
		}
		if n := len(requests); n != 0 {
			t.Errorf("the fake manager got %d requests", n)
		}
	})
	t.Run("listener of another user", func(t *testing.T) {
		path := filepath.Join(dir, "peer.sock")
		out := fakeManagerAs(t, nobody, path)
		os.Chown(path, 0, 0) // the file alone would pass
		_, err := Dial(path).Status(context.Background())
		want := path + ": control socket is answered by a process of nobody (uid 65534), not of root, so not by your hellomgr; "
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Status: got %v, want %q...", err, want)
		}
		if err := Dial(path).ReloadWith(context.Background(), ReloadOptions{}, nil); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Reload: got %v, want %q...", err, want)
		}
		if got := out(); strings.Contains(got, "request") {
			t.Errorf("the fake manager heard a request: %q", got)
		}
	})
}

// fakeManager answers every request on path with a made-up status, and
// sends each request's path on the returned channel.
func fakeManager(t *testing.T, path string) chan string {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	requests := make(chan string, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests <- r.URL.Path
		fmt.Fprint(w, `{"pid": 4242}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return requests
}

// fakeManagerEnv makes the test binary a fake manager on the socket it
// names (see init).
const fakeManagerEnv = "HELLOMGR_TEST_FAKE_MANAGER"

func init() {
	if path := os.Getenv(fakeManagerEnv); path != "" {
		ln, err := net.Listen("unix", path)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("listening")
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Println("request", r.URL.Path)
			fmt.Fprint(w, `{"pid": 4242}`)
		}))
		os.Exit(0)
	}
}

// fakeManagerAs runs fakeManager's twin as uid, in a copy of the test
// binary that uid can run, and returns once it listens; out returns what
// it printed.
func fakeManagerAs(t *testing.T, uid uint32, path string) (out func() string) {
	t.Helper()
	binDir := rootDir(t)
	os.Chmod(binDir, 0o755)
	bin := filepath.Join(binDir, "fake")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{fakeManagerEnv + "=" + path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var buf testnet.LockedBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(buf.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("the fake manager as uid %d did not listen: %q", uid, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return buf.String
}
