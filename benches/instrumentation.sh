#!/usr/bin/env bash
# What coverage costs a fuzz target, in instructions per execution
# (cachegrind, which the machine's load does not change): the target's
# logic replayed on every input of a corpus, in four builds:
#   - uninstrumented: the same calls into aiodiff::fuzzing, without libFuzzer
#     (the throughput benchmark's --replay mode);
#   - full: cargo fuzz's sanitizer coverage of every crate;
#   - full + interleavings: the same, with AIODIFF_INTERLEAVINGS set;
#   - bare simulator: fuzz/without-sancov.sh, interleavings its feedback.
# The libFuzzer builds replay with -runs=0 -seed=1. Each count is that of replaying
# CORPUS less that of an empty corpus, divided by the inputs.
#
#   benches/instrumentation.sh TARGET CORPUS     # TARGET: differential, old_model, invariants
#
# Needs valgrind and cargo-fuzz. Violations are logged, not crashed on
# (AIODIFF_TTF_LOG), so that every input runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:?TARGET}"
corpus="$(cd "${2:?CORPUS}" && pwd)"
command -v valgrind > /dev/null || { echo "needs valgrind (apt install valgrind)" >&2; exit 1; }

(cd "$root/fuzz" &&
    cargo fuzz build -s none -O --debug-assertions --no-trace-compares "$target" &&
    RUSTC_WRAPPER="$root/fuzz/without-sancov.sh" cargo fuzz build -s none -O \
        --debug-assertions --no-trace-compares --target-dir target/bare "$target") >&2
bench=$(cd "$root" && cargo bench --bench throughput --no-run 2>&1 |
    grep -o 'target/release/deps/throughput-[0-9a-f]*' | head -1)
full="$root/fuzz/target/x86_64-unknown-linux-gnu/release/$target"
bare="$root/fuzz/target/bare/x86_64-unknown-linux-gnu/release/$target"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/empty"
export AIODIFF_TTF_LOG=/dev/null AIODIFF_TTF_START=0
inputs=$(find "$corpus" -maxdepth 1 -type f | wc -l)

# Instructions of "$@" with the corpus directory as its last argument.
count() {
    local dir="$1"
    shift
    rm -rf "$tmp/dir" && mkdir "$tmp/dir"
    [[ $dir == empty ]] || cp "$corpus"/* "$tmp/dir/"
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        --log-file="$tmp/log" "$@" "$tmp/dir" > /dev/null 2>&1 || true
    sed -n 's/.*I *refs: *//p' "$tmp/log" | tr -d ,
}
per_input() {
    local with without
    with=$(count corpus "$@")
    without=$(count empty "$@")
    echo $(( (with - without) / inputs ))
}

base=$(per_input "$root/$bench" --replay "$target")
printf '| build | instructions per execution | of uninstrumented |\n|---|---|---|\n'
row() {
    local n
    n=$(per_input "${@:2}")
    printf '| %s | %d | %.2f× |\n' "$1" "$n" "$(echo "$n / $base" | bc -l)"
}
printf '| uninstrumented (%s, %d inputs) | %d | 1.00× |\n' "$target" "$inputs" "$base"
row "full" "$full" -runs=0 -seed=1
(export AIODIFF_INTERLEAVINGS=1 && row "full + interleavings" "$full" -runs=0 -seed=1)
row "bare simulator (interleavings)" "$bare" -runs=0 -seed=1
