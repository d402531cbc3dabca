package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// managerLabel carries the manager's address in the instances' file_sd
// file, for the probe job to move into __address__. The __tmp prefix is the
// one Prometheus promises never to use itself, and like every label that
// starts with "__" it is dropped once relabelling is done.
const managerLabel = "__tmp_hellomgr_manager"

// targetGroup is one entry of a Prometheus file_sd file.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// FileSD returns a Prometheus file_sd file (JSON) with one target group per
// port: the target is the instance's own address, host:port, where host is
// the host of managerAddr, since the instances run on the manager's machine.
// Each group has the labels port ("8001"), managerLabel (managerAddr) and
// extraLabels.
//
// The same file serves two jobs: one scrapes each instance's own /metrics,
// the other scrapes the manager's /probe for each port, moving __address__
// into instance first, as blackbox_exporter's docs do. Both see a port as
// instance="127.0.0.1:8001", and tell their series apart by job. The
// manager's address comes from the file, not from the scrape config,
// because the manager may listen on a port picked at start (127.0.0.1:0).
// With ManagerFileSD for the manager's own /metrics:
//
//	scrape_configs:
//	  - job_name: hellomgr          # the manager: hellomgr_instances, rollouts
//	    file_sd_configs: [{files: [/srv/app/.hellomgr/sd/manager.json]}]
//	  - job_name: hellomgr_app      # each instance's own /metrics
//	    file_sd_configs: [{files: [/srv/app/.hellomgr/sd/instances.json]}]
//	  - job_name: hellomgr_probe    # the manager's view of each instance
//	    metrics_path: /probe
//	    file_sd_configs: [{files: [/srv/app/.hellomgr/sd/instances.json]}]
//	    relabel_configs:
//	      - source_labels: [__address__]
//	        target_label: instance
//	      - source_labels: [port]
//	        target_label: __param_port
//	      - source_labels: [__tmp_hellomgr_manager]
//	        target_label: __address__
//
// managerAddr is the address the manager's metrics server listens on, with
// its actual port; an unspecified host ("", 0.0.0.0, ::) stands for
// 127.0.0.1. Ports are sorted, so the same config gives the same bytes. The
// extra labels may not be job, instance, port or start with "__". Write the
// file to a temporary name and rename it into place: Prometheus rereads a
// file_sd file whenever it changes, and must not see half of one.
func FileSD(managerAddr string, ports []int, extraLabels map[string]string) ([]byte, error) {
	return FileSDAt(managerAddr, "", ports, extraLabels)
}

// FileSDAt is FileSD for instances that listen on host, the config's
// `address`, rather than on the manager's host: "" (or an unspecified
// address) keeps the manager's.
func FileSDAt(managerAddr, host string, ports []int, extraLabels map[string]string) ([]byte, error) {
	manager, managerHost, err := splitManager(managerAddr)
	if err != nil {
		return nil, err
	}
	if err := checkLabels(extraLabels); err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(host); err != nil || a.IsUnspecified() {
		host = managerHost
	}
	groups, err := portGroups(manager, host, ports, extraLabels)
	if err != nil {
		return nil, err
	}
	return marshal(groups)
}

// portGroups is one group per port: target host:port, labels port,
// managerLabel and extra.
func portGroups(manager, host string, ports []int, extra map[string]string) ([]targetGroup, error) {
	ports = slices.Sorted(slices.Values(ports))
	groups := make([]targetGroup, 0, len(ports))
	for i, port := range ports {
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("file_sd: port %d is not a number from 1 to 65535", port)
		}
		if i > 0 && ports[i-1] == port {
			return nil, fmt.Errorf("file_sd: port %d listed twice", port)
		}
		p := strconv.Itoa(port)
		labels := withLabels(extra, "port", p, managerLabel, manager)
		groups = append(groups, targetGroup{Targets: []string{net.JoinHostPort(host, p)}, Labels: labels})
	}
	return groups, nil
}

// ManagerFileSD returns a Prometheus file_sd file (JSON) whose one target is
// the manager's metrics server, for the job that scrapes its /metrics (see
// FileSD for the scrape config and managerAddr).
func ManagerFileSD(managerAddr string, extraLabels map[string]string) ([]byte, error) {
	manager, _, err := splitManager(managerAddr)
	if err != nil {
		return nil, err
	}
	if err := checkLabels(extraLabels); err != nil {
		return nil, err
	}
	return marshal([]targetGroup{{Targets: []string{manager}, Labels: withLabels(extraLabels)}})
}

// splitManager checks the manager's address and returns it as Prometheus
// should dial it, with the host the instances are on.
func splitManager(addr string) (manager, host string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("file_sd: manager address: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("file_sd: manager address %q: want the port it listens on, from 1 to 65535", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), host, nil
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// checkLabels rejects the extra labels Prometheus would refuse or that would
// break the scrape config: job would merge the app and probe jobs' series,
// instance and port would hide which port a series is of.
func checkLabels(labels map[string]string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		value := labels[name]
		switch {
		case !labelName.MatchString(name):
			errs = append(errs, fmt.Errorf("file_sd: label name %q is not a Prometheus label name", name))
		case strings.HasPrefix(name, "__") || name == "job" || name == "instance" || name == "port":
			errs = append(errs, fmt.Errorf("file_sd: label %q is reserved", name))
		case value == "" || !utf8.ValidString(value):
			errs = append(errs, fmt.Errorf("file_sd: label %s: value %q is empty or not UTF-8", name, value))
		}
	}
	return errors.Join(errs...)
}

// withLabels returns a copy of extra with the name, value pairs added.
func withLabels(extra map[string]string, pairs ...string) map[string]string {
	labels := make(map[string]string, len(extra)+len(pairs)/2)
	maps.Copy(labels, extra)
	for i := 0; i+1 < len(pairs); i += 2 {
		labels[pairs[i]] = pairs[i+1]
	}
	return labels
}

// marshal writes groups as indented JSON, the map keys sorted.
func marshal(groups []targetGroup) ([]byte, error) {
	b, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	return append(b, '\n'), nil
}
