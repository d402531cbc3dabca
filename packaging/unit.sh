#!/usr/bin/env bash
# Prints the packaged systemd unit: deploy/hellomgr.service ($1) with the
# binary where the package puts it (/usr/bin, not /usr/local/bin), and its
# by-hand install steps replaced by what the package did. Fails when the
# unit no longer has what this expects, rather than ship it half-changed.
set -euo pipefail
unit=$1
grep -q '^\[Unit\]' "$unit" || { echo "$unit: no [Unit] section" >&2; exit 1; }
grep -q '^ExecStart=/usr/local/bin/hellomgr ' "$unit" || { echo "$unit: ExecStart= is not /usr/local/bin/hellomgr; update packaging/unit.sh" >&2; exit 1; }
cat <<'HEADER'
# hellomgr under systemd, as the hellomgr package installs it: the binary
# in /usr/bin, the config in /etc/hellomgr/config.yaml (a conffile), the
# user hellomgr (/usr/lib/sysusers.d/hellomgr.conf) and its folders
# (/usr/lib/tmpfiles.d/hellomgr.conf). A package upgrade runs
# `hellomgr upgrade` and never restarts this service. Change settings
# with `systemctl edit hellomgr`, not here.

HEADER
# From [Unit] on: the header of the repository's copy is for installing by hand.
sed -n '/^\[Unit\]/,$p' "$unit" | sed 's|/usr/local/bin/hellomgr|/usr/bin/hellomgr|g'
