#!/usr/bin/env bash
# Instructions per `run_case` execution, counted by cachegrind: a measure of
# the simulator's cost that, unlike time, the machine's load does not
# change. Runs the throughput benchmark in its fixed-count mode with 10
# passes and with none, and divides the difference by the executions.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v valgrind > /dev/null || { echo "needs valgrind (apt install valgrind)" >&2; exit 1; }
bench=$(cd "$root" && cargo bench --bench throughput --no-run 2>&1 |
    grep -o 'target/release/deps/throughput-[0-9a-f]*' | head -1)
log=$(mktemp)
count() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        --log-file="$log" "$root/$bench" --passes "$1" > "$log.out"
    sed -n 's/.*I *refs: *//p' "$log" | tr -d ,
}
with=$(count 10)
without=$(count 0)
inputs=$(sed -n 's/^inputs: //p' "$log.out")
rm -f "$log" "$log.out"
echo "run_case: $(( (with - without) / (10 * inputs) )) instructions per execution (both models, $inputs inputs)"
