#!/usr/bin/env bash
# installed-service.sh DEBDIR [UPGRADEDIR]
#
# Installs the built packages (DEBDIR: sscard, sscard-feed, libsscarddriver1; see `packages`) in a
# Debian 12 container booted with systemd-nspawn -b (private network: its pcscd, vpcd and simulated
# card never touch the host's test readers on ports 40000-40003), and checks the service as an
# integrator would get it:
#   the unit is enabled and active after install, with no feed set (status and journal say so);
#   a member of the kiosk group gets `status` and `card.read` through the API socket, and the national
#   interface's answers through the installed libSSCardDriver.so.1 (holder data only once its group is
#   in [roles] personal_data); it can open nothing under the state directory (0700, files 0600);
#   the service's own group is no kiosk group;
#   the unit has MemoryMax and TasksMax;
#   an inserted card is checked (journal line, priority info);
#   `systemctl stop` ends the service cleanly (exit 0);
#   an upgrade (UPGRADEDIR, else DEBDIR's packages repacked with a higher version) keeps the
#   configuration, the list and the outbox and restarts the service;
#   remove stops it; purge removes its state, its configuration and its unit.
# Prints "package-test: N passed, M failed"; exits 1 when a check failed.
# Environment: SSCARD_NSPAWN_DIR (default /var/tmp/sscard-nspawn), SSCARD_NSPAWN_CACHE (rootfs.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
debdir=$(cd "$1" && pwd)
upgradedir=${2:-}
base=${SSCARD_NSPAWN_DIR:-/var/tmp/sscard-nspawn}
machine=sscard-pkgtest-$$
root=$base/$machine
work=$base/$machine.work
VPCD_PORT=35963 # the packaged vpcd reader.conf: /dev/null:0x8C7B

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# What an integrator installs on a terminal; the -dev package is only built against (below).
packages=(sscard sscard-feed libsscarddriver1)
debs=()
for p in "${packages[@]}"; do debs+=("$debdir/${p}"_*.deb); done
for d in "${debs[@]}"; do [ -f "$d" ] || { echo "package-test: no $d" >&2; exit 2; }; done

# The packages' runtime dependencies go into the cached tree, so that dpkg -i works without network.
deps=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
    sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' | sort -u)
# shellcheck disable=SC2086
bash "$here/rootfs.sh" "$root" $deps

mkdir -p "$work/debs" "$work/upgrade"
cp "${debs[@]}" "$work/debs/"
if [ -n "$upgradedir" ]; then
    for p in "${packages[@]}"; do cp "$upgradedir/${p}"_*.deb "$work/upgrade/"; done
else
    # The same build with a higher version: what an upgrade looks like to dpkg and the maintainer
    # scripts (configuration, state, restart) without a second full build.
    for d in "${debs[@]}"; do
        x=$work/repack
        rm -rf "$x"
        dpkg-deb -R "$d" "$x"
        v=$(sed -n 's/^Version: //p' "$x/DEBIAN/control")
        sed -i "s/^Version: .*/Version: $v+upgradetest/" "$x/DEBIAN/control"
        dpkg-deb --build "$x" "$work/upgrade/" >/dev/null
    done
    rm -rf "$work/repack"
