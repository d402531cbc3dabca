#!/usr/bin/env bash
# Prints the packaged /etc/hellomgr/config.yaml: the repository's
# config.yaml ($1) with the instances' folder and control socket under
# /var/lib/hellomgr and their logs under /var/log/hellomgr. Each change is
# checked to have happened: a config.yaml reworded upstream fails the
# build instead of shipping paths relative to /etc.
set -euo pipefail
in=$1
out=$(sed \
	-e 's|^# dir: \.$|dir: /var/lib/hellomgr|' \
	-e 's|^  dir: logs$|  dir: /var/log/hellomgr|' \
	-e 's|^# socket: \.hellomgr/hellomgr\.sock$|socket: /var/lib/hellomgr/hellomgr.sock|' \
	"$in")
for want in '^dir: /var/lib/hellomgr$' '^  dir: /var/log/hellomgr$' '^socket: /var/lib/hellomgr/hellomgr.sock$'; do
	grep -q "$want" <<<"$out" || { echo "$in: no line to make ${want//[\^\$]/}; update packaging/config.sh" >&2; exit 1; }
done
printf '%s\n' "$out"
