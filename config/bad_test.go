package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// badConfigs pins the exact error of each broken config in testdata/bad.
// $D stands for the absolute path of testdata/bad. Every file there must
// have a row, so a new case cannot be added without its expected message.
var badConfigs = []struct {
	file string
	want string
}{
	// YAML itself. A syntax error is on the line yaml.v3 gives: for an unclosed
	// list or a bad indentation, the line before the enclosing block begins
	// (yaml.v3 counts those lines from 0); line 1 when it gives none.
	{"syntax_unclosed_list.yaml", `testdata/bad/syntax_unclosed_list.yaml:1: invalid YAML: did not find expected ',' or ']' (a list or mapping is not closed)`},
	{"syntax_indent.yaml", `testdata/bad/syntax_indent.yaml:1: invalid YAML: did not find expected key (check the indentation of the lines below)`},
	{"syntax_colon.yaml", `testdata/bad/syntax_colon.yaml:4: invalid YAML: mapping values are not allowed in this context (check the indentation, or quote a value that contains ": ")`},
	{"syntax_no_line.yaml", `testdata/bad/syntax_no_line.yaml:1: invalid YAML: mapping values are not allowed in this context (check the indentation, or quote a value that contains ": ")`},
	{"syntax_unknown_anchor.yaml", `testdata/bad/syntax_unknown_anchor.yaml:1: invalid YAML: unknown anchor 'cmd' referenced`},
	{"syntax_unclosed_quote.yaml", `testdata/bad/syntax_unclosed_quote.yaml:2: invalid YAML: found unexpected end of stream (a quote is not closed)`},
	{"tab.yaml", `testdata/bad/tab.yaml:2: tab in indentation; YAML indents with spaces only`},
	{"tab_nested.yaml", `testdata/bad/tab_nested.yaml:4: tab in indentation; YAML indents with spaces only`},
	{"second_document.yaml", `testdata/bad/second_document.yaml:2: a second YAML document starts here; a config is one document, remove the "---"`},
	{"empty.yaml", `testdata/bad/empty.yaml:1: no ports configured; add e.g. ports: ["8001-8004"]`},
	{"comments_only.yaml", `testdata/bad/comments_only.yaml:1: no ports configured; add e.g. ports: ["8001-8004"]`},
	{"proxy_hash_unknown.yaml", `testdata/bad/proxy_hash_unknown.yaml:3: proxy.hash: want "client_address" or "cookie:NAME", got "ip"`},
	{"proxy_hash_cookie.yaml", `testdata/bad/proxy_hash_cookie.yaml:3: proxy.hash: cookie name "my-session": want letters, digits and _ (nginx's $cookie_NAME), like cookie:session`},
	{"stop_spread_too_long.yaml", `testdata/bad/stop_spread_too_long.yaml:4: stop.spread: 3s must be less than stop.timeout (3s): closes still spreading at the timeout are cut by SIGKILL`},
	{"stop_close_code.yaml", `testdata/bad/stop_close_code.yaml:3: stop.close_code: want "1001" or "1012", got "1000"`},
	{"top_level_list.yaml", `testdata/bad/top_level_list.yaml:1: want a mapping with keys ports, address, command, dir, env, ready, stop, restart, reload, logs, metrics, socket, proxy, nginx, liveness, limits, hooks, got a list`},

	// Keys and types.
	{"unknown_key.yaml", `testdata/bad/unknown_key.yaml:3: unknown key "comand" (did you mean "command"?)`},
	{"unknown_key_nested.yaml", `testdata/bad/unknown_key_nested.yaml:4: ready: unknown key "timout" (did you mean "timeout"?)
testdata/bad/unknown_key_nested.yaml:5: ready: unknown key "colour" (want one of http, tcp, timeout, interval, notify)`},
	{"unknown_key_misplaced.yaml", `testdata/bad/unknown_key_misplaced.yaml:2: unknown key "upstream_file" (it goes under "nginx:")
testdata/bad/unknown_key_misplaced.yaml:3: unknown key "timeout" (it goes under "ready:" or "stop:" or "liveness:" or "hooks:")
testdata/bad/unknown_key_misplaced.yaml:5: ready: unknown key "stop" (a top-level key: is it indented too far?)`},
	{"duplicate_key.yaml", `testdata/bad/duplicate_key.yaml:3: ports: listed twice (first on line 1)`},
	{"type_duration_list.yaml", `testdata/bad/type_duration_list.yaml:4: ready.timeout: want a duration like "10s", got a list`},
	{"type_ports_mapping.yaml", `testdata/bad/type_ports_mapping.yaml:2: ports: want a list like [8001, "8002-8004"], got a mapping`},
	{"type_section_scalar.yaml", `testdata/bad/type_section_scalar.yaml:2: ready: want a mapping with keys http, tcp, timeout, interval, notify, got "/health"
testdata/bad/type_section_scalar.yaml:3: stop: want a mapping with keys signal, timeout, spread, close_code, got "yes"`},
	{"type_int.yaml", `testdata/bad/type_int.yaml:3: restart.max_tries: want a whole number, got "ten"
testdata/bad/type_int.yaml:5: reload.max_unavailable: want a whole number, got 1.5`},
	{"type_bool.yaml", `testdata/bad/type_bool.yaml:3: ready.tcp: want true or false, got "yes"`},
	{"ready_notify_type.yaml", `testdata/bad/ready_notify_type.yaml:3: ready.notify: want true or false, got "sometimes"`},

	// Ports.
	{"no_ports_key.yaml", `testdata/bad/no_ports_key.yaml:2: no ports configured; add e.g. ports: ["8001-8004"]`},
	{"ports_null.yaml", `testdata/bad/ports_null.yaml:1: ports: no ports configured; add e.g. ports: ["8001-8004"]`},
	{"ports_key_case.yaml", `testdata/bad/ports_key_case.yaml:2: unknown key "Ports" (did you mean "ports"?)`},
	{"ports_empty.yaml", `testdata/bad/ports_empty.yaml:1: ports: empty list; list at least one port, e.g. ports: [8001]`},
	{"ports_duplicate.yaml", `testdata/bad/ports_duplicate.yaml:7: ports: 8002 listed twice (first on line 5)`},
	{"ports_overlap.yaml", `testdata/bad/ports_overlap.yaml:3: ports: "8003-8006" overlaps "8001-8004" on line 2
testdata/bad/ports_overlap.yaml:4: ports: 8002 listed twice (first on line 2, in "8001-8004")
testdata/bad/ports_overlap.yaml:5: ports: "8000-8001" overlaps "8001-8004" on line 2`},
	{"ports_zero.yaml", `testdata/bad/ports_zero.yaml:1: ports: 0 is out of range 1-65535`},
	{"ports_70000.yaml", `testdata/bad/ports_70000.yaml:3: ports: 70000 is out of range 1-65535
testdata/bad/ports_70000.yaml:4: ports: "65530-70000": 70000 is out of range 1-65535`},
	{"ports_backwards.yaml", `testdata/bad/ports_backwards.yaml:1: ports: range "8004-8001" is backwards; write "8001-8004"`},
	{"ports_huge.yaml", `testdata/bad/ports_huge.yaml:1: ports: "1-65535" is 65535 ports; at most 1024 are allowed`},
	{"ports_too_many.yaml", `testdata/bad/ports_too_many.yaml:3: ports: "20001-20600" brings the total to 1200 ports; at most 1024 are allowed`},
	{"ports_range_out.yaml", `testdata/bad/ports_range_out.yaml:2: ports: "8001-80040": 80040 is out of range 1-65535`},
	{"ports_malformed.yaml", `testdata/bad/ports_malformed.yaml:2: ports: "80a1" is not a port or a range like "8001-8004"
testdata/bad/ports_malformed.yaml:3: ports: want a port like 8001 or a range like "8001-8004", got 3.5
testdata/bad/ports_malformed.yaml:4: ports: "8001-" is not a port or a range like "8001-8004"
testdata/bad/ports_malformed.yaml:5: ports: want a port like 8001 or a range like "8001-8004", got a list
testdata/bad/ports_malformed.yaml:6: ports: want a port like 8001 or a range like "8001-8004", got true`},

	// Command.
	{"command_empty.yaml", `testdata/bad/command_empty.yaml:2: command: empty; remove "command:" to run the built-in server, or list a program and its arguments`},
	{"command_null.yaml", `testdata/bad/command_null.yaml:2: command: empty; remove "command:" to run the built-in server, or list a program and its arguments`},
	{"command_empty_program.yaml", `testdata/bad/command_empty_program.yaml:2: command[0]: empty program name`},
	{"command_string.yaml", `testdata/bad/command_string.yaml:2: command: want a list of arguments, got a string; write it as a list, e.g. command: ["./app", "--port", "{port}"]`},
	{"command_item_type.yaml", `testdata/bad/command_item_type.yaml:4: command[1]: want a string, got a list
testdata/bad/command_item_type.yaml:5: command[2]: contains a NUL byte, which no argument can hold`},
	{"command_placeholder.yaml", `testdata/bad/command_placeholder.yaml:4: command[1]: "{prot}" is not a placeholder; did you mean "{port}"?
testdata/bad/command_placeholder.yaml:5: command[2]: "{Port}" is not a placeholder; did you mean "{port}"?
testdata/bad/command_placeholder.yaml:6: command[3]: "{ port }" is not a placeholder; did you mean "{port}"?
testdata/bad/command_placeholder.yaml:7: command[4]: "{PORT}" is not a placeholder; did you mean "{port}"?`},
	{"command_placeholder_shell.yaml", `testdata/bad/command_placeholder_shell.yaml:3: command[2]: "{prot}" is not a placeholder; did you mean "{port}"?`},
	{"command_missing_path.yaml", `testdata/bad/command_missing_path.yaml:2: command[0]: "./no-such-app" ($D/no-such-app) does not exist`},
	{"command_missing_in_path.yaml", `testdata/bad/command_missing_in_path.yaml:2: command[0]: "hellomgr-no-such-program" not found in PATH`},
	{"command_not_executable.yaml", `testdata/bad/command_not_executable.yaml:3: command[0]: "./command_not_executable.yaml" ($D/command_not_executable.yaml) is not executable (try: chmod +x $D/command_not_executable.yaml)`},
	{"command_bare_name_in_dir.yaml", `testdata/bad/command_bare_name_in_dir.yaml:2: command[0]: "command_bare_name_in_dir.yaml" not found in PATH; for the one in $D, write "./command_bare_name_in_dir.yaml"`},
	{"command_is_dir.yaml", `testdata/bad/command_is_dir.yaml:2: command[0]: "/" is a directory, not a program`},

	// Durations.
	{"duration_bad.yaml", `testdata/bad/duration_bad.yaml:3: ready.timeout: want a duration like "10s" or "500ms", got "10 s"
testdata/bad/duration_bad.yaml:4: ready.interval: want a duration like "10s" or "500ms", got "soon"`},
	{"duration_bare.yaml", `testdata/bad/duration_bare.yaml:3: stop.timeout: 10 has no unit; write e.g. "10s" or "10ms"
testdata/bad/duration_bare.yaml:5: restart.backoff: 0.5 has no unit; write e.g. "0.5s" or "0.5ms"`},
	{"duration_negative.yaml", `testdata/bad/duration_negative.yaml:3: ready.interval: must be more than 0, got -50ms
testdata/bad/duration_negative.yaml:6: nginx.drain_timeout: must not be negative, got -1s`},
	{"duration_zero.yaml", `testdata/bad/duration_zero.yaml:3: restart.backoff: must be more than 0, got 0s
testdata/bad/duration_zero.yaml:4: restart.reset_after: must be more than 0, got 0`},
	{"backoff_more_than_max.yaml", `testdata/bad/backoff_more_than_max.yaml:4: restart.max_backoff: 1s is less than restart.backoff (2s)`},
	{"backoff_order.yaml", `testdata/bad/backoff_order.yaml:3: restart.backoff: 30s is more than restart.max_backoff (10s by default)`},
	{"backoff_floor.yaml", `testdata/bad/backoff_floor.yaml:3: restart.backoff: 1ms is too short; at least 10ms (an instance that keeps crashing, restarted faster, keeps a core busy)`},

	// Other sections.
	{"max_unavailable_zero.yaml", `testdata/bad/max_unavailable_zero.yaml:3: reload.max_unavailable: want 1 to 4 (the number of ports), got 0`},
	{"max_unavailable_too_many.yaml", `testdata/bad/max_unavailable_too_many.yaml:3: reload.max_unavailable: want 1 to 4 (the number of ports), got 5`},
	{"handoff_bad.yaml", `testdata/bad/handoff_bad.yaml:3: reload.handoff: want "socket" or "none", got "fd"`},
	{"dir_missing.yaml", `testdata/bad/dir_missing.yaml:2: dir: "no-such-dir" ($D/no-such-dir) does not exist`},
	{"dir_tilde.yaml", `testdata/bad/dir_tilde.yaml:2: dir: "~/app" ($D/~/app) does not exist ("~" is not expanded; write the full path)`},
	{"dir_is_file.yaml", `testdata/bad/dir_is_file.yaml:2: dir: "dir_is_file.yaml" ($D/dir_is_file.yaml) is not a directory`},
	{"signal_bad.yaml", `testdata/bad/signal_bad.yaml:3: stop.signal: unknown signal "TREM"; want one of TERM, INT, QUIT, HUP, USR1, USR2, KILL`},
	{"metrics_bad_host.yaml", `testdata/bad/metrics_bad_host.yaml:3: metrics.address: host "example.com" is not an IP address or localhost`},
	{"metrics_bad_port.yaml", `testdata/bad/metrics_bad_port.yaml:3: metrics.address: port "70000" is not a number in 0-65535 (0: any free port)`},
	{"metrics_no_port.yaml", `testdata/bad/metrics_no_port.yaml:3: metrics.address: want "host:port" like "127.0.0.1:9100", or "off", got "9100"`},
	{"metrics_no_host.yaml", `testdata/bad/metrics_no_host.yaml:3: metrics.address: ":9100" has no host; write "127.0.0.1:9100" (this machine only) or "0.0.0.0:9100" (every interface)`},
	{"metrics_port_clash.yaml", `testdata/bad/metrics_port_clash.yaml:3: metrics.address: port 8003 is also in ports`},
	{"nginx_no_upstream_file.yaml", `testdata/bad/nginx_no_upstream_file.yaml:2: nginx: upstream_file is required: the file hellomgr writes the upstream block to, e.g. upstream_file: /etc/nginx/conf.d/hellomgr.conf`},
	{"nginx_empty.yaml", `testdata/bad/nginx_empty.yaml:2: nginx: upstream_file is required: the file hellomgr writes the upstream block to, e.g. upstream_file: /etc/nginx/conf.d/hellomgr.conf`},
	{"nginx_bad.yaml", `testdata/bad/nginx_bad.yaml:3: nginx.upstream: "my upstream" is not a valid nginx upstream name (letters, digits, _, . and -)
testdata/bad/nginx_bad.yaml:4: nginx.upstream_file: "no-such-dir/up.conf" ($D/no-such-dir/up.conf): folder $D/no-such-dir does not exist
testdata/bad/nginx_bad.yaml:5: nginx.reload_command: empty; remove it for the default ["nginx", "-s", "reload"]`},
	{"env_reserved.yaml", `testdata/bad/env_reserved.yaml:5: env.LISTEN_FDS: hellomgr sets it per instance (the number of sockets passed with reload.handoff: socket); remove it
testdata/bad/env_reserved.yaml:6: env.LISTEN_PID: hellomgr sets it per instance (left unset: a pid other than the instance's own makes it ignore the socket passed); remove it
testdata/bad/env_reserved.yaml:7: env.LISTEN_FDNAMES: hellomgr sets it per instance (the names of the sockets passed with reload.handoff: socket); remove it
testdata/bad/env_reserved.yaml:8: env.NOTIFY_SOCKET: hellomgr sets it per instance (the socket the instance says READY=1 on, with ready.notify); remove it`},
	{"nginx_reload_missing.yaml", `testdata/bad/nginx_reload_missing.yaml:5: nginx.reload_command[0]: "./no-such-reload-script" ($D/no-such-reload-script) does not exist`},
	{"nginx_reload_not_in_path.yaml", `testdata/bad/nginx_reload_not_in_path.yaml:5: nginx.reload_command[0]: "hellomgr-no-such-nginx" not found in PATH`},
	{"env_list.yaml", `testdata/bad/env_list.yaml:2: env: want a mapping of names to values, got a list`},
	{"env_port.yaml", `testdata/bad/env_port.yaml:3: env.PORT: hellomgr sets it per instance (the instance's port); remove it`},
	{"env_bad.yaml", `testdata/bad/env_bad.yaml:3: env: "MY-VAR" is not a variable name (letters, digits and _, not starting with a digit)
testdata/bad/env_bad.yaml:4: env.LIST: want a string, got a list
testdata/bad/env_bad.yaml:5: env.EMPTY: want a value, got nothing (write EMPTY: "" for an empty one)
testdata/bad/env_bad.yaml:7: env.OK: listed twice (first on line 6)`},
	{"ready_both.yaml", `testdata/bad/ready_both.yaml:4: ready: both http and tcp: true are set; keep one`},
	{"ready_http_path.yaml", `testdata/bad/ready_http_path.yaml:3: ready.http: want a path starting with "/" and without spaces, like "/healthz", got "health"`},
	{"ready_http_url.yaml", `testdata/bad/ready_http_url.yaml:3: ready.http: want a path, not a URL; write "/health?full=1"`},
	{"logs_under_file.yaml", `testdata/bad/logs_under_file.yaml:3: logs.dir: "logs_under_file.yaml/logs" ($D/logs_under_file.yaml/logs) cannot be created: $D/logs_under_file.yaml is not a directory`},
	{"logs_size_bare.yaml", `testdata/bad/logs_size_bare.yaml:3: logs.max_size: 10 has no unit; write e.g. "10MB"`},
	{"logs_size_small.yaml", `testdata/bad/logs_size_small.yaml:3: logs.max_size: files rotate in whole megabytes; want "1MB" or more, got "500KB"`},
	{"logs_size_zero.yaml", `testdata/bad/logs_size_zero.yaml:3: logs.max_size: must be more than 0, like "10MB"`},
	{"logs_size_fraction.yaml", `testdata/bad/logs_size_fraction.yaml:3: logs.max_size: want a size like "10MB" or "1GB", got "1.5GB"`},
	{"logs_size_unit.yaml", `testdata/bad/logs_size_unit.yaml:3: logs.max_size: unknown unit "TB"; want MB or GB, like "10MB"`},
	{"logs_size_huge.yaml", `testdata/bad/logs_size_huge.yaml:3: logs.max_size: "2048GB" is too large; at most 1024GB`},
	{"logs_size_list.yaml", `testdata/bad/logs_size_list.yaml:3: logs.max_size: want a size like "10MB" or "1GB", got a list`},
	{"logs_to_unknown.yaml", `testdata/bad/logs_to_unknown.yaml:3: logs.to: want "file" or "journal", got "syslog"`},
	{"logs_files_zero.yaml", `testdata/bad/logs_files_zero.yaml:3: logs.max_files: must be 1 or more (old files kept per port), got 0`},
	{"logs_files_type.yaml", `testdata/bad/logs_files_type.yaml:3: logs.max_files: want a whole number, got "five"`},
	{"logs_unknown_key.yaml", `testdata/bad/logs_unknown_key.yaml:4: logs: unknown key "max_sise" (did you mean "max_size"?)
testdata/bad/logs_unknown_key.yaml:5: logs: unknown key "rotate" (want one of to, dir, max_size, max_files)`},
	{"socket_too_long.yaml", `testdata/bad/socket_too_long.yaml:2: socket: path is 110 bytes, more than the 107 a Unix socket allows; choose a shorter one, e.g. socket: /tmp/hellomgr.sock`},

	// Health after start.
	{"liveness_timeout_interval.yaml", `testdata/bad/liveness_timeout_interval.yaml:5: liveness.timeout: timeout 2s must be less than interval 2s, so that a probe ends before the next one starts`},
	{"liveness_interval_default_timeout.yaml", `testdata/bad/liveness_interval_default_timeout.yaml:4: liveness.interval: timeout 2s must be less than interval 1s, so that a probe ends before the next one starts`},
	{"liveness_failures_zero.yaml", `testdata/bad/liveness_failures_zero.yaml:4: liveness.failures: must be 1 or more (failed probes in a row that replace an instance), got 0`},
	{"liveness_nothing.yaml", `testdata/bad/liveness_nothing.yaml:2: liveness: probes nothing; add http: "/healthz" (a GET that must answer below 500), or remove the section`},
	{"liveness_tcp_handoff.yaml", `testdata/bad/liveness_tcp_handoff.yaml:3: liveness.tcp: the built-in server gets reload.handoff: socket, so hellomgr holds the port and a connect always succeeds, even to a hung instance; use http: PATH (a GET that must answer), or set reload.handoff: none`},
	{"ready_tcp_handoff.yaml", `testdata/bad/ready_tcp_handoff.yaml:4: ready.tcp: reload.handoff is socket, so hellomgr holds the port and a connect succeeds before the instance even serves; use http: PATH (a GET that must answer) or notify: true, or set reload.handoff: none`},
	{"liveness_both.yaml", `testdata/bad/liveness_both.yaml:4: liveness: both http and tcp: true are set; keep one`},
	{"limits_memory_small.yaml", `testdata/bad/limits_memory_small.yaml:3: limits.memory: "512KiB" is less than 1MiB; no instance runs in that`},
	{"limits_memory_bare.yaml", `testdata/bad/limits_memory_bare.yaml:3: limits.memory: 256 has no unit; write e.g. "256MiB"`},
	{"limits_memory_unit.yaml", `testdata/bad/limits_memory_unit.yaml:3: limits.memory: unknown unit "PB"; want KiB, MiB, GiB or TiB, like "256MiB"`},
	{"hooks_bad.yaml", `testdata/bad/hooks_bad.yaml:3: hooks.on_failed[0]: "./no-such-hook.sh" ($D/no-such-hook.sh) does not exist
testdata/bad/hooks_bad.yaml:4: hooks.on_restart: empty; remove it to run nothing, or list a program and its arguments
testdata/bad/hooks_bad.yaml:5: hooks.timeout: must be more than 0, got 0s`},

	// Everything wrong at once comes out in one error, in line order.
	{"many_problems.yaml", `testdata/bad/many_problems.yaml:2: ports: 8003 listed twice (first on line 2, in "8001-8004")
testdata/bad/many_problems.yaml:3: unknown key "comand" (did you mean "command"?)
testdata/bad/many_problems.yaml:5: ready.timeout: 10 has no unit; write e.g. "10s" or "10ms"
testdata/bad/many_problems.yaml:7: stop.signal: unknown signal "TERMINATE"; want one of TERM, INT, QUIT, HUP, USR1, USR2, KILL`},
}