fi
cp "$here/api_call.py" "$here/driver_call.py" "$work/"
# The same files as the container sees them.
ct_debs=()
for d in "$work"/debs/*.deb; do ct_debs+=("/opt/sscard-test/debs/$(basename "$d")"); done
ct_upgrade=()
for d in "$work"/upgrade/*.deb; do ct_upgrade+=("/opt/sscard-test/upgrade/$(basename "$d")"); done

log=$work/console.log
systemd-nspawn -q -D "$root" -M "$machine" -b --register=no --keep-unit --private-network \
    --bind-ro="$repo/test/sim:/opt/sscard-sim" --bind-ro="$work:/opt/sscard-test" \
    >"$log" 2>&1 </dev/null &
nspawn=$!

leader=""
cleanup() {
    if [ -n "$leader" ] && kill -0 "$nspawn" 2>/dev/null; then
        in_ct systemctl poweroff >/dev/null 2>&1 || true
        for _ in $(seq 1 30); do kill -0 "$nspawn" 2>/dev/null || break; sleep 1; done
    fi
    kill "$nspawn" 2>/dev/null || true
    wait "$nspawn" 2>/dev/null || true
    rm -rf "$root" "$work"
}
trap cleanup EXIT

# The container's PID 1 is nspawn's child in a new PID namespace.
for _ in $(seq 1 100); do
    for p in $(pgrep -P "$nspawn" || true); do
        if [ "$(readlink "/proc/$p/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then leader=$p; fi
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { cat "$log" >&2; echo "package-test: the container did not start" >&2; exit 1; }

in_ct() { # runs a command inside the container, as root
    nsenter -t "$leader" -m -u -i -n -p -r -w env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
as_kiosk() { in_ct runuser -u kiosk -- "$@"; }
unit_prop() { in_ct systemctl show -P "$1" sscardd.service; }
export leader
export -f in_ct as_kiosk unit_prop # for the checks that run in bash -c

state=""
for _ in $(seq 1 120); do
    state=$(in_ct systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
    sleep 0.5
done
echo "container $machine booted ($state)"
[ "$state" = degraded ] && in_ct systemctl --failed --no-legend || true

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.5
    done
}
journal_has() { in_ct journalctl -u sscardd.service -o cat --no-pager | grep -qF -- "$1"; }

# From here on every check runs and is counted, whatever failed before it.
set +e

# --- the development package, used as an integrator's build uses it: pkg-config, the header, the
# link-time name, and the program running against the runtime package (no service: -11)
dev=$work/dev
mkdir -p "$dev/root"
for d in "$debdir"/libsscarddriver1_*.deb "$debdir"/libsscarddriver-dev_*.deb; do dpkg-deb -x "$d" "$dev/root"; done
cat >"$dev/uses_driver.c" <<'C'
#include <SSCardDriver.h>
#include <stdio.h>
int main(void) {
    char out[1024];
    long code = iCheckCard(1, out);
    printf("%ld\n", code);
    return 0;
}
C
pcdir=$(dirname "$(find "$dev/root" -name sscarddriver.pc)")
check "libsscarddriver-dev: a C program builds with pkg-config's flags and links -lSSCardDriver" bash -c '
    cd "$1" && cc -o uses_driver uses_driver.c \
        $(PKG_CONFIG_SYSROOT_DIR=$1/root PKG_CONFIG_LIBDIR=$2 pkg-config --cflags --libs sscarddriver)' _ "$dev" "$pcdir"
check "libsscarddriver-dev: that program runs on libSSCardDriver.so.1 and says -11 without a service" bash -c '
    [ "$(SSCARD_SOCKET=$1/none.sock LD_LIBRARY_PATH=$(dirname "$2") "$1/uses_driver")" = -11 ]' _ "$dev" "$pcdir"

# --- install
in_ct dpkg -i "${ct_debs[@]}" </dev/null >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; bad "dpkg -i of the packages"; }
check "sscardd.service enabled after install" [ "$(unit_prop UnitFileState)" = enabled ]
check "sscardd.service active after install" wait_for 20 [ "$(unit_prop ActiveState)" = active ]
version=$(in_ct sscardd --version 2>/dev/null | awk '{print $2}' || true)
pkgversion=$(in_ct dpkg-query -W -f '${Version}' sscard 2>/dev/null || true)
check "sscardd --version ($version) is the package's version ($pkgversion)" [ "$version" = "$pkgversion" ]
check "/etc/sscard/sscardd.toml is a conffile" in_ct grep -qx /etc/sscard/sscardd.toml /var/lib/dpkg/info/sscard.conffiles
check "journal: no feed set" journal_has "no [list] feed_url"

in_ct useradd --system --no-create-home --groups sscard-kiosk kiosk
status=$(as_kiosk sscardd status 2>&1 || true)
echo "$status" | sed 's/^/    /'
check "status as a kiosk-group user says no feed is set" grep -q "no feed set" <<<"$status"
status_json=$(as_kiosk sscardd status --json 2>/dev/null || true)
check "status --json: version $version, feed_set false" python3 -c '
import json, sys
s = json.loads(sys.argv[1])
sys.exit(0 if s["version"] == sys.argv[2] and s["list"]["feed_set"] is False else 1)' "$status_json" "$version"
in_ct useradd --system --no-create-home nobody-in-particular
check "a user outside the kiosk group is refused" \
    bash -c '! in_ct runuser -u nobody-in-particular -- sscardd status >/dev/null 2>&1'

# --- the kiosk reaches the API, not the files
mode() { in_ct stat -c '%a %U:%G' "$1" 2>/dev/null || echo missing; }
check "/run/sscard is 2750 sscard:sscard-kiosk ($(mode /run/sscard))" [ "$(mode /run/sscard)" = "2750 sscard:sscard-kiosk" ]
check "the socket is 660 sscard:sscard-kiosk ($(mode /run/sscard/sscardd.sock))" \
    [ "$(mode /run/sscard/sscardd.sock)" = "660 sscard:sscard-kiosk" ]
check "/var/lib/sscard is 700 sscard:sscard ($(mode /var/lib/sscard))" [ "$(mode /var/lib/sscard)" = "700 sscard:sscard" ]
check "every file under /var/lib/sscard is the service's alone" \
    bash -c '[ -z "$(in_ct find /var/lib/sscard -mindepth 1 -perm /077)" ] && [ -n "$(in_ct find /var/lib/sscard -name outbox.db)" ]'
check "the kiosk user cannot list the state directory" bash -c '! as_kiosk ls /var/lib/sscard >/dev/null 2>&1'
check "the kiosk user cannot open the outbox or the list" \
    bash -c '! as_kiosk cat /var/lib/sscard/outbox.db >/dev/null 2>&1 && ! as_kiosk cat /var/lib/sscard/list.db >/dev/null 2>&1'
in_ct useradd --system --no-create-home --groups sscard service-group-member
check "a member of the service's own group sscard is not a kiosk" \
    bash -c '! in_ct runuser -u service-group-member -- sscardd status >/dev/null 2>&1'
check "MemoryMax ($(unit_prop MemoryMax)) and TasksMax ($(unit_prop TasksMax)) are set" \
    bash -c '[ "$(unit_prop MemoryMax)" != infinity ] && [ "$(unit_prop TasksMax)" != infinity ]'

# --- a card: vpcd's packaged reader (port 35963) and the simulated card, inside the container
in_ct systemd-run --quiet --unit=sscard-sim-card --property=Restart=no \
    /usr/bin/python3 /opt/sscard-sim/vpcd_card.py --profile gen3_valid --port "$VPCD_PORT" --reconnect
check "journal: the inserted card was checked" wait_for 30 journal_has " check in Virtual PCD"
line=$(in_ct journalctl -u sscardd.service -o json --no-pager |
    python3 -c 'import json,sys
for l in sys.stdin:
    e = json.loads(l)
    if " check in Virtual PCD" in str(e.get("MESSAGE", "")): print(e.get("PRIORITY"), e["MESSAGE"]); break')
echo "    journal: $line"
check "journal: the check line has priority 6 (info) and masks the card number" \
    bash -c '[[ "$1" == "6 "*"548***015 deny (no_list)"* ]]' _ "$line"
read_answer=$(as_kiosk python3 /opt/sscard-test/api_call.py /run/sscard/sscardd.sock card.read '{}' 2>&1 || true)
echo "    card.read: ${read_answer:0:160}"
check "card.read as a kiosk-group user returns the card" \
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["result"]["card"]["card_number"]=="548426015" else 1)' "$read_answer"

# --- the national interface through the installed library, as a kiosk application loads it
driver() { as_kiosk python3 /opt/sscard-test/driver_call.py "$@" 2>&1 || true; }
answer=$(driver iCheckCard 1)
echo "    iCheckCard: $answer"
check "libSSCardDriver.so.1: iCheckCard as a kiosk-group user says deny|no_list|" [ "$answer" = "0 deny|no_list|" ]
answer=$(driver iReadCardBas 1)
echo "    iReadCardBas without the personal-data right: $answer"
check "libSSCardDriver.so.1: iReadCardBas without the personal-data right is refused (-13)" [ "${answer%% *}" = -13 ]
in_ct sed -i 's/^personal_data = \[\]/personal_data = ["sscard-kiosk"]/' /etc/sscard/sscardd.toml
in_ct systemctl restart sscardd.service
answer=$(driver iReadCardBas 1)
echo "    iReadCardBas with it, of the 3rd-generation card: $answer"
check "libSSCardDriver.so.1: that card's holder data needs the HSM steps (-2203)" [ "${answer%% *}" = -2203 ]
# A 2nd-generation card, whose holder data is free to read, in place of the 3rd-generation one.
in_ct systemctl stop sscard-sim-card.service
in_ct systemd-run --quiet --unit=sscard-sim-card --property=Restart=no \
    /usr/bin/python3 /opt/sscard-sim/vpcd_card.py --profile gen2 --port "$VPCD_PORT" --reconnect
wait_for 30 journal_has "card R47***862"
answer=$(driver iReadCardBas 1)
echo "    iReadCardBas of a 2nd-generation card: $answer"
check "libSSCardDriver.so.1: iReadCardBas gives eleven fields, GBK, with the card's number and name" \
    bash -c '[ "${1%% *}" = 0 ] && [ "$(cut -d"|" -f3,5 <<<"${1#* }")" = "R47708862|陈静" ] &&
        [ "$(tr -cd "|" <<<"${1#* }")" = "|||||||||||" ]' _ "$answer"
in_ct sed -i 's/^personal_data = \["sscard-kiosk"\]/personal_data = []/' /etc/sscard/sscardd.toml

# --- stop cleanly, start again
check "systemctl stop exits 0" in_ct systemctl stop sscardd.service
check "the service ended with status 0 (Result=success)" \
    [ "$(unit_prop Result)/$(unit_prop ExecMainStatus)" = success/0 ]
check "journal: stopped" journal_has "stopped"
in_ct systemctl start sscardd.service || true
check "started again" [ "$(unit_prop ActiveState)" = active ]

# --- a feed set by the administrator: a signed list published with sscard-feed, served on the
# container's loopback; the service syncs it at start
in_ct sh -ec '
    sscard-feed keygen --out /srv/feed-keys >/dev/null
    printf "%s\n" "region,card_number,card_id,state,effective_at,expires_at,replaced_by" \
        "330100,548426015,330100D15600000554782601FFFFFFFF,temp_frozen,2026-01-01T10:00:00+08:00,2099-01-01T10:00:00+08:00," \
        >/srv/list.csv
    sscard-feed publish --key /srv/feed-keys/feed.key --input /srv/list.csv --out /srv/feed >/dev/null
    sed -i -e "s|^feed_url = \"\"|feed_url = \"http://127.0.0.1:8080/\"|" \
        -e "0,/^allow_insecure_http = false/s//allow_insecure_http = true/" \
        -e "s|^trusted_keys = \[\]|trusted_keys = [\"/srv/feed-keys/feed.pub\"]|" /etc/sscard/sscardd.toml
    printf "\n# local change kept across upgrades\n" >>/etc/sscard/sscardd.toml'
in_ct systemd-run --quiet --unit=sscard-feed-http /usr/bin/python3 -m http.server --bind 127.0.0.1 \
    --directory /srv/feed 8080
in_ct systemctl restart sscardd.service
check "the service synced the feed (list version 1)" wait_for 30 journal_has "list updated to version 1"

# --- upgrade keeps the configuration and the state, and restarts the service
ino() { in_ct stat -c %i "$1" 2>/dev/null || echo missing; }
list_before=$(ino /var/lib/sscard/list.db)
outbox_before=$(ino /var/lib/sscard/outbox.db)
pid_before=$(unit_prop MainPID || true)
in_ct dpkg -i "${ct_upgrade[@]}" </dev/null >"$work/upgrade.log" 2>&1 ||
    { cat "$work/upgrade.log"; bad "dpkg -i of the upgrade"; }
check "upgraded to $(in_ct dpkg-query -W -f '${Version}' sscard)" [ "$(in_ct dpkg-query -W -f '${Version}' sscard)" != "$pkgversion" ]
check "upgrade kept the local configuration change" in_ct grep -q "local change kept" /etc/sscard/sscardd.toml
check "upgrade kept the list ($list_before)" [ "$list_before" != missing -a "$(ino /var/lib/sscard/list.db)" = "$list_before" ]
check "upgrade kept the outbox ($outbox_before)" [ "$outbox_before" != missing -a "$(ino /var/lib/sscard/outbox.db)" = "$outbox_before" ]
list_version=$(in_ct sscardd list status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])' 2>/dev/null)
check "after the upgrade the list is still version 1 ($list_version)" [ "$list_version" = 1 ]
check "upgrade restarted the service" wait_for 20 bash -c \
    '[ "$(in_ct systemctl show -P ActiveState sscardd.service)" = active ] && [ "$(in_ct systemctl show -P MainPID sscardd.service)" != "$1" ]' _ "$pid_before"

# --- remove stops, purge cleans up
in_ct systemctl stop sscard-sim-card.service 2>/dev/null || true
in_ct dpkg -r "${packages[@]}" </dev/null >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; bad "dpkg -r"; }
check "remove stopped the service" [ "$(unit_prop ActiveState)" != active ]
check "remove removed the binaries" in_ct test ! -e /usr/sbin/sscardd -a ! -e /usr/bin/sscard-feed
check "remove removed the library" bash -c '[ -z "$(in_ct find /usr/lib -name "libSSCardDriver*")" ]'
check "remove kept the configuration and the state" in_ct test -f /etc/sscard/sscardd.toml -a -d /var/lib/sscard
in_ct dpkg -P "${packages[@]}" </dev/null >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; bad "dpkg -P"; }
check "purge removed /etc/sscard" in_ct test ! -e /etc/sscard
check "purge removed /var/lib/sscard" in_ct test ! -e /var/lib/sscard
check "purge removed /run/sscard" in_ct test ! -e /run/sscard
check "purge removed the unit and its enablement" \
    bash -c '[ -z "$(in_ct find /etc/systemd /lib/systemd /usr/lib/systemd -name "sscardd*")" ]'

printf '\npackage-test: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
