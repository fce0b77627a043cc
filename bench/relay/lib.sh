# Shared by bench/relay/run.sh and bench/relay/check.sh: set up and start the two
# relays under test and their smtp-sinks. Source it after setting WORK (an empty
# directory), BIN (where sendwell and sendwell-loadgen are) and the port variables
# below (defaults are set here). Loopback addresses and high ports only.
#
#   Postfix + OpenDKIM: submission on $PF_ADDR:$PF_PORT, milter on $PF_DIR/milter/
#                       opendkim.sock (or 127.0.0.1:$MILTER_PORT with MILTER=inet),
#                       relayhost [127.0.0.1]:$PF_SINK_PORT
#   Sendwell:           submission on 127.0.0.1:$SW_PORT (MX on $SW_PORT+1),
#                       recipients' MX found through BIND on
#                       127.0.0.1:$DNS_PORT: mx.$RECEIVER_DOMAIN A 127.0.0.1, outbound
#                       port $SW_SINK_PORT

RELAY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES="$RELAY_DIR/templates"

SENDER_DOMAIN=${SENDER_DOMAIN:-sender.test}
RECEIVER_DOMAIN=${RECEIVER_DOMAIN:-receiver.test}
BENCH_USER=${BENCH_USER:-bench@$SENDER_DOMAIN}
BENCH_PASSWORD=${BENCH_PASSWORD:-relay-bench-password}
BENCH_RCPT=${BENCH_RCPT:-sink@$RECEIVER_DOMAIN}
PF_SELECTOR=pf
PF_ADDR=${PF_ADDR:-127.0.0.2}
PF_PORT=${PF_PORT:-26587}
# How Postfix talks to OpenDKIM: "unix" (a UNIX-domain socket, Debian's default) or
# "inet" (TCP on 127.0.0.1:$MILTER_PORT, common in tutorials; on this machine each
# message then waits ~86 ms more: small milter packets meet Nagle + delayed ACK).
MILTER=${MILTER:-unix}
MILTER_PORT=${MILTER_PORT:-26891}
PF_SINK_PORT=${PF_SINK_PORT:-26025}
SW_PORT=${SW_PORT:-27587}
SW_MX_PORT=$((SW_PORT + 1))
SW_SINK_PORT=${SW_SINK_PORT:-27025}
DNS_PORT=${DNS_PORT:-27053}

PF_DIR="$WORK/pf"
SW_DIR="$WORK/sw"
OPENDKIM_PID=""
BIND_PID=""
SW_PID=""
SINK_PID=""
# Set by setup_postfix and start_bind.
MILTER_OPENDKIM=""
MILTER_POSTFIX=""
PF_DKIM_TXT=""
SW_DKIM_TXT=""

die() {
  echo "relay bench: $*" >&2
  exit 1
}

need() { # program package
  command -v "$1" >/dev/null || die "needs $1 (Debian package $2)"
}

