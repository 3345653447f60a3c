#!/usr/bin/env bash
# Installs everything sscard needs to build, run its demo and run its tests on Debian 12.
# Run as root (or through sudo). Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config clang clang-format libclang-rt-14-dev
  # libraries
  libpcsclite-dev libnfc-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev zlib1g-dev
  nlohmann-json3-dev doctest-dev libtomlplusplus-dev libcli11-dev libsystemd-dev
  # runtime and test environment: real pcscd with virtual readers, nginx for feeds
  pcscd vsmartcard-vpcd libnfc-bin nginx-light sqlite3 openssl
  python3 python3-cryptography systemd procps psmisc iproute2 curl ca-certificates pcsc-tools
  # packages (scripts/build-packages.sh), manual pages, the installed-service test in a container
  # (test/package/), the arm64 cross build's chroot (scripts/cross-arm64.sh)
  debhelper dpkg-dev fakeroot lintian scdoc debootstrap systemd-container
  # the bash completions, checked against the commands' --help (test/package/test_completion.py)
  bash-completion
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian starts pcscd through systemd socket activation; the tests run their own pcscd with their own
# reader configuration, so the packaged one must not grab the readers. Stop it only where systemd runs.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop pcscd.socket pcscd.service 2>/dev/null || true
fi
echo "install-deps: all packages present"
