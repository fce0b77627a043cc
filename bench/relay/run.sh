#!/usr/bin/env bash
# Relay benchmark (issue 6): messages per second end to end, submitted with AUTH,
# DKIM-signed, queued durably and delivered to Postfix's smtp-sink, by Sendwell and by
# Postfix + OpenDKIM (milter), in the same run on the same machine, driven by the
# same load generator (bench/loadgen).
#
#   Sendwell:            sendwell serve (release), submission on 127.0.0.1:$SW_PORT, one
#                        RSA-2048 DKIM key, delivery to the recipient domain's MX, which
#                        a BIND of this run points at 127.0.0.1:$SW_SINK_PORT.
#   Postfix + OpenDKIM:  its own instance (postfix -c), submission on 127.0.0.2:$PF_PORT,
#                        Cyrus SASL (sasldb), OpenDKIM signing (RSA-2048) as milter,
#                        relayhost [127.0.0.1]:$PF_SINK_PORT.
#
# Both take STARTTLS + AUTH PLAIN with the same certificate, sign relaxed/relaxed with
# rsa-sha256, fsync the message before the 250, and deliver over plain SMTP (the sink
# offers no STARTTLS). End to end = from the generator's first connection to the
# moment the sink has received the N-th message.
#
# Usage (as root: Postfix, OpenDKIM and smtp-sink drop to their own users):
#   bench/relay/run.sh [N] [C]        N messages (default 5000) over C sessions (default 1)
# Environment: ROUNDS (3), SIZE (2048 octets), MILTER (unix | inet), KEEP=1 keeps the
# work directory, NO_BUILD=1 uses the binaries already built, CARGO_TARGET_DIR.
# Output: one line per side and round, then the medians and the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${1:-5000}
C=${2:-1}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-2048}
TARGET=${CARGO_TARGET_DIR:-target}
case $TARGET in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
BIN="$TARGET/release"

[ "$(id -u)" -eq 0 ] || { echo "run as root (Postfix, OpenDKIM and smtp-sink need it)" >&2; exit 1; }

# OpenDKIM refuses a configuration under a world-writable directory such as /tmp.
mkdir -p "$TARGET"
WORK=$(mktemp -d "$TARGET/relay-bench.XXXXXX")
source bench/relay/lib.sh

for p in postfix:postfix postconf:postfix smtp-sink:postfix opendkim:opendkim \
  openssl:openssl named:bind9 mawk:mawk stdbuf:coreutils; do
  need "${p%%:*}" "${p#*:}"
done
if ! command -v saslpasswd2 >/dev/null; then
  echo "installing sasl2-bin (saslpasswd2, for Postfix's SASL user)..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sasl2-bin >/dev/null ||
    die "needs saslpasswd2 (Debian package sasl2-bin)"
fi