# Fill @NAME@ placeholders of a template from the shell variables of the same name.
render() { # template destination
  local text
  text=$(<"$TEMPLATES/$1")
  for v in WORK PF_DIR SW_DIR SENDER_DOMAIN RECEIVER_DOMAIN PF_SELECTOR PF_ADDR PF_PORT \
    MILTER_OPENDKIM MILTER_POSTFIX PF_SINK_PORT SW_PORT SW_MX_PORT SW_SINK_PORT DNS_PORT \
    PF_DKIM_TXT SW_DKIM_TXT; do
    text=${text//@$v@/${!v}}
  done
  if [[ $text =~ @[A-Z_]+@ ]]; then die "unfilled placeholder ${BASH_REMATCH[0]} in $1"; fi
  printf '%s\n' "$text" >"$2"
}

wait_port() { # host port [pid [log]]
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
      die "the process that should listen on $1:$2 exited${4:+: $(tail -20 "$4")}"
    fi
    sleep 0.1
  done
  die "nothing listens on $1:$2"
}

# --- CPU accounting -------------------------------------------------------------
# Each relay runs in its own cpuacct cgroup (v1, when /sys/fs/cgroup/cpuacct is
# writable), so its CPU time per message can be read however busy the shared machine
# is. Without it the figures are left out, nothing else changes.
CG_ROOT=/sys/fs/cgroup/cpuacct
CG_PREFIX="relaybench-$$"

cg_create() { # name
  [ -w "$CG_ROOT" ] && mkdir -p "$CG_ROOT/$CG_PREFIX-$1" 2>/dev/null || true
}

# Move the calling (sub)shell into the cgroup NAME; its children inherit it.
cg_enter() { # name
  [ -d "$CG_ROOT/$CG_PREFIX-$1" ] && echo "$BASHPID" >"$CG_ROOT/$CG_PREFIX-$1/cgroup.procs" 2>/dev/null || true
}

# CPU nanoseconds used so far by the cgroup NAME (empty without accounting).
cg_usage() { # name
  cat "$CG_ROOT/$CG_PREFIX-$1/cpuacct.usage" 2>/dev/null || true
}

cg_remove_all() {
  local d p
  for d in "$CG_ROOT/$CG_PREFIX"-*; do
    [ -d "$d" ] || continue
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
      echo "$p" >"$CG_ROOT/cgroup.procs" 2>/dev/null || true
    done
    rmdir "$d" 2>/dev/null || true
  done
}

# --- Shared material: TLS certificate, DKIM key for Postfix's side ---------------
setup_common() {
  mkdir -p "$WORK/tls" "$WORK/dkim"
  chmod 755 "$WORK" # Postfix's and OpenDKIM's daemons run as their own users
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null ||
    die "openssl could not make the TLS certificate"
  chmod 644 "$WORK/tls/key.pem" # read by Postfix's smtpd (user postfix)
  openssl genrsa -out "$WORK/dkim/pf.private" 2048 2>/dev/null ||
    die "openssl could not make the DKIM key"
  chown opendkim "$WORK/dkim/pf.private"
  chmod 600 "$WORK/dkim/pf.private"
}

# The DKIM key record (RFC 6376 §3.6.1) of an RSA private key, as zone-file TXT text:
# quoted strings of at most 255 octets each (RFC 1035 §3.3.14).
dkim_txt() { # private-key.pem
  local p
  p=$(openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0) ||
    die "cannot read the public key of $1"
  printf 'v=DKIM1; k=rsa; p=%s' "$p" | fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' '
}

# --- smtp-sink --------------------------------------------------------------------
# Starts smtp-sink on 127.0.0.1:PORT. Its running counters (-c: "sess=S quit=Q mesg=M",
# one update per session end, QUIT and end of data, CR-separated and unbuffered) are
# followed live, and the moment mesg reaches COUNT is written to $WORK/NAME.done
# (seconds since the epoch); $WORK/NAME.count always holds the latest counters. With
# DUMP, every transaction is also kept as a file under $WORK/NAME-dump/ (slow: use it
# for checks, not for measurements). Sets SINK_PID.
#
# Not smtp-sink's own -M COUNT: it exits on the COUNT-th "." before answering it, so
# the sender sees a lost connection and retries that message later.
start_sink() { # name port count [dump]
  local name=$1 port=$2 count=$3 dump=${4:-}
  rm -f "$WORK/$name.done" "$WORK/$name.count"
  local args=(-4 -u postfix -h "sink.$RECEIVER_DOMAIN" -c)
  if [ -n "$dump" ]; then
    mkdir -p "$WORK/$name-dump"
    chown postfix "$WORK/$name-dump"
    args+=(-d "$WORK/$name-dump/msg.")
  fi
  smtp-sink "${args[@]}" "127.0.0.1:$port" 256 2>"$WORK/$name.log" > >(
    stdbuf -o0 tr '\r' '\n' | mawk -W interactive -v n="$count" \
      -v done="$WORK/$name.done" -v counts="$WORK/$name.count" '
        { print > counts; fflush(counts) }
        !reached && match($0, /mesg=[0-9]+/) && substr($0, RSTART + 5, RLENGTH - 5) + 0 >= n {
          reached = 1
          system("date +%s.%N > " done)
        }'
  ) &
  SINK_PID=$!
  wait_port 127.0.0.1 "$port" "$SINK_PID"
}

stop_sink() {
  if [ -n "$SINK_PID" ]; then
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    SINK_PID=""
  fi
}

# Messages the sink NAME has received so far.
sink_count() { # name
  tail -n 1 "$WORK/$1.count" 2>/dev/null | sed -n 's/.*mesg=\([0-9]*\).*/\1/p'
}

# Wait until the sink NAME has had its COUNT messages (its .done file), at most SECS.
wait_sink() { # name secs
  local deadline=$((SECONDS + $2))
  while [ ! -s "$WORK/$1.done" ]; do
    [ $SECONDS -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# --- Postfix + OpenDKIM ------------------------------------------------------------
setup_postfix() {
  rm -rf "$PF_DIR"
  mkdir -p "$PF_DIR/etc" "$PF_DIR/spool" "$PF_DIR/data" "$PF_DIR/etc/sasl" "$PF_DIR/milter"
  chown postfix "$PF_DIR/data"
  chown opendkim:postfix "$PF_DIR/milter"
  chmod 750 "$PF_DIR/milter"
  case $MILTER in
    unix)
      MILTER_OPENDKIM="local:$PF_DIR/milter/opendkim.sock"
      MILTER_POSTFIX="unix:$PF_DIR/milter/opendkim.sock"
      ;;
    inet)
      MILTER_OPENDKIM="inet:$MILTER_PORT@127.0.0.1"
      MILTER_POSTFIX="inet:127.0.0.1:$MILTER_PORT"
      ;;
    *) die "MILTER is unix or inet, not $MILTER" ;;
  esac
  cp /etc/postfix/postfix-files /etc/postfix/dynamicmaps.cf "$PF_DIR/etc/"
  mkdir -p "$PF_DIR/etc/postfix-files.d" "$PF_DIR/etc/dynamicmaps.cf.d"
  render postfix-main.cf "$PF_DIR/etc/main.cf"
  render postfix-master.cf "$PF_DIR/etc/master.cf"
  render sasl-smtpd.conf "$PF_DIR/etc/sasl/smtpd.conf"
  render opendkim.conf "$PF_DIR/opendkim.conf"
  # Cyrus SASL's own password database; the user logs in as user@realm.
  printf '%s' "$BENCH_PASSWORD" |
    saslpasswd2 -c -p -f "$PF_DIR/etc/sasl/sasldb2" -u "${BENCH_USER#*@}" "${BENCH_USER%@*}" ||
    die "saslpasswd2 failed"
  chown postfix "$PF_DIR/etc/sasl/sasldb2"
  chmod 600 "$PF_DIR/etc/sasl/sasldb2"
}

