#!/bin/bash
# pcscd-env.sh start|stop|restart|status
#
# Runs the machine's single pcscd with the project's own vpcd (vsmartcard) virtual
# readers, for the virtual card in test/sim/vpcd_card.py. Kills only the pcscd it
# started itself; exports nothing.
#
# State: ${SSCARD_ENV_DIR:-/tmp/sscard-env}
#   reader.conf.d/vpcd   the reader configuration (pcscd -c DIR)
#   lib/libifdvpcd-2.so  a private copy of the vpcd driver for the 2nd stanza (why: below)
#   pcscd.pid            the pid of the pcscd this script started
#   lock                 serialises start/stop/restart (flock)
#   pcscd.log            pcscd's output (-e errors only; SSCARD_ENV_DEBUG=1: -d -a, every APDU)
# Environment: SSCARD_ENV_DIR, SSCARD_ENV_DEBUG=1, SSCARD_ENV_TIMEOUT (seconds, default 10).
#
# Readers (observed with pcsc-lite 1.9.9, vsmartcard-vpcd 3.3, Debian 12):
#
#   TCP port  reader name
#   40000     Virtual PCD 00 00      stanza 1, DEVICENAME /dev/null:0x9C40, slot 0
#   40001     Virtual PCD 00 01      stanza 1, slot 1 (vpcd listens on port + slot)
#   40002     Virtual PCD 2 00 00    stanza 2, DEVICENAME /dev/null:0x9C42, slot 0
#   40003     Virtual PCD 2 00 01    stanza 2, slot 1
#
# Why the 2nd stanza has its own FRIENDLYNAME and its own copy of the driver:
#  - vpcd keeps its slots in one static array indexed by slot number only
#    (Lun & 0xFFFF). Two stanzas sharing one loaded libifdvpcd.so overwrite each
#    other: all four ports listen, but both "... 00 00" readers then serve port
#    40002 and a card on 40000 is never accepted. A copy of the .so at another path
#    (another inode) is loaded separately by the dynamic linker, with its own array.
#  - pcsc-lite numbers readers of the same FRIENDLYNAME ("Virtual PCD 01 00") only
#    for hotplug readers or drivers announcing TAG_IFD_SIMULTANEOUS_ACCESS; vpcd
#    announces neither, so both stanzas were named "Virtual PCD 00 00"/"00 01".
#    Hence FRIENDLYNAME "Virtual PCD 2" for the second stanza.
#
# Another pcscd (systemd's pcscd.socket/pcscd.service, or one someone started by
# hand) makes `start` fail with a message; this script never stops it.

set -u

STATE_DIR=${SSCARD_ENV_DIR:-/tmp/sscard-env}
TIMEOUT=${SSCARD_ENV_TIMEOUT:-10}
DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
SYS_PID=/run/pcscd/pcscd.pid
SYS_SOCK=/run/pcscd/pcscd.comm
PORTS=(40000 40001 40002 40003)
NAMES=("Virtual PCD 00 00" "Virtual PCD 00 01" "Virtual PCD 2 00 00" "Virtual PCD 2 00 01")

prog=pcscd-env

say() { printf '%s: %s\n' "$prog" "$*"; }
err() { printf '%s: error: %s\n' "$prog" "$*" >&2; }

abs_state_dir() {
    mkdir -p "$STATE_DIR" || { err "cannot create $STATE_DIR"; exit 1; }
    STATE_DIR=$(cd "$STATE_DIR" && pwd -P)
    CONF_DIR=$STATE_DIR/reader.conf.d
    LIB_DIR=$STATE_DIR/lib
    PID_FILE=$STATE_DIR/pcscd.pid
    LOG_FILE=$STATE_DIR/pcscd.log
}

# alive and not a zombie
alive() {
    local pid=$1 state
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

is_pcscd() {
    alive "$1" && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = pcscd ]
}

cmdline() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null; }

# a pcscd running with our configuration directory
is_ours() {
    is_pcscd "$1" && cmdline "$1" | grep -qF -- "-c $CONF_DIR "
}

our_pid() {
    local pid
    [ -r "$PID_FILE" ] || return 1
    pid=$(tr -dc '0-9' < "$PID_FILE")
    [ -n "$pid" ] && is_ours "$pid" && echo "$pid"
}

all_pcscd_pids() {
    local d pid
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [ "$(cat "$d/comm" 2>/dev/null)" = pcscd ] && alive "$pid" && echo "$pid"
    done
}

socket_accepts() {
    /usr/bin/python3 - "$SYS_SOCK" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(1)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
EOF
}

# state of TCP port $1 in /proc/net/tcp: 0A = listening, 01 = established
port_in_state() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" -v st="$2" 'NR > 1 && substr($2, length($2) - 4) == p && $4 == st { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

