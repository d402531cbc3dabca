package reqlog

import (
	"strings"
	"testing"
)

const header = "<190>Dec  8 01:02:03 hellomgr: "

func line(fields ...string) []byte {
	return []byte(header + strings.Join(append([]string{"hm1"}, fields...), "\t"))
}

// Every form nginx writes the upstream fields in: one attempt, retries
// joined with ", ", internal redirects with " : ", no live server, a
// request nginx answered itself.
func TestParse(t *testing.T) {
	cases := []struct {
		name   string
		dgram  []byte
		want   []Attempt
		proxed bool
	}{
		{"one attempt", line("7", "1", "127.0.0.1:8001", "200", "0.004", "GET"),
			[]Attempt{{8001, 200, 0.004, "GET"}}, true},
		{"a retry", line("7", "2", "127.0.0.1:8001, 127.0.0.1:8002", "502, 404", "0.000, 0.012", "POST"),
			[]Attempt{{8001, 502, 0, "POST"}, {8002, 404, 0.012, "POST"}}, true},
		{"an internal redirect", line("9", "1", "127.0.0.1:8001 : [::1]:8003", "504 : 200", "60.001 : -", "GET"),
			[]Attempt{{8001, 504, 60.001, "GET"}, {8003, 200, -1, "GET"}}, true},
		{"no live upstream", line("9", "1", "hellomgr", "502", "0.000", "GET"),
			[]Attempt{{0, 502, 0, "GET"}}, true},
		{"answered by nginx", line("9", "1", "-", "-", "-", "GET"), nil, false},
		{"the client left first", line("9", "3", "127.0.0.1:8001", "-", "0.064", "GET"),
			[]Attempt{{8001, 0, 0.064, "GET"}}, true},
		{"a unix upstream", line("9", "1", "unix:/run/app.sock", "200", "0.001", "GET"),
			[]Attempt{{0, 200, 0.001, "GET"}}, true},
	}
	for _, c := range cases {
		var req Request
		if err := Parse(c.dgram, &req); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if req.Proxied != c.proxed || len(req.Attempts) != len(c.want) {
			t.Errorf("%s: got %+v, want %+v (proxied %v)", c.name, req, c.want, c.proxed)
			continue
		}
		for i := range c.want {
			if req.Attempts[i] != c.want[i] {
				t.Errorf("%s: attempt %d: got %+v, want %+v", c.name, i, req.Attempts[i], c.want[i])
			}
		}
	}
}

// What is not a line of the format is an error naming what is wrong.
func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"no header":          "hm1\t1\t1\t127.0.0.1:1\t200\t0.1\tGET",
		"old version":        header + "hm0\t1\t1\t127.0.0.1:1\t200\t0.1\tGET",
		"fields missing":     header + "hm1\t1\t1\t127.0.0.1:1",
		"lengths differ":     string(line("1", "1", "127.0.0.1:1, 127.0.0.1:2", "200", "0.1", "GET")),
		"bad status":         string(line("1", "1", "127.0.0.1:1", "abc", "0.1", "GET")),
		"bad port":           string(line("1", "1", "127.0.0.1:99999", "200", "0.1", "GET")),
		"negative time":      string(line("1", "1", "127.0.0.1:1", "200", "-2", "GET")),
		"empty method":       string(line("1", "1", "127.0.0.1:1", "200", "0.1", "")),
		"connection no num":  string(line("x", "1", "127.0.0.1:1", "200", "0.1", "GET")),
		"rank not a number":  string(line("1", "", "127.0.0.1:1", "200", "0.1", "GET")),
		"a common log line ": header + `127.0.0.1 - - [08/Dec/2026:01:02:03 +0000] "GET / HTTP/1.1" 200 13`,
	}
	for name, dgram := range cases {
		var req Request
		if err := Parse([]byte(dgram), &req); err == nil {
			t.Errorf("%s: %q parsed as %+v, want an error", name, dgram, req)
		}
	}
}

// Parse never panics, and what it accepts has sane attempts.
func FuzzParse(f *testing.F) {
	f.Add(line("7", "2", "127.0.0.1:8001, 127.0.0.1:8002", "502, 404", "0.000, 0.012", "POST"))
	f.Add(line("9", "1", "127.0.0.1:8001 : [::1]:8003", "504 : 200", "60.001 : -", "GET"))
	f.Add(line("9", "1", "-", "-", "-", "GET"))
	f.Add([]byte("<1>: "))
	f.Fuzz(func(t *testing.T, dgram []byte) {
		var req Request
		if Parse(dgram, &req) != nil {
			return
		}
		if req.Proxied != (len(req.Attempts) > 0) {
			t.Fatalf("proxied %v with %d attempts", req.Proxied, len(req.Attempts))
		}
		for _, a := range req.Attempts {
			if a.Port < 0 || a.Port > 65535 || a.Status != 0 && (a.Status < 100 || a.Status > 999) || a.Method == "" {
				t.Fatalf("accepted %q as %+v", dgram, a)
			}
		}
	})
}