func TestBadConfigs(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	// Each file here gets the default socket under testdata/bad; in a
	// checkout deep enough for that to be too long, every row would gain
	// a socket error.
	if sock := filepath.Join(dir, ".hellomgr", "hellomgr.sock"); len(sock) > maxSocketPath {
		t.Skipf("checkout path too long for the default socket (%d bytes): %s", len(sock), sock)
	}
	for _, tc := range badConfigs {
		t.Run(strings.TrimSuffix(tc.file, ".yaml"), func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tc.file)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("%s: got config %+v, want error:\n%s", path, c, tc.want)
			}
			if c != nil {
				t.Errorf("%s: got a config along with the error", path)
			}
			want := strings.ReplaceAll(tc.want, "$D", dir)
			if got := err.Error(); got != want {
				t.Errorf("%s:\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestBadConfigsAllPinned keeps testdata/bad and the table in step.
func TestBadConfigsAllPinned(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, tc := range badConfigs {
		if rows[tc.file] {
			t.Errorf("%s: two rows", tc.file)
		}
		rows[tc.file] = true
	}
	for _, f := range files {
		if !rows[filepath.Base(f)] {
			t.Errorf("%s: no row in badConfigs", f)
		}
		delete(rows, filepath.Base(f))
	}
	for f := range rows {
		t.Errorf("%s: row for a file that does not exist", f)
	}
}
