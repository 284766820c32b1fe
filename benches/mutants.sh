#!/usr/bin/env bash
# The oracle's power against wrong ports of the new code:
#
#   benches/mutants.sh [SECONDS] [MUTANT...]
#
# Applies each patch of benches/mutants/ (or the named ones), one at a time,
# to a scratch copy of this tree, and for each:
# - runs `aiodiff verify --json`: whether it reports the mutant (a new-only
#   violation or a divergence), in how many of the catalogue's scenarios, and
#   its first such finding;
# - builds the `differential` fuzz target (cargo-fuzz, stable, no sanitizer)
#   and runs it from the seeds of fuzz/seeds.sh with -seed=1 for SECONDS
#   (default 60), with the flags of fuzz/options/differential.options (or
#   MUTANTS_FUZZ_FLAGS, if set): whether it crashes, when, and on what.
#   SECONDS 0 skips it.
# Prints a Markdown table for BENCHMARKS.md. Needs cargo-fuzz.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-60}"
shift || true
if [ $# -gt 0 ]; then
    mutants=("$@")
else
    mutants=()
    for p in "$root"/benches/mutants/*.patch; do
        mutants+=("$(basename "$p" .patch)")
    done
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
tree="$scratch/tree"
mkdir -p "$tree"
(cd "$root" && tar --exclude=./target --exclude=./fuzz/target --exclude=./fuzz/corpus \
    --exclude=./fuzz/artifacts -cf - .) | tar -xf - -C "$tree"
# Shared build directories: each mutant rebuilds only model-new and what
# depends on it.
export CARGO_TARGET_DIR="$scratch/target"
fuzz_target_dir="$scratch/fuzz-target"
read -r -a fuzz_flags <<<"${MUTANTS_FUZZ_FLAGS-$("$root/fuzz/options.sh" differential)}"

echo "| mutant | verify: scenarios reporting it, of those that migrate | verify: first finding | differential, ${secs} s, seed 1, ${fuzz_flags[*]} |"
echo "|---|---|---|---|"
for m in "${mutants[@]}"; do
    patch="$root/benches/mutants/$m.patch"
    (cd "$tree" && patch -s -p1 < "$patch")
    cargo build --release --quiet --manifest-path "$tree/Cargo.toml" --bin aiodiff 2>"$scratch/build.log" || {
        echo "| \`$m\` | does not build | | |"
        (cd "$tree" && patch -s -R -p1 < "$patch")
        continue
    }
    aiodiff="$CARGO_TARGET_DIR/release/aiodiff"
    json="$scratch/$m.json"
    "$aiodiff" verify --json --witnesses "$scratch/w-$m" > "$json" 2>/dev/null || true
    read -r failed first < <(python3 - "$json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
migrating = [s for s in v["scenarios"] if "migrate" in s["name"]]
failed = sum(1 for s in migrating if s["failed"])
first = next((f["signature"] for f in v["findings"] if f["class"] in ("new-only", "divergence")), "-")
print(f"{failed}/{len(migrating)}", first)
PY
)
    if [ "$secs" = 0 ]; then
        echo "| \`$m\` | $failed | \`$first\` | not run |"
        (cd "$tree" && patch -s -R -p1 < "$patch")
        continue
    fi
    (cd "$tree/fuzz" && cargo fuzz build -s none -O --debug-assertions --no-trace-compares \
        --target-dir "$fuzz_target_dir" differential >"$scratch/fuzz-build.log" 2>&1)
    target="$fuzz_target_dir/x86_64-unknown-linux-gnu/release/differential"
    rm -rf "$scratch/seeds" "$scratch/run" "$scratch/art"
    mkdir -p "$scratch/run" "$scratch/art"
    "$tree/fuzz/seeds.sh" "$scratch/seeds" >/dev/null
    start=$(date +%s.%N)
    "$target" "$scratch/run" "$scratch/seeds/differential" -seed=1 -max_total_time="$secs" \
        "${fuzz_flags[@]}" -artifact_prefix="$scratch/art/" >"$scratch/fuzz.log" 2>&1 || true
    took=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
    crash=$(grep -o 'aiodiff [a-z -]*: [^ ]*' "$scratch/fuzz.log" | head -n 1 || true)
    if [ -n "$crash" ]; then
        fuzzed="crashed after ${took} s: \`${crash#aiodiff }\`"
    else
        fuzzed="no crash"
    fi
    echo "| \`$m\` | $failed | \`$first\` | $fuzzed |"
    (cd "$tree" && patch -s -R -p1 < "$patch")
done
