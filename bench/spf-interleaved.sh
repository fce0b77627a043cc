#!/bin/sh
# SPF check_host(): evaluations per second of Sendwell, viaspf and mail-auth, measured in
# interleaved rounds (each round runs every implementation once, in a rotating order),
# so that load from other processes on the machine hits all of them alike. Prints each
# measurement and the median per implementation. See BENCHMARKS.md.
#
#   bench/spf-interleaved.sh [ROUNDS_PER_RUN] [RUNS]
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${1:-2000}
RUNS=${2:-5}
cargo bench -p sendwell-bench --bench spf --no-run >/dev/null 2>&1
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$(ls -t "$TARGET"/release/deps/spf-* | grep -v '\.d$' | head -1)
IMPLS="sendwell sendwell_no_record_cache viaspf mail-auth"
ms() { # task-clock milliseconds of one counting run
  SPF_BENCH_ROUNDS=$1 SPF_BENCH_ONLY=$2 perf stat -x, -e task-clock "$BIN" --bench 2>&1 >/dev/null \
    | awk -F, '/task-clock/ {print $1}'
}
CASES=196
OUT=$(mktemp)
nth() { # nth N: the Nth implementation (0-based)
  echo "$IMPLS" | tr ' ' '\n' | sed -n "$(( $1 + 1 ))p"
}
for run in $(seq 1 "$RUNS"); do
  for i in 0 1 2 3; do
    impl=$(nth $(( (run + i) % 4 )))
    setup=$(ms 0 "$impl")
    total=$(ms "$ROUNDS" "$impl")
    rate=$(awk -v t="$total" -v s="$setup" -v r="$ROUNDS" -v c="$CASES" 'BEGIN {printf "%.0f", r*c/((t-s)/1000)}')
    echo "run $run $impl $rate evaluations/s"
    echo "$impl $rate" >>"$OUT"
  done
done
echo "median evaluations/s over $RUNS runs of $ROUNDS x $CASES evaluations:"
for impl in $IMPLS; do
  grep "^$impl " "$OUT" | awk '{print $2}' | sort -n | awk -v n="$impl" '{a[NR]=$1} END {print n, a[int((NR+1)/2)]}'
done
rm -f "$OUT"
