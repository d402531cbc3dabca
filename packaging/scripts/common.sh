# Shared by the maintainer scripts of the .deb and the .rpm: build.sh
# puts this text in place of the line "#COMMON#" of each script, so that
# every script is one self-contained file, as dpkg and rpm run them.

config=/etc/hellomgr/config.yaml
# hellomgr keeps its pid file beside the config it runs (the state folder).
pidfile=/etc/hellomgr/.hellomgr/hellomgr.pid

# make_user creates the system user hellomgr unless it exists:
# systemd-sysusers from /usr/lib/sysusers.d/hellomgr.conf where it runs,
# useradd (Debian's passwd, Fedora's shadow-utils) where it does not.
make_user() {
	getent passwd hellomgr >/dev/null && return 0
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers hellomgr.conf && return 0
	fi
	useradd --system --user-group --home-dir /var/lib/hellomgr --no-create-home \
		--shell /usr/sbin/nologin --comment "hellomgr process manager" hellomgr
}

# make_dirs creates the folders of /usr/lib/tmpfiles.d/hellomgr.conf.
make_dirs() {
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		systemd-tmpfiles --create hellomgr.conf && return 0
	fi
	install -d -m 0750 -o hellomgr -g hellomgr /var/lib/hellomgr /var/log/hellomgr
	install -d -m 0700 -o hellomgr -g hellomgr /etc/hellomgr/.hellomgr
}

# manager_user prints the user of the manager running on $config, and
# fails when none runs. The manager answers on its control socket only to
# its own user (root included), so the commands below run as that user.
manager_user() {
	[ -f "$pidfile" ] || return 1
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	stat -c %U "/proc/$pid" 2>/dev/null
}

# as_manager runs hellomgr as the manager's user.
as_manager() {
	user=$1
	shift
	if [ "$user" = root ]; then
		/usr/bin/hellomgr "$@"
	else
		runuser -u "$user" -- /usr/bin/hellomgr "$@"
	fi
}

# upgrade_manager hands a running manager over to the binary just
# installed: same manager pid, every instance kept (hellomgr upgrade). It
# never restarts the service, which would stop every instance. A refusal
# (a rollout running, config.yaml changed since the last reload) leaves
# the old program running and is reported, not fatal: the service serves.
upgrade_manager() {
	user=$(manager_user) || return 0
	if ! as_manager "$user" upgrade -c "$config"; then
		echo "hellomgr: the running manager kept its old program (see above); once fixed, run: hellomgr upgrade -c $config" >&2
	fi
}

# stop_manager stops a manager that runs on $config outside systemd (the
# service is stopped by systemctl first): every instance, then itself.
stop_manager() {
	user=$(manager_user) || return 0
	as_manager "$user" down -c "$config" || echo "hellomgr: could not stop the manager (pid $(cat "$pidfile")); stop it by hand" >&2
}

systemd_running() { [ -d /run/systemd/system ]; }
