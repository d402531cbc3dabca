package metrics

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/proc"
	"github.com/prometheus/common/expfmt"
)

// TestProbeExpositionMatchesTheRegistry checks that the hand-written
// exposition of /probe is, byte for byte, what promhttp writes for the
// same instance through probeRegistry (the form the lint test checks).
func TestProbeExpositionMatchesTheRegistry(t *testing.T) {
	denied := func(int) (proc.Stats, error) { return proc.Stats{}, os.ErrPermission }
	two := twoInstances().snap.Instances
	for _, tc := range []struct {
		name string
		inst Instance
		read readFunc
	}{
		{"ready", two[0], fakeRead},
		{"backoff, no process", two[1], fakeRead},
		{"unreadable process", Instance{Port: 8001, PID: 1, State: "ready"}, denied},
		{"process gone", Instance{Port: 8001, PID: fakePID + 1, State: "ready", StartTime: fakeStart}, fakeRead},
		{"odd labels", Instance{Port: 8001, State: "", Command: "a\"b\\c\nd", LastExitCode: -1,
			Restarts: map[string]uint64{"": 1, "unknown": 2, "bad\xff": 3, "zz": 0}}, fakeRead},
		{"state before and after every known one", Instance{Port: 8001, State: "aaa"}, fakeRead},
		{"state after every known one", Instance{Port: 8001, State: "zzz", PID: fakePID}, fakeRead},
		{"odd numbers", Instance{Port: 8001, LastExitCode: 255, StartTime: time.Unix(1, 5e8)}, fakeRead},
	} {
		p, _ := readProcess(tc.inst, tc.read)
		var e exposition
		writeInstance(&e, tc.inst, p)

		mfs, _ := probeRegistry(tc.inst, tc.read).Gather() // errors are the unreadable process's
		var want bytes.Buffer
		enc := expfmt.NewEncoder(&want, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(e.b); got != want.String() {
			t.Errorf("%s: hand-written exposition:\n%s\nwant, as promhttp writes it:\n%s", tc.name, got, want.String())
		}
	}
}

func TestProbeContentType(t *testing.T) {
	h := newHandler(twoInstances(), fakeRead)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, probeURL(8001), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(rec, req)
	ct := rec.Header().Get("Content-Type")
	if rec.Code != http.StatusOK || ct != "text/plain; version=0.0.4; charset=utf-8" || rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("GET %s: %d, Content-Type %q, Content-Encoding %q; want 200, the text format, not compressed",
			probeURL(8001), rec.Code, ct, rec.Header().Get("Content-Encoding"))
	}
	if !strings.HasSuffix(rec.Body.String(), "process_threads 7\n") {
		t.Errorf("GET %s: body ends %q", probeURL(8001), rec.Body.String()[max(0, rec.Body.Len()-40):])
	}
}

// portSource counts whole snapshots, to check that /probe does not take
// one when it can ask for one port.
type portSource struct {
	fakeSource
	whole int
}

func (s *portSource) Snapshot() Snapshot { s.whole++; return s.snap }

func (s *portSource) SnapshotPort(port int) (Instance, bool) { return find(s.snap, port) }

func TestProbeAsksForOnePort(t *testing.T) {
	src := &portSource{fakeSource: twoInstances()}
	h := newHandler(src, fakeRead)
	for _, port := range []int{8001, 8002} {
		if code, body := get(t, h, probeURL(port)); code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", probeURL(port), code, body)
		}
	}
	if code, _ := get(t, h, probeURL(8003)); code != http.StatusBadRequest {
		t.Errorf("GET %s: got %d, want 400", probeURL(8003), code)
	}
	if src.whole != 0 {
		t.Errorf("%d whole snapshots taken for 3 probes, want none", src.whole)
	}
}
