// Package metrics turns a snapshot of hellomgr's state into Prometheus
// metrics. It does not know the manager: the manager implements Source, and
// every scrape asks it for a fresh Snapshot, so no metric is ever out of step
// with the state it describes.
//
// Handler serves two endpoints, in the way of prometheus/blackbox_exporter:
//
//   - /metrics: the manager itself (its Go runtime and process, instance
//     counts by state, rollouts);
//   - /probe?port=N: one instance, as a separate Prometheus target.
//
// Both are written by hand in the text format, as promhttp would write the
// collectors of this package (managerRegistry, probeRegistry), which the
// tests check, without their per-scrape allocations.
//
// FileSD and ManagerFileSD return the file_sd files that point Prometheus at
// both; the scrape config that goes with them is in FileSD's comment.
package metrics
