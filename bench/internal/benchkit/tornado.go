package benchkit

import (
	"os"
	"path/filepath"
)

// TornadoPackage is the folder that holds the hellomgr_tornado package of
// the repository at root: what PYTHONPATH names for an app that imports it
// without installing it.
func TornadoPackage(root string) string {
	return filepath.Join(root, "python", "hellomgr_tornado")
}

// CopyTornadoPackage copies the hellomgr_tornado package of the repository
// at root into dir (dir/hellomgr_tornado/), beside an app that imports it.
func CopyTornadoPackage(root, dir string) error {
	src := filepath.Join(TornadoPackage(root), "hellomgr_tornado")
	files, err := filepath.Glob(filepath.Join(src, "*.py"))
	if err != nil {
		return err
	}
	dst := filepath.Join(dir, "hellomgr_tornado")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
