package metrics

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
)

// AddressSource is a Source that also says where the instances listen.
// /targets uses it when the Source offers it; without it, the instances
// are taken to listen on every interface.
type AddressSource interface {
	Source
	// InstanceAddress is the IP address the instances' ports are bound
	// on (the config's `address`), "" for every interface.
	InstanceAddress() string
}

// hostLabel names the machine in every group /targets serves, so that a
// Prometheus that discovers several managers can tell their series apart
// by machine as well as by instance.
const hostLabel = "host"

// targetsHandler serves GET /targets: the manager's targets in the format
// of Prometheus' HTTP service discovery (http_sd_configs), so that one
// Prometheus finds every instance of every machine with one URL per
// machine, and follows ports added and removed by reloads.
//
// The manager's own target is the address the request reached it at: the
// Host header, as Prometheus sends the URL's host and port (else the local
// address of the connection). A manager listening on every interface
// (metrics.address 0.0.0.0:9100) is thus named by the address Prometheus
// dialed, not by one it could not. The instances are on the config's
// address, or, when they listen on every interface, on that same host.
type targetsHandler struct{ src Source }

func (h targetsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	manager := requestAddr(r)
	host := ""
	if as, ok := h.src.(AddressSource); ok {
		host = as.InstanceAddress()
	}
	var ports []int
	for _, in := range h.src.Snapshot().Instances {
		ports = append(ports, in.Port)
	}
	body, err := HTTPSD(manager, host, ports)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// requestAddr is the host:port the client reached the server at.
func requestAddr(r *http.Request) string {
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		return r.Host
	}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return local.String()
	}
	return r.Host
}

// HTTPSD returns the targets of a manager reached at managerAddr, running
// instances on ports, in the format of Prometheus' HTTP service discovery
// (a JSON array of {targets, labels}, as file_sd): the groups of
// ManagerFileSD and FileSDAt, each with the label host, the address the
// instances are reached at. host is the instances' bind address; "" or an
// unspecified address stands for the host of managerAddr, since the
// instances then listen on every interface, that one included.
func HTTPSD(managerAddr, host string, ports []int) ([]byte, error) {
	manager, managerHost, err := splitManager(managerAddr)
	if err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(host); err != nil || a.IsUnspecified() {
		host = managerHost
	}
	labels := map[string]string{hostLabel: host}
	groups, err := portGroups(manager, host, ports, labels)
	if err != nil {
		return nil, err
	}
	return marshal(append([]targetGroup{{Targets: []string{manager}, Labels: withLabels(labels)}}, groups...))
}
