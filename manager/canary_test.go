package manager

import (
	"strconv"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/reqlog"
)

// nginxLine feeds counts one request nginx passed to port.
func nginxLine(t *testing.T, c *reqlog.Counts, port, status int, secs string) {
	t.Helper()
	var req reqlog.Request
	dgram := "<190>Dec  8 01:02:03 hellomgr: hm1\t1\t1\t127.0.0.1:" + strconv.Itoa(port) + "\t" + strconv.Itoa(status) + "\t" + secs + "\tGET"
	if err := reqlog.Parse([]byte(dgram), &req); err != nil {
		t.Fatal(err)
	}
	c.Add(&req)
}

// watch is a canary watch of canary 8001 against old 8002 and 8003, as it
// began, with nothing counted yet.
func watch() *canaryWatch {
	w := &canaryWatch{canaries: []int{8001}, old: []int{8002, 8003}, counts: reqlog.NewCounts(),
		nginx0: map[int]reqlog.Tally{}, now: map[int]reqlog.Tally{},
		app0: map[int]appCount{}, app: map[int]appCount{}, asked: map[int]float64{}}
	return w
}

func (w *canaryWatch) settle() {
	for _, p := range w.ports() {
		w.now[p] = w.counts.Tally(p)
	}
}

func TestCanaryVerdict(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, w *canaryWatch)
		want  string // a part of the evidence; "" for none
	}{
		{"a larger share of 5xx in nginx's record", func(t *testing.T, w *canaryWatch) {
			for i := range 40 {
				nginxLine(t, w.counts, 8001, map[bool]int{true: 500, false: 200}[i%4 == 0], "0.002")
				nginxLine(t, w.counts, 8002, 200, "0.002")
			}
		}, "8001: answered 5xx to 25.0% of 40 requests (nginx's record); the ports on the old code to 0.0% of 40"},
		{"the same share as the old code", func(t *testing.T, w *canaryWatch) {
			for i := range 40 {
				code := map[bool]int{true: 502, false: 200}[i%10 == 0]
				nginxLine(t, w.counts, 8001, code, "0.002")
				nginxLine(t, w.counts, 8002, code, "0.002")
			}
		}, ""},
		{"much slower than the old code", func(t *testing.T, w *canaryWatch) {
			for range 40 {
				nginxLine(t, w.counts, 8001, 200, "0.400")
				nginxLine(t, w.counts, 8003, 200, "0.004")
			}
		}, "8001: slower than the old code: p90"},
		{"idle: nothing from nginx, and only the manager's own reads of /metrics", func(t *testing.T, w *canaryWatch) {
			w.app0[8001] = appCount{ok: true, total: 10}
			w.app[8001] = appCount{ok: true, total: 15} // 5 reads of the manager's, each counted GET 200
			w.asked[8001] = 5
		}, "8001: received no requests during the watch"},
		{"the app's own 5xx, the manager's reads taken out", func(t *testing.T, w *canaryWatch) {
			w.app0[8001] = appCount{ok: true}
			w.app[8001] = appCount{ok: true, total: 25, errors: 5} // 20 of others', 5 reads
			w.asked[8001] = 5
			w.app0[8002] = appCount{ok: true}
			w.app[8002] = appCount{ok: true, total: 41}
			w.asked[8002] = 1
		}, "8001: answered 5xx to 25.0% of 20 requests (the app's own http_requests_total); the ports on the old code to 0.0% of 40"},
	}
	for _, c := range cases {
		w := watch()
		c.setup(t, w)
		w.settle()
		got := strings.Join(w.verdict(), "; ")
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: evidence %q, want %q", c.name, got, c.want)
		}
	}
}

// --allow-idle lets an idle canary pass.
func TestCanaryIdleAllowed(t *testing.T) {
	w := watch()
	w.allowIdle = true
	w.settle()
	if ev := w.verdict(); len(ev) != 0 {
		t.Errorf("an idle canary with --allow-idle: evidence %q, want none", ev)
	}
}
