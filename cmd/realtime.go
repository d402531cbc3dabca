package cmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/manager"
)

// printRealtime is what check says about long-lived connections
// (websockets, long-polls) for cfg: a Tornado command line that cannot
// start, and what a rollout's swap does to the connections an instance
// holds, with the fix where it cuts them. Nothing for the built-in
// server, which holds none.
func printRealtime(out io.Writer, cfg *config.Config) {
	if cfg.BuiltIn() {
		return
	}
	if w := tornadoPortWarning(cfg); w != "" {
		fmt.Fprintln(out, "warning: "+w)
	}
	fmt.Fprintln(out, longLivedLine(manager.SwapOf(cfg), cfg))
}

// longLivedLine says what a rollout does to the websockets and held
// requests of a port's old process.
func longLivedLine(s manager.Swap, cfg *config.Config) string {
	const fix = "to fix, make the app close them on SIGTERM and say READY=1 (for Tornado: python/hellomgr_tornado), with reload.handoff: socket and ready.notify: true and no nginx: section"
	switch {
	case s.Drain:
		return fmt.Sprintf("long-lived connections: the nginx drain waits up to nginx.drain_timeout (%s) for each port's websockets and long-polls to end, then stops the process and cuts them (websockets without a close frame, 1006; polls with 502), and the rollout waits that long per port; %s.", cfg.Nginx.DrainTimeout, fix)
	case s.Kind == manager.SwapOverlap:
		return fmt.Sprintf("long-lived connections: the old process gets stop.signal once the new one is ready; if it drains as python/hellomgr_tornado does, its websockets get close code %d spread over %s (stop.spread) and its held requests go back to nginx, to another instance; otherwise they are cut at stop.timeout (%s).", cfg.Stop.CloseCode, cfg.Stop.Spread, cfg.Stop.Timeout)
	}
	return fmt.Sprintf("long-lived connections: %s stops the old process before its successor serves, so its websockets and long-polls are cut unless it closes them itself on SIGTERM, and their clients find the port paused; %s.", manager.SwapOf(cfg).Name(), fix)
}

var (
	pythonProgram = regexp.MustCompile(`^python[0-9.]*$`)
	tornadoImport = regexp.MustCompile(`(?m)^\s*(from\s+tornado\.options\s+import|import\s+tornado\.options)`)
)

// tornadoPortWarning catches `--port, "{port}"` as two items for a Python
// script that reads its options with tornado.options, which takes only
// --port=N: every instance would exit at once with "Option 'port'
// requires a value". It can tell only when it can read the script.
func tornadoPortWarning(cfg *config.Config) string {
	argv := cfg.Command
	if len(argv) < 2 || !pythonProgram.MatchString(filepath.Base(argv[0])) {
		return ""
	}
	i := -1
	for j := 1; j+1 < len(argv); j++ {
		if strings.HasPrefix(argv[j], "--") && !strings.Contains(argv[j], "=") && strings.Contains(argv[j+1], config.PortPlaceholder) {
			i = j
			break
		}
	}
	if i < 0 {
		return ""
	}
	script := argv[1]
	if !filepath.IsAbs(script) {
		script = filepath.Join(cfg.WorkDir, script)
	}
	b, err := os.ReadFile(script)
	if err != nil || !tornadoImport.Match(b) {
		return ""
	}
	return fmt.Sprintf("%s: command: %q, %q are two items, but %s reads its options with tornado.options, which takes only %s=VALUE: every instance would exit with \"Option '%s' requires a value\"; write %q as one item.",
		cfg.File, argv[i], argv[i+1], argv[1], argv[i], strings.TrimLeft(argv[i], "-"), argv[i]+"="+argv[i+1])
}
