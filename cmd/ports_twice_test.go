package cmd

import (
	"strconv"
	"strings"
	"testing"
)

// A port named twice is a usage error, before any manager is asked.
func TestPortNamedTwiceIsAUsageError(t *testing.T) {
	e := newEnv(t, 2, "")
	p := strconv.Itoa(e.ports[0])
	for _, cmd := range []string{"restart", "stop", "start"} {
		_, errOut, code := e.run(cmd, p, strconv.Itoa(e.ports[1]), p)
		if want := "port " + p + " is named twice"; code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%s %s %d %s: exit %d, stderr %q; want exit 2 and %q", cmd, p, e.ports[1], p, code, errOut, want)
		}
	}
}
