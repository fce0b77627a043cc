#!/usr/bin/env bash
# Messages per second accepted over SMTP, with durability, by Sendwell and by Postfix,
# in the same run on the same machine, driven by Postfix's smtp-source.
#
# Both servers take mail for a remote address from 127.0.0.1 and queue it without
# delivering it, syncing it to disk before the 250:
# - Sendwell: `sendwell serve` (release build) on 127.0.0.1:$SW_PORT; the recipient is
#   an alias that forwards outside, and `[delivery] hold = true`, so the message waits in
#   the queue (as Postfix's HOLD below).
# - Postfix: its own config directory (postfix -c), smtpd on 127.0.0.2:$PF_PORT (never
#   port 25 of the host), relaying for 127.0.0.0/8 with every message put on hold
#   (check_recipient_access static:HOLD), logging to a file.
#
# Usage: bench/smtp-accept.sh [messages] [rounds]     (run as root: Postfix needs it)
# Output: one line per run and a summary with medians and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES=${1:-5000}
ROUNDS=${2:-3}
SIZE=${SIZE:-2000}
SW_PORT=${SW_PORT:-25251}
PF_PORT=${PF_PORT:-25252}
TARGET=${CARGO_TARGET_DIR:-target}

for p in smtp-source postfix postconf; do
  command -v "$p" >/dev/null || { echo "needs $p (Debian package postfix)" >&2; exit 1; }
done

echo "building sendwell (release)..." >&2
cargo build --release -p sendwell >&2
SENDWELL="$TARGET/release/sendwell"

