package cmd

import (
	"strings"
	"testing"
)

// --watch without --canary is a usage error that says what is missing,
// before the manager is asked: it was silently ignored, and the reload
// replaced every port at once.
func TestWatchWithoutCanaryIsAUsageError(t *testing.T) {
	e := newEnv(t, 1, "")
	for _, args := range [][]string{{"reload", "--watch", "30s"}, {"reload", "--canary", "0", "--watch", "30s"}} {
		out, errOut, code := e.run(args...)
		want := "--watch 30s: only with --canary N, whose canaries it watches; add --canary 1, or leave --watch out"
		if code != ExitUsage || !strings.Contains(errOut, want) {
			t.Errorf("hellomgr %s: exit %d, stderr %q, stdout %q; want exit %d and %q", strings.Join(args, " "), code, errOut, out, ExitUsage, want)
		}
	}
}
