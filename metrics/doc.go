// Package metrics turns a snapshot of hellomgr's state into Prometheus
// metrics. It does not know the manager: the manager implements Source, and
// every scrape asks it for a fresh Snapshot, so no metric is ever out of step
// with the state it describes.
//
// Handler serves three endpoints, in the way of prometheus/blackbox_exporter:
//
//   - /metrics: the manager itself (its Go runtime and process, instance
//     counts by state, rollouts);
//   - /probe?port=N: one instance, as a separate Prometheus target;
//   - /targets: the targets of both, for Prometheus' http_sd_configs.
//
// The first two are written by hand in the text format, as promhttp would
// write client_golang collectors of the same series, without their
// per-scrape allocations: the tests hold them to such collectors
// (collectors_test.go).
//
// Targets lists the targets, which the manager also writes to a file for
// file_sd_configs; deploy/prometheus.yml is the scrape config that goes
// with them.
package metrics
