package control

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hellomgr/hellomgr/internal/bugs"
)

// A panic in a request handler must not end the manager, whose death ends
// every instance: net/http alone would recover it too, but silently for
// the client (an EOF) and with no count. guard recovers it per request,
// logs it as an error with its stack, counts it, and answers the client
// with a one-line error.

type logKey struct{}

// withLog gives the requests served under ctx the server's log.
func withLog(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// logFrom is the server's log, or the default one for a handler served
// some other way (a test's httptest server).
func logFrom(ctx context.Context) *slog.Logger {
	if log, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return log
	}
	return slog.Default()
}

// guard serves h, recovering a panic as described above. Each request's
// reply gets a write deadline too, so that a client that does not read a
// large status holds nothing but its own connection for long.
func guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's own way to abort a reply
			}
			err := internalError(logFrom(r.Context()), r, v)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}()
		h.ServeHTTP(w, r)
	})
}

// internalError counts and logs a recovered panic v, with the stack of
// the goroutine that recovered it, and returns the error the client gets.
func internalError(log *slog.Logger, r *http.Request, v any) error {
	bugs.Report(log, fmt.Sprintf("panic in %s %s: %v", r.Method, r.URL.RequestURI(), v)) // counted in hellomgr_internal_errors_total
	return fmt.Errorf("internal error in the manager while serving %s %s: %v (logged with its stack; the manager runs on)", r.Method, r.URL.Path, v)
}
