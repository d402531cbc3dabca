package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/hellomgr/hellomgr/hello"
)

// plainServer is the yardstick: the plainest net/http hello server, as
// the net/http documentation writes one, with a Server only so that it
// can be stopped.
func plainServer(addr string) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello Itcast!"))
	})
	return &http.Server{Addr: addr, Handler: mux}
}

// serveRole runs this program as a server until SIGTERM: "plain", or
// "builtin" (hello.Run with the options `hellomgr serve` gives it, metrics
// on). With profileEnv set, it writes a CPU profile of its whole run there.
func serveRole(role string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if file := os.Getenv(profileEnv); file != "" {
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	addr := ":" + os.Getenv(portEnv)
	switch role {
	case "builtin":
		port, err := strconv.Atoi(os.Getenv(portEnv))
		if err != nil {
			return err
		}
		return hello.Run(ctx, hello.Options{Port: port, Metrics: true, Version: "bench"})
	case "plain":
		s := plainServer(addr)
		go func() { <-ctx.Done(); s.Close() }()
		if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return errors.New("unknown role")
}
