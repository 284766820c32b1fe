#!/usr/bin/env bash
# OSS-Fuzz build script. Also runs outside Docker: set SRC (holding the
# checkout as $SRC/aiodiff, or set AIODIFF_ROOT), OUT and WORK. On a stable
# toolchain without sanitizers, set CARGO_FUZZ_FLAGS="-s none".
# Comparison tracing is off: it made libFuzzer 1.5-3x slower to every
# finding here (BENCHMARKS.md, "Time to first finding"). Each target's
# libFuzzer flags are in fuzz/options/ (BENCHMARKS.md, "libFuzzer's
# flags").
set -euo pipefail
root="${AIODIFF_ROOT:-$SRC/aiodiff}"
targets=(differential invariants old_model decode)

cd "$root/fuzz"
# shellcheck disable=SC2086 # the flags are words
cargo fuzz build -O --debug-assertions --no-trace-compares ${CARGO_FUZZ_FLAGS:-}
built="$root/fuzz/target/x86_64-unknown-linux-gnu/release"
for t in "${targets[@]}"; do
    cp "$built/$t" "$OUT/"
    cp "$root/fuzz/options/$t.options" "$OUT/"
done

# Seed corpora from the regression corpus and verify's catalogue, one zip
# per target.
"$root/fuzz/seeds.sh" "$WORK/seeds"
for t in "${targets[@]}"; do
    rm -f "$OUT/${t}_seed_corpus.zip"
    (cd "$WORK/seeds/$t" && python3 -m zipfile -c "$OUT/${t}_seed_corpus.zip" .)
done
echo "built ${targets[*]} into $OUT"
