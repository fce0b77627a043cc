#!/usr/bin/env bash
# Check for the relay benchmark: both relays, set up exactly as bench/relay/run.sh sets
# them up, each get a few messages through the same load generator; smtp-sink keeps
# every message it receives (-d), and each must carry exactly one DKIM-Signature from
# its relay (d=$SENDER_DOMAIN; s=pf from OpenDKIM, s=sw-rsa from Sendwell) that
# verifies (Python dkimpy) against the key published in the run's BIND.
#
# Usage (as root): bench/relay/check.sh [N]     N messages per side (default 5)
# Environment: MILTER (unix | inet), KEEP=1, NO_BUILD=1, CARGO_TARGET_DIR as for run.sh.
# Exit status 0 when every message of both sides verifies.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${1:-5}
TARGET=${CARGO_TARGET_DIR:-target}
case $TARGET in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
BIN="$TARGET/release"

[ "$(id -u)" -eq 0 ] || { echo "run as root (Postfix, OpenDKIM and smtp-sink need it)" >&2; exit 1; }
mkdir -p "$TARGET"
WORK=$(mktemp -d "$TARGET/relay-check.XXXXXX")
source bench/relay/lib.sh
need python3 python3
python3 -c 'import dkim, dns.resolver' 2>/dev/null || die "needs Python dkimpy and dnspython"
command -v saslpasswd2 >/dev/null || die "needs saslpasswd2 (Debian package sasl2-bin; run.sh installs it)"

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
  CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p sendwell -p sendwell-loadgen >&2
fi

setup_common
setup_sendwell
setup_postfix
start_bind

submit() { # addr port
  printf '%s\n' "$BENCH_PASSWORD" |
    "$BIN/sendwell-loadgen" --server "$1:$2" --messages "$N" --sessions 1 \
      --user "$BENCH_USER" --password-stdin --to "$BENCH_RCPT"
}

verify() { # label sink selector
  python3 - "$WORK/$2-dump" "$3" "$SENDER_DOMAIN" "$DNS_PORT" "$N" "$1" <<'EOF'
import os, sys
import dkim, dns.resolver

folder, selector, domain, port, want, label = sys.argv[1:7]
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = int(port)

def dnsfunc(name, timeout=5):
    answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
    return b"".join(b"".join(r.strings) for r in answer)

files = sorted(os.listdir(folder))
ok = 0
for f in files:
    raw = open(os.path.join(folder, f), "rb").read()
    # smtp-sink writes lines with LF and prepends its own X-* fields and a Received
    # line, none of them signed; DKIM works on CRLF lines.
    msg = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head = msg.split(b"\r\n\r\n", 1)[0]
    sigs = [l for l in head.split(b"\r\n") if l.lower().startswith(b"dkim-signature:")]
    d = dkim.DKIM(msg)
    try:
        valid = d.verify(dnsfunc=dnsfunc)
    except dkim.DKIMException as e:  # e.g. "body hash mismatch"
        valid = f"no ({e})"
    signer = (d.domain or b"").decode(), (d.selector or b"").decode()
    if len(sigs) == 1 and valid is True and signer == (domain, selector):
        ok += 1
    else:
        print(f"{label}: {f}: {len(sigs)} signature(s), valid={valid}, d/s={signer}", file=sys.stderr)
print(f"{label}: {ok} of {len(files)} messages at the sink carry a valid DKIM-Signature d={domain} s={selector} (expected {want})")
sys.exit(0 if ok == len(files) == int(want) else 1)
EOF
}

status=0
start_sink pf-sink "$PF_SINK_PORT" "$N" dump
start_postfix
submit "$PF_ADDR" "$PF_PORT" >/dev/null || die "Postfix did not accept every message"
wait_sink pf-sink 60 || die "the Postfix sink has $(sink_count pf-sink) of $N messages"
stop_postfix
stop_sink
verify "postfix+opendkim" pf-sink "$PF_SELECTOR" || status=1

start_sink sw-sink "$SW_SINK_PORT" "$N" dump
start_sendwell
submit 127.0.0.1 "$SW_PORT" >/dev/null || die "Sendwell did not accept every message"
wait_sink sw-sink 60 || die "the Sendwell sink has $(sink_count sw-sink) of $N messages"
stop_sendwell
stop_sink
verify "sendwell" sw-sink sw-rsa || status=1
exit $status