print_table() {
    local i state
    printf '  %-6s %-22s %s\n' port reader state
    for i in "${!PORTS[@]}"; do
        state="-"
        if port_in_state "${PORTS[$i]}" 0A; then
            state="listening"
            port_in_state "${PORTS[$i]}" 01 && state="card connected"
        fi
        printf '  %-6s %-22s %s\n' "${PORTS[$i]}" "${NAMES[$i]}" "$state"
    done
}

write_config() {
    mkdir -p "$CONF_DIR" "$LIB_DIR"
    rm -f "$CONF_DIR"/*
    [ -r "$DRIVER" ] || { err "$DRIVER missing: install vsmartcard-vpcd"; return 1; }
    cp -f "$(readlink -f "$DRIVER")" "$LIB_DIR/libifdvpcd-2.so" || return 1
    cat > "$CONF_DIR/vpcd" <<EOF
# written by test/env/pcscd-env.sh: vpcd readers on TCP 40000..40003
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x9C40
LIBPATH      $DRIVER
CHANNELID    0x9C40

FRIENDLYNAME "Virtual PCD 2"
DEVICENAME   /dev/null:0x9C42
LIBPATH      $LIB_DIR/libifdvpcd-2.so
CHANNELID    0x9C42
EOF
}

other_pcscd_message() {
    err "$1"
    err "this script does not stop a pcscd it did not start. Stop it first, e.g."
    err "  systemctl stop pcscd.socket pcscd.service   (system pcscd / socket activation)"
    err "  or end the pcscd you started yourself (kill <pid>), then run: $0 start"
}

# Linux hands out local ports 32768-60999 to outgoing connections, which includes the vpcd ports: an
# unrelated loopback connection made during a test run (to nginx, to a vpcd port) can hold 40000 as its
# own local port, and pcscd's bind then fails. Reserving the ports keeps them out of that pool; it needs
# root and changes a system setting, so it is only added to, never removed.
reserve_ports() {
    local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur
    [ -w "$f" ] || return 0
    cur=$(cat "$f")
    case ",$cur," in *",40000-40003,"*) return 0 ;; esac
    if printf '%s' "${cur:+$cur,}40000-40003" > "$f" 2>/dev/null; then
        say "reserved ports 40000-40003 (net.ipv4.ip_local_reserved_ports = $(cat "$f"))"
    fi
}

# 0: pcscd runs with every reader; 1: failed; 2: a vpcd port was in use (pcscd stopped again)
launch_pcscd() {
    local pid deadline debug_args log_start
    if [ "${SSCARD_ENV_DEBUG:-0}" = 1 ]; then debug_args=(-d -a); else debug_args=(-e); fi
    printf '\n=== %s pcscd -f %s -c %s\n' "$(date -u +%FT%TZ)" "${debug_args[*]}" "$CONF_DIR" >> "$LOG_FILE"
    log_start=$(stat -c %s "$LOG_FILE")
    # setsid: pcscd survives the caller's session. Not a process-group leader, so setsid
    # execs pcscd in place and $! is pcscd's pid (checked against pcscd.pid below).
    # (9>&-: pcscd must not inherit the lock)
    setsid pcscd -f "${debug_args[@]}" -c "$CONF_DIR" < /dev/null >> "$LOG_FILE" 2>&1 9>&- &
    pid=$!
    echo "$pid" > "$PID_FILE"

    deadline=$(( $(date +%s%N) / 1000000 + TIMEOUT * 1000 ))
    while :; do
        if ! alive "$pid"; then
            err "pcscd exited during startup; last lines of $LOG_FILE:"
            tail -n 15 "$LOG_FILE" >&2
            rm -f "$PID_FILE"
            return 1
        fi
        if tail -c +"$((log_start + 1))" "$LOG_FILE" | grep -q 'Address already in use'; then
            kill -TERM "$pid" 2>/dev/null
            local i
            for i in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
            alive "$pid" && kill -KILL "$pid" 2>/dev/null
            for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
            rm -f "$PID_FILE"
            [ "$(tr -dc '0-9' 2>/dev/null < "$SYS_PID")" = "$pid" ] && rm -f "$SYS_PID" "$SYS_SOCK"
            return 2
        fi
        if [ -S "$SYS_SOCK" ] && socket_accepts; then
            local all=1 p
            for p in "${PORTS[@]}"; do port_in_state "$p" 0A || { all=0; break; }; done
            [ $all = 1 ] && break
        fi
        if [ $(( $(date +%s%N) / 1000000 )) -ge $deadline ]; then
            err "pcscd (pid $pid) not ready after ${TIMEOUT}s ($SYS_SOCK accepting and vpcd ports ${PORTS[*]} listening)"
            err "last lines of $LOG_FILE:"
            tail -n 15 "$LOG_FILE" >&2
            err "it is left running; '$0 stop' ends it"
            return 1
        fi
        sleep 0.05
    done
}

cmd_start() {
    local pid others p deadline debug_args
    pid=$(our_pid) && {
        say "already running (pid $pid, started by this script; config $CONF_DIR)"
        print_table
        return 0
    }
    rm -f "$PID_FILE"

    others=$(all_pcscd_pids | tr '\n' ' ')
    if [ -n "${others// /}" ]; then
        for p in $others; do
            err "pcscd pid $p: $(cmdline "$p")"
            if cmdline "$p" | grep -qE -- '-c .*/reader\.conf\.d '; then
                err "  (looks like pcscd-env.sh with another SSCARD_ENV_DIR: $(cmdline "$p" | sed -E 's|.*-c (.*)/reader\.conf\.d .*|\1|'))"
            fi
        done
        other_pcscd_message "another pcscd is running (pid ${others% })"
        return 1
    fi
    if [ -e "$SYS_PID" ]; then
        p=$(tr -dc '0-9' < "$SYS_PID" 2>/dev/null)
        if [ -n "$p" ] && alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = pcscd ]; then
            other_pcscd_message "$SYS_PID names a running pcscd (pid $p)"
            return 1
        fi
        say "removing stale $SYS_PID (pid ${p:-?} is not a running pcscd)"
        rm -f "$SYS_PID"
    fi
    if [ -e "$SYS_SOCK" ]; then
        if socket_accepts; then
            other_pcscd_message "$SYS_SOCK accepts connections but no pcscd runs: systemd socket activation (pcscd.socket)?"
            return 1
        fi
        say "removing stale $SYS_SOCK (nobody listens)"
        rm -f "$SYS_SOCK"
    fi
    for p in "${PORTS[@]}"; do
        if port_in_state "$p" 0A; then
            err "TCP port $p is already in use by another program:"
            ss -ltnp "sport = :$p" >&2 2>/dev/null
            return 1
        fi
    done

    write_config || { err "cannot write the reader configuration in $CONF_DIR"; return 1; }
    reserve_ports
    # A port can be taken for a moment by someone else's connection (see reserve_ports): pcscd then
    # starts without that reader. Try again until the port is free, for as long as TIME_WAIT lasts.
    local attempt_deadline=$(( $(date +%s) + 75 )) rc tries=0
    while :; do
        launch_pcscd && break
        rc=$?
        [ $rc = 2 ] && [ "$(date +%s)" -lt $attempt_deadline ] || return 1
        if [ $((tries++)) = 0 ]; then
            say "a vpcd port is in use; retrying every 3 s for up to 75 s. Sockets on ports ${PORTS[*]}:"
            ss -tanp '( sport >= :40000 and sport <= :40003 )' 2>/dev/null | sed 's/^/    /'
        fi
        sleep 3
    done
    pid=$(tr -dc '0-9' < "$PID_FILE")
    p=$(tr -dc '0-9' < "$SYS_PID" 2>/dev/null)
    if [ -n "$p" ] && [ "$p" != "$pid" ] && is_ours "$p"; then
        pid=$p
        echo "$pid" > "$PID_FILE"
    fi
    say "pcscd started (pid $pid, config $CONF_DIR, log $LOG_FILE)"
    print_table
}

