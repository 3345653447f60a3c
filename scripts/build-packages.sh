#!/usr/bin/env bash
# Builds the Debian packages sscard and sscard-feed from this tree and checks them with lintian.
#
#   scripts/build-packages.sh [OUTDIR]           native build, .deb files into OUTDIR (default build-deb)
#   SSCARD_DEB_ARCH=arm64 scripts/build-packages.sh build-deb-arm64   cross build (scripts/cross-arm64.sh)
#
# The build runs in a copy of the tree under $SSCARD_DEB_WORKDIR (default /var/tmp/sscard-deb), because
# dpkg-buildpackage writes its results next to the source directory; the path is fixed so that ccache
# hits across runs (dpkg-buildflags maps the source path away). DEB_BUILD_OPTIONS defaults to nocheck:
# the unit tests run in CI's own builds and are then not even compiled here.
# Environment: SSCARD_DEB_ARCH, SSCARD_DEB_WORKDIR, SSCARD_LINTIAN=0 (skip lintian), DEB_BUILD_OPTIONS.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mkdir -p "${1:-build-deb}" && cd "${1:-build-deb}" && pwd)
arch=${SSCARD_DEB_ARCH:-$(dpkg --print-architecture)}
work=${SSCARD_DEB_WORKDIR:-/var/tmp/sscard-deb}/$arch
version=$(dpkg-parsechangelog -S Version)
src=$work/sscard-$version

rm -rf "$work"
mkdir -p "$src"
# Tracked files and new ones not ignored: what a commit of this tree would hold.
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$src"

args=(-b -us -uc)
[ "$arch" = "$(dpkg --print-architecture)" ] || args+=(-a "$arch")
if command -v ccache >/dev/null 2>&1; then
    CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}
    export CCACHE_DIR
fi
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck parallel=$(nproc)}
(cd "$src" && dpkg-buildpackage "${args[@]}")

changes=$work/sscard_${version}_${arch}.changes
if [ "${SSCARD_LINTIAN:-1}" != 0 ]; then
    # Every tag lintian reports at warning level or above fails the build; overrides live in
    # debian/*.lintian-overrides with their reasons.
    lintian --fail-on error,warning --display-info "$changes"
fi
rm -f "$out"/*_"$arch".deb
cp "$work"/*_"${version}"_"$arch".deb "$out"/
ls -l "$out"/*_"$arch".deb