start_postfix() {
  cg_create postfix
  (
    cg_enter postfix
    exec opendkim -x "$PF_DIR/opendkim.conf" -f
  ) >"$PF_DIR/opendkim.log" 2>&1 &
  OPENDKIM_PID=$!
  if [ "$MILTER" = inet ]; then
    wait_port 127.0.0.1 "$MILTER_PORT" "$OPENDKIM_PID"
  else
    for _ in $(seq 1 300); do
      [ -S "$PF_DIR/milter/opendkim.sock" ] && break
      kill -0 "$OPENDKIM_PID" 2>/dev/null || die "opendkim exited: $(cat "$PF_DIR/opendkim.log")"
      sleep 0.1
    done
    [ -S "$PF_DIR/milter/opendkim.sock" ] || die "opendkim made no socket"
  fi
  (
    cg_enter postfix
    exec postfix -c "$PF_DIR/etc" start
  ) >"$PF_DIR/start.log" 2>&1 || die "postfix did not start: $(cat "$PF_DIR/start.log")"
  wait_port "$PF_ADDR" "$PF_PORT"
}

stop_postfix() {
  postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1 || true
  # Wait for the master to go, so the next start finds the port free.
  for _ in $(seq 1 100); do
    [ -e "$PF_DIR/spool/pid/master.pid" ] || break
    kill -0 "$(tr -d ' ' <"$PF_DIR/spool/pid/master.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$OPENDKIM_PID" ]; then
    kill "$OPENDKIM_PID" 2>/dev/null || true
    wait "$OPENDKIM_PID" 2>/dev/null || true
    OPENDKIM_PID=""
  fi
}

