package metrics

import (
	"strings"
	"testing"
)

func TestFileSD(t *testing.T) {
	got, err := FileSD("127.0.0.1:9100", []int{8002, 8001}, map[string]string{"env": "prod"})
	if err != nil {
		t.Fatal(err)
	}
	const want = `[
  {
    "targets": [
      "127.0.0.1:8001"
    ],
    "labels": {
      "__tmp_hellomgr_manager": "127.0.0.1:9100",
      "env": "prod",
      "port": "8001"
    }
  },
  {
    "targets": [
      "127.0.0.1:8002"
    ],
    "labels": {
      "__tmp_hellomgr_manager": "127.0.0.1:9100",
      "env": "prod",
      "port": "8002"
    }
  }
]
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestManagerFileSD(t *testing.T) {
	got, err := ManagerFileSD("0.0.0.0:9100", nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = `[
  {
    "targets": [
      "127.0.0.1:9100"
    ],
    "labels": {}
  }
]
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestFileSDHosts checks where the targets point for each form of the
// manager's address.
func TestFileSDHosts(t *testing.T) {
	for _, tc := range []struct{ addr, target, manager string }{
		{":9100", `"127.0.0.1:8001"`, `"127.0.0.1:9100"`},
		{"0.0.0.0:9100", `"127.0.0.1:8001"`, `"127.0.0.1:9100"`},
		{"[::]:9100", `"127.0.0.1:8001"`, `"127.0.0.1:9100"`},
		{"[::1]:9100", `"[::1]:8001"`, `"[::1]:9100"`},
		{"10.0.0.5:9100", `"10.0.0.5:8001"`, `"10.0.0.5:9100"`},
		{"app1.example.com:9100", `"app1.example.com:8001"`, `"app1.example.com:9100"`},
	} {
		got, err := FileSD(tc.addr, []int{8001}, nil)
		if err != nil {
			t.Errorf("manager %s: %v", tc.addr, err)
			continue
		}
		if !strings.Contains(string(got), tc.target) || !strings.Contains(string(got), tc.manager) {
			t.Errorf("manager %s: want target %s and manager %s in:\n%s", tc.addr, tc.target, tc.manager, got)
		}
	}
}

func TestFileSDErrors(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		ports  []int
		labels map[string]string
		want   string
	}{
		{"127.0.0.1", nil, nil, "file_sd: manager address: address 127.0.0.1: missing port in address"},
		{"127.0.0.1:0", nil, nil, `file_sd: manager address "127.0.0.1:0": want the port it listens on, from 1 to 65535`},
		{"127.0.0.1:http", nil, nil, `file_sd: manager address "127.0.0.1:http": want the port it listens on, from 1 to 65535`},
		{"127.0.0.1:9100", []int{0}, nil, "file_sd: port 0 is not a number from 1 to 65535"},
		{"127.0.0.1:9100", []int{70000}, nil, "file_sd: port 70000 is not a number from 1 to 65535"},
		{"127.0.0.1:9100", []int{8001, 8002, 8001}, nil, "file_sd: port 8001 listed twice"},
		{"127.0.0.1:9100", nil, map[string]string{"job": "x"}, `file_sd: label "job" is reserved`},
		{"127.0.0.1:9100", nil, map[string]string{"instance": "x"}, `file_sd: label "instance" is reserved`},
		{"127.0.0.1:9100", nil, map[string]string{"port": "x"}, `file_sd: label "port" is reserved`},
		{"127.0.0.1:9100", nil, map[string]string{"__param_port": "1"}, `file_sd: label "__param_port" is reserved`},
		{"127.0.0.1:9100", nil, map[string]string{"env": ""}, `file_sd: label env: value "" is empty or not UTF-8`},
		{"127.0.0.1:9100", nil, map[string]string{"1env": "x", "a-b": "y"},
			"file_sd: label name \"1env\" is not a Prometheus label name\nfile_sd: label name \"a-b\" is not a Prometheus label name"},
	} {
		_, err := FileSD(tc.addr, tc.ports, tc.labels)
		if err == nil || err.Error() != tc.want {
			t.Errorf("FileSD(%q, %v, %v): got error %v, want %q", tc.addr, tc.ports, tc.labels, err, tc.want)
		}
	}
}
