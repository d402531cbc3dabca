package nginx

import (
	"bytes"
	"strings"
	"text/template"
	"time"
)

// DefaultReadTimeout is the location's proxy_read_timeout unless the
// config's proxy.read_timeout says otherwise: an hour, so that a quiet
// websocket or a held long-poll lives (nginx's default, 60s, cuts them).
const DefaultReadTimeout = time.Hour

// HandbackStatus is the status a draining instance answers a held request
// (a long-poll) with, before any byte of its own answer: the printed
// location sends such a request again, to another instance, and the
// client never sees it. 421 is "Misdirected Request": a server that
// cannot produce the response, which may be retried elsewhere (RFC 9110,
// 15.5.20). An error_page redirect, unlike proxy_next_upstream, starts
// the count of servers tried afresh, so a quiet poll given back at every
// port of a rollout, rollout after rollout, still finds a server.
const HandbackStatus = 421

// upgradeMap goes in the http block before the upstream: Connection is
// "upgrade" for a websocket handshake and "" otherwise, so that plain
// requests keep the upstream keep-alive. nginx accepts the same map twice
// (two configs in one nginx each bring it).
const upgradeMap = `# Websockets pass, plain requests keep the keep-alive to the instances.
map $http_upgrade $connection_upgrade {
    default upgrade;
    ""      "";
}
`

// Proxy is the location block `hellomgr nginx` prints.
type Proxy struct {
	Name        string        // the upstream's name
	ReadTimeout time.Duration // proxy.read_timeout; 0 means DefaultReadTimeout
}

var locationTmpl = template.Must(template.New("location").Parse(`location / {
{{- template "proxy" .}}
    # A held request (a long-poll, GET or POST) that a draining instance
    # gives back, with 421 before any byte of its answer, is sent again to
    # another instance, and again if that one gives it back too (nginx
    # allows 10 such redirects per request).
    proxy_intercept_errors on;
    recursive_error_pages on;
    error_page {{.Handback}} = @{{.Name}}_handback;
}
location @{{.Name}}_handback {
{{- template "proxy" .}}
    proxy_intercept_errors on;
    recursive_error_pages on;
    error_page {{.Handback}} = @{{.Name}}_handback;
}
{{define "proxy"}}
    proxy_pass http://{{.Name}};
    # Keep-alive to the instances: HTTP/1.1, and an empty Connection header
    # unless the client asks for a websocket (the map in the http part).
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    # Quiet websockets and held long-polls live this long (proxy.read_timeout).
    proxy_read_timeout {{.Seconds}}s;
    # nginx's default: a refused connect is passed to the next instance,
    # whatever the method; a POST already sent is never sent twice.
    proxy_next_upstream error timeout;
{{- end}}`))

// Location returns the location block (and the named location it hands
// requests back to) that proxies to the upstream.
func (p Proxy) Location() string {
	timeout := p.ReadTimeout
	if timeout <= 0 {
		timeout = DefaultReadTimeout
	}
	var b bytes.Buffer
	locationTmpl.Execute(&b, struct {
		Proxy
		Seconds  int64
		Handback int
	}{p, int64((timeout + time.Second - 1) / time.Second), HandbackStatus})
	return b.String() + "\n"
}

// hashKey is the key of the upstream's hash directive for proxy.hash, ""
// for round robin.
func hashKey(hash string) string {
	if name, ok := strings.CutPrefix(hash, "cookie:"); ok {
		return "$cookie_" + name
	}
	if hash == "client_address" {
		return "$remote_addr"
	}
	return ""
}
