#!/usr/bin/env bash
# rootfs.sh DIR [PACKAGE...]: makes DIR a bootable Debian 12 tree for systemd-nspawn -b, with systemd,
# pcscd, vpcd, python3 (the simulated card) and the given extra packages (the runtime dependencies of
# the packages under test). The base tree is built once with debootstrap and cached, keyed on its
# package list, under $SSCARD_NSPAWN_CACHE (default /var/cache/sscard-nspawn); DIR gets a copy, and
# extra packages the cache lacks are installed into the copy with apt (network needed only then).
set -euo pipefail

dir=$1
shift
mirror=${SSCARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${SSCARD_NSPAWN_CACHE:-/var/cache/sscard-nspawn}
packages=(systemd systemd-sysv pcscd vsmartcard-vpcd python3 python3-cryptography procps)
extra=("$@")
include=$(printf '%s\n' "${packages[@]}" | sort -u | paste -sd, -)
key=$(printf 'bookworm minbase %s\n' "$include" | sha256sum | cut -c1-16)
tree=$cache/bookworm-$key

if [ ! -d "$tree" ]; then
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.debootstrap.XXXXXX")
    chmod 755 "$tmp" # the root of the tree: every user in the container traverses it
    echo "rootfs: debootstrap bookworm into $tree (once; cached)"
    # debootstrap's own resolver fails on some --include sets (python3-cryptography): apt installs them.
    debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1 ||
        { tail -20 "$tmp.log" >&2; rm -rf "$tmp"; exit 1; }
    # shellcheck disable=SC2086
    chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        /bin/sh -ec "apt-get update -qq; apt-get install -y -qq --no-install-recommends ${include//,/ }; apt-get clean" \
        >>"$tmp.log" 2>&1 || { tail -20 "$tmp.log" >&2; rm -rf "$tmp"; exit 1; }
    # A kiosk boots to multi-user with no login prompt needed; nothing here asks for a terminal.
    chroot "$tmp" systemctl mask console-getty.service getty@.service systemd-firstboot.service >/dev/null 2>&1 || true
    echo sscard-test >"$tmp/etc/hostname"
    rm -f "$tmp/etc/machine-id" && : >"$tmp/etc/machine-id"
    mv "$tmp" "$tree"
    rm -f "$tmp.log"
fi
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
cp -a --reflink=auto "$tree" "$dir"

missing=()
for p in "${extra[@]}"; do
    chroot "$dir" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "rootfs: installing ${missing[*]}"
    chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        /bin/sh -ec 'apt-get update -qq; apt-get install -y -qq --no-install-recommends "$@"; apt-get clean' \
        sh "${missing[@]}" >/dev/null
fi
