package manager

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/logs"
	"github.com/hellomgr/hellomgr/nginx"
)

// hellomgr never deletes, overwrites or writes through a file it did not
// create. The folders it writes in (the state folder, the log folder) must
// be real folders that only their owner can write, and that owner the user
// running hellomgr or root, as ssh's StrictModes demands of ~/.ssh: then
// nobody else can plant a link or a file in them. A sticky world-writable
// parent such as /tmp is fine, since nobody can rename a folder of ours
// out of it. The files there are opened without following a symbolic
// link. The control socket's path holds a socket of that user or root, or
// nothing; the nginx upstream file is one hellomgr wrote, or nothing.
//
// Each refusal is one line, "<path>: <what>; <fix>", the same from
// `hellomgr check` (CheckPaths) as from `up`.

// CheckPaths reports every path of cfg that `up` would refuse to write in,
// or that a command would refuse to talk to, one problem per line; nil
// when there is none. It changes nothing: a folder or file that does not
// exist yet is fine, hellomgr creates it.
func CheckPaths(cfg *config.Config) error {
	var errs []error
	state := checkFolder(cfg.StateDir, stateFolder)
	errs = append(errs, state)
	if state == nil {
		errs = append(errs, checkFile(pidPath(cfg.StateDir)), checkFile(BackgroundLog(cfg.StateDir)))
	}
	logDir := checkFolder(cfg.Logs.Dir, logFolder)
	errs = append(errs, logDir)
	if logDir == nil {
		for _, port := range cfg.Ports {
			errs = append(errs, checkFile(logs.File(cfg.Logs.Dir, port)))
		}
	}
	errs = append(errs, control.CheckSocket(cfg.Socket))
	if cfg.Nginx != nil {
		errs = append(errs, nginx.CheckFile(cfg.Nginx.UpstreamFile))
	}
	return errors.Join(errs...)
}

// folder is what a refusal calls one of hellomgr's folders, and how to
// fix a symbolic link in its place.
type folder struct{ role, linkFix string }

var (
	stateFolder = folder{"state folder", "remove the link (hellomgr creates the folder)"}
	logFolder   = folder{"log folder", "set logs.dir to the folder it points to, or remove the link (hellomgr creates the folder)"}
)

// problem is one refusal: "<path>: <what>; <fix>".
func problem(path, what, fix string) error { return fmt.Errorf("%s: %s; %s", path, what, fix) }

// checkFolder refuses dir unless it is absent or a real folder, owned by
// the user running hellomgr or root, that no other user can write. An
// error other than "absent" is left to whoever creates or opens it next,
// which says why in its own words.
func checkFolder(dir string, f folder) error {
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return problem(dir, f.role+" is a symbolic link, not a folder", f.linkFix)
	case !fi.IsDir():
		return problem(dir, f.role+" is "+control.Kind(fi.Mode())+", not a folder", "move it away (hellomgr creates the folder)")
	}
	st := fi.Sys().(*syscall.Stat_t)
	var errs []error
	if !control.Trusted(st.Uid) {
		errs = append(errs, problem(dir, fmt.Sprintf("%s is owned by %s, not by %s", f.role, control.UserName(st.Uid), control.TrustedOwners()),
			fmt.Sprintf("remove it (hellomgr creates it) or chown %s %s", me(), dir)))
	}
	if st.Mode&0o022 != 0 {
		errs = append(errs, problem(dir, fmt.Sprintf("%s is writable by users other than its owner (mode %04o)", f.role, st.Mode&0o7777),
			"chmod go-w "+dir))
	}
	return errors.Join(errs...)
}

// makeFolder creates dir with perm if it is missing, checking it
// (checkFolder) before and after: the second check catches a folder or a
// link planted between the first one and the mkdir.
func makeFolder(dir string, f folder, perm os.FileMode) error {
	if err := checkFolder(dir, f); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s %s: %w", f.role, dir, err)
	}
	return checkFolder(dir, f)
}

// checkFile refuses path, a file hellomgr writes in one of its folders,
// unless it is absent or a regular file: a symbolic link there is never
// followed, and a named pipe would block the open.
func checkFile(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return linkInPlace(path)
	case !fi.Mode().IsRegular():
		return problem(path, "is "+control.Kind(fi.Mode())+", not a regular file", "remove it")
	}
	return nil
}

func linkInPlace(path string) error {
	return problem(path, "is a symbolic link, and hellomgr writes its files only itself, never through a link", "remove it")
}

// openOwned opens path, a file in f, the folder it sits in, as
// os.OpenFile does, but only in a folder checkFolder accepts, never
// through a symbolic link (O_NOFOLLOW), and only a regular file.
func openOwned(f folder, path string, flag int, perm os.FileMode) (*os.File, error) {
	if err := checkFolder(filepath.Dir(path), f); err != nil {
		return nil, err
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	file, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) { // a link planted since checkFile
			err = linkInPlace(path)
		}
		return nil, err
	}
	if fi, err := file.Stat(); err != nil || !fi.Mode().IsRegular() {
		file.Close()
		return nil, problem(path, "is not a regular file", "remove it")
	}
	return file, nil
}

// me is the user running hellomgr, as chown takes it.
func me() string {
	id := strconv.Itoa(os.Geteuid())
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}
