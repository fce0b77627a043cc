#!/bin/sh
# SPF check_host(): instructions per evaluation of Sendwell, viaspf and mail-auth, counted
# by callgrind inside the bench's counting loop only (deterministic; not affected by load).
#
#   bench/spf-instructions.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
CASES=196
cargo bench -p sendwell-bench --bench spf --no-run >/dev/null 2>&1
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$(ls -t "$TARGET"/release/deps/spf-* | grep -v '\.d$' | head -1)
OUT=$(mktemp -d)
for impl in sendwell sendwell_no_record_cache viaspf mail-auth; do
  SPF_BENCH_ROUNDS=$ROUNDS SPF_BENCH_ONLY=$impl valgrind --tool=callgrind \
    --callgrind-out-file="$OUT/$impl" --toggle-collect=spf::count_rounds "$BIN" --bench >/dev/null 2>&1
  ir=$(callgrind_annotate "$OUT/$impl" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo "$impl $(( ir / (ROUNDS * CASES) )) instructions/evaluation"
done
rm -rf "$OUT"
