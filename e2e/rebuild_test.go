package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hellomgr/hellomgr/internal/testnet"
)

// With no command in the config, each instance runs `<hellomgr binary>
// serve`, and the binary is found again at every start: a binary rebuilt at
// the same path is what a reload runs (re-executing /proc/self/exe would
// run the old one).
func TestReloadRunsTheBinaryRebuiltAtTheSamePath(t *testing.T) {
	d := newDeployment(t)
	ports := testnet.FreePorts(t, 2)
	bin := filepath.Join(d.dir, "hellomgr")
	data, err := os.ReadFile(hellomgrBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	d.bin = bin
	d.write("config.yaml", fmt.Sprintf("ports: %s\nmetrics:\n  address: 127.0.0.1:0\n", portsYAML(ports)))
	d.mustRun("up", "-d")
	before := d.pids()
	for _, p := range ports {
		if body, err := testnet.Get(p); err != nil || body != "Hello Itcast!" {
			t.Fatalf("port %d: %q, %v; want Hello Itcast!", p, body, err)
		}
	}
	// "Rebuild": a new file renamed over the old one, as go build and
	// package managers do. It runs the real binary with another message.
	next := filepath.Join(d.dir, "hellomgr.new")
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = serve ] && exec %[1]s \"$@\" --message rebuilt\nexec %[1]s \"$@\"\n", hellomgrBin)
	if err := os.WriteFile(next, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, bin); err != nil {
		t.Fatal(err)
	}
	d.mustRun("reload")
	checkReplaced(t, before, d.pids())
	for _, p := range ports {
		if body, err := testnet.Get(p); err != nil || body != "rebuilt" {
			t.Errorf("port %d after the reload: %q, %v; want the rebuilt binary's answer", p, body, err)
		}
	}
}
