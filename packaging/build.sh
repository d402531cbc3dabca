#!/usr/bin/env bash
# Builds hellomgr's .deb and .rpm (what `make package` runs): stages every
# file the packages hold under $DIST/stage, then runs nfpm (pinned in
# packaging/go.mod, outside the product's go.mod) once per format.
#
# Environment (all optional):
#   DIST            where the packages go (default: dist, beside this folder)
#   PKG_VERSION     package version (default: 0.1.0+git<commit time>.<commit>)
#   TORNADO_MODULE  the Tornado integration to ship: a module file, or a
#                   package folder (default: python/hellomgr_tornado/hellomgr_tornado)
#   GO              the go command (default: go)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
GO=${GO:-go}
DIST=$(realpath -m "${DIST:-$repo/dist}")
TORNADO_MODULE=${TORNADO_MODULE:-python/hellomgr_tornado/hellomgr_tornado}
cd "$repo"

# One date for every file, the man pages and the changelog: the commit's.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
if [ -z "${PKG_VERSION:-}" ]; then
	PKG_VERSION="0.1.0+git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S).$(git rev-parse --short=7 HEAD)"
fi
export PKG_VERSION
export ARCH=${ARCH:-$($GO env GOARCH)}
export STAGE=$DIST/stage

rm -rf "$STAGE"
mkdir -p "$STAGE/man" "$STAGE/completion" "$STAGE/python"

# The programs are built into a cache folder of their own: go build
# leaves an up-to-date output as it is, so a second build of the same
# commit (another version, another DIST) links nothing again. One folder
# per clone, so that two clones never build into the same files.
tools=${HELLOMGR_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hellomgr-packaging/$(printf %s "$repo" | sha256sum | cut -c1-12)}
mkdir -p "$tools"

# The binary: static (no libc dependency), symbols stripped (the build
# info, which `hellomgr version` prints, stays).
CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w" -o "$tools/hellomgr" .
cp "$tools/hellomgr" "$STAGE/hellomgr"

# The man pages: one per command, from the cobra definitions.
$GO build -o "$tools/genman" ./internal/genman
"$tools/genman" -out "$STAGE/man"
gzip -9n "$STAGE"/man/*.1

for shell in bash zsh fish; do
	"$STAGE/hellomgr" completion "$shell" >"$STAGE/completion/hellomgr.$shell"
done

"$here/unit.sh" deploy/hellomgr.service >"$STAGE/hellomgr.service"
"$here/config.sh" config.yaml >"$STAGE/config.yaml"

if [ -d "$TORNADO_MODULE" ]; then
	cp -r "$TORNADO_MODULE" "$STAGE/python/"
	find "$STAGE/python" -name __pycache__ -prune -exec rm -rf {} +
else
	install -m 0644 "$TORNADO_MODULE" "$STAGE/python/"
fi

cp "$here/sysusers.conf" "$here/tmpfiles.conf" "$here/copyright" "$here/lintian-overrides" "$STAGE/"
"$here/changelog.sh" "$PKG_VERSION" | gzip -9n >"$STAGE/changelog.gz"

# Each maintainer script is made whole: common.sh in place of "#COMMON#".
mkdir -p "$STAGE/scripts"
cp -r "$here/scripts/deb" "$here/scripts/rpm" "$STAGE/scripts/"
for f in "$STAGE"/scripts/*/*; do
	awk -v common="$here/scripts/common.sh" '
		$0 == "#COMMON#" { while ((getline line < common) > 0) print line; next }
		{ print }' "$f" >"$f.tmp"
	mv "$f.tmp" "$f"
	chmod 0755 "$f"
done
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# The config, with each man page listed as an RPM %doc (contents: is
# last in nfpm.yaml).
cp "$here/nfpm.yaml" "$STAGE/nfpm.yaml"
for page in "$STAGE"/man/*.1.gz; do
	printf '  - {src: %s, dst: /usr/share/man/man1/%s, type: doc, file_info: {mode: 0644}}\n' \
		"$page" "$(basename "$page")" >>"$STAGE/nfpm.yaml"
done
# nfpm reads the scripts relative to where it runs: from the stage.
$GO -C "$here" build -o "$tools/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm
for format in deb rpm; do
	(cd "$STAGE" && "$tools/nfpm" package --config "$STAGE/nfpm.yaml" --packager "$format" --target "$DIST/")
done
ls -l "$DIST"/*.deb "$DIST"/*.rpm
