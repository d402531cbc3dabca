package nginx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Header is the first line of every upstream file WriteFile writes. A file
// that does not start with it is not hellomgr's, and WriteFile leaves it
// alone.
const Header = "# Written by hellomgr: do not edit, it is rewritten at every rollout."

// CheckFile returns nil when path is absent or an upstream file hellomgr
// wrote: a regular file, not a symbolic link, whose first line is Header.
// Otherwise it says, in one line "<path>: <what>; <fix>", why WriteFile
// refuses to replace it. It changes nothing.
func CheckFile(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return nil // absent, or a folder that cannot be read: writing says why
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s: is a symbolic link, which hellomgr would replace with a plain file at every rollout; set nginx.upstream_file to the file it points to", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: is not a regular file, so not one hellomgr wrote; set nginx.upstream_file to another path", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("%s: cannot be read to tell whether hellomgr wrote it (%v); move it away, or set nginx.upstream_file to another path", path, errors.Unwrap(err))
	}
	defer f.Close()
	first := make([]byte, len(Header)+1)
	n, _ := io.ReadFull(f, first)
	if string(first[:n]) != Header+"\n" {
		return fmt.Errorf("%s: was not written by hellomgr (it does not start with \"# Written by hellomgr\"), and hellomgr replaces only its own upstream file; move it away (hellomgr writes a new one), or set nginx.upstream_file to another path", path)
	}
	return nil
}
