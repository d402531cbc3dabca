package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The control channel is HTTP over a Unix socket beside the config, mode
// 0600, and only the manager's own user (or root) may talk to it. There is
// no TCP control port.

// Event is one line of a streamed reply (reload, down): a progress line,
// then a last event with Done or Error set.
type Event struct {
	Line  string `json:"line,omitempty"`
	Error string `json:"error,omitempty"`
	Done  bool   `json:"done,omitempty"`
	// Exec: the manager replaces its program now (upgrade), which ends
	// this reply without a Done.
	Exec bool `json:"exec,omitempty"`
}

// listenControl listens on the config's control socket. A socket file left
// by a dead manager is replaced: the pid lock taken first proves that no
// live manager uses it. Anything else at path, or a socket of another user
// than this one or root, is refused and left as it is (checkSocket).
func listenControl(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket folder: %w", err)
	}
	if err := checkSocket(path); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove the stale control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket permissions: %w", err)
	}
	return ln, nil
}

// serveControl serves the control socket until ctx ends, then removes it.
func (m *Manager) serveControl(ctx context.Context, ln net.Listener) error {
	path := m.Config().Socket
	srv := &http.Server{
		Handler:           m.controlRoutes(),
		ReadHeaderTimeout: 5 * time.Second, // a client that hangs mid-request cannot hold a goroutine forever
		ReadTimeout:       10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
		os.Remove(path)
	}()
	err := srv.Serve(&peerListener{Listener: ln, log: m.log.Warn})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (m *Manager) controlRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m.Report())
	})
	mux.HandleFunc("POST /v1/reload", m.serveReload)
	for path, op := range map[string]func(context.Context, []int, Progress) error{
		"POST /v1/restart": m.Restart,
		"POST /v1/stop":    m.StopPorts,
		"POST /v1/start":   m.StartPorts,
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			ports, err := queryPorts(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			stream(w, func(progress Progress) error { return op(context.WithoutCancel(r.Context()), ports, progress) })
		})
	}
	mux.HandleFunc("POST /v1/upgrade", m.serveUpgrade)
	mux.HandleFunc("POST /v1/down", func(w http.ResponseWriter, r *http.Request) {
		stream(w, func(progress Progress) error {
			progress("stopping %d instances", len(m.Instances()))
			m.RequestDown()
			return nil
		})
	})
	return mux
}

// serveReload rolls the config file out. A client that hangs up (Ctrl-C
// on `hellomgr reload`) stops watching, not the rollout: half a rollout
// is worse than a whole one.
func (m *Manager) serveReload(w http.ResponseWriter, r *http.Request) {
	opts, err := reloadOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	stream(w, func(progress Progress) error { return m.ReloadWith(context.WithoutCancel(r.Context()), opts, progress) })
}

// serveUpgrade replaces the manager's program with binary; its last event
// is the one before the exec (Exec set), or the error that kept the old
// program.
func (m *Manager) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	binary := r.URL.Query().Get("binary")
	if !filepath.IsAbs(binary) {
		http.Error(w, "binary: want an absolute path", http.StatusBadRequest)
		return
	}
	streamEvents(w, func(send func(Event)) error {
		progress := func(format string, args ...any) { send(Event{Line: fmt.Sprintf(format, args...)}) }
		handing := func(line string) { send(Event{Line: line, Exec: true}) }
		return m.Upgrade(context.WithoutCancel(r.Context()), binary, progress, handing)
	})
}

// reloadOptions reads a reload's canary=N and watch=DURATION parameters.
func reloadOptions(r *http.Request) (ReloadOptions, error) {
	var opts ReloadOptions
	q := r.URL.Query()
	if v := q.Get("canary"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return opts, fmt.Errorf("bad canary %q", v)
		}
		opts.Canary = n
	}
	if v := q.Get("watch"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return opts, fmt.Errorf("bad watch %q", v)
		}
		opts.Watch = d
	}
	return opts, nil
}

// queryPorts reads the port parameters of a request: at least one, each
// a number.
func queryPorts(r *http.Request) ([]int, error) {
	values := r.URL.Query()["port"]
	if len(values) == 0 {
		return nil, errors.New("no port given")
	}
	ports := make([]int, len(values))
	for i, v := range values {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("bad port %q", v)
		}
		ports[i] = p
	}
	return ports, nil
}

// stream runs fn and sends each progress line as it happens, as JSON lines,
// ending with a Done or Error event.
func stream(w http.ResponseWriter, fn func(Progress) error) {
	streamEvents(w, func(send func(Event)) error {
		return fn(func(format string, args ...any) { send(Event{Line: fmt.Sprintf(format, args...)}) })
	})
}

// streamEvents is stream for a caller that sends its own events.
func streamEvents(w http.ResponseWriter, fn func(send func(Event)) error) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex // a batch of ports reports progress from several goroutines
	send := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(e) // a client gone mid-reply only loses its own lines
		if flusher != nil {
			flusher.Flush()
		}
	}
	err := fn(send)
	if err != nil {
		send(Event{Error: err.Error()})
		return
	}
	send(Event{Done: true})
}

// peerListener refuses connections from other users, checked with
// SO_PEERCRED: the socket's 0600 mode is the first guard, this the second.
type peerListener struct {
	net.Listener
	log func(msg string, args ...any)
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(conn)
		if err == nil && (uid == uint32(os.Getuid()) || uid == 0) {
			return conn, nil
		}
		l.log("control socket: refused a connection", "uid", uid, "err", err)
		conn.Close()
	}
}

func peerUID(conn net.Conn) (uint32, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, credErr
	}
	return cred.Uid, nil
}
