#!/usr/bin/env bash
# Serves a directory of list feeds over HTTPS from a real nginx on loopback, with a test CA.
#
#   feed-server.sh start DIR PORT [STATE_DIR]   serve DIR at https://127.0.0.1:PORT/
#   feed-server.sh stop  DIR PORT [STATE_DIR]   stop the nginx this script started there
#
# STATE_DIR (default /tmp/sscard-feed-server.PORT) receives the test CA (ca.pem: give it to the sync
# client as ca_file), the server certificate for 127.0.0.1/localhost, nginx's config, pid, logs and
# temp paths. Only the nginx whose pid this script recorded is ever stopped.
# Paths: /slow/… serves the same files at 64 bytes/s (slow-retrieval tests).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
port=${3:-}
if [[ -z "$cmd" || -z "$dir" || -z "$port" ]]; then
  echo "usage: $0 start|stop DIR PORT [STATE_DIR]" >&2
  exit 2
fi
state=${4:-/tmp/sscard-feed-server.$port}

stop() {
  local pidfile="$state/nginx.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid=$(cat "$pidfile")
  # only our nginx: its command line names our config file
  if [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$state/nginx.conf"; then
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "$cmd" in
start)
  [[ -d "$dir" ]] || { echo "$0: $dir: no such directory" >&2; exit 2; }
  dir=$(cd "$dir" && pwd)
  mkdir -p "$state/tmp"
  state=$(cd "$state" && pwd)
  stop
  if [[ ! -f "$state/ca.pem" ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj "/CN=sscard test CA" -keyout "$state/ca.key" -out "$state/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$state/server.key" -out "$state/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
      >"$state/server.ext"
    openssl x509 -req -in "$state/server.csr" -CA "$state/ca.pem" -CAkey "$state/ca.key" \
      -CAcreateserial -days 30 -extfile "$state/server.ext" -out "$state/server.pem" 2>/dev/null
  fi
  user_line=""
  [[ $(id -u) -eq 0 ]] && user_line="user root;"
  cat >"$state/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $state/nginx.pid;
error_log $state/error.log warn;
events { worker_connections 128; }
http {
  access_log $state/access.log;
  client_body_temp_path $state/tmp/body;
  proxy_temp_path $state/tmp/proxy;
  fastcgi_temp_path $state/tmp/fastcgi;
  uwsgi_temp_path $state/tmp/uwsgi;
  scgi_temp_path $state/tmp/scgi;
  default_type application/octet-stream;
  types { application/json json; }
  sendfile on;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $state/server.pem;
    ssl_certificate_key $state/server.key;
    root $dir;
    location ~ /timestamp\.json\$ { add_header Cache-Control "no-cache"; }
    location ~ /by-hash/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
    location /slow/ { alias $dir/; limit_rate 64; }
  }
}
CONF
  nginx -c "$state/nginx.conf" -e "$state/error.log" -g "daemon on;" 
  for _ in $(seq 1 50); do
    [[ -s "$state/nginx.pid" ]] && break
    sleep 0.1
  done
  [[ -s "$state/nginx.pid" ]] || { echo "$0: nginx did not start (see $state/error.log)" >&2; exit 1; }
  echo "feed server: https://127.0.0.1:$port/ serving $dir; CA $state/ca.pem"
  ;;
stop)
  stop
  ;;
*)
  echo "usage: $0 start|stop DIR PORT [STATE_DIR]" >&2
  exit 2
  ;;
esac
