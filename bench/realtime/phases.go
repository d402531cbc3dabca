package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hellomgr/hellomgr/bench/internal/benchkit"
	"github.com/hellomgr/hellomgr/internal/wsclient"
)

// spread is stop.spread in the bench's config (deploy).
const spread = 2 * time.Second

func wsPhase(ctx context.Context, root, work, bin string, o options) error {
	d, err := deploy(ctx, root, work, bin, "echo.py")
	if d != nil {
		defer d.stop()
	}
	if err != nil {
		return err
	}
	e := startEchoers(d.url("ws", "/ws"), o.clients, o.interval)
	if err := benchkit.WaitFor("every websocket echoing", 2*time.Minute, func() bool { return e.echoed() >= 2*o.clients }); err != nil {
		e.finish()
		return err
	}
	var took, ready []time.Duration
	for range o.reloads {
		t, r, err := d.reload(ctx)
		if err != nil {
			e.finish()
			return err
		}
		took, ready = append(took, t), append(ready, r)
		time.Sleep(3 * time.Second) // the clients reconnect and echo again
	}
	e.finish()
	fmt.Printf("\nws: %d websockets, a message each every %s, %d reloads\n", o.clients, o.interval, o.reloads)
	figure("failed upgrades", e.upgrades, "0", e.upgrades == 0)
	figure("dropped without a close frame (1006)", e.drops, "0", e.drops == 0)
	figure("messages lost", e.lost, "0", e.lost == 0)
	fmt.Printf("  %-48s %d sent, %d echoed, %d resent after a close\n", "messages", e.sent, e.got, e.resent)
	fmt.Printf("  %-48s %v\n", "close frames by code", e.closes)
	sp := e.spreads(10)
	okSpread := len(sp) > 0 && sp[0] >= time.Second
	figure(fmt.Sprintf("closes spread, per instance (%d instances)", len(sp)), spreadRange(sp), ">= 1s each", okSpread)
	figure("reload of 4 ports", durations(took), fmt.Sprintf("<= 3s + spread (%s)", spread), allWithin(took, 3*time.Second+spread))
	fmt.Printf("  %-48s %s\n", "of which new instances starting (4 in turn)", durations(ready))
	for i, s := range e.errs {
		if i == 5 {
			fmt.Printf("  ... and %d more\n", len(e.errs)-5)
			break
		}
		fmt.Println("  error:", s)
	}
	return nil
}

func spreadRange(sp []time.Duration) string {
	if len(sp) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s to %s", sp[0].Round(10*time.Millisecond), sp[len(sp)-1].Round(10*time.Millisecond))
}

func pollPhase(ctx context.Context, root, work, bin string, o options) error {
	d, err := deploy(ctx, root, work, bin, "chat.py")
	if d != nil {
		defer d.stop()
	}
	if err != nil {
		return err
	}
	p := startPollers(d.url("http", ""), o.pollers)
	defer p.release(d.ports)
	if err := benchkit.WaitFor("every poll held", time.Minute, func() bool { h, _, _ := p.counts(); return h >= o.pollers }); err != nil {
		return err
	}
	var took, ready []time.Duration
	for range o.reloads {
		time.Sleep(time.Second)
		t, r, err := d.reload(ctx)
		if err != nil {
			return err
		}
		took, ready = append(took, t), append(ready, r)
	}
	time.Sleep(2 * time.Second)
	if err := say(d.ports); err != nil {
		return err
	}
	benchkit.WaitFor("every poll answered", time.Minute, func() bool { _, a, f := p.counts(); return a+f >= o.pollers })
	_, answered, failed := p.counts()
	fmt.Printf("\npoll: %d long-pollers, quiet room (every poll held), %d reloads, then a message in every process\n", o.pollers, o.reloads)
	figure("failed polls", failed, "0", failed == 0)
	fmt.Printf("  %-48s %d\n", "polls answered with the message", answered)
	figure("reload of 4 ports", durations(took), "<= 5s", allWithin(took, 5*time.Second))
	fmt.Printf("  %-48s %s\n", "of which new instances starting (4 in turn)", durations(ready))
	for i, s := range p.failed {
		if i == 5 {
			break
		}
		fmt.Println("  error:", s)
	}
	return nil
}

// release lets every poller end: stop, then messages until all returned.
func (p *pollers) release(ports []int) {
	close(p.stop)
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	for {
		say(ports)
		select {
		case <-done:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// quietPhase holds quiet websockets and long-polls for o.hold through the
// printed config, without a reload, then uses them: none may be cut.
func quietPhase(ctx context.Context, root, work, bin string, o options) error {
	echo, err := deploy(ctx, root, work, bin, "echo.py")
	if echo != nil {
		defer echo.stop()
	}
	if err != nil {
		return err
	}
	chat, err := deploy(ctx, root, work, bin, "chat.py")
	if chat != nil {
		defer chat.stop()
	}
	if err != nil {
		return err
	}
	var wss []*wsclient.Conn
	for range o.quiet {
		ws, err := wsclient.Dial(echo.url("ws", "/ws"), 20*time.Second)
		if err != nil {
			return err
		}
		wss = append(wss, ws)
	}
	p := startPollers(chat.url("http", ""), o.quiet)
	if err := benchkit.WaitFor("every poll held", time.Minute, func() bool { h, _, _ := p.counts(); return h >= o.quiet }); err != nil {
		return err
	}
	select {
	case <-time.After(o.hold):
	case <-ctx.Done():
		return ctx.Err()
	}
	cutWS := 0
	for _, ws := range wss {
		if ws.Send("still there?") != nil {
			cutWS++
			continue
		}
		if _, err := ws.Read(time.Now().Add(10 * time.Second)); err != nil {
			cutWS++
		}
		ws.Close(1000)
	}
	_, _, failedEarly := p.counts() // a poll cut during the hold failed then
	say(chat.ports)
	benchkit.WaitFor("every poll answered", time.Minute, func() bool { _, a, f := p.counts(); return a+f >= o.quiet })
	_, answered, failed := p.counts()
	p.release(chat.ports)
	fmt.Printf("\nquiet: %d websockets and %d long-polls held %s with no traffic and no reload, then used\n", o.quiet, o.quiet, o.hold)
	figure("websockets cut", cutWS, "0", cutWS == 0)
	figure("long-polls cut", failed, "0", failed == 0 && failedEarly == 0)
	fmt.Printf("  %-48s %d\n", "long-polls answered after the hold", answered)
	return nil
}
