package e2e

import (
	"testing"
	"time"
)

// Websockets through exactly what `hellomgr nginx` prints, to a Tornado
// app using the integration (a websocket echo shaped like Tornado's
// demos/websocket), in both event-loop styles, across a reload: every
// upgrade passes, every websocket of a replaced process ends with a close
// frame (1012, stop.close_code's default), spread over stop.spread, and
// the clients, reconnecting, lose no message.
func TestRealtimeWebsocketsSurviveAReload(t *testing.T) {
	for _, loop := range []string{"asyncio", "ioloop"} {
		t.Run(loop, func(t *testing.T) {
			a := startRealtime(t, "echo.py", loop, "")
			clients := startEcho(t, a.url("ws", "/ws"), 40, 50*time.Millisecond)
			took := a.reload()
			time.Sleep(500 * time.Millisecond) // the reconnected clients echo again
			clients.finish()
			c := clients
			t.Logf("reload %s: sent %d, echoed %d, resent %d, closes %v, spread per old pid %v",
				took.Round(time.Millisecond), c.sent, c.got, c.resent, c.closes, c.spreads())
			if c.upgrades != 0 || c.drops != 0 || c.lost != 0 || len(c.errs) != 0 {
				t.Errorf("%d failed upgrades, %d websockets dropped without a close frame, %d messages lost; want 0:\n%v",
					c.upgrades, c.drops, c.lost, c.errs)
			}
			if c.closes[1012] == 0 || len(c.closes) != 1 {
				t.Errorf("close codes %v, want only 1012 (service restart)", c.closes)
			}
			if len(c.spreads()) != len(a.ports) {
				t.Errorf("closes came from %d old processes, want %d (one per port): %v", len(c.spreads()), len(a.ports), c.spreads())
			}
			for pid, spread := range c.spreads() {
				if n := len(c.closedAt[pid]); n >= 4 && spread < 300*time.Millisecond {
					t.Errorf("pid %s closed its %d websockets within %s, want them spread over stop.spread (1s)", pid, n, spread)
				}
			}
			if c.resent == 0 {
				t.Error("no client resent a message: the test saw no reconnect at all")
			}
		})
	}
}

// proxy.read_timeout reaches nginx: with the key short (2s, so that the
// cut is seen within seconds), a quiet long-poll is answered 504 by nginx
// at 2s. (The default, 1h, is held for minutes by bench/realtime.)
func TestRealtimeReadTimeoutKey(t *testing.T) {
	a := startRealtime(t, "chat.py", "ioloop", "proxy:\n  read_timeout: 2s\n")
	_, location := a.printedNginx()
	if want := "proxy_read_timeout 2s;"; !containsLines(location, want) {
		t.Fatalf("printed location lacks %q:\n%s", want, location)
	}
	began := time.Now()
	status, _, err := httpGet(a.url("http", "/a/message/poll?cursor=none"), 10*time.Second)
	if err != nil || status != 504 {
		t.Fatalf("quiet poll with proxy.read_timeout 2s: status %d, %v; want 504 from nginx", status, err)
	}
	if held := time.Since(began); held < 1500*time.Millisecond {
		t.Errorf("quiet poll cut after %s, want about 2s", held)
	}
}
