package manager

import (
	"encoding/json"
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

// Targets returns the file_sd JSON for a manager whose metrics server
// listens on metricsAddr, running instances on ports:
//
//   - one group whose target is the manager itself, with no labels: the
//     job that scrapes its /metrics keeps the group without a port label;
//   - one group per port, from metrics.FileSD: the instance's address with
//     the labels port and __tmp_hellomgr_manager, for the job that scrapes
//     each app's /metrics and for the job that scrapes the manager's
//     /probe?port=N (deploy/prometheus.yml has both).
//
// The instances' target is host:port, where host is the config's
// `address`; "" (every interface) keeps the manager's host, or 127.0.0.1.
// metricsAddr "" (metrics off, or not known yet) gives the port groups
// alone, without __tmp_hellomgr_manager: the apps are still scraped, the
// manager and the probes are not. Ports are sorted, so the same state
// always gives the same bytes.
func Targets(metricsAddr, host string, ports []int) ([]byte, error) {
	if metricsAddr == "" {
		return appTargets(host, ports)
	}
	manager, err := metrics.ManagerFileSD(metricsAddr, nil)
	if err != nil {
		return nil, err
	}
	instances, err := metrics.FileSDAt(metricsAddr, host, ports, nil)
	if err != nil {
		return nil, err
	}
	var groups, more []json.RawMessage
	if err := json.Unmarshal(manager, &groups); err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	if err := json.Unmarshal(instances, &more); err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	return indent(append(groups, more...))
}

// managerLabel is the label metrics.FileSD gives each port's group, which
// the probe job turns into the address it scrapes.
const managerLabel = "__tmp_hellomgr_manager"

// appTargets is the file_sd JSON of the ports alone, for a manager that
// serves no metrics: FileSD's groups without the manager's label. The
// placeholder address only sets the host when host is "", which is the
// loopback address FileSD also uses for a manager listening on every
// interface.
func appTargets(host string, ports []int) ([]byte, error) {
	b, err := metrics.FileSDAt("127.0.0.1:1", host, ports, nil)
	if err != nil {
		return nil, err
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	for _, g := range groups {
		delete(g.Labels, managerLabel)
	}
	return indent(groups)
}

func indent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	return append(b, '\n'), nil
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
