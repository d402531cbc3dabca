package config

import (
	"testing"
)

// The configs the repository ships must load as they are.
func TestShippedConfigsLoad(t *testing.T) {
	for _, path := range []string{"../config.yaml", "../examples/tornado/config.yaml", "../examples/tornado/nginx-drain.yaml", "../examples/plain/config.yaml", "../examples/hooks/config.yaml"} {
		c, err := Load(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if len(c.Ports) != 4 {
			t.Errorf("%s: %d ports, want 4", path, len(c.Ports))
		}
	}
	c, err := Load("../config.yaml")
	if err == nil && (c.Ports[0] != 8001 || c.Ports[3] != 8004 || !c.BuiltIn()) {
		t.Errorf("config.yaml: ports %v, built-in %v; want the built-in server on 8001-8004", c.Ports, c.BuiltIn())
	}
}
