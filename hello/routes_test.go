package hello

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func tornadoPage(code int) string {
	return fmt.Sprintf("<html><title>%[1]d: %[2]s</title><body>%[1]d: %[2]s</body></html>", code, http.StatusText(code))
}

func TestRoutes(t *testing.T) {
	for _, metrics := range []bool{false, true} {
		t.Run(fmt.Sprintf("metrics=%v", metrics), func(t *testing.T) {
			in := start(t, Options{Metrics: metrics})
			checkRoutes(t, newClient(t), in.url)
		})
	}
}

func checkRoutes(t *testing.T, c *http.Client, base string) {
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, DefaultMessage},
		{"GET", "/?name=x", 200, DefaultMessage},
		{"HEAD", "/", 200, ""},
		{"POST", "/", 405, tornadoPage(405)},
		{"PUT", "/", 405, tornadoPage(405)},
		{"DELETE", "/", 405, tornadoPage(405)},
		{"PATCH", "/", 405, tornadoPage(405)},
		{"OPTIONS", "/", 405, tornadoPage(405)},
		{"BREW", "/", 405, tornadoPage(405)},
		{"GET", "/nope", 404, tornadoPage(404)},
		{"POST", "/nope", 404, tornadoPage(404)},
		{"GET", "//", 404, tornadoPage(404)},
		{"GET", "/index.html", 404, tornadoPage(404)},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: read body: %v", tt.method, tt.path, err)
		}
		name := tt.method + " " + tt.path
		if resp.StatusCode != tt.code || string(body) != tt.body {
			t.Errorf("%s: got %d %q, want %d %q", name, resp.StatusCode, body, tt.code, tt.body)
		}
		if got, want := resp.Header.Get("Content-Type"), "text/html; charset=UTF-8"; got != want {
			t.Errorf("%s: Content-Type %q, want %q", name, got, want)
		}
		allow := resp.Header.Get("Allow")
		if (tt.code == 405) != (allow == "GET, HEAD") {
			t.Errorf("%s: Allow %q, want %q only on 405", name, allow, "GET, HEAD")
		}
		if tt.method == "HEAD" && resp.ContentLength != int64(len(DefaultMessage)) {
			t.Errorf("%s: Content-Length %d, want %d", name, resp.ContentLength, len(DefaultMessage))
		}
	}
}

func TestMessage(t *testing.T) {
	in := start(t, Options{Message: "Hello from 8001"})
	if code, body := get(t, newClient(t), in.url+"/"); code != 200 || body != "Hello from 8001" {
		t.Errorf("GET /: got %d %q, want 200 %q", code, body, "Hello from 8001")
	}
}

func TestMetricsOff(t *testing.T) {
	in := start(t, Options{})
	if code, body := get(t, newClient(t), in.url+"/metrics"); code != 404 {
		t.Errorf("GET /metrics with Metrics off: got %d %q, want 404", code, body)
	}
}

func TestMetrics(t *testing.T) {
	in := start(t, Options{Metrics: true, Version: "v1.2.3"})
	c := newClient(t)
	const gets, posts, missing = 7, 3, 2
	for range gets {
		get(t, c, in.url+"/")
	}
	for range posts {
		resp, err := c.Post(in.url+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for range missing {
		get(t, c, in.url+"/nope/with/a/long/path")
	}
	req, _ := http.NewRequest("BREW", in.url+"/", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	code, text := get(t, c, in.url+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: got %d, want 200", code)
	}
	// The scrape is counted once it is over, so it is not in its own
	// counts, but it is in flight.
	for _, want := range []string{
		fmt.Sprintf(`http_requests_total{code="200",method="get"} %d`, gets),
		fmt.Sprintf(`http_requests_total{code="405",method="post"} %d`, posts),
		fmt.Sprintf(`http_requests_total{code="404",method="get"} %d`, missing),
		`http_requests_total{code="405",method="unknown"} 1`,
		fmt.Sprintf(`http_request_duration_seconds_count{code="200",method="get"} %d`, gets),
		`http_request_duration_seconds_bucket{code="200",method="get",le="0.0001"} `,
		`http_requests_in_flight 1`,
		`process_cpu_seconds_total `,
		`process_open_fds `,
		`go_goroutines `,
		`go_gc_duration_seconds`,
	} {
		if !strings.Contains(text, "\n"+want) {
			t.Errorf("GET /metrics: no line starting with %q", want)
		}
	}
	info := regexp.MustCompile(`\nhello_info\{start_time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",version="v1\.2\.3"\} 1\n`)
	if !info.MatchString(text) {
		t.Errorf("GET /metrics: no hello_info line matching %s", info)
	}
	if strings.Contains(text, "nope") {
		t.Errorf("GET /metrics: a request path shows up in the metrics")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// TestHandlersShareNothing checks that two servers in one process keep
// separate counts, as two generations in a handoff do.
func TestHandlersShareNothing(t *testing.T) {
	a := start(t, Options{Metrics: true})
	b := start(t, Options{Metrics: true})
	c := newClient(t)
	get(t, c, a.url+"/")
	get(t, c, a.url+"/")
	_, text := get(t, newClient(t), b.url+"/metrics")
	if strings.Contains(text, `http_requests_total{code="200",method="get"}`) {
		t.Errorf("second server counts the first one's requests:\n%s", text)
	}
}
