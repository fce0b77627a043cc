#!/usr/bin/env bash
# Sendwell's whole test suite, on a fresh Debian 12 machine (run as root).
#
# 1. installs every real peer the tests talk to (Debian packages, Python packages);
# 2. checks formatting and lints;
# 3. runs every test. Tests start and stop their own servers (BIND, Postfix, OpenDKIM,
#    OpenDMARC, policyd-spf) on loopback or in network namespaces they create.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# /dev/null must be the null device. On a machine where something replaced it with a regular
# file, every `>/dev/null` appends to it and every program reading it as stdin gets that text:
# cargo's probe of rustc (`rustc -` with stdin from /dev/null) then fails with a compile error.
if [ ! -c /dev/null ]; then
  printf 'warning: /dev/null is not a character device; recreating it\n' >&2
  rm -f /dev/null && mknod -m 666 /dev/null c 1 3
fi

DEBIAN_PACKAGES=(
  bind9 bind9-utils bind9-dnsutils          # authoritative DNS peer, dig, named-checkzone
  postfix opendkim opendkim-tools opendmarc # the receiving MX and its milters
  postfix-policyd-spf-python                # SPF policy service for Postfix
  swaks                                     # SMTP client
  dnsperf                                   # DNS load
  libmail-dkim-perl                         # Mail::DKIM, a third DKIM implementation
  openssl publicsuffix                      # test certificates; the PSL OpenDMARC reads
  iproute2 procps
  build-essential                           # a C compiler for aws-lc-sys and libfuzzer-sys
)
PYTHON_PACKAGES=(dkimpy pyspf dnspython authres pynacl pysrs)

# Debian packages start their daemons on install (invoke-rc.d, deb-systemd-invoke). The
# tests run their own instances (own config, pid file and port or network namespace, each
# stopped by its pid) and must never start, stop or kill the machine's own. While apt-get
# installs, a policy-rc.d that exits 101 ("action forbidden", see README.policy-rc.d in
# init-system-helpers) keeps the new daemons from starting. It is removed afterwards, and
# only if this script created it: a policy-rc.d that was already there is left alone.
POLICY_RC_D=/usr/sbin/policy-rc.d
created_policy_rc_d=""
allow_daemons() {
  if [ -n "$created_policy_rc_d" ]; then
    rm -f "$POLICY_RC_D"
    created_policy_rc_d=""
  fi
}
forbid_daemons() {
  # noclobber: never overwrite a policy-rc.d that exists (or appeared meanwhile).
  if (set -C; printf '#!/bin/sh\n# written by sendwell scripts/test.sh during apt-get install\nexit 101\n' \
      >"$POLICY_RC_D") 2>/dev/null; then
    created_policy_rc_d=1
    chmod 755 "$POLICY_RC_D"
  fi
}
trap allow_daemons EXIT
trap 'exit 130' INT TERM HUP
apt_install() {
  forbid_daemons
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  allow_daemons
}

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  apt_install "${missing[@]}"
fi

step "installing Python packages: ${PYTHON_PACKAGES[*]}"
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt_install python3-pip
fi
# Debian's own python3 is "externally managed" (PEP 668): then pip needs to be told.
python3 -m pip install -q --disable-pip-version-check "${PYTHON_PACKAGES[@]}" 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${PYTHON_PACKAGES[@]}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (every workspace member but the side-by-side benches)"
cargo test --workspace --exclude sendwell-bench --locked --no-fail-fast "$@"

step "the fuzz targets still build (cargo check; run them with cargo fuzz, see fuzz/Cargo.toml)"
cargo check --manifest-path fuzz/Cargo.toml --bins --quiet

step "all tests passed"
