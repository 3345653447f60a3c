#!/usr/bin/env bash
# Cross-builds the Debian packages for arm64 (Kunpeng, Phytium; Kylin and UOS are Debian-based) on an
# amd64 machine and runs the unit tests of that build under qemu-user.
#
#   scripts/cross-arm64.sh [OUTDIR]      .deb files into OUTDIR (default build-deb-arm64)
#   scripts/cross-arm64.sh --prepare     only make (or check) the cached build chroot
#
# Debian multiarch: the cross toolchain (crossbuild-essential-arm64) and the :arm64 development
# packages, in a Debian 12 chroot of its own. Why a chroot: libnfc-dev is not Multi-Arch: same, so
# libnfc-dev:arm64 would remove the host's libnfc-dev and break native builds. The chroot is made once
# with debootstrap and cached, keyed on the Build-Depends, under $SSCARD_CROSS_CACHE (default
# /var/cache/sscard-cross). The build has its tests (DEB_BUILD_OPTIONS without nocheck): debian/rules
# runs `ctest -L unit` with qemu-aarch64-static as CMake's cross-compiling emulator. lintian checks the
# packages on the host.
set -euo pipefail
cd "$(dirname "$0")/.."

prepare_only=false
[ "${1:-}" = --prepare ] && prepare_only=true && shift
out=${1:-build-deb-arm64}
mirror=${SSCARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${SSCARD_CROSS_CACHE:-/var/cache/sscard-cross}
# The chroot changes with the build dependencies; bump "chroot-N" when the recipe below changes.
# python3 and openssl: the outbox sender's unit tests start test/env/backend-receiver.py.
key=$( (echo chroot-2; sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control) | sha256sum | cut -c1-16)
root=$cache/bookworm-$key
t0=$SECONDS

if [ ! -d "$root" ]; then
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.chroot.XXXXXX")
    chmod 755 "$tmp"
    echo "cross-arm64: making the build chroot $root (once; cached)"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1 ||
        { tail -20 "$tmp.log" >&2; rm -rf "$tmp"; exit 1; }
    mkdir -p "$tmp/src"
    cp debian/control "$tmp/src/control"
    chroot "$tmp" /bin/sh -euc '
        export DEBIAN_FRONTEND=noninteractive
        dpkg --add-architecture arm64
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends crossbuild-essential-arm64 qemu-user-static \
            debhelper dpkg-dev fakeroot ccache python3 openssl >/dev/null
        mkdir -p /src/pkg/debian && mv /src/control /src/pkg/debian/control
        apt-get build-dep -y -qq -a arm64 /src/pkg >/dev/null
        apt-get clean
        rm -rf /src' >>"$tmp.log" 2>&1 || { tail -20 "$tmp.log" >&2; rm -rf "$tmp"; exit 1; }
    mv "$tmp" "$root"
    rm -f "$tmp.log"
    echo "cross-arm64: chroot ready in $((SECONDS - t0)) s"
fi
$prepare_only && exit 0
out=$(mkdir -p "$out" && cd "$out" && pwd)

# The chroot's own ccache directory (arm64 objects never match native ones anyway), kept across runs.
mkdir -p "$cache/ccache"
mounts=()
cleanup() {
    local m
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
for m in proc dev; do
    mount --bind "/$m" "$root/$m"
    mounts+=("$root/$m")
done
mkdir -p "$root/ccache"
mount --bind "$cache/ccache" "$root/ccache"
mounts+=("$root/ccache")

version=$(dpkg-parsechangelog -S Version)
rm -rf "$root/build"
mkdir -p "$root/build/sscard-$version"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$root/build/sscard-$version"

t1=$SECONDS
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    CCACHE_DIR=/ccache SSCARD_CROSS_EMULATOR=/usr/bin/qemu-aarch64-static \
    DEB_BUILD_OPTIONS="parallel=$(nproc)" \
    /bin/sh -ec "cd /build/sscard-$version && dpkg-buildpackage -a arm64 -b -us -uc"
echo "cross-arm64: build and unit tests under qemu in $((SECONDS - t1)) s"

rm -f "$out"/*_arm64.deb
cp "$root/build"/*_"${version}"_arm64.deb "$out"/
lintian --fail-on error,warning --display-info "$root/build/sscard_${version}_arm64.changes"
for d in "$out"/*_arm64.deb; do
    printf '%s: %s\n' "$(basename "$d")" "$(dpkg-deb -f "$d" Architecture)"
done
echo "cross-arm64: done in $((SECONDS - t0)) s"
