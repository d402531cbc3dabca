package config

import (
	"slices"
	"testing"
)

func TestArgv(t *testing.T) {
	c := &Config{Command: []string{"./app", "--listen=:{port}", "{port}", "--name", "app-{port}-{port}"}}
	got := c.Argv(8002, "/usr/bin/hellomgr")
	want := []string{"./app", "--listen=:8002", "8002", "--name", "app-8002-8002"}
	if !slices.Equal(got, want) {
		t.Errorf("port 8002: got %q, want %q", got, want)
	}
	if c.Command[1] != "--listen=:{port}" {
		t.Errorf("Argv changed Command: %q", c.Command)
	}
	got[0] = "changed"
	if again := c.Argv(8003, ""); again[0] != "./app" || again[2] != "8003" {
		t.Errorf("port 8003: got %q", again)
	}
}

func TestArgvBuiltIn(t *testing.T) {
	c := &Config{}
	got := c.Argv(8001, "/opt/hellomgr")
	want := []string{"/opt/hellomgr", "serve", "--port", "8001"}
	if !slices.Equal(got, want) {
		t.Errorf("port 8001: got %q, want %q", got, want)
	}
}
