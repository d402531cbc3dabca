// Package reqlog counts the requests nginx passes to each instance, from
// nginx's own access log sent to the manager as syslog datagrams on a
// Unix socket: request metrics per port for any app, without touching
// the app.
//
// What crosses from nginx to the manager is one datagram per request, in
// the format of LogFormat (this file); Listener reads them (listen.go) and
// Counts keeps them per port and generation (counts.go).
package reqlog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Tag is the syslog tag nginx puts before each line.
const Tag = "hellomgr"

// LogFormat is the body of the log_format: fields separated by tabs, which
// nginx's default escaping never leaves raw inside a value (it writes
// bytes below 32 as \xXX), first a version, then:
//
//	$connection            the connection's serial number
//	$connection_requests   this request's rank on that connection (1, 2...)
//	$upstream_addr         each attempt's server, "host:port"
//	$upstream_status       each attempt's status; 502/504 when it got no answer
//	$upstream_response_time each attempt's seconds, with ms resolution
//	$request_method        last: a method may hold any token character
//
// nginx joins the attempts of one request with ", " (a retry on the next
// server) and " : " (an internal redirect to another location), the same
// way in the three upstream fields, so the n-th entry of each is one
// attempt.
const LogFormat = version + "\t$connection\t$connection_requests\t$upstream_addr\t$upstream_status\t$upstream_response_time\t$request_method"

const version = "hm1"

// Attempt is one attempt of a request on one instance, as nginx logged it.
type Attempt struct {
	Port    int     // the instance's port; 0 when nginx had no server to try
	Status  int     // the instance's status; 502 or 504 when it gave no answer; 0 when the client left first
	Seconds float64 // the instance's response time; -1 when nginx has none ("-")
	Method  string
}

// Request is what one datagram says: the connection it came on and its
// attempts, in order.
type Request struct {
	Conn     uint64
	Rank     uint64 // $connection_requests
	Attempts []Attempt
	// Proxied is false for a request that reached no upstream (the
	// fields are "-"): answered by nginx itself.
	Proxied bool
}

// errFormat is wrapped by every parse error.
var errFormat = errors.New("not a hellomgr request line")

// Parse reads one datagram: a syslog header ("<PRI>timestamp tag: ") then
// a line in LogFormat. It appends the attempts to req.Attempts[:0], so a
// caller that keeps req reuses its room. It never panics, whatever the
// bytes (FuzzParse).
func Parse(dgram []byte, req *Request) error {
	line, err := body(dgram)
	if err != nil {
		return err
	}
	var f [7][]byte
	for i := range 6 {
		j := bytes.IndexByte(line, '\t')
		if j < 0 {
			return fmt.Errorf("%w: %d fields, want 7", errFormat, i+1)
		}
		f[i], line = line[:j], line[j+1:]
	}
	f[6] = line
	if string(f[0]) != version {
		return fmt.Errorf("%w: version %.10q, want %s (print `hellomgr nginx` again)", errFormat, f[0], version)
	}
	*req = Request{Attempts: req.Attempts[:0]}
	if req.Conn, err = strconv.ParseUint(string(f[1]), 10, 64); err != nil {
		return fmt.Errorf("%w: connection %.20q", errFormat, f[1])
	}
	if req.Rank, err = strconv.ParseUint(string(f[2]), 10, 64); err != nil {
		return fmt.Errorf("%w: connection_requests %.20q", errFormat, f[2])
	}
	method := string(f[6])
	if method == "" || bytes.IndexByte(f[6], ' ') >= 0 {
		return fmt.Errorf("%w: method %.20q", errFormat, f[6])
	}
	if string(f[3]) == "-" {
		return nil // nginx answered this request itself
	}
	req.Proxied = true
	return attempts(req, f[3], f[4], f[5], method)
}

// body strips the syslog header nginx writes: "<PRI>Mmm dd hh:mm:ss tag: "
// (nohostname leaves the host out). The time's colons are never followed
// by a space, so the first ": " ends the header.
func body(dgram []byte) ([]byte, error) {
	if len(dgram) == 0 || dgram[0] != '<' {
		return nil, fmt.Errorf("%w: no syslog header", errFormat)
	}
	i := bytes.Index(dgram, []byte(": "))
	if i < 0 {
		return nil, fmt.Errorf("%w: no syslog tag", errFormat)
	}
	line := dgram[i+2:]
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	return line, nil
}

// attempts splits the three upstream fields into one Attempt each.
func attempts(req *Request, addrs, codes, times []byte, method string) error {
	for {
		addr, restA, sepA := cutAttempt(addrs)
		code, restC, sepC := cutAttempt(codes)
		secs, restT, sepT := cutAttempt(times)
		if sepA != sepC || sepA != sepT {
			return fmt.Errorf("%w: upstream fields of different lengths", errFormat)
		}
		a, err := attempt(addr, code, secs, method)
		if err != nil {
			return err
		}
		req.Attempts = append(req.Attempts, a)
		if sepA == 0 {
			return nil
		}
		addrs, codes, times = restA, restC, restT
	}
}

// cutAttempt cuts the first entry off a list joined by ", " or " : ",
// returning the rest and which separator (0 at the end).
func cutAttempt(s []byte) (first, rest []byte, sep byte) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == ',' && s[i+1] == ' ' {
			return s[:i], s[i+2:], ','
		}
		if s[i] == ' ' && s[i+1] == ':' && i+2 < len(s) && s[i+2] == ' ' {
			return s[:i], s[i+3:], ':'
		}
	}
	return s, nil, 0
}

// attempt reads one attempt. An address without a port is the name of an
// upstream with no live server: nginx tried none, Port stays 0.
func attempt(addr, code, secs []byte, method string) (Attempt, error) {
	a := Attempt{Method: method, Seconds: -1}
	if string(code) != "-" { // "-": no status, the client went away first (nginx's 499)
		status, err := strconv.Atoi(string(code))
		if err != nil || status < 100 || status > 999 {
			return a, fmt.Errorf("%w: upstream status %.20q", errFormat, code)
		}
		a.Status = status
	}
	var err error
	if string(secs) != "-" {
		if a.Seconds, err = strconv.ParseFloat(string(secs), 64); err != nil || a.Seconds < 0 {
			return a, fmt.Errorf("%w: upstream response time %.20q", errFormat, secs)
		}
	}
	if bytes.HasPrefix(addr, []byte("unix:")) {
		return a, nil // an upstream on a Unix socket: no port to count it on
	}
	if i := bytes.LastIndexByte(addr, ':'); i >= 0 && !bytes.HasSuffix(addr, []byte("]")) {
		port, err := strconv.Atoi(string(addr[i+1:]))
		if err != nil || port < 1 || port > 65535 {
			return a, fmt.Errorf("%w: upstream address %.40q", errFormat, addr)
		}
		a.Port = port
	}
	return a, nil
}
