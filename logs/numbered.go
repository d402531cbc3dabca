package logs

import (
	"fmt"
	"os"
)

// RotateNumbered rotates the file at path, written by one process at a
// time and rotated between two (the background manager's own log), if
// it is a regular file larger than max bytes: it becomes path.1, the one
// before path.2, and so on; the oldest beyond kept is deleted. It renames
// and deletes only regular files: anything else at one of the names (a
// symbolic link, a folder) stops the rotation there and is left as it
// is. It is best effort: a file that cannot be rotated goes on growing.
func RotateNumbered(path string, max int64, kept int) {
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() <= max {
		return
	}
	name := func(i int) string {
		if i == 0 {
			return path
		}
		return fmt.Sprintf("%s.%d", path, i)
	}
	switch exists, regular := lstatRegular(name(kept)); {
	case exists && !regular:
		return
	case exists && os.Remove(name(kept)) != nil:
		return
	}
	// Each rename goes to a name the step before emptied.
	for i := kept; i > 0; i-- {
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
