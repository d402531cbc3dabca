#!/usr/bin/env bash
# Prints a Debian changelog entry for version $1, dated $SOURCE_DATE_EPOCH
# (the package's /usr/share/doc/hellomgr/changelog.gz). The history
# itself is the repository's git log.
set -euo pipefail
cat <<ENTRY
hellomgr ($1) unstable; urgency=medium

  * Built from commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); see the
    repository's git log for the changes.

 -- hellomgr maintainers <hellomgr@users.noreply.github.com>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
ENTRY
