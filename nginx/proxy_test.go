package nginx

import (
	"strings"
	"testing"
	"time"
)

func TestUpstreamHash(t *testing.T) {
	for hash, want := range map[string]string{
		"":               "",
		"client_address": "    hash $remote_addr consistent;\n",
		"cookie:session": "    hash $cookie_session consistent;\n",
	} {
		text := string(Upstream{Name: "app", Ports: []int{8001}, Hash: hash}.Render())
		if got := strings.Contains(text, "hash "); got != (want != "") || !strings.Contains(text, want) {
			t.Errorf("proxy.hash %q: want %q in:\n%s", hash, want, text)
		}
		// nginx wants the balancing method before keepalive.
		if want != "" && strings.Index(text, want) > strings.Index(text, "keepalive") {
			t.Errorf("proxy.hash %q: hash after keepalive:\n%s", hash, text)
		}
	}
}

func TestLocationPassesUpgradesAndLivesLong(t *testing.T) {
	text := Proxy{Name: "chat", ReadTimeout: 90 * time.Second}.Location()
	for _, want := range []string{
		"proxy_pass http://chat;",
		"proxy_set_header Upgrade $http_upgrade;",
		"proxy_set_header Connection $connection_upgrade;",
		"proxy_read_timeout 90s;",
		"error_page 421 = @chat_handback;",
		"location @chat_handback {",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("location lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `Connection ""`) {
		t.Errorf("location sets Connection \"\", which answers every websocket upgrade with 400:\n%s", text)
	}
	if got := Location("x"); !strings.Contains(got, "proxy_read_timeout 3600s;") {
		t.Errorf("default read timeout: want 3600s in:\n%s", got)
	}
}
