package manager

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/metrics"
)

// targetsName is the Prometheus file_sd file the manager keeps beside the
// config. It is not in the state folder (.hellomgr/): that folder is 0700,
// for the control socket, and Prometheus runs as a user of its own.
const targetsName = "prometheus-targets.json"

// TargetsFile returns the path of the file_sd file that `hellomgr up` and
// `hellomgr reload` keep current for cfg: prometheus-targets.json in the
// config's folder, readable by everyone. The file stays when the manager
// stops, so that Prometheus reports its targets down, which they are.
func TargetsFile(cfg *config.Config) string {
	return filepath.Join(cfg.Dir, targetsName)
}

// Targets returns what the targets file holds for a manager whose
// metrics server listens on metricsAddr ("" when it serves none, or its
// address is not known yet), running instances on ports bound on host
// (the config's `address`): metrics.Targets, marshalled. The same state
// always gives the same bytes.
func Targets(metricsAddr, host string, ports []int) ([]byte, error) {
	groups, err := metrics.Targets(metricsAddr, host, ports)
	if err != nil {
		return nil, err
	}
	return metrics.MarshalTargets(groups)
}

// writeTargets keeps the Prometheus file_sd targets file beside the config
// current; called once every instance has started and after each reload.
// It lists the ports the manager runs, which are the config's once a
// reload has succeeded. Prometheus rereads the file when it changes, so it
// is written to a temporary name and renamed into place: Prometheus never
// reads half of one. A failure is logged and returned; the instances run
// on regardless.
func (m *Manager) writeTargets() error {
	var ports []int
	for _, st := range m.Instances() {
		ports = append(ports, st.Port)
	}
	path := TargetsFile(m.Config())
	err := writeTargetsFile(path, m.MetricsAddr(), m.InstanceAddress(), ports)
	if err != nil {
		m.log.Warn("Prometheus targets not updated", "file", path, "err", err)
	}
	return err
}

func writeTargetsFile(path, metricsAddr, host string, ports []int) error {
	data, err := Targets(metricsAddr, host, ports)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing left to remove
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	// CreateTemp makes the file 0600; Prometheus runs as another user.
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// InstanceAddress is the address the manager bound its ports on: the
// config's `address` as `up` read it, "" for every interface. It
// implements metrics.AddressSource, for /targets.
func (m *Manager) InstanceAddress() string {
	return m.Config().Address
}
