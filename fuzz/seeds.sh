#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets from the regression corpus
# and from the scenarios `aiodiff verify` explores (`aiodiff catalogue`,
# each run by the default policy): each .sched, encoded with `aiodiff
# encode`, into fuzz/corpus/<target>/ (or under $1 if given). A target is
# not seeded with the entries it exists to find: old_model gets no case
# where the old code breaks an invariant, invariants none where the new
# code does, and differential none it would report (a divergence or an
# undecided case may hold violations of both versions, so old_model and
# invariants get neither; a skew case may hold a violation both versions
# share, as skew-a-migration-refused-while-the-new-teardown-truncates does
# in the new code's run, so invariants gets none).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/fuzz/corpus}"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin aiodiff
aiodiff="${CARGO_TARGET_DIR:-$root/target}/release/aiodiff"
catalogue="$(mktemp -d)"
trap 'rm -rf "$catalogue"' EXIT
"$aiodiff" catalogue "$catalogue" >/dev/null
declare -A skip=(
    [differential]="new-only|divergence"
    [invariants]="new-only|shared|divergence|undecided|skew"
    [old_model]="old-only|shared|divergence|undecided"
    [decode]="^$"
)
for target in differential invariants old_model decode; do
    mkdir -p "$out/$target"
    n=0
    for sched in "$root"/corpus/*.sched "$catalogue"/*.sched; do
        class=$(sed -n 's/^expect: *\([a-z-]*\).*/\1/p' "$sched")
        if [[ -n "$class" && "$class" =~ ${skip[$target]} ]]; then
            continue
        fi
        "$aiodiff" encode "$sched" -o "$out/$target/$(basename "$sched" .sched)"
        n=$((n + 1))
    done
    echo "seeds: $n cases for $target in $out/$target"
done
