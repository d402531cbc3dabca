package metrics

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
)

// TargetGroup is one group of Prometheus targets. A list of them, as JSON,
// is what both file_sd_configs and http_sd_configs read.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// managerLabel carries the manager's address in each port's group, for the
// probe job to move into __address__. The __tmp prefix is the one
// Prometheus promises never to use itself, and like every label that
// starts with "__" it is dropped once relabelling is done.
const managerLabel = "__tmp_hellomgr_manager"

// hostLabel names the machine in every group /targets serves, so that a
// Prometheus that discovers several managers can tell their series apart
// by machine as well as by instance.
const hostLabel = "host"

// Targets returns the target groups of a manager whose metrics server
// Prometheus reaches at managerAddr, running instances on ports:
//
//   - one group whose target is the manager itself, with no labels: the
//     job that scrapes its /metrics keeps the group without a port label;
//   - one group per port, in the order of the ports: the instance's
//     address, with the labels port and __tmp_hellomgr_manager, for the
//     job that scrapes each app's /metrics and for the job that scrapes
//     the manager's /probe?port=N, moving __address__ into instance first,
//     as blackbox_exporter's docs do (deploy/prometheus.yml has all three
//     jobs). The manager's address comes from the groups, not from the
//     scrape config, because the manager may listen on a port picked at
//     start (127.0.0.1:0).
//
// An unspecified host in managerAddr (0.0.0.0, ::, none) stands for
// 127.0.0.1. The instances' target is host:port, where host is the
// config's `address`; "" or an unspecified address (every interface)
// keeps the manager's host. managerAddr "" (metrics off, or not known yet)
// gives the port groups alone, on 127.0.0.1 by default and without
// __tmp_hellomgr_manager: the apps are still scraped, the manager and the
// probes are not. A port out of range or listed twice is an error.
func Targets(managerAddr, host string, ports []int) ([]TargetGroup, error) {
	manager, host, err := targetHosts(managerAddr, host)
	if err != nil {
		return nil, err
	}
	return targetGroups(manager, host, ports, nil)
}

// MarshalTargets returns groups as the JSON Prometheus reads, indented,
// with the labels sorted by name: the same groups always give the same
// bytes. Write it to a file under a temporary name and rename it into
// place: Prometheus rereads a file_sd file whenever it changes, and must
// not see half of one.
func MarshalTargets(groups []TargetGroup) ([]byte, error) {
	b, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	return append(b, '\n'), nil
}

// targetHosts returns the manager's address as Prometheus should dial it
// ("" for none) and the host of the instances' targets.
func targetHosts(managerAddr, host string) (manager, instances string, err error) {
	managerHost := "127.0.0.1"
	if managerAddr != "" {
		if manager, managerHost, err = splitManager(managerAddr); err != nil {
			return "", "", err
		}
	}
	if a, err := netip.ParseAddr(host); err != nil || a.IsUnspecified() {
		host = managerHost
	}
	return manager, host, nil
}

// targetGroups is the manager's group, unless manager is "", then one
// group per port, each with the labels common.
func targetGroups(manager, host string, ports []int, common map[string]string) ([]TargetGroup, error) {
	ports = slices.Sorted(slices.Values(ports))
	groups := make([]TargetGroup, 0, len(ports)+1)
	if manager != "" {
		groups = append(groups, TargetGroup{Targets: []string{manager}, Labels: withLabels(common)})
	}
	for i, port := range ports {
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("file_sd: port %d is not a number from 1 to 65535", port)
		}
		if i > 0 && ports[i-1] == port {
			return nil, fmt.Errorf("file_sd: port %d listed twice", port)
		}
		p := strconv.Itoa(port)
		labels := withLabels(common)
		labels["port"] = p
		if manager != "" {
			labels[managerLabel] = manager
		}
		groups = append(groups, TargetGroup{Targets: []string{net.JoinHostPort(host, p)}, Labels: labels})
	}
	return groups, nil
}

// withLabels returns a copy of common with room for a group's own labels;
// never nil, so that a group without labels is written {}, not null.
func withLabels(common map[string]string) map[string]string {
	labels := make(map[string]string, len(common)+2)
	maps.Copy(labels, common)
	return labels
}

// splitManager checks the manager's address and returns it as Prometheus
// should dial it, with its host.
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

// AddressSource is a Source that also says where the instances listen.
// /targets uses it when the Source offers it; without it, the instances
// are taken to listen on every interface.
type AddressSource interface {
	Source
	// InstanceAddress is the IP address the instances' ports are bound
	// on (the config's `address`), "" for every interface.
	InstanceAddress() string
}

// targetsHandler serves GET /targets: the manager's targets in the format
// of Prometheus' HTTP service discovery (http_sd_configs), so that one
// Prometheus finds every instance of every machine with one URL per
// machine, and follows ports added and removed by reloads.
type targetsHandler struct{ src Source }

func (h targetsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := ""
	if as, ok := h.src.(AddressSource); ok {
		host = as.InstanceAddress()
	}
	var ports []int
	for _, in := range h.src.Snapshot().Instances {
		ports = append(ports, in.Port)
	}
	body, err := httpTargets(requestAddr(r), host, ports)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// httpTargets is what GET /targets answers for a manager reached at
// managerAddr: the groups of Targets, each with the label host, the
// address the instances are reached at.
//
// The manager's own target is the address the request reached it at, so
// that a manager listening on every interface (metrics.address
// 0.0.0.0:9100) is named by the address Prometheus dialed, not by one it
// could not. The instances are on their bind address host or, when they
// listen on every interface, on that same host.
func httpTargets(managerAddr, host string, ports []int) ([]byte, error) {
	manager, host, err := targetHosts(managerAddr, host)
	if err != nil {
		return nil, err
	}
	groups, err := targetGroups(manager, host, ports, map[string]string{hostLabel: host})
	if err != nil {
		return nil, err
	}
	return MarshalTargets(groups)
}

// requestAddr is the host:port the client reached the server at: the Host
// header, as Prometheus sends the URL's host and port, else the local
// address of the connection.
func requestAddr(r *http.Request) string {
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		return r.Host
	}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return local.String()
	}
	return r.Host
}
