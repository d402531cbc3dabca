package manager

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/logs"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/internal/testnet"
)

// nobody is the other user the tests play: another user's folders.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test plays another user and needs root (CI runs as root)")
	}
}

// shortDir is a temp folder with a path short enough for a Unix socket.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// snapshot describes what is at path (testnet.PathState).
func snapshot(t *testing.T, path string) string {
	t.Helper()
	return testnet.PathState(path)
}

func mustNotChange(t *testing.T, path, before string) {
	t.Helper()
	if after := snapshot(t, path); after != before {
		t.Errorf("%s changed: now %s, was %s", path, after, before)
	}
}

func TestFoldersOthersCouldWriteInAreRefused(t *testing.T) {
	needRoot(t)
	dir := shortDir(t)
	elsewhere := t.TempDir()
	elsewhereBefore := snapshot(t, elsewhere)
	sticky := filepath.Join(dir, "sticky")
	os.Mkdir(sticky, 0o700)
	os.Chmod(sticky, 0o777|fs.ModeSticky)
	for _, tc := range []struct {
		name  string
		plant func(path string)
		want  string // "" for a folder hellomgr accepts
	}{
		{"absent", func(string) {}, ""},
		{"own, 0700", func(p string) { os.Mkdir(p, 0o700) }, ""},
		{"own, 0755", func(p string) { os.Mkdir(p, 0o755) }, ""},
		{"own, 0700, in a sticky world-writable folder", func(string) {}, ""},
		{"world-writable", func(p string) { os.Mkdir(p, 0o700); os.Chmod(p, 0o777) },
			"PATH: state folder is writable by users other than its owner (mode 0777); chmod go-w PATH"},
		{"group-writable", func(p string) { os.Mkdir(p, 0o700); os.Chmod(p, 0o770) },
			"PATH: state folder is writable by users other than its owner (mode 0770); chmod go-w PATH"},
		{"sticky itself", func(p string) { os.Mkdir(p, 0o700); os.Chmod(p, 0o777|fs.ModeSticky) },
			"PATH: state folder is writable by users other than its owner (mode 1777); chmod go-w PATH"},
		{"another user's", func(p string) { os.Mkdir(p, 0o700); os.Chown(p, nobody, nobody) },
			"PATH: state folder is owned by nobody (uid 65534), not by root; remove it (hellomgr creates it) or chown root PATH"},
		{"a link to a folder", func(p string) { os.Symlink(elsewhere, p) },
			"PATH: state folder is a symbolic link, not a folder; remove the link (hellomgr creates the folder)"},
		{"a file", func(p string) { os.WriteFile(p, []byte("mine"), 0o600) },
			"PATH: state folder is a regular file, not a folder; move it away (hellomgr creates the folder)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.NewReplacer(" ", "-", ",", "").Replace(tc.name))
			if strings.Contains(tc.name, "sticky world-writable") {
				path = filepath.Join(sticky, "state")
				os.Mkdir(path, 0o700)
			}
			tc.plant(path)
			before := snapshot(t, path)
			want := strings.ReplaceAll(tc.want, "PATH", path)
			err := checkFolder(path, stateFolder)
			if got := errText(err); got != want {
				t.Errorf("checkFolder: got %q, want %q", got, want)
			}
			// lockPID is what `up` does with the state folder.
			lock, err := lockPID(path)
			if want == "" {
				if err != nil {
					t.Fatalf("lockPID: %v", err)
				}
				lock.release()
				return
			}
			if got := errText(err); got != want {
				t.Errorf("lockPID: got %q, want %q", got, want)
			}
			mustNotChange(t, path, before)
			mustNotChange(t, elsewhere, elsewhereBefore)
		})
	}
}

func TestLogFolderOthersCouldWriteInIsRefusedByUp(t *testing.T) {
	dir := filepath.Join(shortDir(t), "logs")
	os.Mkdir(dir, 0o755)
	os.Chmod(dir, 0o777)
	want := dir + ": log folder is writable by users other than its owner (mode 0777); chmod go-w " + dir
	if err := checkLogDir(dir); errText(err) != want {
		t.Errorf("checkLogDir: got %v, want %q", err, want)
	}
	if _, err := openLog(config.Logs{Dir: dir, MaxSizeMB: 1, MaxFiles: 1}, 8001, nil, discard); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("openLog: got %v, want %q", err, want)
	}
	mustNotChange(t, dir, "drwxrwxrwx uid 0")
}

// A link planted as the pid file, or as a port's log, is refused by every
// open, and by rotation: the file it points to keeps its content.
func TestLinksInHellomgrsFoldersAreNeverFollowed(t *testing.T) {
	dir := shortDir(t)
	precious := filepath.Join(t.TempDir(), "precious")
	big := strings.Repeat("precious\n", 1<<17) // over 1 MiB: rotation would copy and truncate it
	os.WriteFile(precious, []byte(big), 0o600)
	before := snapshot(t, precious)

	state := filepath.Join(dir, ".hellomgr")
	os.Mkdir(state, 0o700)
	os.Symlink(precious, pidPath(state))
	wantLink := func(path string) string {
		return path + ": is a symbolic link, and hellomgr writes its files only itself, never through a link; remove it"
	}
	if _, err := lockPID(state); err == nil || !strings.Contains(err.Error(), wantLink(pidPath(state))) {
		t.Errorf("lockPID: got %v, want %q", err, wantLink(pidPath(state)))
	}
	if f, err := OpenBackgroundLog(state); err != nil {
		t.Errorf("OpenBackgroundLog beside a linked pid file: %v", err)
	} else {
		f.Close()
	}
	os.Remove(BackgroundLog(state))
	os.Symlink(precious, BackgroundLog(state))
	if _, err := OpenBackgroundLog(state); err == nil || !strings.Contains(err.Error(), wantLink(BackgroundLog(state))) {
		t.Errorf("OpenBackgroundLog: got %v, want %q", err, wantLink(BackgroundLog(state)))
	}

	logCfg := config.Logs{Dir: filepath.Join(dir, "logs"), MaxSizeMB: 1, MaxFiles: 1}
	os.Mkdir(logCfg.Dir, 0o755)
	path := logs.File(logCfg.Dir, 8001)
	os.Symlink(precious, path)
	if _, err := openLog(logCfg, 8001, nil, discard); err == nil || !strings.Contains(err.Error(), wantLink(path)) {
		t.Errorf("openLog: got %v, want %q", err, wantLink(path))
	}
	if aside, _ := logs.Backups(logCfg.Dir, 8001); len(aside) != 0 {
		t.Errorf("rotation copied the link's target aside: %v", aside)
	}
	mustNotChange(t, precious, before)
	for _, link := range []string{pidPath(state), BackgroundLog(state), path} {
		mustNotChange(t, link, "Lrwxrwxrwx uid 0 -> "+precious)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
