package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// maxSocketPath is the longest path a Unix socket can bind on Linux
// (sun_path is 108 bytes, one for the final NUL).
const maxSocketPath = 107

// path reads a non-empty path and makes it absolute against the config's
// folder, never the working directory: the manager may be started from
// anywhere, and the file must mean the same thing each time.
func (p *parser) path(key string, v *yaml.Node, want string) (given, abs string, ok bool) {
	s, ok := p.scalar(key, v, want)
	switch {
	case !ok:
		return "", "", false
	case s == "":
		p.add(v.Line, key, "empty path; remove the key for the default")
		return "", "", false
	case strings.ContainsRune(s, 0):
		p.add(v.Line, key, "contains a NUL byte, which no path can hold")
		return "", "", false
	}
	if filepath.IsAbs(s) {
		return s, filepath.Clean(s), true
	}
	return s, filepath.Join(p.c.Dir, s), true
}

// workDir reads `dir`, the children's working directory: it must exist.
func (p *parser) workDir(key string, v *yaml.Node) (string, bool) {
	given, abs, ok := p.path(key, v, `a folder like "app"`)
	if !ok {
		return "", false
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		p.add(v.Line, key, "%s %s", shown(given, abs), missing(given, err))
	case !fi.IsDir():
		p.add(v.Line, key, "%s is not a directory", shown(given, abs))
	default:
		return abs, true
	}
	return "", false
}

// missing words a failed Stat, with a hint for the one common slip that
// the shell would have fixed: "~" is not expanded here.
func missing(given string, err error) string {
	msg := "does not exist"
	if !errors.Is(err, fs.ErrNotExist) {
		msg = fmt.Sprintf("cannot be used: %v", reason(err))
	}
	if strings.HasPrefix(given, "~") {
		msg += ` ("~" is not expanded; write the full path)`
	}
	return msg
}

// logsDir reads `logs.dir`. The folder is created by the manager, so it
// need not exist, but it must be creatable: its nearest existing parent
// must be a folder.
func (p *parser) logsDir(key string, v *yaml.Node) (string, bool) {
	given, abs, ok := p.path(key, v, `a folder like "logs"`)
	if !ok {
		return "", false
	}
	if msg := creatable(abs); msg != "" {
		p.add(v.Line, key, "%s %s", shown(given, abs), msg)
		return "", false
	}
	return abs, true
}

// creatable says why the folder dir could not be used or made, or "".
func creatable(dir string) string {
	for path := dir; ; path = filepath.Dir(path) {
		fi, err := os.Stat(path)
		switch {
		case err == nil && fi.IsDir():
			return ""
		case err == nil && path == dir:
			return "is not a directory"
		case err == nil:
			return fmt.Sprintf("cannot be created: %s is not a directory", path)
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return fmt.Sprintf("cannot be used: %v", reason(err))
		case path == filepath.Dir(path):
			return "cannot be created: no parent folder exists"
		}
	}
}

// socket reads `socket`, the control socket's path. Its length is checked
// in finish, where the default is checked too.
func (p *parser) socket(key string, v *yaml.Node) (string, bool) {
	_, abs, ok := p.path(key, v, `a path like "/tmp/hellomgr.sock"`)
	return abs, ok
}

// upstreamFile reads `nginx.upstream_file`. The file is (re)written by
// hellomgr, so only its folder must exist.
func (p *parser) upstreamFile(key string, v *yaml.Node) (string, bool) {
	given, abs, ok := p.path(key, v, `a path like "/etc/nginx/conf.d/hellomgr.conf"`)
	if !ok {
		return "", false
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		p.add(v.Line, key, "%s is a directory; name a file in it", shown(given, abs))
		return "", false
	}
	parent := filepath.Dir(abs)
	fi, err := os.Stat(parent)
	switch {
	case err != nil:
		p.add(v.Line, key, "%s: folder %s %s", shown(given, abs), parent, missing(given, err))
	case !fi.IsDir():
		p.add(v.Line, key, "%s: %s is not a directory", shown(given, abs), parent)
	default:
		return abs, true
	}
	return "", false
}
