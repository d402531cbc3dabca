package manager

// The log of a manager started in the background (`up -d`).

import (
	"fmt"
	"os"
	"path/filepath"
)

// BackgroundLog is the file that the manager started by `up -d` writes
// its output to, in the state folder.
func BackgroundLog(stateDir string) string { return filepath.Join(stateDir, "hellomgr.log") }

// OpenBackgroundLog creates the state folder if it is missing and opens
// BackgroundLog for appending. It refuses a state folder or a file that
// lockPID would refuse (see CheckPaths).
func OpenBackgroundLog(stateDir string) (*os.File, error) {
	if err := makeFolder(stateDir, stateFolder, 0o700); err != nil {
		return nil, err
	}
	f, err := openOwned(stateFolder, BackgroundLog(stateDir), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open manager log: %w", err)
	}
	return f, nil
}
