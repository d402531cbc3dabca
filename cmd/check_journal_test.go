package cmd

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check makes the journal check up makes: with logs.to: journal and no
// journal to connect to, check fails with the reason up would refuse to
// start for (it said ok), and with a journal it passes.
func TestCheckTriesTheJournalAsUpDoes(t *testing.T) {
	dir, err := os.MkdirTemp("", "jr")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "socket")
	t.Setenv("HELLOMGR_JOURNAL_SOCKET", socket)
	e := newEnv(t, 1, "logs:\n  to: journal\n")

	_, upErr, upCode := e.run("up", "-d")
	out, errOut, code := e.run("check")
	want := "logs.to: journal: connect to the journal: dial unixgram " + socket
	if upCode == 0 || !strings.Contains(upErr, want) {
		t.Fatalf("up without a journal: exit %d, stderr %q; want a refusal with %q", upCode, upErr, want)
	}
	if code != 1 || !strings.Contains(errOut, e.configPath()+": "+want) || !strings.Contains(errOut, "hellomgr up would refuse to start") {
		t.Errorf("check without a journal: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, want)
	}

	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if out, errOut, code := e.run("check"); code != 0 {
		t.Errorf("check with a journal: exit %d, stdout %q, stderr %q; want 0", code, out, errOut)
	}
}
