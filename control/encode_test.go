package control

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The status a manager sends is what json.Marshal would send, byte for
// byte, whatever its rows hold.
func TestReportAppendJSONIsJSONMarshal(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	reports := map[string]Report{
		"no instances (nil)": {PID: 1, Config: "/srv/config.yaml"},
		"no instances":       {PID: 1, Config: "/srv/config.yaml", Instances: []InstanceStatus{}},
		"every field": {PID: 4242, Version: "v1.2.3", Upgrades: 2, UpgradeErr: `exec "/bin/x": <no such file> & more`,
			Config: "/srv/hellomgr/config.yaml", MetricsAddr: "127.0.0.1:9400",
			Instances: []InstanceStatus{
				{Port: 8001, PID: 10001, State: "ready", Uptime: 3600.25, Restarts: 3,
					ByReason: map[string]uint64{"reload": 2, "crashed": 1, "killed": 0}, RSS: 12 << 20, CPU: 1.23,
					LastError: "exited: exit status 2\nTraceback: é \u2028 \xff", Reloads: 2, StartTime: start, LastExit: 2},
				{Port: 8002, State: "stopped", LastExit: -1},
				{Port: 8003, PID: 7, State: "starting", Uptime: 1e-7, CPU: 1e21, StartTime: start.UTC()},
				{Port: 8004, PID: 8, State: "backoff", Uptime: 123456789.5, CPU: 5e-324, ByReason: map[string]uint64{}},
			}},
	}
	// A field added to the types must be added to AppendJSON: the full
	// report sets every field, so the comparison below sees it missing.
	full := reports["every field"]
	for _, v := range []reflect.Value{reflect.ValueOf(full), reflect.ValueOf(full.Instances[0])} {
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Errorf("the full report leaves %s.%s zero: set it", v.Type().Name(), v.Type().Field(i).Name)
			}
		}
	}
	for name, r := range reports {
		checkLikeMarshal(t, name, r)
	}
	// And rows of random numbers and text.
	rng := rand.New(rand.NewPCG(1, 2))
	r := Report{PID: 1, Config: "c"}
	for i := range 500 {
		r.Instances = append(r.Instances, InstanceStatus{
			Port: i, PID: rng.IntN(1 << 22), State: randomText(rng), Uptime: randomFloat(rng), Restarts: rng.Uint64(),
			ByReason: map[string]uint64{randomText(rng): rng.Uint64(), randomText(rng): 1}, RSS: rng.Int64(),
			CPU: randomFloat(rng), LastError: randomText(rng), Reloads: rng.Uint64(),
			StartTime: time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)), LastExit: rng.IntN(512) - 256,
		})
	}
	checkLikeMarshal(t, "500 random rows", r)
}

func checkLikeMarshal(t *testing.T, name string, r Report) {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("%s: json.Marshal: %v", name, err)
	}
	if got := r.AppendJSON(nil); !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s: AppendJSON differs from json.Marshal at byte %d:\n got  …%s\n want …%s", name, i, tail(got, i), tail(want, i))
	}
}

func tail(b []byte, from int) string {
	from = max(0, from-20)
	return string(b[from:min(len(b), from+60)])
}

// randomFloat is a finite float64 of any size, sign and precision.
func randomFloat(rng *rand.Rand) float64 {
	for {
		if f := math.Float64frombits(rng.Uint64()); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
}

// randomText is up to 12 bytes, mostly printable, some of them anything.
func randomText(rng *rand.Rand) string {
	b := make([]byte, rng.IntN(13))
	for i := range b {
		b[i] = byte(' ' + rng.IntN(95))
		if rng.IntN(8) == 0 {
			b[i] = byte(rng.IntN(256))
		}
	}
	return string(b)
}

// BenchmarkReportJSON256 is the encoding of `hellomgr status` with 256
// instances: AppendJSON, and json.Marshal's reflection for comparison.
func BenchmarkReportJSON256(b *testing.B) {
	r := Report{PID: 4242, Config: "/srv/hellomgr/config.yaml", MetricsAddr: "127.0.0.1:9400"}
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 256 {
		r.Instances = append(r.Instances, InstanceStatus{
			Port: 8001 + i, PID: 10000 + i, State: "ready", Uptime: 3600.25, Restarts: 2,
			ByReason: map[string]uint64{"reload": 2}, RSS: 12 << 20, CPU: 1.23, Reloads: 2,
			StartTime: start, LastExit: -1,
		})
	}
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 64<<10)
		for b.Loop() {
			buf = r.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(r)
		}
	})
}
