// Package testchild lets a test binary play the child process: TestMain
// calls Main, and when the test re-executes itself with HELLOMGR_TEST_CHILD
// set, the named behaviour runs instead of the tests.
package testchild

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hellomgr/hellomgr/notify"
)

// Env names the variable that selects a behaviour.
const Env = "HELLOMGR_TEST_CHILD"

var behaviours = map[string]func() int{
	"serve":        serve,
	"exit-at-once": exitAtOnce,
	"hang":         hang,
	"ignore-term":  ignoreTerm,
	// crash-on-port exits at once on the port named by CRASH_PORT, and
	// serves on the others: one crash-looping instance among healthy ones.
	"crash-on-port": func() int {
		if os.Getenv("PORT") == os.Getenv("CRASH_PORT") {
			return exitAtOnce()
		}
		return serve()
	},
	// control-status asks the control socket named by SOCKET for the
	// status and prints the first line of the answer, or the error: run as
	// another user, it shows what the manager lets that user see.
	"control-status": func() int {
		conn, err := net.Dial("unix", os.Getenv("SOCKET"))
		if err != nil {
			fmt.Println("dial:", err)
			return 0
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		if err != nil {
			fmt.Println("read:", err)
			return 0
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		fmt.Println("answer:", line)
		return 0
	},
	// notify-ready serves and says READY=1 on NOTIFY_SOCKET once it does.
	"notify-ready": func() int {
		go func() {
			time.Sleep(50 * time.Millisecond)
			notify.Send("READY=1")
		}()
		return serve()
	},
	// bind-itself serves on a port it binds itself, whatever it inherits:
	// an app that knows nothing of LISTEN_FDS.
	"bind-itself": func() int {
		os.Unsetenv("LISTEN_FDS")
		return serve()
	},
	// counted serves like serve, counts its answers in http_requests_total
	// on /metrics as the built-in server does, and answers 500 to every
	// request to / whose number is a multiple of 100/FAIL_PERCENT.
	"counted": serveCounted,
	// crash-after serves, then exits 1 once CRASH_AFTER (a duration) has
	// passed: a deploy that is ready but dies a little later.
	"crash-after": func() int {
		d, _ := time.ParseDuration(os.Getenv("CRASH_AFTER"))
		go func() {
			time.Sleep(d)
			fmt.Println("crashing, as asked")
			os.Exit(1)
		}()
		return serve()
	},
	// slow-start waits SLOW_START (a duration) before serving.
	"slow-start": func() int {
		d, _ := time.ParseDuration(os.Getenv("SLOW_START"))
		time.Sleep(d)
		return serve()
	},
	"with-grandchild": func() int {
		// A grandchild in the same process group, to check that stopping
		// reaches the whole group.
		cmd := exec.Command("sleep", "300")
		cmd.Start()
		fmt.Printf("grandchild %d\n", cmd.Process.Pid)
		return serve()
	},
	// escape-session starts a grandchild (this binary, hanging) in a
	// session of its own, prints its pid and serves: no signal to the
	// child's group or session reaches it, and it holds the child's
	// listening socket (fd 3 is inherited).
	"escape-session": func() int { return serveBeside(&syscall.SysProcAttr{Setsid: true}) },
	// leave-group does the same with a grandchild in a process group of
	// its own, still in the child's session.
	"leave-group": func() int { return serveBeside(&syscall.SysProcAttr{Setpgid: true}) },
	// burst serves and, meanwhile, writes BURST_LINES numbered lines
	// ("<pid> <n>", n from 1), one write each, as fast as it can or at
	// about BURST_RATE bytes a second, then "<pid> done".
	"burst": func() int {
		go burst()
		return serve()
	},
	// grow-memory serves and says READY=1, and, on the port named by
	// GROW_PORT only and only once (while the file GROW_ONCE does not
	// exist; it creates it), then allocates GROW_MB MiB (default 256) in
	// steps of 8 MiB, touching every page, and keeps it: an app that
	// leaks past limits.memory.
	"grow-memory": func() int {
		go func() {
			time.Sleep(50 * time.Millisecond)
			notify.Send("READY=1")
		}()
		if os.Getenv("PORT") == os.Getenv("GROW_PORT") && os.Getenv("GROW_ONCE") == "always" {
			go grow() // every process of the port: a leak no replacement cures
		} else if os.Getenv("PORT") == os.Getenv("GROW_PORT") {
			if f, err := os.OpenFile(os.Getenv("GROW_ONCE"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
				f.Close()
				go grow()
			}
		}
		return serve()
	},
	// endless-line writes one line that never ends, ENDLESS_BYTES long
	// (default 1 MiB), in 4 KiB writes, then a newline and "after".
	"endless-line": func() int {
		n, err := strconv.Atoi(os.Getenv("ENDLESS_BYTES"))
		if err != nil {
			n = 1 << 20
		}
		chunk := []byte(strings.Repeat("x", 4096))
		for ; n > 0; n -= len(chunk) {
			os.Stdout.Write(chunk[:min(n, len(chunk))])
		}
		fmt.Println("\nafter")
		return 0
	},
}

// held keeps what grow allocated reachable.
var held [][]byte

// grow allocates GROW_MB MiB (default 256), 8 MiB every 20 ms, and
// writes to every page so that it is resident.
func grow() {
	mb, err := strconv.Atoi(os.Getenv("GROW_MB"))
	if err != nil {
		mb = 256
	}
	fmt.Printf("growing to %d MiB\n", mb)
	for n := 0; n < mb; n += 8 {
		b := make([]byte, 8<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		held = append(held, b)
		time.Sleep(20 * time.Millisecond)
	}
}

// burst writes the numbered lines of the behaviour "burst".
func burst() {
	lines, _ := strconv.Atoi(os.Getenv("BURST_LINES"))
	rate, _ := strconv.Atoi(os.Getenv("BURST_RATE"))
	pid := os.Getpid()
	start := time.Now()
	written := 0
	buf := make([]byte, 0, 64)
	for n := 1; n <= lines; n++ {
		buf = strconv.AppendInt(append(strconv.AppendInt(buf[:0], int64(pid), 10), ' '), int64(n), 10)
		buf = append(buf, '\n')
		os.Stdout.Write(buf)
		written += len(buf)
		if rate > 0 && n%64 == 0 { // pace: be no further ahead than the rate allows
			if ahead := time.Duration(float64(written)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	fmt.Printf("%d done\n", pid)
}

// serveBeside starts this binary as a hanging grandchild with attr, prints
// "grandchild PID", and serves.
func serveBeside(attr *syscall.SysProcAttr) int {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), Env+"=hang")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start grandchild:", err)
		return 1
	}
	fmt.Printf("grandchild %d\n", cmd.Process.Pid)
	return serve()
}

// Main runs the behaviour named by HELLOMGR_TEST_CHILD and exits, or
// returns at once when the variable is unset.
func Main() {
	name := os.Getenv(Env)
	if name == "" {
		return
	}
	run, ok := behaviours[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "testchild: unknown behaviour %q\n", name)
		os.Exit(2)
	}
	os.Exit(run())
}

// Cmd returns argv and env for a child with the given behaviour.
func Cmd(behaviour string) (argv []string, env []string) {
	return []string{os.Args[0], "-test.run=^$"}, append(os.Environ(), Env+"="+behaviour)
}

func listener() (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "1" {
		return net.FileListener(os.NewFile(3, "listener"))
	}
	return net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
}

// serve answers "pid N" on every path until SIGTERM, then shuts down.
func serve() int { return serveUntil(syscall.SIGTERM, syscall.SIGINT) }

func serveUntil(sigs ...os.Signal) int {
	ln, err := listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	pid := strconv.Itoa(os.Getpid())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" { // an in-flight request that outlasts a stop signal
			time.Sleep(time.Second)
		}
		fmt.Fprintf(w, "pid %s %s", pid, os.Getenv("MESSAGE"))
	})}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	go srv.Serve(ln)
	fmt.Println("serving")
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	return 0
}

func exitAtOnce() int {
	fmt.Println("boom: config missing")
	return 3
}

func hang() int {
	time.Sleep(time.Hour)
	return 0
}

func ignoreTerm() int {
	signal.Ignore(syscall.SIGTERM)
	return serveUntil(syscall.SIGINT)
}

func serveCounted() int {
	ln, err := listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	every := 0
	if p, _ := strconv.Atoi(os.Getenv("FAIL_PERCENT")); p > 0 {
		every = 100 / p
	}
	var n, failed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "http_requests_total{code=\"200\",method=\"GET\"} %d\n", n.Load()-failed.Load())
		fmt.Fprintf(w, "http_requests_total{code=\"500\",method=\"GET\"} %d\n", failed.Load())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if k := n.Add(1); every > 0 && k%int64(every) == 0 {
			failed.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s", os.Getenv("MESSAGE"))
	})
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go srv.Serve(ln)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	return 0
}
