package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestAddress(t *testing.T) {
	for _, tc := range []struct {
		yaml, want, host string
	}{
		{``, "", "127.0.0.1"},
		{`address: ""`, "", "127.0.0.1"},
		{`address: 0.0.0.0`, "0.0.0.0", "127.0.0.1"},
		{`address: "::"`, "::", "127.0.0.1"},
		{`address: 10.213.1.2`, "10.213.1.2", "10.213.1.2"},
		{`address: "2001:DB8::5"`, "2001:db8::5", "2001:db8::5"},
	} {
		c, err := Parse(filepath.Join(t.TempDir(), "config.yaml"), []byte("ports: [8001]\n"+tc.yaml+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if c.Address != tc.want || c.InstanceHost() != tc.host {
			t.Errorf("%s: got address %q, host %q; want %q, %q", tc.yaml, c.Address, c.InstanceHost(), tc.want, tc.host)
		}
	}
}

func TestBadAddress(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`address: example.com`, `config.yaml:2: address: "example.com" is not an IP address; write one of this machine's, like "10.0.0.5", or "" for every interface`},
		{`address: 10.0.0.5:8001`, `config.yaml:2: address: "10.0.0.5:8001" is not an IP address`},
		{`address: "fe80::1%eth0"`, `config.yaml:2: address: "fe80::1%eth0" has a zone`},
		{`address: "::ffff:10.0.0.5"`, `config.yaml:2: address: "::ffff:10.0.0.5" is an IPv4 address written as IPv6; write "10.0.0.5"`},
		{`address: [10.0.0.5]`, `config.yaml:2: address: want an IP address like "10.0.0.5", or "" for every interface`},
	} {
		_, err := Parse("config.yaml", []byte("ports: [8001]\n"+tc.yaml+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got error\n%v\nwant one starting\n%s", tc.yaml, err, tc.want)
		}
	}
}

func TestAddressCannotChangeOnReload(t *testing.T) {
	old, c := &Config{File: "config.yaml"}, &Config{File: "config.yaml", Address: "10.0.0.5"}
	if err := c.CheckAddressReloadable(old); err == nil || !strings.Contains(err.Error(), `address: changed from "" (every interface) to 10.0.0.5; a reload cannot move the ports: run hellomgr down, then up`) {
		t.Errorf("got %v", err)
	}
	if err := old.CheckAddressReloadable(&Config{}); err != nil {
		t.Errorf("same address: got %v", err)
	}
}
