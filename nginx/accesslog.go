package nginx

import (
	"fmt"
	"strings"

	"github.com/hellomgr/hellomgr/reqlog"
)

// LogFormat is the log_format line, for nginx's http block, of the lines
// nginx sends the manager about every request it passes to an instance
// (reqlog.LogFormat says what each field is). The tabs are written as
// nginx's "\t" escape.
//
// It is named after the upstream (FormatName), as nginx allows one
// log_format of a name: two configs in one nginx each print their own.
func LogFormat(upstream string) string {
	return fmt.Sprintf(`# One line per request to the manager: each attempt's port, status and
# response time, for hellomgr_http_requests_total on /probe?port=N.
log_format %s escape=default '%s';
`, FormatName(upstream), strings.ReplaceAll(reqlog.LogFormat, "\t", `\t`))
}

// FormatName is the name of the log_format of the upstream's lines.
func FormatName(upstream string) string { return upstream + "_requests" }

// AccessLog is the access_log line that sends those lines to the manager
// listening on socket (reqlog.SocketPath), as syslog datagrams: nginx
// never waits for the manager, and a line it cannot send is lost, not
// queued (the manager counts such gaps: hellomgr_request_log_lost_total).
func AccessLog(socket, upstream string) string {
	return fmt.Sprintf("access_log syslog:server=unix:%s,nohostname,tag=%s %s;", socket, reqlog.Tag, FormatName(upstream))
}

// LoggedLocation is p's Location with the AccessLog line first in it.
// An access_log in a location replaces those it would inherit: repeat
// your own access_log there to keep it.
func (p Proxy) LoggedLocation(socket string) string {
	loc := p.Location()
	head, rest, ok := strings.Cut(loc, "{\n")
	if !ok {
		return loc
	}
	return head + "{\n    # Every request's attempts to the manager (hellomgr_http_requests_total).\n    " + AccessLog(socket, p.Name) + "\n" + rest
}
