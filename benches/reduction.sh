#!/usr/bin/env bash
# Whether the exhaustive search's reductions lose anything, on the ports
# and on wrong ports of the new code:
#
#   benches/reduction.sh [MUTANT...] [-- SCENARIO.sched...]
#
# For each scenario (default: the three of BENCHMARKS.md's exhaustive
# table), runs `aiodiff explore --exhaustive --json` twice: as it is (runs
# that would end with every task asleep skipped, states with one task to
# try passed through) and with --store-every-state (every state visited
# and stored). Compares what each found: the findings' signatures, the
# return sites reached and the distinct outcomes of each version. (Not the
# transplant tally: it classifies each new outcome by its witness, the
# first schedule found, and the two searches find some outcomes first on
# other schedules.) With MUTANTs (names of benches/mutants/*.patch), does
# the same for each, applied one at a time to a scratch copy of this tree.
# Prints a Markdown table for BENCHMARKS.md; exits 1 if any row differs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mutants=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    mutants+=("$1")
    shift
done
[ "${1:-}" = "--" ] && shift
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
if [ $# -gt 0 ]; then
    scenarios=("$@")
else
    printf 'ring 1\ntask A: setup, destroy\ntask B: migrate 0 sync\n' > "$scratch/one-page.sched"
    printf 'ring 2\ntask A: setup, destroy\ntask B: migrate 1 sync\n' > "$scratch/two-pages.sched"
    printf 'ring 1\ntask A: setup\ntask B: migrate 0 sync\ntask C: migrate 0 sync\n' \
        > "$scratch/two-migrators.sched"
    scenarios=("$scratch/one-page.sched" "$scratch/two-pages.sched" "$scratch/two-migrators.sched")
fi

# What a search found, in a form two searches' can be compared in.
found() {
    python3 - "$1" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
s = v["scenarios"][0]
print("incomplete" if s["incomplete"] else "complete", "outcomes", s["outcomes"])
for f in sorted(f"{f['model']} {f['signature']}" for f in v["findings"]):
    print("finding", f)
for x in sorted(f"{x['model']} {x['site']}" for x in v["sites"] if x["scenarios"]):
    print("site", x)
PY
}

# The executions of both versions in a search's JSON.
executions() {
    python3 -c 'import json,sys; print("+".join(map(str, json.load(open(sys.argv[1]))["scenarios"][0]["executions"])))' "$1"
}

# Compares the two searches of every scenario with the aiodiff in $1,
# printing a row each under the label $2; returns 1 if any differs.
compare() {
    local aiodiff="$1" label="$2" differ=0
    for s in "${scenarios[@]}"; do
        local name
        name="$(basename "$s" .sched)"
        "$aiodiff" explore --exhaustive --max-executions 5000000 --json \
            --witnesses "$scratch/w" "$s" > "$scratch/reduced.json" 2>/dev/null || true
        "$aiodiff" explore --exhaustive --store-every-state --max-executions 5000000 --json \
            --witnesses "$scratch/w" "$s" > "$scratch/every.json" 2>/dev/null || true
        found "$scratch/reduced.json" > "$scratch/reduced.txt"
        found "$scratch/every.json" > "$scratch/every.txt"
        local same="same"
        if ! diff -q "$scratch/reduced.txt" "$scratch/every.txt" > /dev/null; then
            same="**differs**: $(diff "$scratch/every.txt" "$scratch/reduced.txt" | grep '^[<>]' | tr '\n' ' ')"
            differ=1
        fi
        local what
        what="$(head -1 "$scratch/every.txt"), $(grep -c '^finding' "$scratch/every.txt") findings, $(grep -c '^site' "$scratch/every.txt") sites"
        echo "| $label | $name | $what | $(executions "$scratch/every.json") | $(executions "$scratch/reduced.json") | $same |"
    done
    return $differ
}

echo "| ports | scenario | every state: outcomes (old, new), findings, sites | runs, every state | runs, reduced | reduced finds |"
echo "|---|---|---|---|---|---|"
status=0
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin aiodiff
compare "$root/target/release/aiodiff" "as they are" || status=1
if [ ${#mutants[@]} -gt 0 ]; then
    tree="$scratch/tree"
    mkdir -p "$tree"
    (cd "$root" && tar --exclude=./target --exclude=./fuzz/target --exclude=./fuzz/corpus \
        --exclude=./fuzz/artifacts -cf - .) | tar -xf - -C "$tree"
    export CARGO_TARGET_DIR="$scratch/target"
    for m in "${mutants[@]}"; do
        patch="$root/benches/mutants/$m.patch"
        (cd "$tree" && patch -s -p1 < "$patch")
        if cargo build --release --quiet --manifest-path "$tree/Cargo.toml" --bin aiodiff \
            2> "$scratch/build.log"; then
            compare "$CARGO_TARGET_DIR/release/aiodiff" "\`$m\`" || status=1
        else
            echo "| \`$m\` | | does not build | | | |"
        fi
        (cd "$tree" && patch -s -R -p1 < "$patch")
    done
fi
exit $status