# Messages still in Postfix's queue (none after a complete run).
postfix_queued() {
  find "$PF_DIR/spool/incoming" "$PF_DIR/spool/active" "$PF_DIR/spool/deferred" \
    "$PF_DIR/spool/hold" -type f 2>/dev/null | wc -l
}

# --- Sendwell ------------------------------------------------------------------------
setup_sendwell() {
  rm -rf "$SW_DIR"
  # init makes the DKIM keys (RSA-2048 and Ed25519; the config below uses the RSA one
  # only, as OpenDKIM signs with one RSA key) and users.toml; the config is ours.
  "$BIN/sendwell" init --local --domain "$SENDER_DOMAIN" --hostname "mail.$SENDER_DOMAIN" \
    --dir "$SW_DIR" >"$WORK/sw-init.log" 2>&1 || die "sendwell init: $(cat "$WORK/sw-init.log")"
  render sendwell.toml "$SW_DIR/sendwell.toml"
  printf '%s\n' "$BENCH_PASSWORD" |
    "$BIN/sendwell" user add "$BENCH_USER" --password-stdin --dir "$SW_DIR" >/dev/null 2>&1 ||
    die "sendwell user add failed"
}

start_sendwell() {
  cg_create sendwell
  (
    cg_enter sendwell
    exec "$BIN/sendwell" serve --dir "$SW_DIR"
  ) 2>"$SW_DIR/serve.log" &
  SW_PID=$!
  wait_port 127.0.0.1 "$SW_PORT" "$SW_PID" "$SW_DIR/serve.log"
}

stop_sendwell() {
  if [ -n "$SW_PID" ]; then
    kill "$SW_PID" 2>/dev/null || true
    wait "$SW_PID" 2>/dev/null || true
    SW_PID=""
  fi
}

# Messages still in Sendwell's queue (none after a complete run: delivered ones are
# removed).
sendwell_queued() {
  "$BIN/sendwell" queue list --json --dir "$SW_DIR" 2>/dev/null | grep -c '"id"' || true
}

# --- BIND: the recipients' MX for Sendwell, both DKIM keys for check.sh ---------------
start_bind() {
  need named bind9
  mkdir -p "$WORK/dns"
  PF_DKIM_TXT=$(dkim_txt "$WORK/dkim/pf.private")
  SW_DKIM_TXT=$(dkim_txt "$SW_DIR/dkim/$SENDER_DOMAIN.sw-rsa.pem")
  render named.conf "$WORK/dns/named.conf"
  render receiver.zone "$WORK/dns/receiver.zone"
  render sender.zone "$WORK/dns/sender.zone"
  named -g -4 -u root -c "$WORK/dns/named.conf" >"$WORK/dns/named.log" 2>&1 &
  BIND_PID=$!
  for _ in $(seq 1 200); do
    grep -q "all zones loaded" "$WORK/dns/named.log" && return 0
    kill -0 "$BIND_PID" 2>/dev/null || die "named exited: $(tail -5 "$WORK/dns/named.log")"
    sleep 0.1
  done
  die "named did not load its zones: $(tail -5 "$WORK/dns/named.log")"
}

stop_bind() {
  if [ -n "$BIND_PID" ]; then
    kill "$BIND_PID" 2>/dev/null || true
    wait "$BIND_PID" 2>/dev/null || true
    BIND_PID=""
  fi
}
