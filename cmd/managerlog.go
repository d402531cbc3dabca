package cmd

import (
	"fmt"
	"os"
)

// The background manager's own output, .hellomgr/hellomgr.log, is kept
// from growing without end by rotating it when `up -d` starts, while no
// manager writes to it: past managerLogMax bytes it becomes
// hellomgr.log.1, the one before becomes hellomgr.log.2, and so on; the
// oldest beyond managerLogKept is deleted.
const (
	managerLogMax  = 10 << 20
	managerLogKept = 3
)

// rotateManagerLog rotates the manager log at path if it is a regular
// file larger than managerLogMax. It renames and deletes only regular
// files: anything else at one of the names (a symbolic link, a folder)
// stops the rotation there and is left as it is. It is best effort: a log
// that cannot be rotated goes on growing, and never stops a manager from
// starting.
func rotateManagerLog(path string) {
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() <= managerLogMax {
		return
	}
	name := func(i int) string {
		if i == 0 {
			return path
		}
		return fmt.Sprintf("%s.%d", path, i)
	}
	switch exists, regular := lstatRegular(name(managerLogKept)); {
	case exists && !regular:
		return
	case exists && os.Remove(name(managerLogKept)) != nil:
		return
	}
	// Each rename goes to a name the step before emptied.
	for i := managerLogKept; i > 0; i-- {
		switch exists, regular := lstatRegular(name(i - 1)); {
		case !exists:
			continue
		case !regular:
			return
		}
		if os.Rename(name(i-1), name(i)) != nil {
			return
		}
	}
}

// lstatRegular says whether something is at path and, if so, whether it
// is a regular file (a symbolic link is not followed).
func lstatRegular(path string) (exists, regular bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return !os.IsNotExist(err), false
	}
	return true, fi.Mode().IsRegular()
}
