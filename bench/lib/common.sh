# shellcheck shell=bash disable=SC2154  # globals: set by bench/run, listed below
# Helpers shared by the benchmarks; sourced by bench/run, never run alone.
#
# bench/run sets: root (the checkout), work (the scratch directory), results
# (TSV of measurements), notes (free text for the report), repeat (repeats per
# measurement), scheme and base (the nginx URL), limit_rate (nginx's, for
# /slow/), pki, caster, catcher, curl_tls (curl's TLS options for $base), keep.

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  [[ -d ${work:-} ]] && printf '%s\n' "$*" >"$work/last-error"
  exit 1
}
note() { printf '%s\n' "$*" >>"$notes"; }

# Seconds from $1 to $2 (two $EPOCHREALTIME values).
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# timed BENCH LABEL REPEAT CMD...: runs CMD (stdout and stderr to a log) under
# `/usr/bin/time -v` and appends "BENCH LABEL REPEAT SECONDS MAXRSS_KIB
# CPU_SECONDS" to $results. The wall time is taken around the whole command by
# the shell, so it includes process start-up, as a user's would; the CPU time
# (user + system, from time -v) is reported beside it, since it moves less
# when other jobs share the cores. A failing command stops the benchmark: a
# fast failure must never pass for a fast run.
timed() {
  local bench=$1 label=$2 rep=$3
  shift 3
  local logf=$work/logs/$bench.$rep.${label//[^A-Za-z0-9]/_}.log
  local tv=$logf.time t0 t1 rc=0 rss cpu
  t0=$EPOCHREALTIME
  /usr/bin/time -v -o "$tv" "$@" >"$logf" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    tail -n 20 "$logf" >&2
    die "$bench: '$label' failed (exit $rc): $*"
  fi
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tv")
  cpu=$(awk -F': ' '/(User|System) time/ { s += $2 } END { printf "%.2f", s }' "$tv")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$bench" "$label" "$rep" "$(elapsed "$t0" "$t1")" "$rss" "$cpu" >>"$results"
  log "$bench #$rep $label: $(elapsed "$t0" "$t1") s, CPU $cpu s, max RSS ${rss} KiB"
}

# Runs CMD quietly; on failure shows its output and stops the benchmark.
quiet() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if ((rc != 0)); then
    printf '%s\n' "$out" | tail -n 20 >&2
    die "failed (exit $rc): $*"
  fi
}

new_uuid() { cat /proc/sys/kernel/random/uuid; }

# make_image FILE BYTES SEED: cheap pseudo-random content (AES-128-CTR of
# zeros under a key derived from SEED), different for every SEED. Its
# SHA-512 is written to FILE.sha512. Kept for the whole run once made.
make_image() {
  local file=$1 bytes=$2 seed=$3
  if [[ -f $file && $(stat -c %s "$file") -eq $bytes && -f $file.sha512 ]]; then return; fi
  log "making $file ($((bytes / 1048576)) MiB)"
  mkdir -p "$(dirname "$file")"
  head -c "$bytes" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$seed")" -iv 00000000000000000000000000000000 \
      -out "$file"
  sha512sum "$file" | cut -d' ' -f1 >"$file.sha512"
}

# Reads FILE once so that every measurement starts with it in the page cache
# (we cannot drop the page cache on every machine, so we make it warm for all).
warm() { cat "$@" >/dev/null; }

# sign_list JSON OUT: S/MIME (multipart/signed, SHA-256) by endorser1.
sign_list() {
  openssl smime -sign -md sha256 -in "$1" -signer "$pki/endorser1/cert.pem" \
    -inkey "$pki/endorser1/key.pem" -out "$2"
}

# catcher_conf FILE STATE POLICY DOWNLOADS: a catcher config for one run.
catcher_conf() {
  cat >"$1" <<CONF
state-dir = $2
policy = $3
ca-dir = $pki/cadir
downloads = $4
CONF
}

# A free TCP port on 127.0.0.1.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nginx: serves $work/www on 127.0.0.1 ($scheme), /images/ unlimited
# and /slow/ (the same files) with `limit_rate $limit_rate` per connection. Sets
# base. The access log records the connection serial number and its request
# count, so that connection reuse can be checked.
start_nginx() {
  local dir=$work/nginx port listen user_line=""
  mkdir -p "$dir" "$work/www"
  port=$(free_port)
  listen="127.0.0.1:$port"
  [[ $scheme == https ]] && listen+=" ssl"
  [[ $(id -u) -eq 0 ]] && user_line="user root;"
  cat >"$dir/nginx.conf" <<NGINX
$user_line
daemon off;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
  log_format bench '\$connection \$connection_requests \$status \$request_method \$uri \$body_bytes_sent \$request_time \$msec';
  access_log $dir/access.log bench;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server {
    listen $listen;
    ssl_certificate $pki/server/fullchain.pem;
    ssl_certificate_key $pki/server/key.pem;
    root $work/www;
    location /slow/ { alias $work/www/images/; limit_rate $limit_rate; }
  }
}
NGINX
  [[ $scheme == https ]] || sed -i '/ssl_certificate/d' "$dir/nginx.conf"
  nginx -c "$dir/nginx.conf" -p "$dir" &
  nginx_pid=$!
  base=$scheme://127.0.0.1:$port
  local _
  for _ in $(seq 100); do
    curl -s -o /dev/null "${curl_tls[@]}" "$base/" && return 0
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/error.log" >&2 || true
  die "nginx did not start on $base"
}

# Drops dirty pages of earlier steps to disk, untimed, so that one
# measurement's writeback does not land in the next one's time.
settle() { sync; }
