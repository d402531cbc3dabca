package manager

import (
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/metrics"
)

// TestSnapshotPortMatchesSnapshot checks that /probe's lookup of one port
// says what the whole snapshot says of it, and nothing of a port not
// configured.
func TestSnapshotPortMatchesSnapshot(t *testing.T) {
	cfg, err := config.Parse("/nonexistent/config.yaml", []byte(
		"ports: [1, 2, 3]\ncommand: [/bin/false]\nmetrics:\n  address: \"off\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg, Options{})
	for _, port := range []int{1, 2, 3} {
		s := &slot{port: port}
		s.inst = instance.New(m.spec(cfg, s), nil)
		m.addSlot(s)
	}
	snap := m.Snapshot()
	if len(snap.Instances) != 3 {
		t.Fatalf("snapshot of 3 ports: %d instances", len(snap.Instances))
	}
	for _, want := range snap.Instances {
		got, ok := m.SnapshotPort(want.Port)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("port %d: SnapshotPort %+v, %v; Snapshot says %+v", want.Port, got, ok, want)
		}
	}
	if got, ok := m.SnapshotPort(4); ok {
		t.Errorf("port 4 (not configured): got %+v", got)
	}
	// /metrics counts states without a snapshot: the same counts.
	var counts, fromSnap metrics.StateCounts
	m.CountStates(&counts)
	for _, in := range snap.Instances {
		fromSnap.Add(in.State)
	}
	if !reflect.DeepEqual(counts, fromSnap) {
		t.Errorf("CountStates %+v, from Snapshot %+v", counts, fromSnap)
	}
}

// A status reads /proc for every row with a process, however the rows
// are shared out among readers, and leaves the rows without one alone.
func TestReadUsageFillsEveryRowWithAProcess(t *testing.T) {
	for _, n := range []int{1, rowsPerReader, 5*rowsPerReader + 3} {
		started := time.Now().Add(-time.Minute)
		rows := make([]control.InstanceStatus, n)
		for i := range rows {
			rows[i] = control.InstanceStatus{Port: 8000 + i}
			if i%7 != 3 { // every seventh port has no process
				rows[i].PID, rows[i].StartTime = os.Getpid(), started
			}
		}
		readUsage(rows, time.Now())
		for _, r := range rows {
			if r.PID == 0 && (r.RSS != 0 || r.Uptime != 0) {
				t.Errorf("%d rows: port %d has no process but RSS %d, uptime %.0fs", n, r.Port, r.RSS, r.Uptime)
			}
			if r.PID != 0 && (r.RSS == 0 || r.Uptime < 60) {
				t.Errorf("%d rows: port %d (pid %d): RSS %d, uptime %.0fs; want this process's RSS and a minute", n, r.Port, r.PID, r.RSS, r.Uptime)
			}
		}
	}
}