cmd_stop() {
    local pid i
    if [ ! -e "$PID_FILE" ]; then
        say "not running (nothing started by this script in $STATE_DIR)"
        rm -rf "$CONF_DIR" "$LIB_DIR"
        return 0
    fi
    pid=$(tr -dc '0-9' < "$PID_FILE")
    if [ -n "$pid" ] && is_ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            say "pcscd (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
            for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
            # a killed pcscd leaves its socket and pid file behind
            if [ "$(tr -dc '0-9' < "$SYS_PID" 2>/dev/null)" = "$pid" ]; then
                rm -f "$SYS_PID" "$SYS_SOCK"
            fi
        fi
        say "pcscd (pid $pid) stopped"
    else
        say "pid file names ${pid:-nothing} which is not our pcscd (stale); nothing to stop"
    fi
    rm -f "$PID_FILE"
    rm -rf "$CONF_DIR" "$LIB_DIR"
}

cmd_status() {
    local pid others
    if pid=$(our_pid); then
        say "running (pid $pid, started by this script; config $CONF_DIR; log $LOG_FILE)"
        if socket_accepts; then say "$SYS_SOCK accepts connections"; else say "$SYS_SOCK does NOT accept connections"; fi
        print_table
        return 0
    fi
    others=$(all_pcscd_pids | tr '\n' ' ')
    if [ -n "${others// /}" ]; then
        say "not running; another pcscd runs (pid ${others% }), not started by this script"
    else
        say "not running"
    fi
    return 3
}

usage() {
    echo "usage: $0 start|stop|restart|status" >&2
    exit 2
}

[ $# -eq 1 ] || usage
abs_state_dir
# one start/stop at a time (parallel test runs)
if [ "$1" != status ]; then
    exec 9> "$STATE_DIR/lock"
    flock -w 60 9 || { err "another $prog holds $STATE_DIR/lock"; exit 1; }
fi
case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop && cmd_start ;;
    status) cmd_status ;;
    *) usage ;;
esac