WORK=$(mktemp -d /tmp/sendwell-bench.XXXXXX)
chmod 755 "$WORK" # Postfix's daemons run as the postfix user
SW_PID=""
cleanup() {
  [ -n "$SW_PID" ] && kill "$SW_PID" 2>/dev/null && wait "$SW_PID" 2>/dev/null || true
  postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() { # host port
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1:$2" >&2
  exit 1
}

# --- Sendwell -------------------------------------------------------------------
start_sendwell() {
  rm -rf "$WORK/sw"
  "$SENDWELL" init --local --domain example.test --hostname mail.example.test \
    --dir "$WORK/sw" >/dev/null 2>&1
  sed -i -e "s/127.0.0.1:2525/127.0.0.1:$SW_PORT/" \
         -e "s/127.0.0.1:2587/127.0.0.1:$((SW_PORT + 10))/" \
         -e "s/127.0.0.1:2465/127.0.0.1:$((SW_PORT + 20))/" \
         -e "s/^max_connections_per_ip = .*/max_connections_per_ip = 100/" \
         -e "s/^hold = false/hold = true/" \
         -e "s/^max_errors = .*/max_errors = 1000/" "$WORK/sw/sendwell.toml"
  cat >>"$WORK/sw/sendwell.toml" <<EOF

[[alias]]
address = "bench@example.test"
to = ["sink@elsewhere.test"]
EOF
  SENDWELL_LOG=info "$SENDWELL" serve --dir "$WORK/sw" 2>"$WORK/sw.log" &
  SW_PID=$!
  wait_port 127.0.0.1 "$SW_PORT"
}
stop_sendwell() {
  kill "$SW_PID"; wait "$SW_PID" 2>/dev/null || true; SW_PID=""
}
count_sendwell() {
  "$SENDWELL" queue list --json --dir "$WORK/sw" | grep -c '"id"' || true
}

# --- Postfix --------------------------------------------------------------------
start_postfix() {
  postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1 || true
  rm -rf "$WORK/pf"
  mkdir -p "$WORK/pf/etc" "$WORK/pf/spool" "$WORK/pf/data"
  cp /etc/postfix/master.cf /etc/postfix/postfix-files /etc/postfix/dynamicmaps.cf "$WORK/pf/etc/"
  mkdir -p "$WORK/pf/etc/postfix-files.d" "$WORK/pf/etc/dynamicmaps.cf.d"
  : >"$WORK/pf/etc/main.cf"
  chown postfix "$WORK/pf/data"
  local pc="postconf -c $WORK/pf/etc"
  $pc -e "compatibility_level = 3.6" \
    "queue_directory = $WORK/pf/spool" "data_directory = $WORK/pf/data" \
    "command_directory = /usr/sbin" "daemon_directory = /usr/lib/postfix/sbin" \
    "shlib_directory = /usr/lib/postfix" "meta_directory = $WORK/pf/etc" \
    "mail_owner = postfix" "setgid_group = postdrop" \
    "myhostname = postfix.bench.test" "mydomain = bench.test" "mydestination =" \
    "inet_interfaces = loopback-only" "inet_protocols = ipv4" \
    "mynetworks = 127.0.0.0/8" \
    "smtpd_relay_restrictions = permit_mynetworks, reject" \
    "smtpd_recipient_restrictions = check_recipient_access static:HOLD, permit_mynetworks, reject" \
    "maillog_file_prefixes = /tmp" "maillog_file = $WORK/pf/maillog" \
    "alias_maps =" "alias_database =" "local_recipient_maps =" \
    "smtpd_client_connection_count_limit = 0" "default_process_limit = 200" \
    "biff = no" "smtputf8_enable = yes"
  # Only our smtpd on 127.0.0.2:PF_PORT, never port 25; no chroot (no chroot files here).
  $pc -M# smtp/inet
  $pc -M "127.0.0.2:$PF_PORT/inet = 127.0.0.2:$PF_PORT inet n - n - - smtpd"
  $pc -F '*/*/chroot = n'
  postfix -c "$WORK/pf/etc" start >/dev/null 2>&1 ||
    { echo "postfix did not start; try: script -qc 'postfix -c $WORK/pf/etc check' /dev/null" >&2; exit 1; }
  wait_port 127.0.0.2 "$PF_PORT"
}
count_postfix() {
  find "$WORK/pf/spool/hold" -type f | wc -l
}

# --- One measured run -----------------------------------------------------------
measure() { # name host port sessions -> prints msgs/s
  local name=$1 host=$2 port=$3 sessions=$4
  local t0 t1
  t0=$(date +%s.%N)
  smtp-source -d -s "$sessions" -m "$MESSAGES" -l "$SIZE" \
    -f sender@outside.test -t "$5" "$host:$port" >/dev/null
  t1=$(date +%s.%N)
  echo "$MESSAGES / ($t1 - $t0)" | bc -l
}

declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  for sessions in 1 20; do
    start_sendwell
    rate=$(measure sendwell 127.0.0.1 "$SW_PORT" "$sessions" bench@example.test)
    got=$(count_sendwell)
    stop_sendwell
    [ "$got" -eq "$MESSAGES" ] || { echo "sendwell queued $got of $MESSAGES" >&2; exit 1; }
    printf 'round %s  sessions %2s  sendwell  %8.0f msg/s  (queued %s)\n' "$round" "$sessions" "$rate" "$got"
    RESULTS[sw,$sessions]+="$rate "

    start_postfix
    rate=$(measure postfix 127.0.0.2 "$PF_PORT" "$sessions" sink@elsewhere.test)
    got=$(count_postfix)
    postfix -c "$WORK/pf/etc" stop >/dev/null 2>&1
    [ "$got" -eq "$MESSAGES" ] || { echo "postfix held $got of $MESSAGES" >&2; exit 1; }
    printf 'round %s  sessions %2s  postfix   %8.0f msg/s  (held %s)\n' "$round" "$sessions" "$rate" "$got"
    RESULTS[pf,$sessions]+="$rate "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "median of $ROUNDS rounds, $MESSAGES messages of $SIZE bytes each:"
for sessions in 1 20; do
  sw=$(echo "${RESULTS[sw,$sessions]}" | median)
  pf=$(echo "${RESULTS[pf,$sessions]}" | median)
  printf 'sessions %2s  sendwell %8.0f msg/s  postfix %8.0f msg/s  ratio %.2f\n' \
    "$sessions" "$sw" "$pf" "$(echo "$sw / $pf" | bc -l)"
done