cleanup() {
  local status=$?
  stop_sendwell
  stop_postfix
  stop_sink
  stop_bind
  cg_remove_all
  # A failed run keeps its logs.
  if [ -n "${KEEP:-}" ] || [ "$status" -ne 0 ]; then
    echo "work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

if [ -z "${NO_BUILD:-}" ]; then
  echo "building sendwell and sendwell-loadgen (release)..." >&2
  CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p sendwell -p sendwell-loadgen >&2
fi

setup_common
setup_sendwell
start_bind

# One measured run of side NAME (postfix | sendwell); prints its result line and
# appends "name rate" to $WORK/results. Sets AGAIN=1 instead when the run must be made
# again.
measure() { # name
  local name=$1 addr port sink sink_port
  if [ "$name" = postfix ]; then
    addr=$PF_ADDR port=$PF_PORT sink=pf-sink sink_port=$PF_SINK_PORT
    setup_postfix
  else
    addr=127.0.0.1 port=$SW_PORT sink=sw-sink sink_port=$SW_SINK_PORT
    rm -rf "$SW_DIR/queue" "$SW_DIR/mail"
  fi
  start_sink "$sink" "$sink_port" "$N"
  if [ "$name" = postfix ]; then start_postfix; else start_sendwell; fi
  local cpu0 cpu1
  cpu0=$(cg_usage "$name")
  printf '%s\n' "$BENCH_PASSWORD" |
    "$BIN/sendwell-loadgen" --server "$addr:$port" --messages "$N" --sessions "$C" \
      --size "$SIZE" --user "$BENCH_USER" --password-stdin --to "$BENCH_RCPT" --json \
      >"$WORK/$name.json" || true
  local report accepted start elapsed
  report=$(<"$WORK/$name.json")
  accepted=$(sed -n 's/.*"accepted":\([0-9]*\).*/\1/p' <<<"$report")
  start=$(sed -n 's/.*"start_unix":\([0-9.e+]*\).*/\1/p' <<<"$report")
  elapsed=$(sed -n 's/.*"elapsed_secs":\([0-9.e+-]*\).*/\1/p' <<<"$report")
  if [ "$accepted" != "$N" ]; then
    # On a shared machine another process may end ours (a test cleaning up by name):
    # then the run says nothing about the relay, and is made again.
    local gone=""
    if [ "$name" = postfix ] && ! kill -0 "$OPENDKIM_PID" 2>/dev/null; then gone=opendkim; fi
    if [ "$name" = sendwell ] && ! kill -0 "$SW_PID" 2>/dev/null; then gone="sendwell serve"; fi
    if [ -n "$gone" ]; then
      echo "round $ROUND  $name: $gone was stopped from outside during the run; running it again" >&2
      if [ "$name" = postfix ]; then stop_postfix; else stop_sendwell; fi
      stop_sink
      AGAIN=1
      return 0
    fi
    die "$name accepted ${accepted:-?} of $N messages: $report"
  fi
  # Everything accepted must arrive; allow the delivery twenty times the submission time.
  local limit
  limit=$(awk -v e="$elapsed" 'BEGIN { l = int(e * 20) + 30; print (l > 600 ? 600 : l) }')
  wait_sink "$sink" "$limit" ||
    die "$name: the sink has $(sink_count "$sink") of $N messages after $limit s"
  cpu1=$(cg_usage "$name")
  local done
  done=$(<"$WORK/$sink.done")
  if [ "$name" = postfix ]; then stop_postfix; else stop_sendwell; fi
  stop_sink
  # Keep this run's logs (the next run of the side starts afresh).
  local logs="$WORK/logs/round$ROUND-$name"
  mkdir -p "$logs"
  if [ "$name" = postfix ]; then
    cp "$PF_DIR/maillog" "$PF_DIR/opendkim.log" "$logs/" 2>/dev/null || true
  else
    cp "$SW_DIR/serve.log" "$logs/" 2>/dev/null || true
  fi
  local left
  if [ "$name" = postfix ]; then left=$(postfix_queued); else left=$(sendwell_queued); fi
  [ "$left" -eq 0 ] || die "$name: $left messages still queued after the sink had all $N"
  awk -v name="$name" -v n="$N" -v start="$start" -v done="$done" -v elapsed="$elapsed" \
    -v cpu0="$cpu0" -v cpu1="$cpu1" -v report="$report" -v round="$ROUND" -v c="$C" '
    BEGIN {
      match(report, /"latency_ms_p50":[0-9.]+/); p50 = substr(report, RSTART + 17, RLENGTH - 17)
      match(report, /"latency_ms_p99":[0-9.]+/); p99 = substr(report, RSTART + 17, RLENGTH - 17)
      match(report, /"latency_ms_max":[0-9.]+/); max = substr(report, RSTART + 17, RLENGTH - 17)
      e2e = n / (done - start)
      cpu = (cpu0 != "" && cpu1 != "") ? sprintf("%6.2f ms CPU/msg", (cpu1 - cpu0) / 1e6 / n) : "CPU n/a"
      label = (name == "postfix") ? "postfix+opendkim" : "sendwell"
      printf "round %d  C=%-3d %-16s  end-to-end %7.1f msg/s  (submit %7.1f msg/s, latency p50 %.2f p99 %.2f max %.0f ms, %s)\n",
        round, c, label, e2e, n / elapsed, p50, p99, max, cpu
      printf "%s %.3f\n", name, e2e >> "'"$WORK"'/results"
    }'
}

echo "relay bench: $N messages of $SIZE octets over $C session(s), $ROUNDS round(s), milter socket $MILTER"
for ROUND in $(seq 1 "$ROUNDS"); do
  # Alternate who goes first, so a drift in the machine's load hits both alike.
  if [ $((ROUND % 2)) -eq 1 ]; then order="postfix sendwell"; else order="sendwell postfix"; fi
  for side in $order; do
    for attempt in 1 2 3; do
      AGAIN=0
      measure "$side"
      [ "$AGAIN" = 1 ] || break
      [ "$attempt" -lt 3 ] || die "$side: stopped from outside three times"
    done
  done
done

median() { # name
  awk -v name="$1" '$1 == name { print $2 }' "$WORK/results" | sort -g |
    awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
SW=$(median sendwell)
PF=$(median postfix)
awk -v sw="$SW" -v pf="$PF" -v n="$N" -v c="$C" -v r="$ROUNDS" 'BEGIN {
  printf "median of %d: C=%d  sendwell %.1f msg/s  postfix+opendkim %.1f msg/s  ratio %.2f\n",
    r, c, sw, pf, sw / pf
}'
