#!/usr/bin/env bash
# OSS-Fuzz build script. Also runs outside Docker: set SRC (holding the
# checkout as $SRC/aiodiff, or set AIODIFF_ROOT), OUT and WORK. On a stable
# toolchain without sanitizers, set CARGO_FUZZ_FLAGS="-s none".
# Comparison tracing is off: it made libFuzzer 1.5-3x slower to every
# finding here (BENCHMARKS.md, "Time to first finding"). Each target's
# libFuzzer flags are in fuzz/options/ (BENCHMARKS.md, "libFuzzer's
# flags").
#
# old_model and invariants are built twice. The second build, copied as
# old_model_interleavings and invariants_interleavings, has the simulator
# without sanitizer coverage (fuzz/without-sancov.sh): the interleaving
# features are its feedback. It finds 29 of the 33 signatures verify
# reports sooner, most 1.6-2.5 times sooner, and two of the four that
# need five to seven switches later, so the two builds are fuzzed side
# by side (BENCHMARKS.md, "Where the engines stand" and "Fewer
# interleaving counters").
set -euo pipefail
root="${AIODIFF_ROOT:-$SRC/aiodiff}"
targets=(differential invariants old_model decode)
interleaved=(invariants old_model)

cd "$root/fuzz"
# shellcheck disable=SC2086 # the flags are words
cargo fuzz build -O --debug-assertions --no-trace-compares ${CARGO_FUZZ_FLAGS:-}
built="$root/fuzz/target/x86_64-unknown-linux-gnu/release"
for t in "${targets[@]}"; do
    cp "$built/$t" "$OUT/"
    cp "$root/fuzz/options/$t.options" "$OUT/"
done
for t in "${interleaved[@]}"; do
    # shellcheck disable=SC2086 # the flags are words
    RUSTC_WRAPPER="$root/fuzz/without-sancov.sh" cargo fuzz build -O --debug-assertions \
        --no-trace-compares ${CARGO_FUZZ_FLAGS:-} --target-dir target/bare "$t"
    cp "$root/fuzz/target/bare/x86_64-unknown-linux-gnu/release/$t" "$OUT/${t}_interleavings"
    cp "$root/fuzz/options/$t.options" "$OUT/${t}_interleavings.options"
done

# Seed corpora from the regression corpus and verify's catalogue, one zip
# per target; the second build of a target gets the same seeds.
"$root/fuzz/seeds.sh" "$WORK/seeds"
for t in "${targets[@]}"; do
    rm -f "$OUT/${t}_seed_corpus.zip"
    (cd "$WORK/seeds/$t" && python3 -m zipfile -c "$OUT/${t}_seed_corpus.zip" .)
done
for t in "${interleaved[@]}"; do
    cp "$OUT/${t}_seed_corpus.zip" "$OUT/${t}_interleavings_seed_corpus.zip"
done
echo "built ${targets[*]} ${interleaved[*]/%/_interleavings} into $OUT"
