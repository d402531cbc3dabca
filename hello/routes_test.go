package hello

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
		want := "text/html; charset=UTF-8" // Tornado's error pages
		if tt.code == 200 {
			want = "text/plain; charset=utf-8" // the hello, GET and HEAD alike
		}
		if got := resp.Header.Get("Content-Type"); got != want {
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

// --fail-percent 10 answers 500 to every tenth GET /, and 200 to the rest.
func TestFailPercentAnswers500ToThatShare(t *testing.T) {
	h := Handler(Options{Message: "v2", FailPercent: 10})
	failed := 0
	for range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code == http.StatusInternalServerError {
			failed++
		}
	}
	if failed != 10 {
		t.Errorf("%d of 100 GET / answered 500, want 10", failed)
	}
}
