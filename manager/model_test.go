package manager

// The manager's state machine, tested the way supervisors are tested with
// QuickCheck or PropEr state-machine models: random sequences of events
// (crashes before and after ready, exits, hangs, spawn failures, stop,
// start and restart of ports, reloads with and without a canary and with
// a failing new build, unhealthy reports, two operations at once) against
// fake processes, with the invariants checked after every step. A failing
// sequence prints its seed and the events; the same seed replays it:
//
//	HELLOMGR_MODEL_SEED=1234 go test -run TestGeneratedSequences ./manager/
//
// HELLOMGR_MODEL_RUNS sets how many sequences run (default 150 in
// `make test`; a long run prints its progress every 500), and
// HELLOMGR_MODEL_LOG=1 shows the manager's own log.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/internal/bugs"
	"github.com/hellomgr/hellomgr/internal/fakeproc"
)

func TestGeneratedSequences(t *testing.T) {
	runs, seed := 150, uint64(time.Now().UnixNano())
	if s := os.Getenv("HELLOMGR_MODEL_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	replay := os.Getenv("HELLOMGR_MODEL_SEED")
	if replay != "" {
		seed, _ = strconv.ParseUint(replay, 10, 64)
		runs = 1
	}
	start := time.Now()
	steps := 0
	for n := range runs {
		s := newSequence(t, seed+uint64(n))
		steps += s.run()
		if (n+1)%500 == 0 {
			fmt.Fprintf(os.Stderr, "%d of %d sequences, %d steps, 0 invariant violations, %s\n", n+1, runs, steps, time.Since(start).Round(time.Second))
		}
		if t.Failed() {
			t.Fatalf("sequence with seed %d failed; replay: HELLOMGR_MODEL_SEED=%d go test -run TestGeneratedSequences ./manager/\nevents:\n  %s\nthe manager's errors:\n%s",
				s.seed, s.seed, strings.Join(s.events, "\n  "), s.errs.String())
		}
	}
	t.Logf("%d sequences, %d steps, 0 invariant violations, in %s (seeds %d to %d)", runs, steps, time.Since(start).Round(time.Millisecond), seed, seed+uint64(runs)-1)
}

// sequence is one generated run: a manager of fake instances, what the
// model expects of it, and the events so far.
type sequence struct {
	t      *testing.T
	seed   uint64
	rnd    *rand.Rand
	r      *rig
	mu     sync.Mutex   // guards held and ver: two operations at once change them
	held   map[int]bool // ports stopped for maintenance, as the model knows them
	events []string
	errs   lockedBuffer // the manager's errors
	bugs   uint64       // bugs.Count() at the start
	ver    int          // the config's version
}

// modelSwaps are the swaps a sequence runs under, with fast timings.
var modelSwaps = []string{
	"reload: {handoff: socket}\nready: {notify: true, timeout: 100ms}\n",
	"reload: {handoff: none}\nready: {tcp: true, timeout: 100ms, interval: 5ms}\n",
}

func newSequence(t *testing.T, seed uint64) *sequence {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	swap := modelSwaps[rnd.IntN(len(modelSwaps))]
	swap += fmt.Sprintf("restart: {backoff: 10ms, max_backoff: 20ms, max_tries: %d, reset_after: 1s}\n", []int{0, 2, 3}[rnd.IntN(3)])
	s := &sequence{t: t, seed: seed, rnd: rnd, held: map[int]bool{}, bugs: bugs.Count(), ver: 1}
	s.r = newQuietRig(t, swap, 1+rnd.IntN(3), &s.errs)
	return s
}

// newQuietRig is newRig with stop.timeout short enough for processes
// that ignore the stop signal, and the manager's log discarded.
func newQuietRig(t *testing.T, swap string, n int, errs *lockedBuffer) *rig {
	r := &rig{t: t, fake: fakeproc.New(), path: shortDir(t) + "/config.yaml", ports: freePorts(t, n), swap: swap, stop: "50ms"}
	r.fake.Default(fakeproc.Plan{Ready: true})
	r.write("v1")
	cfg, err := config.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	// The manager's errors (a bug reported with its stack) are kept, to
	// print with a failed sequence; its whole log on demand.
	opts := Options{Log: slog.New(slog.NewTextHandler(errs, &slog.HandlerOptions{Level: slog.LevelError}))}
	if os.Getenv("HELLOMGR_MODEL_LOG") != "" { // the manager's own log, to follow a replay
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r.m = New(cfg, opts)
	r.m.launch = r.fake.Launch
	if err := r.m.Prepare(); err != nil {
		t.Fatal(err)
	}
	r.m.StartAll(context.Background()) // a failed start is retried: part of the model
	return r
}

// run draws 5 to 25 events, checks the invariants after each, then shuts
// the manager down and checks that nothing runs. It returns the steps.
func (s *sequence) run() int {
	n := 5 + s.rnd.IntN(21)
	for range n {
		begun := time.Now()
		s.step()
		stepped := time.Since(begun)
		ok := s.check()
		if os.Getenv("HELLOMGR_MODEL_SLOW") != "" && time.Since(begun) > 300*time.Millisecond {
			fmt.Fprintf(os.Stderr, "slow: %s: event %s, check %s\n", s.events[len(s.events)-1], stepped.Round(time.Millisecond), (time.Since(begun) - stepped).Round(time.Millisecond))
		}
		if !ok {
			break
		}
	}
	s.shutdown()
	return n
}

// step draws one event and carries it out.
func (s *sequence) step() {
	ev := events[s.rnd.IntN(len(events))]
	port := s.r.ports[s.rnd.IntN(len(s.r.ports))]
	s.events = append(s.events, ev.name+" "+strconv.Itoa(port))
	ev.do(s, port)
}

type event struct {
	name string
	do   func(s *sequence, port int)
}

var events = []event{
	{"crash", func(s *sequence, p int) { s.withProcess(p, func(f *fakeproc.Process) { f.Exit(1) }) }},
	{"exit-0", func(s *sequence, p int) { s.withProcess(p, func(f *fakeproc.Process) { f.Exit(0) }) }},
	{"kill-9", func(s *sequence, p int) { s.withProcess(p, (*fakeproc.Process).Kill) }},
	{"next-never-ready", func(s *sequence, _ int) { s.r.fake.Queue(fakeproc.Plan{}) }},
	{"next-exits-at-once", func(s *sequence, _ int) { s.r.fake.Queue(fakeproc.Plan{Exit: true, ExitCode: 3}) }},
	{"next-crashes-after-ready", func(s *sequence, _ int) {
		s.r.fake.Queue(fakeproc.Plan{Ready: true, Exit: true, ExitCode: 2, ExitAfter: 20 * time.Millisecond})
	}},
	{"next-ignores-stop", func(s *sequence, _ int) { s.r.fake.Queue(fakeproc.Plan{Ready: true, IgnoreStop: true}) }},
	{"next-spawn-fails", func(s *sequence, _ int) {
		s.r.fake.Queue(fakeproc.Plan{SpawnError: errors.New("fork/exec /bin/true: no such file or directory")})
	}},
	{"stop", func(s *sequence, p int) { s.op(s.stop, p) }},
	{"start", func(s *sequence, p int) { s.op(s.start, p) }},
	{"restart", func(s *sequence, p int) { s.op(s.restart, p) }},
	{"reload", func(s *sequence, _ int) { s.op(s.reload, 0) }},
	{"reload-canary", func(s *sequence, _ int) {
		// A canary is judged on what its ports answer, which fakes do not
		// (a read of each waits out its timeout): one reload in eight.
		if s.rnd.IntN(8) == 0 {
			s.op(s.reloadCanary, 0)
		} else {
			s.op(s.reload, 0)
		}
	}},
	{"unhealthy", func(s *sequence, p int) { s.unhealthy(p) }},
	{"two-at-once", func(s *sequence, p int) { s.twoAtOnce(p) }},
}

// withProcess runs fn on the fake process of port, if one runs.
func (s *sequence) withProcess(port int, fn func(*fakeproc.Process)) {
	if i := s.r.m.instanceOn(port); i != nil {
		if f := s.r.fake.Process(i.Status().PID); f != nil {
			fn(f)
		}
	}
}

// An operation returns its error; one refused because another holds the
// turn changes nothing, which the model knows.
type operation func(ctx context.Context, port int) error

func (s *sequence) op(fn operation, port int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fn(ctx, port); err != nil {
		s.events[len(s.events)-1] += " -> " + firstLine(err.Error())
	}
}

func (s *sequence) stop(ctx context.Context, port int) error {
	err := s.r.m.StopPorts(ctx, []int{port}, nil)
	if err == nil {
		s.markHeld(port, true)
	}
	return err
}

func (s *sequence) start(ctx context.Context, port int) error {
	err := s.r.m.StartPorts(ctx, []int{port}, nil)
	if !errors.Is(err, ErrBusy) {
		s.markHeld(port, false) // started, or tried: a failed start leaves it failed, not held
	}
	return err
}

func (s *sequence) restart(ctx context.Context, port int) error {
	err := s.r.m.Restart(ctx, []int{port}, nil)
	if !errors.Is(err, ErrBusy) {
		s.markHeld(port, false)
	}
	return err
}

func (s *sequence) reload(ctx context.Context, _ int) error {
	s.nextVersion()
	return s.r.m.Reload(ctx, nil)
}

func (s *sequence) reloadCanary(ctx context.Context, _ int) error {
	s.nextVersion()
	return s.r.m.ReloadWith(ctx, control.ReloadOptions{Canary: 1, Watch: 20 * time.Millisecond}, nil)
}

func (s *sequence) markHeld(port int, held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[port] = held
}

func (s *sequence) nextVersion() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver++
	s.r.write("v" + strconv.Itoa(s.ver))
}

// unhealthy reports port's instance unhealthy, as its liveness watch does.
func (s *sequence) unhealthy(port int) {
	i := s.r.m.instanceOn(port)
	if i == nil || i.State() != instance.Ready || i.Spec().OnUnhealthy == nil {
		return
	}
	i.Spec().OnUnhealthy(i, instance.ReasonLiveness)
	// The replacement runs on a goroutine of its own, which settle cannot
	// see before it takes the rollout turn: wait for it.
	s.r.m.replacing.Wait()
}

// twoAtOnce runs two operations at the same time: one of them may be
// refused, and the model follows whichever ran.
func (s *sequence) twoAtOnce(port int) {
	ops := []operation{s.stop, s.start, s.restart, s.reload}
	other := s.r.ports[s.rnd.IntN(len(s.r.ports))]
	var wg sync.WaitGroup
	names := []string{"stop", "start", "restart", "reload"}
	ia, ib := s.rnd.IntN(len(ops)), s.rnd.IntN(len(ops))
	a, b := ops[ia], ops[ib]
	s.events[len(s.events)-1] += fmt.Sprintf(" (%s %d, %s %d)", names[ia], port, names[ib], other)
	var errs [2]error
	wg.Go(func() { errs[0] = a(context.Background(), port) })
	wg.Go(func() { errs[1] = b(context.Background(), other) })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			s.events[len(s.events)-1] += " -> " + firstLine(err.Error())
		}
	}
	s.reconcileHeld()
}

// reconcileHeld reads the held marks after operations whose order the
// model cannot know.
func (s *sequence) reconcileHeld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r.m.ports.do(func(t *portTable) {
		for port, sl := range t.slots {
			s.held[port] = sl.held
		}
	})
}
