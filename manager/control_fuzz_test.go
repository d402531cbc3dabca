package manager

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hellomgr/hellomgr/config"
	"github.com/hellomgr/hellomgr/control"
	"github.com/hellomgr/hellomgr/instance"
	"github.com/hellomgr/hellomgr/logs"
)

// FuzzControlRequest feeds arbitrary bytes to the control socket's HTTP
// handling: nothing may panic, every answer is a client error or a
// well-formed reply, and a streamed reply always ends with done or error.
func FuzzControlRequest(f *testing.F) {
	for _, seed := range []string{
		"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"POST /v1/restart?port=8001&port=8002 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/stop?port=abc HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/start?port=99999 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/start HTTP/1.1\r\nHost: x\r\n\r\n",
		"DELETE /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x00\xff garbage",
	} {
		f.Add([]byte(seed))
	}
	// A manager with one configured port whose instance is stopped and
	// whose command fails at once; its config file is gone, so a reload
	// changes nothing. The port's log is kept in memory: a failed start
	// shows its last lines.
	cfg, err := config.Parse("/nonexistent/config.yaml", []byte(
		"ports: [1]\ncommand: [/bin/false]\nrestart:\n  max_tries: 1\nmetrics:\n  address: \"off\"\n"))
	if err != nil {
		f.Fatal(err)
	}
	m := New(cfg, Options{})
	s := &slot{port: 1, log: logs.Memory()}
	s.inst = instance.New(m.spec(cfg, s), nil)
	m.addSlot(s)
	routes := control.Routes(m)
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 before our code runs
		}
		if strings.Contains(req.URL.Path, "/v1/down") {
			return // would end the (shared) manager's life
		}
		rec := httptest.NewRecorder()
		routes.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			checkReply(t, rec)
		case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed,
			http.StatusMovedPermanently, http.StatusTemporaryRedirect: // ServeMux cleaning a path
		default:
			t.Fatalf("%q: status %d %q", raw, rec.Code, rec.Body)
		}
	})
}

// checkReply checks that a streamed reply is JSON lines ending in an event
// with Done or Error set.
func checkReply(t *testing.T, rec *httptest.ResponseRecorder) {
	if rec.Header().Get("Content-Type") != "application/x-ndjson" {
		return // status: a JSON report
	}
	var last control.Event
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("reply line %q: %v", sc.Text(), err)
		}
	}
	if !last.Done && last.Error == "" {
		t.Fatalf("reply did not end with done or error: %+v", last)
	}
}
