package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tool is a program a bench runs and the Debian package that ships it.
type Tool struct {
	Path    string
	Package string
	// Import, when set, is a Python module that Path (a Python
	// interpreter) must be able to import.
	Import string
}

// The tools every bench uses, from Debian's packages. Python is Debian's
// /usr/bin/python3, not whatever python3 comes first on PATH.
var (
	Nginx   = Tool{Path: "/usr/sbin/nginx", Package: "nginx"}
	Wrk     = Tool{Path: "/usr/bin/wrk", Package: "wrk"}
	Tornado = Tool{Path: "/usr/bin/python3", Package: "python3-tornado", Import: "tornado"}
)

// missing says why t cannot run, or "" when it can.
func (t Tool) missing() string {
	if _, err := os.Stat(t.Path); err != nil {
		return fmt.Sprintf("%s is missing", t.Path)
	}
	if t.Import == "" {
		return ""
	}
	out, err := exec.Command(t.Path, "-c", "import "+t.Import).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s cannot import %s (%v: %s)", t.Path, t.Import, err, bytes.TrimSpace(out))
	}
	return ""
}

// Check returns an error naming the package to install for the first
// tool that is missing.
func Check(tools ...Tool) error {
	for _, t := range tools {
		if why := t.missing(); why != "" {
			return fmt.Errorf("%s: apt-get install -y %s", why, t.Package)
		}
	}
	return nil
}

// Install installs, with apt-get, the packages of the tools that are
// missing, then checks them all. It needs root; when nothing is missing
// it runs nothing. apt-get's output goes to w. A failed install is tried
// once more after `apt-get update`, for a machine whose package lists are
// old or absent.
func Install(ctx context.Context, w io.Writer, tools ...Tool) error {
	var pkgs []string
	for _, t := range tools {
		if t.missing() != "" {
			pkgs = append(pkgs, t.Package)
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages %s, and not root: apt-get install -y %[1]s", strings.Join(pkgs, " "))
	}
	install := func() error { return apt(ctx, w, append([]string{"install", "-y"}, pkgs...)...) }
	if err := install(); err != nil {
		if err := apt(ctx, w, "update"); err != nil {
			return err
		}
		if err := install(); err != nil {
			return err
		}
	}
	return Check(tools...)
}

func apt(ctx context.Context, w io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// ModuleRoot is the folder of hellomgr's go.mod, the repository's root:
// the bench must run from inside the repository.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run from inside the hellomgr repository (go env GOMOD: %q, %v)", gomod, err)
	}
	// The benches are a module of their own, in the product's folder:
	// the root is the nearest folder up whose go.mod is the product's.
	for dir := filepath.Dir(gomod); ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modfile(b) == productModule {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of %s above %s", productModule, gomod)
		}
	}
}

const productModule = "github.com/hellomgr/hellomgr"

// modfile is the module path a go.mod declares.
func modfile(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(path), `"`)
		}
	}
	return ""
}

// Build compiles hellomgr from the module at root into dir and returns
// the binary's path, so a bench runs the code as it is.
func Build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "hellomgr")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hellomgr: %w\n%s", err, out)
	}
	return bin, nil
}

// LoadAverage is /proc/loadavg's first three figures: the machine is
// shared, and a figure means little without them.
func LoadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
