#!/usr/bin/env bash
# A RUSTC_WRAPPER that builds the simulator without sanitizer coverage.
# cargo-fuzz passes its coverage flags to every crate; this drops them, and
# the branch-folding setting that only serves them, for the crates of
# `crates` below. The models' async functions are compiled where they are
# polled, in aiodiff's runner, so aiodiff is among them. Generic code is
# compiled in the crate that names its types: the targets call aiodiff
# only through functions that take no model type (`aiodiff::fuzzing::*`,
# `aiodiff::mutator::Mutator`), so that no run of the simulator is
# compiled in a target's crate, with coverage. Every other crate
# gets `--cfg aiodiff_bare_simulator`, which has the fuzz targets count
# interleavings always: they are the fuzzer's only view of a run.
#
# Use its own target directory, since cargo does not see the wrapper's
# changes:
#   cd fuzz && RUSTC_WRAPPER="$PWD/without-sancov.sh" cargo fuzz build -O \
#       --debug-assertions --no-trace-compares --target-dir target/bare
set -euo pipefail
rustc="$1"
shift
crates="aiodiff kernel_sim model_old model_new"
name=""
prev=""
for a in "$@"; do
    [[ $prev == --crate-name ]] && name="$a"
    prev="$a"
done
if [[ -z $name || " $crates " != *" $name "* ]]; then
    # The targets always count interleavings in this build: see
    # fuzz_targets/interleavings.rs.
    exec "$rustc" "$@" --cfg aiodiff_bare_simulator
fi
args=()
for a in "$@"; do
    case "$a" in
        -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | \
            -Cllvm-args=-simplifycfg-branch-fold-threshold=0) ;;
        *) args+=("$a") ;;
    esac
done
exec "$rustc" "${args[@]}"
