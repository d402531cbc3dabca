package manager

// What crosses the exec of an upgrade: the state one program hands the
// next, and its one format check (upgrade.go says how an upgrade goes).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hellomgr/hellomgr/instance"
	"golang.org/x/sys/unix"
)

// StateFormat numbers the layout of UpgradeState. A binary that reads
// another refuses to take over.
const StateFormat = 1

// UpgradeState is what one manager program hands the next.
type UpgradeState struct {
	Format   int    `json:"format"`
	Config   string `json:"config"`          // the config file
	Version  string `json:"version"`         // of the program handing over
	Upgrades int    `json:"upgrades"`        // upgrades of this manager so far, this one included
	Error    string `json:"error,omitempty"` // set by RollBack: why the new program did not take over
	// ConfigText is the config file as the running config was loaded
	// from it: both programs run that config, whatever the file says by
	// the time they read it (an upgrade changes the program, a reload
	// the config).
	ConfigText []byte `json:"config_text,omitempty"`
	// ManagerPID is the manager's pid: the program that takes over must
	// be that process (execve keeps the pid), or its children are not its.
	ManagerPID int `json:"manager_pid,omitempty"`
	// ReloadAfter: a reload was asked for (SIGHUP) during the upgrade;
	// whichever program runs after it carries it out.
	ReloadAfter bool        `json:"reload_after,omitempty"`
	Console     bool        `json:"console"` // instances' lines echoed on stdout
	LockFD      int         `json:"lock_fd"`
	ControlFD   int         `json:"control_fd"`
	MetricsFD   int         `json:"metrics_fd"` // -1: metrics off
	ProgramFD   int         `json:"program_fd"` // the program handing over, for RollBack
	Ports       []PortState `json:"ports"`
}

// PortState is one port in an UpgradeState.
type PortState struct {
	Port       int                `json:"port"`
	ListenerFD int                `json:"listener_fd"` // -1: no socket held
	Reloads    uint64             `json:"reloads"`
	Held       bool               `json:"held,omitempty"`
	Instance   *instance.Handover `json:"instance,omitempty"` // nil: no process to hand over
	Rest       *instance.Rest     `json:"rest,omitempty"`     // without a process: its state and counts
}

// FDs are the descriptors the next program inherits.
func (s *UpgradeState) FDs() []int {
	fds := []int{s.LockFD, s.ControlFD, s.ProgramFD}
	if s.MetricsFD >= 0 {
		fds = append(fds, s.MetricsFD)
	}
	for _, p := range s.Ports {
		if p.ListenerFD >= 0 {
			fds = append(fds, p.ListenerFD)
		}
		if p.Instance != nil {
			fds = append(fds, p.Instance.FDs()...)
		}
	}
	return fds
}

// running counts the instances handed over with their process.
func (s *UpgradeState) running() int {
	n := 0
	for _, p := range s.Ports {
		if p.Instance != nil {
			n++
		}
	}
	return n
}

// UpgradeInfo is what `hellomgr upgrade-check` prints.
type UpgradeInfo struct {
	Program     string `json:"program"` // "hellomgr"
	Version     string `json:"version"`
	StateFormat int    `json:"state_format"`
	// PID is the process that answered: the one the manager started, or
	// the binary is a wrapper that runs hellomgr without exec, and would
	// not be the process that holds the instances.
	PID int `json:"pid,omitempty"`
}

// CheckUpgrade is `upgrade-check`: it reads the state a manager would
// hand over from r, if any, and says whether this binary can take it.
func CheckUpgrade(r io.Reader, version string) (UpgradeInfo, error) {
	info := UpgradeInfo{Program: "hellomgr", Version: version, StateFormat: StateFormat, PID: os.Getpid()}
	data, err := io.ReadAll(r)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return info, err
	}
	if _, err := decodeState(data); err != nil {
		return info, fmt.Errorf("read the state handed over: %w", err)
	}
	return info, nil
}

// ReadUpgradeState reads the state the previous program left on fd.
func ReadUpgradeState(fd int) (*UpgradeState, error) {
	data, err := io.ReadAll(io.NewSectionReader(fdReaderAt(fd), 0, 1<<30))
	var st *UpgradeState
	if err == nil {
		st, err = decodeState(data)
	}
	if err != nil {
		return nil, fmt.Errorf("read the state handed over on fd %d: %w", fd, err)
	}
	return st, nil
}

// decodeState is the one check of what was handed over: JSON, in the
// format this binary reads.
func decodeState(data []byte) (*UpgradeState, error) {
	var st UpgradeState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	if st.Format != StateFormat {
		return nil, fmt.Errorf("state format %d handed over, this binary reads %d", st.Format, StateFormat)
	}
	return &st, nil
}

type fdReaderAt int

func (fd fdReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(int(fd), p, off)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}
