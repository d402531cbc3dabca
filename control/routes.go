package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// API is what the control socket asks of the manager; *manager.Manager
// implements it. Each method's progress gets the lines the client sees.
type API interface {
	Report() Report
	ReloadWith(ctx context.Context, opts ReloadOptions, progress Progress) error
	Restart(ctx context.Context, ports []int, progress Progress) error
	StopPorts(ctx context.Context, ports []int, progress Progress) error
	StartPorts(ctx context.Context, ports []int, progress Progress) error
	// Upgrade calls handing with its last line just before it replaces
	// the program; it returns only when it did not.
	Upgrade(ctx context.Context, binary string, progress Progress, handing func(line string)) error
	// RequestDown asks the manager to stop every instance and exit; it
	// does not wait.
	RequestDown()
}

// Routes answers the control socket's requests with api: GET /v1/status,
// and POST /v1/reload, restart, stop, start, upgrade and down, whose
// replies stream (Event). An operation runs to its end even if the client
// hangs up, or stops reading (stream.go): it stops watching, not the
// operation. A panic in a handler is answered with an error (guard.go).
func Routes(api API) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		rep := api.Report()
		w.Write(append(rep.AppendJSON(make([]byte, 0, 512+256*len(rep.Instances))), '\n'))
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) { serveReload(api, w, r) })
	for path, op := range map[string]func(context.Context, []int, Progress) error{
		"POST /v1/restart": api.Restart,
		"POST /v1/stop":    api.StopPorts,
		"POST /v1/start":   api.StartPorts,
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { servePorts(op, w, r) })
	}
	mux.HandleFunc("POST /v1/upgrade", func(w http.ResponseWriter, r *http.Request) { serveUpgrade(api, w, r) })
	mux.HandleFunc("POST /v1/down", func(w http.ResponseWriter, r *http.Request) {
		stream(w, r, func(progress Progress) error {
			progress("stopping %d instances", len(api.Report().Instances))
			api.RequestDown()
			return nil
		})
	})
	return guard(mux)
}

// serveReload rolls the config file out. A client that hangs up (Ctrl-C
// on `hellomgr reload`) stops watching, not the rollout: half a rollout
// is worse than a whole one.
func serveReload(api API, w http.ResponseWriter, r *http.Request) {
	opts, err := reloadOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	stream(w, r, func(progress Progress) error {
		return api.ReloadWith(context.WithoutCancel(r.Context()), opts, progress)
	})
}

// servePorts runs op (restart, stop, start) on the request's ports.
func servePorts(op func(context.Context, []int, Progress) error, w http.ResponseWriter, r *http.Request) {
	ports, err := queryPorts(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	stream(w, r, func(progress Progress) error { return op(context.WithoutCancel(r.Context()), ports, progress) })
}

// serveUpgrade replaces the manager's program with binary; its last event
// is the one before the exec (Exec set), or the error that kept the old
// program.
func serveUpgrade(api API, w http.ResponseWriter, r *http.Request) {
	binary := r.URL.Query().Get("binary")
	if !filepath.IsAbs(binary) {
		http.Error(w, "binary: want an absolute path", http.StatusBadRequest)
		return
	}
	streamEvents(w, r, func(send func(Event)) error {
		progress := func(format string, args ...any) { send(Event{Line: fmt.Sprintf(format, args...)}) }
		handing := func(line string) { send(Event{Line: line, Exec: true}) }
		return api.Upgrade(context.WithoutCancel(r.Context()), binary, progress, handing)
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
	opts.AllowIdle = q.Get("allow_idle") == "1"
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

// stream runs fn and sends each progress line as it happens, as JSON
// lines, ending with a Done or Error event (streamEvents).
func stream(w http.ResponseWriter, r *http.Request, fn func(Progress) error) {
	streamEvents(w, r, func(send func(Event)) error {
		return fn(func(format string, args ...any) { send(Event{Line: fmt.Sprintf(format, args...)}) })
	})
}
